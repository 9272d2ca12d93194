package check_test

import (
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// rtsps:// and rtmps:// with --insecure; without it the self-signed
// certificate is refused (exit 3). Basic over TLS is not flagged; a foreign
// Digest nonce gets gortsplib's bare 401 (auth.stale-nonce warns).
func TestCheckTLS(t *testing.T) {
	cert, key := testpeer.SelfSignedFiles(t)
	srv := clitest.StartServe(t, "--tls-cert", cert, "--tls-key", key, "--no-udp", "--read-user", "viewer:pw0rd")
	rtsps := strings.Replace(srv.RTSP("demo"), "rtsp://", "rtsps://viewer:pw0rd@", 1)
	rtmps := strings.Replace(srv.RTMP("demo"), "rtmp://", "rtmps://", 1)
	for _, c := range []struct{ url, want string }{
		{rtsps, "auth.stale-nonce=warn play.rtp-info=warn"},
		{rtmps + "?user=viewer&pass=pw0rd", ""},
	} {
		r := clitest.Run(t, time.Minute, "check", "--insecure", "--json", "--duration", "1s", c.url)
		rep := parse(t, r)
		if r.Code != 0 || notPassed(rep) != c.want || strings.Contains(r.Stdout+r.Stderr, "pw0rd") {
			t.Fatalf("%s: exit %d, %s\n%s", c.url, r.Code, notPassed(rep), r)
		}
		r = clitest.Run(t, time.Minute, "check", c.url)
		if r.Code != 3 || !strings.Contains(r.ErrLine(), "certificate") || strings.Contains(r.Stderr, "pw0rd") {
			t.Fatalf("without --insecure: %s", r)
		}
	}
}
