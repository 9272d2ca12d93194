package probe_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/probe"
)

func TestProbeFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *probe.Options)
	}{
		{args: []string{"rtsp://cam/x"}, check: func(t *testing.T, o *probe.Options) {
			if o.URL != "rtsp://cam/x" || o.Output != "text" || o.Transport != "auto" || o.Play != 0 {
				t.Fatalf("defaults: %+v", o)
			}
		}},
		{args: []string{"--play", "3s", "--transport", "tcp", "-o", "json", "--user", "u", "--pass", "p", "rtsp://cam/x"}, check: func(t *testing.T, o *probe.Options) {
			if o.Play != 3*time.Second || o.Transport != "tcp" || o.Output != "json" || o.User != "u" || o.Pass != "p" {
				t.Fatalf("parsed: %+v", o)
			}
		}},
		{args: []string{"--sdp", "rtsp://cam/x"}, check: func(t *testing.T, o *probe.Options) {
			if !o.SDPOnly {
				t.Fatal("--sdp not set")
			}
		}},
		{args: []string{}, wantErr: "missing URL"},
		{args: []string{"a", "b"}, wantErr: "too many arguments"},
		{args: []string{"--transport", "sctp", "rtsp://cam/x"}, wantErr: "invalid --transport"},
		{args: []string{"-o", "xml", "rtsp://cam/x"}, wantErr: "invalid --output-format"},
		{args: []string{"--sdp", "-o", "json", "rtsp://cam/x"}, wantErr: "cannot be used together"},
		{args: []string{"--play", "soon", "rtsp://cam/x"}, wantErr: "invalid argument"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if got := clitest.ParseFlags(t, probe.NewCmdProbe, c.args, c.wantErr); got != nil {
				c.check(t, got)
			}
		})
	}
}

// TestProbeErrorPaths checks every failure a user can meet before any
// media flows: each gets its exit code and a one-line message, fast.
func TestProbeErrorPaths(t *testing.T) {
	silent := testpeer.SilentTCPServer(t)
	httpSrv := testpeer.HTTPServer(t)
	garbage := testpeer.GarbageServer(t)
	closed := testpeer.FreePort(t) // nothing listens there
	blackhole := testpeer.BlackholeAddr(t)

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"malformed URL", []string{"rtsp//127.0.0.1/x"}, 2, "missing scheme"},
		{"bad port", []string{"rtsp://127.0.0.1:70000/x"}, 2, "bad port"},
		{"http scheme", []string{"http://127.0.0.1/x"}, 2, "unsupported URL scheme"},
		{"no URL", nil, 2, "missing URL"},
		{"unknown flag", []string{"--frobnicate", "rtsp://127.0.0.1/x"}, 2, "unknown flag"},
		{"refused", []string{"rtsp://127.0.0.1:" + strconv.Itoa(closed) + "/x"}, 3, "connection refused"},
		{"refused rtmp", []string{"rtmp://127.0.0.1:" + strconv.Itoa(closed) + "/live/x"}, 3, "connection refused"},
		{"silent server", []string{"--timeout", "1s", silent.URL("rtsp", "x")}, 3, "no response from " + silent.Addr + " within 1s"},
		{"silent rtmp server", []string{"--timeout", "1s", silent.URL("rtmp", "live/x")}, 3, "within 1s"},
		{"unreachable", []string{"--timeout", "1s", "rtsp://" + blackhole + "/x"}, 3, "within 1s"},
		{"unreachable rtmp", []string{"--timeout", "1s", "rtmp://" + blackhole + "/live/x"}, 3, "within 1s"},
		{"http server", []string{httpSrv.URL("rtsp", "x")}, 3, "not an RTSP server: it answered HTTP"},
		{"garbage server", []string{garbage.URL("rtsp", "x")}, 3, "not an RTSP server"},
		{"rtmp to http server", []string{"--timeout", "2s", httpSrv.URL("rtmp", "live/x")}, 3, httpSrv.Addr},
		{"rtmp to garbage", []string{"--timeout", "2s", garbage.URL("rtmp", "live/x")}, 3, garbage.Addr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 20*time.Second, append([]string{"probe"}, c.args...)...)
			if r.Code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.Code, c.code, r)
			}
			line := r.ErrLine()
			if !strings.Contains(line, c.msg) {
				t.Fatalf("error line %q does not contain %q\n%s", line, c.msg, r)
			}
			if strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Fatalf("error is not one line:\n%s", r.Stderr)
			}
			if r.Stdout != "" {
				t.Fatalf("stdout must stay empty on error, got %q", r.Stdout)
			}
			if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine ") {
				t.Fatalf("panic output:\n%s", r.Stderr)
			}
		})
	}
}

