package rtmp

import (
	"net"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/avcat/avcat/internal/testpeer"
)

// TestServerPath: the path a publisher lands at comes from app + stream
// name, whether or not its tcUrl and app repeat the stream name (go2rtc,
// node-media-server), and credentials are found in the stream name's
// query or, without a stream name, the app's (ffmpeg's one-segment form).
func TestServerPath(t *testing.T) {
	cases := []struct {
		app, tcURL, key string
		path, user      string
	}{
		{"live", "rtmp://h/live", "cam", "live/cam", ""},
		{"live/cam", "rtmp://h/live/cam", "cam", "live/cam", ""},
		{"live", "rtmp://h/live/cam", "cam", "live/cam", ""},
		{"live", "rtmp://h/live", "a/b?user=v&pass=w", "live/a/b", "v"},
		{"demo?user=v&pass=w", "rtmp://h/demo?user=v&pass=w", "", "demo", "v"},
		{"demo", "rtmp://h/demo", "?user=v&pass=w", "demo", "v"},
		{"live?user=x", "rtmp://h/live?user=x", "cam?user=v", "live/cam", "v"},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		path, user string
		err        error
	}
	for _, c := range cases {
		got := make(chan result, 1)
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				got <- result{err: err}
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			sc := &gortmplib.ServerConn{RW: nc}
			if err = sc.Initialize(); err == nil {
				err = sc.AcceptConn()
			}
			if err != nil {
				got <- result{err: err}
				return
			}
			p, q := ServerPath(sc)
			got <- result{path: p, user: q.Get("user")}
			_ = sc.AcceptAction()
			for err == nil {
				_, err = sc.Read()
			}
		}()
		stop := testpeer.RTMPPublishRaw(t, ln.Addr().String(), c.app, c.tcURL, c.key, 1)
		r := <-got
		stop()
		if r.err != nil || r.path != c.path || r.user != c.user {
			t.Errorf("app %q tcUrl %q key %q: path %q user %q (%v), want %q %q", c.app, c.tcURL, c.key, r.path, r.user, r.err, c.path, c.user)
		}
	}
}
