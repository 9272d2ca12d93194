package rtmp

import (
	"net/url"
	"strings"
	"testing"

	"github.com/avcat/avcat/pkg/fault"
)

var splitCases = []struct {
	in       string
	app, key string
	wantErr  bool
}{
	{in: "rtmp://h/live/cam1", app: "live", key: "cam1"},
	{in: "rtmp://h:1936/live/a/b", app: "live", key: "a/b"},
	{in: "rtmp://h/live/cam1?user=u&pass=p", app: "live", key: "cam1?user=u&pass=p"},
	{in: "rtmps://h/app", app: "app", key: ""},
	{in: "rtmp://h/", wantErr: true},
	{in: "rtmp://h", wantErr: true},
}

func TestSplitURL(t *testing.T) {
	for _, c := range splitCases {
		u, err := url.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		app, key, err := SplitURL(u)
		if c.wantErr {
			if k, _ := fault.KindOf(err); err == nil || k != fault.Usage {
				t.Errorf("%s: err %v, want usage error", c.in, err)
			}
			continue
		}
		if err != nil || app != c.app || key != c.key {
			t.Errorf("%s: app %q key %q err %v", c.in, app, key, err)
		}
	}
}

// TestTarget: what the client sends in connect and play/publish. The
// credentials of the userinfo (or --user/--pass) go in the query; a query
// with no stream name goes with the app and tcUrl, as ffmpeg sends it
// (gortmplib's server drops a stream name that starts with "?").
func TestTarget(t *testing.T) {
	cases := []struct{ in, tcURL, app, key string }{
		{"rtmp://h/live/cam", "rtmp://h:1935/live", "live", "cam"},
		{"rtmp://h:1936/live/a/b?x=1", "rtmp://h:1936/live", "live", "a/b?x=1"},
		{"rtmp://v:w@h/live/cam", "rtmp://h:1935/live", "live", "cam?user=v&pass=w"},
		{"rtmp://v:w@h/live/cam?x=1", "rtmp://h:1935/live", "live", "cam?x=1&user=v&pass=w"},
		{"rtmp://v:w@h/live/cam?user=a&pass=b", "rtmp://h:1935/live", "live", "cam?user=a&pass=b"},
		{"rtmp://h/demo?user=v&pass=w", "rtmp://h:1935/demo?user=v&pass=w", "demo?user=v&pass=w", ""},
		{"rtmp://v:w@h/demo", "rtmp://h:1935/demo?user=v&pass=w", "demo?user=v&pass=w", ""},
		{"rtmps://a%26b:p%3D@h/demo", "rtmps://h:443/demo?user=a%26b&pass=p%3D", "demo?user=a%26b&pass=p%3D", ""},
		{"rtmp://h/demo", "rtmp://h:1935/demo", "demo", ""},
	}
	for _, c := range cases {
		u, err := url.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		tcURL, app, key := target(u)
		if tcURL != c.tcURL || app != c.app || key != c.key {
			t.Errorf("%s: tcUrl %q app %q key %q, want %q %q %q", c.in, tcURL, app, key, c.tcURL, c.app, c.key)
		}
	}
}

func TestRedactKey(t *testing.T) {
	if got := redactKey("cam1?user=u&pass=hunter2"); strings.Contains(got, "hunter2") || !strings.HasPrefix(got, "cam1?") {
		t.Fatalf("redactKey = %q", got)
	}
}

func FuzzSplitURL(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		u, err := url.Parse(in)
		if err != nil {
			return
		}
		app, _, err := SplitURL(u)
		if err == nil && (app == "" || strings.Contains(app, "/")) {
			t.Fatalf("bad app %q from %q", app, in)
		}
		_, _, _ = target(u)
	})
}
