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
		lu, err := libraryURL(u)
		if err != nil || lu.Path != "/"+c.app || lu.Fragment != c.key || !strings.Contains(lu.Host, ":") {
			t.Errorf("%s: library URL %v (%v)", c.in, lu, err)
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
		_, _ = libraryURL(u)
	})
}
