package mediaurl

import (
	"net/url"
	"strings"
	"testing"
)

// redactCases feed TestRedact and the seeds of FuzzRedactURL.
var redactCases = []struct {
	in, want string
}{
	{"rtsp://127.0.0.1:8554/live", "rtsp://127.0.0.1:8554/live"},
	{"rtsp://admin@cam/live", "rtsp://admin@cam/live"},
	{"rtsp://admin:12345@192.168.1.64:554/Streaming/Channels/101", "rtsp://admin:***@192.168.1.64:554/Streaming/Channels/101"},
	{"rtsps://u:p@h", "rtsps://u:***@h"},
	{"rtsp://u:@h/x", "rtsp://u:***@h/x"},
	{"rtsp://:secret@h/x", "rtsp://:***@h/x"},
	{"rtsp://user:p%40ss@h/x", "rtsp://user:***@h/x"},
	{"rtsp://user:p@ss@h/x", "rtsp://user:***@h/x"},
	{"rtsp://user:pa/ss@h/x", "rtsp://user:***@h/x"},
	{"rtsp://user:pa?ss@h/x", "rtsp://user:***@h/x"},
	{"rtsp://user:pa#ss@h/x", "rtsp://user:***@h/x"},
	{"rtsp://user:p@ss/w0rd@192.168.1.1/stream", "rtsp://user:***@192.168.1.1/stream"},
	{"rtsp://user:pass@[::1]:554/x", "rtsp://user:***@[::1]:554/x"},
	{"rtmp://host/app/streamkey", "rtmp://host/app/streamkey"},
	{"rtmp://host/app?user=bob&pass=hunter2&x=1", "rtmp://host/app?user=bob&pass=***&x=1"},
	{"rtmp://u:p@host/app?TOKEN=abc#frag", "rtmp://u:***@host/app?TOKEN=***#frag"},
	{"rtsp://h/x?password=a&pwd=b&passwd=c&secret=d&token=e&key=f", "rtsp://h/x?password=***&pwd=***&passwd=***&secret=***&token=***&key=f"},
	{"rtsp://h/x?pass", "rtsp://h/x?pass"},
	{"admin:secret@10.0.0.1/live", "admin:***@10.0.0.1/live"},
	{"//admin:secret@10.0.0.1/live", "//admin:***@10.0.0.1/live"},
	{"", ""},
	{"not a url", "not a url"},
	{"rtsp://", "rtsp://"},
	{"rtsp://user:pass@", "rtsp://user:***@"},
	{"rtsp://u:p@h:554/ok?a=1", "rtsp://u:***@h:554/ok?a=1"},
	{"rtsp://u:***@h/x", "rtsp://u:***@h/x"},
	// an "@" in the query: redact generously rather than risk a leak
	{"rtsp://u:pw@h/x?mail=a@b", "rtsp://u:***@b"},
}

func TestRedact(t *testing.T) {
	for _, c := range redactCases {
		got := Redact(c.in)
		if got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if Redact(got) != got {
			t.Errorf("RedactURL is not idempotent on %q", got)
		}
	}
}

func TestRedactText(t *testing.T) {
	in := "a=control:rtsp://admin:hunter2@192.168.1.108:554/cam?token=abc123\r\nContent-Base: rtsp://x:y@h/ \"rtmp://a:b@c/d\" plain text: no url\n"
	want := "a=control:rtsp://admin:***@192.168.1.108:554/cam?token=***\r\nContent-Base: rtsp://x:***@h/ \"rtmp://a:***@c/d\" plain text: no url\n"
	if got := RedactText(in); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := RedactText("no urls here: a:b@c"); got != "no urls here: a:b@c" {
		t.Errorf("text without URL changed: %q", got)
	}
}

// rawPassword returns the password exactly as it appears in in, when Go's
// net/url would read one.
func rawPassword(in string) (string, bool) {
	u, err := url.Parse(in)
	if err != nil || u.User == nil {
		return "", false
	}
	if _, ok := u.User.Password(); !ok {
		return "", false
	}
	s := in
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	i := strings.Index(s, "//")
	if i < 0 {
		return "", false
	}
	auth := s[i+2:]
	if j := strings.IndexByte(auth, '/'); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return "", false
	}
	_, pw, ok := strings.Cut(auth[:at], ":")
	return pw, ok
}

func FuzzRedact(f *testing.F) {
	for _, c := range redactCases {
		f.Add(c.in)
	}
	f.Add("a=control:rtsp://admin:12345@192.0.2.1:554/trackID=1")
	f.Fuzz(func(t *testing.T, in string) {
		out := Redact(in)
		if Redact(out) != out {
			t.Errorf("not idempotent: %q -> %q -> %q", in, out, Redact(out))
		}
		_ = RedactText(in)
		pw, ok := rawPassword(in)
		if !ok || pw == "" || strings.Contains(pw, "*") {
			return
		}
		if strings.Count(out, pw) >= strings.Count(in, pw) {
			t.Errorf("password %q survives: %q -> %q", pw, in, out)
		}
		if u, err := url.Parse(out); err == nil && u.User != nil {
			if p, set := u.User.Password(); set && p != redacted {
				t.Errorf("redacted URL %q still parses with password %q", out, p)
			}
		}
	})
}
