package check_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	cmdcheck "github.com/avcat/avcat/pkg/cmd/check"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

func TestFlags(t *testing.T) {
	cases := []struct {
		args []string
		want cmdcheck.Options
	}{
		{[]string{"rtsp://h/x"}, cmdcheck.Options{URL: "rtsp://h/x", Output: "text", Duration: 5 * time.Second, Transport: "auto"}},
		{[]string{"--json", "--duration", "2s", "--transport", "tcp", "--full", "--user", "u", "--pass", "p", "--user-agent", "ua", "--insecure", "rtsps://h/x"},
			cmdcheck.Options{URL: "rtsps://h/x", Output: "json", JSON: true, Duration: 2 * time.Second, Transport: "tcp", Full: true, User: "u", Pass: "p", UserAgent: "ua", Insecure: true}},
		{[]string{"--output-format", "json", "rtmp://h/app/key"}, cmdcheck.Options{URL: "rtmp://h/app/key", Output: "json", Duration: 5 * time.Second, Transport: "auto"}},
	}
	for _, c := range cases {
		ios, _, _, _ := iostreams.Test()
		f := cmdutil.NewFactory(ios)
		var got *cmdcheck.Options
		cmd := cmdcheck.NewCmdCheck(f, func(_ context.Context, o *cmdcheck.Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		got.IO, got.Logger, got.Timeout = nil, nil, nil
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", c.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", c.args, *got, c.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"check"},
		{"check", "--transport", "multicast", "rtsp://h/x"},
		{"check", "--output-format", "yaml", "rtsp://h/x"},
		{"check", "--duration", "0s", "rtsp://h/x"},
		{"check", "http://h/x"},
		{"check", "rtsp//h/x"},
	} {
		r := clitest.Run(t, 5*time.Second, args...)
		if r.Code != 2 || r.Stdout != "" {
			t.Errorf("%v: %s", args, r)
		}
	}
}

type jsonReport struct {
	URL    string `json:"url"`
	OK     bool   `json:"ok"`
	Checks []struct {
		ID       string `json:"id"`
		Track    *int   `json:"track"`
		Status   string `json:"status"`
		Observed string `json:"observed"`
	} `json:"checks"`
	Summary struct{ Failed, Warnings int } `json:"summary"`
}

func parse(t *testing.T, r *clitest.Result) jsonReport {
	t.Helper()
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r)
	}
	return rep
}

func notPassed(rep jsonReport) string {
	var out []string
	for _, c := range rep.Checks {
		// Jitter measures the loaded test machine as much as the peer.
		if c.ID == "rtp.jitter" && c.Status == "warn" {
			continue
		}
		if c.Status == "warn" || c.Status == "fail" {
			out = append(out, c.ID+"="+c.Status)
		}
	}
	return strings.Join(out, " ")
}

// A failed check is exit 7, the report is complete on stdout, and the
// password is nowhere.
func TestExitCodeAndRedaction(t *testing.T) {
	cam := testpeer.StartFakeCamera(t, testpeer.CameraFaults{PublicLies: true})
	url := strings.Replace(cam.URL("rtsp", "cam"), "://", "://admin:s3cret@", 1)
	r := clitest.Run(t, 30*time.Second, "check", "--json", "--duration", "1s", url)
	if r.Code != 7 {
		t.Fatalf("exit %d, want 7\n%s", r.Code, r)
	}
	if strings.Contains(r.Stdout+r.Stderr, "s3cret") {
		t.Fatalf("password leaked:\n%s", r)
	}
	rep := parse(t, r)
	if rep.OK || rep.Summary.Failed != 1 || notPassed(rep) != "options.public-truth=fail" || !strings.Contains(rep.URL, "admin:***@") {
		t.Fatalf("report: %+v", rep)
	}
	if !strings.Contains(r.ErrLine(), "1 of") {
		t.Errorf("stderr: %q", r.Stderr)
	}

	r = clitest.Run(t, 30*time.Second, "check", "--duration", "1s", "-v", url)
	if r.Code != 7 || !strings.Contains(r.Stdout, "✗ options.public-truth") || strings.Contains(r.Stdout+r.Stderr, "s3cret") {
		t.Fatalf("text: %s", r)
	}
	if strings.Contains(r.Stdout, "\x1b[") {
		t.Errorf("color on a non-TTY stdout")
	}
}

func TestNetworkError(t *testing.T) {
	r := clitest.Run(t, 10*time.Second, "check", "rtsp://127.0.0.1:1/x")
	if r.Code != 3 || r.Stdout != "" || r.ErrLine() == "" {
		t.Fatalf("%s", r)
	}
}

