package relay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestRelayTunnel relays through WebSocket tunnels on both sides: --tunnel
// applies to the RTSP source and to the RTSP destinations.
func TestRelayTunnel(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t)
	dst := srv.RTSP("relayed/ws")
	rel := startRelay(t, "-v", "--tunnel", "websocket", srv.RTSP("demo"), dst)
	testpeer.WaitRTSPDescribe(t, dst, nil, 20*time.Second)
	r, err := readable(dst, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkAV(t, "ffprobe of a path relayed over WebSocket", r, 3*fps-fps-4, 3*fps+3)
	rel.interrupt(t)
	if n := strings.Count(rel.Output(), "> Upgrade: websocket"); n < 2 {
		t.Fatalf("%d WebSocket upgrades in the -v trace, want one per side:\n%s", n, rel.Output())
	}
}
