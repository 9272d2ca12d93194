package probe_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestProbeTunnelErrorPaths: what the HTTP side of a tunnel answers gets
// the messages and exit codes of the same answer over plain RTSP, and a
// peer that drops one of the tunnel's two connections never holds the
// client past --timeout.
func TestProbeTunnelErrorPaths(t *testing.T) {
	notFound := testpeer.HTTPStatusServer(t, http.StatusNotFound)
	unauthorized := testpeer.HTTPStatusServer(t, http.StatusUnauthorized)
	web := testpeer.HTTPServer(t) // 200 text/html to anything
	plain := rawRTSPServer(t, "v=0\r\n")
	dropGet := testpeer.TunnelDropServer(t, "get")
	dropPost := testpeer.TunnelDropServer(t, "post")
	rtsph := func(s *testpeer.FakeServer) string { return s.URL("rtsph", "x") }

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"404 http", []string{rtsph(notFound)}, 5, "stream not found: rtsph://" + notFound.Addr + "/x (HTTP 404 Not Found)"},
		{"404 websocket", []string{"--tunnel", "websocket", notFound.URL("rtsp", "x")}, 5, "stream not found"},
		{"401 http", []string{rtsph(unauthorized)}, 4, "authentication required by the HTTP tunnel (HTTP 401 Unauthorized)"},
		{"401 websocket", []string{"--tunnel", "websocket", unauthorized.URL("rtsp", "x")}, 4, "WebSocket tunnel (HTTP 401"},
		{"html http", []string{rtsph(web)}, 3, "not an RTSP server: its HTTP tunnel answered an HTML page"},
		{"html websocket", []string{"--tunnel", "websocket", web.URL("rtsp", "x")}, 3, "not an RTSP server"},
		{"plain rtsp server", []string{"rtsph" + strings.TrimPrefix(plain, "rtsp")}, 3, "does not serve RTSP tunnels"},
		{"websocket with rtsph", []string{"--tunnel", "websocket", rtsph(notFound)}, 2, "rtsph:// is RTSP in an HTTP tunnel"},
		{"tunnel over udp", []string{"--tunnel", "http", "--play", "1s", "--transport", "udp", notFound.URL("rtsp", "x")}, 2, "--transport udp cannot be used"},
		{"get dropped", []string{"--timeout", "2s", rtsph(dropGet)}, 3, dropGet.Addr},
		{"post dropped", []string{"--timeout", "2s", rtsph(dropPost)}, 3, dropPost.Addr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 20*time.Second, append([]string{"probe"}, c.args...)...)
			if r.Code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.Code, c.code, r)
			}
			if line := r.ErrLine(); !strings.Contains(line, c.msg) {
				t.Fatalf("error line %q does not contain %q\n%s", line, c.msg, r)
			}
			if strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || r.Stdout != "" {
				t.Fatalf("want one error line and no stdout:\n%s", r)
			}
			t.Logf("exit %d in %v: %s", r.Code, r.Took.Round(time.Millisecond), r.ErrLine())
			if r.Took > 4*time.Second {
				t.Fatalf("took %v: a dead tunnel must not hold the client past --timeout", r.Took)
			}
		})
	}
}
