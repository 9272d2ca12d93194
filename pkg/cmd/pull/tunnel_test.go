package pull_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/pull"
)

func TestPullTunnelFlags(t *testing.T) {
	for _, c := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"rtsp://cam/x"}, want: "none"},
		{args: []string{"--tunnel", "http", "rtsp://cam/x"}, want: "http"},
		{args: []string{"--tunnel", "websocket", "rtsp://cam/x"}, want: "websocket"},
		{args: []string{"--tunnel", "ftp", "rtsp://cam/x"}, wantErr: `invalid argument "ftp" for "--tunnel"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if o := clitest.ParseFlags(t, pull.NewCmdPull, c.args, c.wantErr); o != nil && o.Tunnel != c.want {
				t.Fatalf("--tunnel parsed as %q, want %q", o.Tunnel, c.want)
			}
		})
	}
}

// TestPullTunnelServe pulls avcat serve's demo clip through each tunnel
// (gortsplib's server accepts both on its RTSP port) and checks the file.
func TestPullTunnelServe(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	srv := clitest.StartServe(t)
	rtsph := "rtsph" + strings.TrimPrefix(srv.RTSP("demo"), "rtsp")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"http", []string{"--tunnel", "http", srv.RTSP("demo")}},
		{"websocket", []string{"--tunnel", "websocket", srv.RTSP("demo")}},
		{"rtsph", []string{rtsph}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.mp4")
			r := runPull(t, 30*time.Second, append([]string{"-v", "--duration", "3s", "-o", out}, tc.args...)...)
			checkFile(t, out, timed("h264", "aac", secs))
			checkTunnelTrace(t, r.Stderr, tc.name == "websocket")
		})
	}
}

// checkTunnelTrace: -v shows the tunnel's HTTP exchange, then the RTSP
// requests inside it.
func checkTunnelTrace(t *testing.T, stderr string, ws bool) {
	t.Helper()
	want := []string{"> GET /demo HTTP/1.1", "< HTTP/1.1 200 OK", "> POST /demo HTTP/1.1", "> OPTIONS rtsp://", "> PLAY rtsp://"}
	if ws {
		want = []string{"> GET / HTTP/1.1", "> Upgrade: websocket", "< HTTP/1.1 101 Switching Protocols", "> OPTIONS rtsp://", "> PLAY rtsp://"}
	}
	at := 0
	for _, w := range want {
		i := strings.Index(stderr[at:], w)
		if i < 0 {
			t.Fatalf("-v trace lacks %q after byte %d:\n%s", w, at, stderr)
		}
		at += i + len(w)
	}
}

// TestPullTunnelGstreamer pulls GstRtspServer's live source through its
// RTSP-over-HTTP tunnel, with rtsph:// and with --tunnel http.
func TestPullTunnelGstreamer(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe)
	srv := startLive(t)
	url := srv.URL("/live")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"rtsph", []string{"rtsph" + strings.TrimPrefix(url, "rtsp")}},
		{"tunnel_http", []string{"--tunnel", "http", url}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.ts")
			runPull(t, 30*time.Second, append([]string{"--duration", "3s", "-o", out}, tc.args...)...)
			checkFile(t, out, timed("h264", "aac", secs))
		})
	}
	// GstRtspServer has no WebSocket tunnel: a one-line refusal, exit 3.
	t.Run("websocket_refused", func(t *testing.T) {
		r := clitest.Run(t, 20*time.Second, "pull", "--tunnel", "websocket", "--duration", "1s", "-o", filepath.Join(t.TempDir(), "x.ts"), url)
		if r.Code != 3 || !strings.Contains(r.ErrLine(), "refused the WebSocket tunnel") {
			t.Fatalf("want exit 3 and a refused WebSocket tunnel\n%s", r)
		}
	})
}