// avcat serve, a file path (H.264 High with B-frames) and a live path fed
// by avcat push: every check passes.
func TestAgainstServe(t *testing.T) {
	srv := clitest.StartServe(t, "--file", "clip="+testpeer.MediaFile(t, "h264_high_bframes_aac.mp4"))
	push := make(chan *clitest.Result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-push })
	go func() {
		push <- clitest.RunContext(ctx, "push", "--loop", testpeer.MediaFile(t, "h264_baseline_aac.mp4"), srv.RTSP("live"))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := testpeer.RTSPRequest(fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort), "DESCRIBE", srv.RTSP("live"), nil, time.Second)
		if err == nil && res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live path never came up: %v", err)
		}
		select {
		case r := <-push:
			t.Fatalf("push ended: %s", r)
		case <-time.After(100 * time.Millisecond):
		}
	}
	demo := clitest.StartServe(t, "--multicast-range", "239.255.42.0/24")
	for _, c := range []struct {
		path, url, want string
	}{
		// A file path starts on PLAY: avcat serve (gortsplib) has no
		// packet yet to put in RTP-Info, and sends url= alone.
		{"clip", srv.RTSP("clip"), "play.rtp-info=warn"},
		{"demo", demo.RTSP("demo"), "play.rtp-info=warn"},
		{"live", srv.RTSP("live"), ""},
	} {
		t.Run(c.path, func(t *testing.T) {
			r := clitest.Run(t, 60*time.Second, "check", "--json", "--duration", "3s", c.url)
			rep := parse(t, r)
			text := clitest.Run(t, 60*time.Second, "check", "--duration", "2s", "--transport", "tcp", c.url)
			t.Log("\n" + text.Stdout)
			if r.Code != 0 || !rep.OK || notPassed(rep) != c.want {
				t.Fatalf("exit %d, not passed: %s\n%s", r.Code, notPassed(rep), r.Stdout)
			}
			for _, ch := range rep.Checks {
				if ch.ID == "setup.multicast" && (c.path == "demo") != (ch.Status == "pass") {
					t.Errorf("setup.multicast: %s %s", ch.Status, ch.Observed)
				}
			}
			if text.Code != 0 {
				t.Fatalf("tcp: exit %d\n%s", text.Code, text)
			}
		})
	}
}

// avcat serve --read-user offers Basic, Digest SHA-256 and Digest MD5:
// reported, Basic flagged; with the password every step passes (a foreign
// nonce gets gortsplib's bare 401 and a closed connection: a warning),
// without it the login fails (exit 7).
func TestServeAuth(t *testing.T) {
	srv := clitest.StartServe(t, "--read-user", "viewer:pw0rd")
	url := strings.Replace(srv.RTSP("demo"), "://", "://viewer:pw0rd@", 1)
	r := clitest.Run(t, time.Minute, "check", "--json", "--duration", "1s", url)
	rep := parse(t, r)
	if r.Code != 0 || notPassed(rep) != "auth.schemes=warn auth.stale-nonce=warn play.rtp-info=warn" || strings.Contains(r.Stdout+r.Stderr, "pw0rd") {
		t.Fatalf("exit %d: %s\n%s", r.Code, notPassed(rep), r)
	}
	stale := 0
	for _, c := range rep.Checks {
		if c.ID == "auth.schemes" && c.Observed != "Basic, Digest SHA-256, Digest MD5: Basic sends the password in clear without TLS" {
			t.Errorf("auth.schemes: %q", c.Observed)
		}
		if c.ID == "auth.stale-nonce" {
			stale++
			if c.Observed != "401 for a nonce it never issued, but with no Digest challenge, then it closed the connection: a client must reconnect to log in again" {
				t.Errorf("auth.stale-nonce: %s %q", c.Status, c.Observed)
			}
		}
	}
	if stale != 1 {
		t.Errorf("auth.stale-nonce reported %d times", stale)
	}
	// --user/--pass, --user-agent and the -v trace, with Authorization hidden.
	r = clitest.Run(t, time.Minute, "-v", "check", "--user", "viewer", "--pass", "pw0rd", "--user-agent", "checker/1",
		"--transport", "tcp", "--duration", "1s", srv.RTSP("demo"))
	if r.Code != 0 || !strings.Contains(r.Stderr, "User-Agent: checker/1") || !strings.Contains(r.Stderr, "Authorization: ***") ||
		!strings.Contains(r.Stdout, "over tcp") || strings.Contains(r.Stdout+r.Stderr, "pw0rd") {
		t.Fatalf("flags: %s", r)
	}
	r = clitest.Run(t, time.Minute, "check", "--json", "--duration", "1s", srv.RTSP("demo"))
	rep = parse(t, r)
	if r.Code != 7 || notPassed(rep) != "auth.schemes=warn auth.login=fail" {
		t.Fatalf("without credentials: exit %d: %s", r.Code, notPassed(rep))
	}
}

// A server that never answers, or answers HTTP, is exit 3 within --timeout.
func TestNotRTSP(t *testing.T) {
	for _, srv := range []*testpeer.FakeServer{testpeer.SilentTCPServer(t), testpeer.HTTPServer(t)} {
		start := time.Now()
		r := clitest.Run(t, 20*time.Second, "--timeout", "1s", "check", srv.URL("rtsp", "x"))
		if r.Code != 3 || r.Stdout != "" || r.ErrLine() == "" || time.Since(start) > 10*time.Second {
			t.Errorf("%s", r)
		}
	}
}
