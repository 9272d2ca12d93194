package testpeer

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestListening(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !Listening(port) {
		t.Fatalf("port %d listens but Listening says no", port)
	}
	WaitListening(t, port, nil, time.Second)
	ln.Close()
	if Listening(port) {
		t.Fatalf("port %d closed but Listening says yes", port)
	}
}

// TestFFmpegListenRTMP publishes with ffmpeg to the one-shot ffmpeg RTMP
// server, which must write every frame.
func TestFFmpegListenRTMP(t *testing.T) {
	clip := makeClip(t, "h264")
	out := filepath.Join(t.TempDir(), "rx.flv")
	url, srv := FFmpegListenRTMP(t, out, time.Minute)
	r := RunClient(t, 30*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", clip, "-c", "copy", "-f", "flv", url)
	if r.Code != 0 {
		t.Fatalf("publish:\n%s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Wait(ctx); err != nil {
		t.Fatalf("ffmpeg -listen 1: %v\n%s", err, srv.Output())
	}
	p := FFprobeStreams(t, "-count_frames", out)
	checkAV(t, p, "h264")
	if v := p.Video(); v.NbReadFrames != 100 {
		t.Errorf("received %d frames, want 100", v.NbReadFrames)
	}
}

// TestNginxRecorderAndRestart records a publish, restarts nginx on the
// same port and records again; FFprobePackets reads the recordings.
func TestNginxRecorderAndRestart(t *testing.T) {
	clip := makeClip(t, "h264")
	rec1, rec2 := t.TempDir(), t.TempDir()
	ng := StartNginxRTMP(t, NginxOptions{AppDirectives: NginxRecorder(rec1)})
	publish := func() {
		t.Helper()
		r := RunClient(t, 30*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", clip, "-c", "copy", "-f", "flv", ng.URL("live", "k"))
		if r.Code != 0 {
			t.Fatalf("publish:\n%s", r)
		}
	}
	publish()
	port := ng.Port
	ng = ng.Restart(t, NginxOptions{AppDirectives: NginxRecorder(rec2)})
	if ng.Port != port {
		t.Fatalf("restarted on port %d, want %d", ng.Port, port)
	}
	publish()
	for _, dir := range []string{rec1, rec2} {
		pk := FFprobePackets(t, NginxRecording(dir, "k"))
		v := pk.Of("video")
		if len(v) != 100 || len(pk.Of("audio")) == 0 {
			t.Fatalf("%s: %d video packets, %d audio", dir, len(v), len(pk.Of("audio")))
		}
		if step, err := v.CheckMonotonic(false); err != nil || step > 0.041 {
			t.Errorf("%s: video step %.3f, %v", dir, step, err)
		}
		if first, last := v.Span(); last-first < 3.9 || !v[0].Key {
			t.Errorf("%s: video %.3f..%.3f s, first key %v", dir, first, last, v[0].Key)
		}
	}
}

// TestGstRTSPServerRestart restarts a GstRTSPServer on its port.
func TestGstRTSPServerRestart(t *testing.T) {
	srv := StartGstRTSPServer(t, GstOptions{Mounts: []Mount{LiveH264AAC("/live")}})
	port := srv.Port
	srv = srv.Restart(t)
	if srv.Port != port {
		t.Fatalf("restarted on port %d, want %d", srv.Port, port)
	}
	sdp := WaitRTSPDescribe(t, srv.URL("/live"), nil, 10*time.Second)
	if !strings.Contains(sdp, "H264") {
		t.Fatalf("SDP after the restart:\n%s", sdp)
	}
}
