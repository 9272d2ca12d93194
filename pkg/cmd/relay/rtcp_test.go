package relay_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestRelayPcapHasRTCP: relay SRC x.pcap records the RTCP the source
// receives, as pull -o x.pcap does (relay's reconnecting source wrapper
// dropped the request, so its pcap had RTP only).
func TestRelayPcapHasRTCP(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, "tshark", testpeer.PeerGstRTSPServer)
	srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")}})
	out := filepath.Join(t.TempDir(), "cam.pcap")
	// GstRtspServer sends a sender report on each track within 2.5 s.
	r := clitest.Run(t, 30*time.Second, "relay", "--transport", "tcp", "--duration", "4s", srv.URL("/live"), out)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	res := testpeer.RunClient(t, 60*time.Second, "tshark", "-n", "-r", out,
		"-d", "udp.port==5001,rtcp", "-d", "udp.port==5003,rtcp", "-Y", "rtcp", "-T", "fields", "-e", "rtcp.pt")
	if res.Code != 0 {
		t.Fatalf("tshark cannot read %s:\n%s", out, res)
	}
	n := len(strings.Fields(res.Stdout))
	if n == 0 {
		t.Fatal("the relay's pcap holds no RTCP packet (ports 5001/5003); the server sent sender reports")
	}
	t.Logf("%d RTCP packets", n)
}
