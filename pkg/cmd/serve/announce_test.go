package serve_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// announce sends one ANNOUNCE with body and returns the status line.
func announce(t *testing.T, addr, url, sdp string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "ANNOUNCE %s RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", url, len(sdp), sdp)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("ANNOUNCE %s: %v", url, err)
	}
	return strings.TrimSpace(line)
}

// TestServeLogsRefusedAnnounce: a publisher that serve turns away is
// logged with the reason, whether serve refused it (a file path) or the
// RTSP stack did (an SDP it cannot parse).
func TestServeLogsRefusedAnnounce(t *testing.T) {
	srv := clitest.StartServe(t, "--file", "clip="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	addr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	good := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n"
	if st := announce(t, addr, srv.RTSP("clip"), good); !strings.Contains(st, "403") {
		t.Fatalf("ANNOUNCE on a file path: %s", st)
	}
	if st := announce(t, addr, srv.RTSP("bad"), "v=0\r\nm=nonsense\r\n"); !strings.Contains(st, "400") {
		t.Fatalf("ANNOUNCE with a broken SDP: %s", st)
	}
	res := srv.Stop()
	for _, want := range []string{
		`refused ANNOUNCE of "clip" from 127.0.0.1:`, "path serves a file",
		`refused ANNOUNCE of "bad" from 127.0.0.1:`,
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, res.Stderr)
		}
	}
	for _, l := range strings.Split(res.Stderr, "\n") {
		if strings.Contains(l, `ANNOUNCE of "bad"`) {
			t.Logf("%s", l)
			if !strings.Contains(l, "400 ") || len(l) < len(`refused ANNOUNCE of "bad" from 127.0.0.1:1: 400 Bad Request: x`) {
				t.Errorf("the broken SDP's refusal says no reason: %s", l)
			}
		}
	}
}
