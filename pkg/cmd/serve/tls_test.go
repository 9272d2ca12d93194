package serve_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

func TestServeTLS(t *testing.T) {
	cert, key := testpeer.SelfSignedFiles(t)
	srv := clitest.StartServe(t, "--tls-cert", cert, "--tls-key", key, "--no-udp")
	rtsps := strings.Replace(srv.RTSP("demo"), "rtsp://", "rtsps://", 1)
	rtmps := strings.Replace(srv.RTMP("demo"), "rtmp://", "rtmps://", 1)

	for _, url := range []string{rtsps, rtmps} {
		r := clitest.Run(t, 30*time.Second, "probe", "--insecure", url)
		if r.Code != 0 || !strings.Contains(r.Stdout, "640x480") {
			t.Fatalf("probe --insecure %s:\n%s", url, r)
		}
		// Without --insecure the self-signed certificate is refused.
		r = clitest.Run(t, 30*time.Second, "probe", url)
		if r.Code != 3 || !strings.Contains(r.ErrLine(), "certificate") {
			t.Fatalf("probe %s without --insecure should fail on the certificate:\n%s", url, r)
		}
	}
	r := clitest.Run(t, 30*time.Second, "probe", "--insecure", "--play", "2s", "--transport", "tcp", rtsps)
	if r.Code != 0 || !strings.Contains(r.Stdout, "measured:") {
		t.Fatalf("play over RTSPS:\n%s", r)
	}

	// Publishing over RTMPS: refused on the certificate, then accepted.
	pub := strings.Replace(srv.RTMP("live/tls"), "rtmp://", "rtmps://", 1)
	r = clitest.Run(t, 30*time.Second, "rtmp-push", clip(t, "h264_aac.flv"), pub)
	if r.Code != 3 || !strings.Contains(r.ErrLine(), "certificate") {
		t.Fatalf("rtmp-push %s without --insecure should fail on the certificate:\n%s", pub, r)
	}
	r = clitest.Run(t, 30*time.Second, "rtmp-push", "--insecure", "--speed", "8", clip(t, "h264_aac.flv"), pub)
	if r.Code != 0 {
		t.Fatalf("rtmp-push over RTMPS:\n%s", r)
	}
}

// TestServeSRTP: with --tls-cert/--tls-key, serve offers RTP/SAVP (SRTP
// keyed by MIKEY inside RTSPS) over UDP as well as TCP; avcat pulls and
// pushes over it. ffmpeg 5.1 reads rtsps:// only TCP-interleaved inside
// TLS (it has no MIKEY), which serve still accepts.
func TestServeSRTP(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	cert, key := testpeer.SelfSignedFiles(t)
	srv := clitest.StartServe(t, "--tls-cert", cert, "--tls-key", key)
	rtsps := func(path string) string { return strings.Replace(srv.RTSP(path), "rtsp://", "rtsps://", 1) }

	for _, transport := range []string{"udp", "auto", "tcp"} {
		t.Run("avcat_pull_"+transport, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.mp4")
			r := clitest.Run(t, 30*time.Second, "-v", "pull", "--insecure", "--transport", transport, "--duration", "3s", "-o", out, rtsps("demo"))
			if r.Code != 0 {
				t.Fatalf("pull over RTSPS:\n%s", r)
			}
			want := "> Transport: RTP/SAVP;unicast;client_port="
			if transport == "tcp" {
				want = "> Transport: RTP/SAVP/TCP;unicast;interleaved="
			}
			if !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "< m=video 0 RTP/SAVP 96") {
				t.Fatalf("-v trace lacks %q or the SAVP offer:\n%s", want, r.Stderr)
			}
			if strings.Contains(r.Stderr, "AQAFA") {
				t.Fatalf("-v trace shows a MIKEY message (SRTP keys):\n%s", r.Stderr)
			}
			checkProbe(t, "avcat pull rtsps:// --transport "+transport, testpeer.FFprobeStreams(t, "-count_frames", out), fileWant("h264", "aac", 3))
		})
	}

	t.Run("avcat_push_udp", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		pushed := make(chan *clitest.Result, 1)
		go func() {
			pushed <- clitest.RunContext(ctx, "push", "--insecure", "--transport", "udp", "--loop", clip(t, "h264_baseline_aac.mp4"), rtsps("live/srtp"))
		}()
		defer func() {
			cancel()
			if r := <-pushed; r.Code != 0 {
				t.Errorf("push over SRTP/UDP: exit %d\n%s", r.Code, r)
			}
		}()
		// Readiness: the path answers DESCRIBE once the push is recording.
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := clitest.Run(t, 10*time.Second, "probe", "--insecure", rtsps("live/srtp"))
			if r.Code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the SRTP push never went live:\n%s", r)
			}
			time.Sleep(100 * time.Millisecond)
		}
		out := filepath.Join(t.TempDir(), "back.mp4")
		r := clitest.Run(t, 30*time.Second, "pull", "--insecure", "--transport", "udp", "--duration", "3s", "-o", out, rtsps("live/srtp"))
		if r.Code != 0 {
			t.Fatalf("pull of the SRTP push:\n%s", r)
		}
		checkProbe(t, "SRTP/UDP push read back over SRTP/UDP", testpeer.FFprobeStreams(t, "-count_frames", out), liveWant("h264", "aac", 3))
	})

	t.Run("ffmpeg_rtsps", func(t *testing.T) {
		t.Parallel()
		r := probeFrames(t, rtsps("demo"), 3, "-rtsp_transport", "udp")
		checkProbe(t, "ffprobe rtsps:// (TCP inside TLS: ffmpeg has no SRTP)", r, fileWant("h264", "aac", 3))
	})
}

// TestPlainRTSPNeverSRTP: over rtsp:// avcat never asks for SRTP, even when
// the SDP offers RTP/SAVP with MIKEY keys.
func TestPlainRTSPNeverSRTP(t *testing.T) {
	sdp := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=video 0 RTP/SAVP 96\r\na=control:trackID=0\r\na=rtpmap:96 H264/90000\r\n" +
		"a=fmtp:96 packetization-mode=1; profile-level-id=42C01E; sprop-parameter-sets=Z0LAHtoCgPbARAAAAwAEAAADAMg8WLqA,aM48gA==\r\n" +
		"a=key-mgmt:mikey AQAFAFO+m94BAADVv1UtAAAAAAsA7sEy4jr8cAIKEGHe6he2pLTX+gS9+UkqAfsBAAAAGAABAQEBEAIBAQMBFAcBAQgBAQoBAQsBCgAAACIAIAAeC9u7I+ZlG3u7mezo3/by7VlkeM7/D1gvNCsnTNf7AA==\r\n"
	srv := testpeer.StartDescribeOnlyServer(t, sdp, "PLAY")
	for _, transport := range []string{"udp", "tcp"} {
		r := clitest.Run(t, 20*time.Second, "-v", "pull", "--transport", transport, "--duration", "1s", "-o", filepath.Join(t.TempDir(), "x.ts"), srv.URL("rtsp", "cam"))
		if !strings.Contains(r.Stderr, "> SETUP ") {
			t.Fatalf("no SETUP sent:\n%s", r)
		}
		if strings.Contains(r.Stderr, "> KeyMgmt:") || strings.Contains(r.Stderr, "> Transport: RTP/SAVP") || !strings.Contains(r.Stderr, "> Transport: RTP/AVP") {
			t.Fatalf("--transport %s over rtsp:// asked for SRTP (or no RTP/AVP):\n%s", transport, r.Stderr)
		}
	}
}
