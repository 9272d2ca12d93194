package serve_test

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
)

// TestServeUDPBindsRTSPHost: with --rtsp 127.0.0.1:PORT the RTP/RTCP UDP
// sockets bind 127.0.0.1 too, not every interface: another address can
// take the same ports, and UDP readers still work.
func TestServeUDPBindsRTSPHost(t *testing.T) {
	srv := clitest.StartServe(t)
	for _, port := range []int{srv.RTPPort, srv.RTPPort + 1} {
		pc, err := net.ListenPacket("udp4", "127.0.0.2:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("UDP port %d is taken on another address: serve bound every interface (%v)", port, err)
		}
		pc.Close()
	}
	out := filepath.Join(t.TempDir(), "out.ts")
	r := clitest.Run(t, 30*time.Second, "pull", "--transport", "udp", "--duration", "1s", "-o", out, srv.RTSP("demo"))
	if r.Code != 0 {
		t.Fatalf("pull over UDP:\n%s", r)
	}
}
