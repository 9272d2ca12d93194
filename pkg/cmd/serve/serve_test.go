package serve_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/pkg/probe"
)

func TestServeDemoProbeAndStop(t *testing.T) {
	srv := clitest.StartServe(t)
	for _, url := range []string{srv.RTSP("demo"), srv.RTMP("demo")} {
		r := clitest.Run(t, 30*time.Second, "probe", "-o", "json", url)
		if r.Code != 0 {
			t.Fatalf("probe %s:\n%s", url, r)
		}
		var rep probe.Report
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Streams) != 2 || rep.Streams[0].CodecName != "h264" || rep.Streams[0].Width != 640 || rep.Streams[1].CodecName != "aac" {
			t.Fatalf("%s: streams %+v", url, rep.Streams)
		}
	}
	r := clitest.Run(t, 30*time.Second, "probe", srv.RTSP("nothing-here"))
	if r.Code != 5 {
		t.Fatalf("empty path: want 404 / exit 5:\n%s", r)
	}
	res := srv.Stop()
	if res.Code != 0 || !strings.Contains(res.Stderr, "RTSP listening on") || !strings.Contains(res.Stderr, "rtsp://127.0.0.1:") ||
		!strings.Contains(res.Stderr, "ffplay ") || !strings.Contains(res.Stderr, "stopped") {
		t.Fatalf("serve run:\n%s", res)
	}
	if res.Stdout != "" {
		t.Fatalf("serve wrote to stdout: %q", res.Stdout)
	}
}

func TestServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--file", "nonsense"}, "PATH=FILE"},
		{[]string{"--file", "x=/does/not/exist.mp4"}, "no such file"},
		{[]string{"--file", "x=README.md"}, "unknown file type"},
		{[]string{"--user", "nopass"}, "NAME:PASS"},
		{[]string{"--allow-from", "300.1.1.1/8"}, "not a CIDR"},
		{[]string{"--rtp-port", "8001"}, "even port"},
		{[]string{"--multicast-range", "10.0.0.0/8"}, "not a multicast"},
		{[]string{"--tls-cert", "a.pem"}, "go together"},
		{[]string{"--max-sessions", "-1"}, "take a count"},
		{[]string{"--max-conns", "-5"}, "take a count"},
		{[]string{"--session-timeout", "10ms"}, "at least 1s"},
	} {
		r := clitest.Run(t, 10*time.Second, append([]string{"serve", "--rtsp", "127.0.0.1:0", "--no-rtmp"}, c.args...)...)
		if r.Code == 0 || !strings.Contains(r.ErrLine(), c.msg) {
			t.Errorf("%v: want an error with %q:\n%s", c.args, c.msg, r)
		}
	}
}