// rawRTSPServer answers every request with the given DESCRIBE body (and a
// plain 200 to anything else), like a camera with a quirky SDP.
func rawRTSPServer(t *testing.T, sdp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cseq := ""
					for {
						l, err := r.ReadString('\n')
						if err != nil {
							return
						}
						if strings.HasPrefix(strings.ToLower(l), "cseq:") {
							cseq = strings.TrimSpace(l[5:])
						}
						if l == "\r\n" {
							break
						}
					}
					res := "RTSP/1.0 200 OK\r\nCSeq: " + cseq + "\r\nServer: QuirkyCam/1.0\r\n"
					if strings.HasPrefix(req, "DESCRIBE") {
						res += "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
					} else {
						res += "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
					}
					if _, err := c.Write([]byte(res)); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	return "rtsp://" + ln.Addr().String() + "/cam"
}

func TestProbeUnusableSDP(t *testing.T) {
	// AAC without config= or sizelength: gortsplib refuses the whole SDP.
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n" +
		"m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\na=fmtp:97 streamtype=5;mode=AAC-hbr\r\na=control:trackID=1\r\n"
	url := rawRTSPServer(t, sdp)

	r := clitest.Run(t, 20*time.Second, "probe", url)
	if r.Code != 6 || !strings.Contains(r.ErrLine(), "cannot use the SDP") {
		t.Fatalf("want exit 6 naming the SDP problem:\n%s", r)
	}
	if !strings.Contains(r.Stdout, "MPEG4-GENERIC/16000/1") || !strings.Contains(r.Stdout, "warning:") {
		t.Fatalf("the raw SDP and the per-track warning should still be printed:\n%s", r)
	}

	r = clitest.Run(t, 20*time.Second, "probe", "--sdp", url)
	if r.Stdout != sdp || r.Code != 6 {
		t.Fatalf("--sdp should print the server's SDP as is:\n%s", r)
	}

	// Same server, usable SDP: exit 0, and the Server header is reported.
	ok := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
		"a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkAoD2wFqDAwNSgAAADACAAAAZR4sXJ,aMuMsg==\r\na=control:trackID=0\r\n"
	r = clitest.Run(t, 20*time.Second, "probe", "-o", "json", rawRTSPServer(t, ok))
	if r.Code != 0 || !strings.Contains(r.Stdout, `"server": "QuirkyCam/1.0"`) || !strings.Contains(r.Stdout, `"width": 640`) {
		t.Fatalf("usable SDP:\n%s", r)
	}
}

// TestProbeBareLF probes a server that ends its RTSP lines with a bare "\n"
// (old camera firmware; ffprobe copes): probe must read it like any other.
func TestProbeBareLF(t *testing.T) {
	for _, srv := range []*testpeer.DescribeOnlyServer{
		testpeer.StartDescribeOnlyServer(t, testpeer.SDPH264AAC, "SETUP"),
		testpeer.StartBareLFServer(t, testpeer.SDPH264AAC, "SETUP"),
	} {
		r := clitest.Run(t, 20*time.Second, "probe", "--timeout", "3s", srv.URL("rtsp", "cam"))
		if r.Code != 0 {
			t.Fatalf("probe %s:\n%s", srv.URL("rtsp", "cam"), r)
		}
		for _, want := range []string{"H264", "640x480", "MPEG4-GENERIC", "48000"} {
			if !strings.Contains(strings.ToUpper(r.Stdout), strings.ToUpper(want)) {
				t.Errorf("probe output lacks %q:\n%s", want, r.Stdout)
			}
		}
	}
}
