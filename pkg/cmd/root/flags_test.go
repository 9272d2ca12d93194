package root_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/probe"
	"github.com/avcat/avcat/pkg/cmd/push"
	"github.com/avcat/avcat/pkg/cmd/record"
	"github.com/avcat/avcat/pkg/cmd/relay"
	"github.com/avcat/avcat/pkg/cmd/serve"
	"github.com/avcat/avcat/pkg/cmdutil"
)

// TestOneMeaningPerFlag: a flag name means the same thing in every verb,
// and old spellings still parse (hidden).
func TestOneMeaningPerFlag(t *testing.T) {
	// probe: the report format is --output-format or --json; -o/--output
	// (the output file everywhere else) is a hidden alias.
	for _, args := range [][]string{{"--json"}, {"--output-format", "json"}, {"-o", "json"}, {"--output", "json"}} {
		o := clitest.ParseFlags(t, probe.NewCmdProbe, append(args, "rtsp://cam/x"), "")
		if o.Output != "json" {
			t.Errorf("probe %v: format %q, want json", args, o.Output)
		}
	}
	// serve: NAME:PASS is --auth (--user is a client's user name elsewhere).
	for _, args := range [][]string{{"--auth", "u:p", "--read-auth", "r:q", "--publish-auth", "w:x"}, {"--user", "u:p", "--read-user", "r:q", "--publish-user", "w:x"}} {
		o := clitest.ParseFlags(t, serve.NewCmdServe, args, "")
		if o.Auth != "u:p" || o.ReadAuth != "r:q" || o.PublishAuth != "w:x" {
			t.Errorf("serve %v: %q %q %q", args, o.Auth, o.ReadAuth, o.PublishAuth)
		}
	}
	// --retry-* have the same defaults wherever they exist.
	pu := clitest.ParseFlags(t, push.NewCmdPush, []string{"in.mp4", "rtsp://h/x"}, "")
	re := clitest.ParseFlags(t, record.NewCmdRecord, []string{"-o", "x.mp4", "rtsp://h/x"}, "")
	rl := clitest.ParseFlags(t, relay.NewCmdRelay, []string{"rtsp://h/x", "rtsp://h/y"}, "")
	for name, v := range map[string][2]time.Duration{"push": {pu.RetryMin, pu.RetryMax}, "record": {re.RetryMin, re.RetryMax}, "relay": {rl.RetryMin, rl.RetryMax}} {
		if v[0] != cmdutil.DefaultRetryMin || v[1] != cmdutil.DefaultRetryMax {
			t.Errorf("%s: --retry-min %v --retry-max %v, want %v and %v", name, v[0], v[1], cmdutil.DefaultRetryMin, cmdutil.DefaultRetryMax)
		}
	}
	// --transport auto is accepted by every verb that has --transport.
	clitest.ParseFlags(t, push.NewCmdPush, []string{"--transport", "auto", "in.mp4", "rtsp://h/x"}, "")
	clitest.ParseFlags(t, relay.NewCmdRelay, []string{"--dst-transport", "auto", "rtsp://h/x", "rtsp://h/y"}, "")

	// Help shows only the new spellings.
	for _, c := range []struct {
		args   []string
		hidden []string
	}{
		{[]string{"probe", "--help"}, []string{"-o, --output"}},
		{[]string{"serve", "--help"}, []string{"--user ", "--read-user", "--publish-user"}},
	} {
		r := clitest.Run(t, 5*time.Second, c.args...)
		for _, h := range c.hidden {
			if strings.Contains(r.Stdout, h) {
				t.Errorf("%v shows the old spelling %q", c.args, h)
			}
		}
	}
}

// TestRTMPRefusesRTPDumps: RTMP carries no RTP, so a pcap or rtpdump
// output is refused before connecting (the URL's server never answers).
func TestRTMPRefusesRTPDumps(t *testing.T) {
	t.Parallel()
	silent := testpeer.SilentTCPServer(t)
	for _, verb := range []string{"rtmp-pull", "pull"} {
		for _, ext := range []string{"pcap", "rtpdump"} {
			out := filepath.Join(t.TempDir(), "x."+ext)
			r := clitest.Run(t, 20*time.Second, verb, "-o", out, silent.URL("rtmp", "live/x"))
			if r.Code != 2 || !strings.Contains(r.ErrLine(), "RTMP carries no RTP") || r.Took > 2*time.Second {
				t.Errorf("%s -o x.%s: want a usage error at once\n%s", verb, ext, r)
			}
		}
	}
}
