package testpeer

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RTMPDump records the RTMP stream at url into an FLV file for about limit and
// returns the file and the run. In live mode rtmpdump ignores --stop, so the
// run is ended by timeout(1): an exit code of 124 is the normal end of a live
// stream. The URL is split into app and playpath explicitly (the last path
// element is the playpath), so that a one-element path such as /demo works:
// rtmpdump refuses rtmp://host/demo for lack of a playpath.
func RTMPDump(t testing.TB, url string, limit time.Duration) (string, *ClientResult) {
	t.Helper()
	Require(t, PeerRTMPDump)
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		t.Fatalf("testpeer: RTMPDump: not a URL: %q", url)
	}
	host, path, _ := strings.Cut(rest, "/")
	app, play := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		app, play = path[:i], path[i+1:]
	}
	out := filepath.Join(t.TempDir(), "out.flv")
	args := []string{"-q", "--live", "-r", fmt.Sprintf("%s://%s/%s", scheme, host, app), "-a", app, "-y", play, "-o", out}
	return out, RunClient(t, limit, PeerRTMPDump, args...)
}
