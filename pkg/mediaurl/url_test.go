package mediaurl

import (
	"strings"
	"testing"

	"github.com/avcat/avcat/pkg/fault"
)

var parseCases = []struct {
	in      string
	wantErr string
	host    string
}{
	{in: "rtsp://127.0.0.1:8554/live", host: "127.0.0.1:8554"},
	{in: "RTSP://cam/stream", host: "cam"},
	{in: "rtsps://user:pa%40ss@cam:322/x", host: "cam:322"},
	{in: "rtmp://127.0.0.1/live/key?user=a&pass=b", host: "127.0.0.1"},
	{in: "rtsp://[::1]:8554/x", host: "[::1]:8554"},
	{in: "", wantErr: "empty URL"},
	{in: "rtsp//cam/x", wantErr: "missing scheme"},
	{in: "http://cam/x", wantErr: "unsupported URL scheme"},
	{in: "rtsp://", wantErr: "missing host"},
	{in: "rtsp:cam", wantErr: "missing host"},
	{in: "rtsp://cam:99999/x", wantErr: "bad port"},
	{in: "rtsp://cam:abc/x", wantErr: "malformed URL"},
	{in: "rtsp://cam:/x", wantErr: "empty port"},
	{in: "rtsp://cam/a b", wantErr: "whitespace"},
	{in: "rtsp://user:secret@cam:0/x", wantErr: "bad port"},
	{in: "rtsp://us%zzer:secret@cam/x", wantErr: "malformed URL"},
}

func TestParseURL(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.in, func(t *testing.T) {
			u, err := ParseURL(c.in)
			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("want error %q, got URL %v", c.wantErr, u)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %q does not contain %q", err, c.wantErr)
				}
				if k, _ := fault.KindOf(err); k != fault.Usage {
					t.Fatalf("kind = %v, want usage", k)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if u.Host != c.host {
				t.Fatalf("host = %q, want %q", u.Host, c.host)
			}
		})
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://cam/x":      "cam:554",
		"rtsps://cam/x":     "cam:322",
		"rtmp://cam/app/k":  "cam:1935",
		"rtmps://cam/app/k": "cam:443",
		"rtsp://cam:8554/x": "cam:8554",
		"rtsp://[::1]/x":    "[::1]:554",
	} {
		u, err := ParseURL(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := HostPort(u); got != want {
			t.Errorf("HostPort(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		u, err := ParseURL(in)
		if err != nil {
			if k, _ := fault.KindOf(err); k != fault.Usage {
				t.Fatalf("non-usage error kind %v for %q", k, in)
			}
			return
		}
		if u.Hostname() == "" {
			t.Fatalf("accepted URL without host: %q", in)
		}
		_ = HostPort(u)
	})
}
