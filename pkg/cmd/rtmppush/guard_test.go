package rtmppush_test

import (
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestRTMPPushHostileServer: the publish client reads the server's
// answers through the guard too.
func TestRTMPPushHostileServer(t *testing.T) {
	srv, _ := testpeer.RTMPAttackServer(t, testpeer.RTMPAttack(testpeer.AttackNestedAMF0))
	r := clitest.Run(t, 30*time.Second, "rtmp-push", media("h264_aac.flv"), srv.URL("rtmp", "live/x"))
	want := srv.Addr + ": RTMP server sent a 8000019-byte AMF message of type 20 (limit 65536)"
	if r.Code != 3 || !strings.Contains(r.ErrLine(), want) {
		t.Errorf("want exit 3 and %q:\n%s", want, r)
	}
}
