package record_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestRecordTunnel records avcat serve's demo clip through the HTTP tunnel.
func TestRecordTunnel(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe)
	srv := clitest.StartServe(t)
	out := filepath.Join(t.TempDir(), "cam.mp4")
	r := clitest.Run(t, 30*time.Second, "-v", "record", "--tunnel", "http", "--duration", "3s", "-o", out, srv.RTSP("demo"))
	if r.Code != 0 {
		t.Fatalf("record --tunnel http:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "> GET /demo HTTP/1.1") || !strings.Contains(r.Stderr, "> POST /demo HTTP/1.1") {
		t.Fatalf("-v shows no HTTP tunnel:\n%s", r.Stderr)
	}
	checkRecording(t, out, 3*fps-8, 3*fps+4)
}
