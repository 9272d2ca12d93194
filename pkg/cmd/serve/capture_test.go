package serve_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/pcap"
	"github.com/avcat/avcat/pkg/media"
)

// capturedTrack is what avcat's pcap reader finds of one track.
type capturedTrack struct {
	payloads []string        // hex, in capture order
	at       []time.Duration // arrival, from the track's first packet
}

// readCapture reads a pcap written by pull with avcat's own reader, per
// track (in SDP order).
func readCapture(t *testing.T, path string) []capturedTrack {
	t.Helper()
	src := &pcap.Source{Path: path}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc, err := src.Open(ctx)
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	defer src.Close()
	out := make([]capturedTrack, len(desc.Medias))
	first := make([]time.Time, len(desc.Medias))
	err = src.Run(ctx, func(u *media.Unit) {
		for i, m := range desc.Medias {
			if m != u.Media {
				continue
			}
			if first[i].IsZero() {
				first[i] = u.Received
			}
			for _, p := range u.Packets {
				out[i].payloads = append(out[i].payloads, hex.EncodeToString(p.Payload))
				out[i].at = append(out[i].at, u.Received.Sub(first[i]))
			}
		}
	})
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	return out
}

// TestServeFileCapture (issue 9 item 15): a capture made by `pull -o
// x.pcap` and served with --file is replayed as the camera sent it: ffmpeg
// decodes it, and a pull of it captures the same RTP payloads, byte for
// byte, in the same order, with the original timing.
func TestServeFileCapture(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerGstRTSPServer, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	m := testpeer.LiveH264AAC("/live")
	m.Shared = false
	live := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{m}})
	dir := t.TempDir()
	orig := filepath.Join(dir, "cam.pcap")
	if r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "4s", "-o", orig, live.URL("/live")); r.Code != 0 {
		t.Fatalf("pull -o cam.pcap:\n%s", r)
	}
	want := readCapture(t, orig)
	// Each reader gets its own playback from the start of the file. The
	// readers run one at a time so that the timing is the server's.
	srv := clitest.StartServe(t, "--file", "cam="+orig)

	t.Run("ffmpeg decodes it", func(t *testing.T) {
		r, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rtsp_transport", "tcp", "-i", srv.RTSP("cam"), "-t", "3", "-f", "null", "-")
		if r.Code != 0 || !p.Ended {
			t.Fatalf("ffmpeg: want exit 0:\n%s", r)
		}
		if s := strings.TrimSpace(r.Stderr); s != "" {
			t.Errorf("ffmpeg printed errors:\n%s", s)
		}
		if p.Frames < 3*fps-5 || p.Frames > 3*fps+2 {
			t.Errorf("ffmpeg decoded %d video frames in 3 s, want %d", p.Frames, 3*fps)
		}
		t.Logf("ffmpeg decoded %d frames, %v of media", p.Frames, p.OutTime)
	})

	t.Run("original SDP", func(t *testing.T) {
		b, err := os.ReadFile(strings.TrimSuffix(orig, ".pcap") + ".sdp")
		if err != nil {
			t.Fatal(err)
		}
		served := testpeer.WaitRTSPDescribe(t, srv.RTSP("cam"), nil, 10*time.Second)
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "a=rtpmap:") || strings.HasPrefix(l, "a=fmtp:") || strings.HasPrefix(l, "m=") {
				if strings.HasPrefix(l, "m=") {
					l = l[:2] + strings.Fields(l[2:])[0] // the port differs
				}
				if !strings.Contains(served, l) {
					t.Errorf("the served SDP lacks the capture's %q:\n%s", l, served)
				}
			}
		}
	})

	t.Run("rtmp reader", func(t *testing.T) {
		r, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rw_timeout", "10000000", "-i", srv.RTMP("cam"), "-t", "3", "-f", "null", "-")
		if r.Code != 0 || !p.Ended {
			t.Fatalf("ffmpeg: want exit 0:\n%s", r)
		}
		if s := strings.TrimSpace(r.Stderr); s != "" {
			t.Errorf("ffmpeg printed errors:\n%s", s)
		}
		if p.Frames < 3*fps-5 || p.Frames > 3*fps+2 {
			t.Errorf("ffmpeg decoded %d video frames in 3 s over RTMP, want %d", p.Frames, 3*fps)
		}
		t.Logf("ffmpeg decoded %d frames over RTMP, %v of media", p.Frames, p.OutTime)
	})

	t.Run("payloads and timing", func(t *testing.T) {
		again := filepath.Join(t.TempDir(), "again.pcap")
		if r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "3s", "-o", again, srv.RTSP("cam")); r.Code != 0 {
			t.Fatalf("pull of the served capture:\n%s", r)
		}
		got := readCapture(t, again)
		if len(got) != len(want) {
			t.Fatalf("the served capture has %d tracks, the original %d", len(got), len(want))
		}
		for i := range want {
			w, g := want[i], got[i]
			n := 0
			for n < min(len(w.payloads), len(g.payloads)) && w.payloads[n] == g.payloads[n] {
				n++
			}
			// 3 s of a 4 s capture, from its start: a prefix of it.
			if n != len(g.payloads) || n < len(w.payloads)/2 {
				t.Errorf("track %d: %d payloads served; the first %d equal the capture's (of %d)", i, len(g.payloads), n, len(w.payloads))
			}
			var worst time.Duration
			for k := range n {
				worst = max(worst, (g.at[k] - w.at[k]).Abs())
			}
			// Replay is paced by the RTP timestamps (rtpcap.Timeline), so
			// the original's network jitter is not reproduced. The bound
			// allows a loaded machine; a replay as fast as possible would
			// be seconds off.
			if worst > time.Second {
				t.Errorf("track %d: a packet was served %v off its captured time", i, worst)
			}
			t.Logf("track %d: %d of %d payloads served as captured, at most %v off the capture's timing", i, n, len(w.payloads), worst)
		}
	})

	// Played once, the whole capture reaches the reader, its end included.
	t.Run("played once, whole", func(t *testing.T) {
		once := clitest.StartServe(t, "--no-loop", "--file", "cam="+orig)
		again := filepath.Join(t.TempDir(), "again.pcap")
		// The pull ends by itself when the file does.
		if r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "-o", again, once.RTSP("cam")); r.Code != 0 {
			t.Fatalf("pull of the served capture:\n%s", r)
		}
		got := readCapture(t, again)
		for i := range want {
			w, g := want[i], got[i]
			n := 0
			for n < min(len(w.payloads), len(g.payloads)) && w.payloads[n] == g.payloads[n] {
				n++
			}
			if n != len(w.payloads) || len(g.payloads) != len(w.payloads) {
				t.Errorf("track %d: %d payloads served, %d captured; the first %d are equal", i, len(g.payloads), len(w.payloads), n)
			}
		}
	})
}
