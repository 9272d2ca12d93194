package endpoint

import (
	"testing"

	"github.com/avcat/avcat/pkg/rtmp"
	"github.com/avcat/avcat/pkg/rtsp"
)

// A factory resolves once and builds a fresh source or sink, with its own
// URL carrying the credentials, on every call.
func TestFactories(t *testing.T) {
	r := NewResolver(Config{})
	newSrc, u, err := r.SourceFactory("rtsp://cam:8554/live", SourceOptions{User: "u", Pass: "p", Transport: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	if u.User.String() != "u:p" {
		t.Fatalf("url user %q", u.User)
	}
	a, b := newSrc().(*rtsp.Source), newSrc().(*rtsp.Source)
	if a == b || a.URL == b.URL {
		t.Fatal("the factory returned a shared source or URL")
	}
	if a.URL.User.String() != "u:p" || a.Transport != "tcp" {
		t.Fatalf("source built with %v %q", a.URL.User, a.Transport)
	}

	newSink, _, err := r.SinkFactory("rtmp://srv/live/x", SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := newSink().(*rtmp.Sink), newSink().(*rtmp.Sink)
	if s1 == s2 || s1.URL == s2.URL || s1.URL.String() != "rtmp://srv/live/x" {
		t.Fatalf("sinks %p %p %v", s1, s2, s1.URL)
	}

	if _, _, err := r.SourceFactory("ftp://x/y", SourceOptions{}); err == nil {
		t.Fatal("ftp:// resolved as a source")
	}
	if _, _, err := r.SinkFactory("x.mp4", SinkOptions{}); err == nil {
		t.Fatal("a file resolved as a network sink")
	}
}
