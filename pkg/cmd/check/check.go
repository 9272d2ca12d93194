// Package check implements `avcat check`.
package check

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/check"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
)

// Options are the inputs of one check run.
type Options struct {
	IO      *iostreams.IOStreams
	Logger  func() *logging.Logger
	Timeout func() time.Duration

	URL       string
	Output    string // text or json
	JSON      bool
	Duration  time.Duration
	Transport string
	Full      bool
	User      string
	Pass      string
	UserAgent string
	Insecure  bool
}

// Transports are the values of --transport.
var Transports = []string{"auto", "udp", "tcp"}

// NewCmdCheck builds the check command. runF replaces the run in tests.
func NewCmdCheck(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Timeout: func() time.Duration { return f.Global.Timeout }}
	cmd := &cobra.Command{
		Use:   "check URL",
		Short: "Grade an RTSP or RTMP server against the RFCs",
		Long: `Walk the whole client state machine against a camera or server and judge each step.

RTSP: OPTIONS (is the Public list true?), DESCRIBE (redirects, Content-Base, SDP o= c= t=,
control URLs, duplicate payload types, sprop parameter sets, profile-level-id against the
SPS), authentication (schemes, login, a Digest nonce the server never issued), SETUP over
UDP, TCP and multicast, PLAY (RTP-Info, time to first packet and keyframe, RTP sequence and
timestamps, SSRC, marker bits, in-band SPS against the SDP, RTCP sender reports, loss,
jitter), PAUSE and PLAY again, GET_PARAMETER and SET_PARAMETER keepalives, TEARDOWN. RTMP: handshake, connect, createStream, play,
onMetaData, sequence headers before frames, timestamps.

Each check prints one line: ✓ pass, ⚠ warning, ✗ failure, - skipped, with what was seen
and the RFC section. --json writes the same as JSON (schema and the list of checks in docs/check-json.md).
The exit code is 0 when nothing failed and 7 when a check failed (docs/exit-codes.md).

--duration bounds the media part. --full also waits out the session timeout: with
keepalives the session must survive it, without them the server should drop it.
Only well-formed requests are sent; passwords never appear in the output.`,
		Example: `  avcat check rtsp://127.0.0.1:8554/demo
  avcat check --json --user admin --pass secret rtsp://camera/stream
  avcat check --duration 10s --transport tcp rtsp://camera/stream
  avcat check rtmp://127.0.0.1/live/key`,
		Args: cmdutil.ExactArgs(1, "URL argument (rtsp://, rtsps://, rtmp:// or rtmps://)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if err := cmdutil.ReportFormat(&opts.Output, opts.JSON); err != nil {
				return err
			}
			if err := cmdutil.EnumFlag("transport", opts.Transport, Transports...); err != nil {
				return err
			}
			if opts.Duration <= 0 {
				return cmdutil.FlagErrorf("--duration must be positive")
			}
			if _, err := mediaurl.ParseURL(opts.URL); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return checkRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cmdutil.ReportFormatFlags(cmd, &opts.Output, &opts.JSON)
	fl.DurationVar(&opts.Duration, "duration", check.DefaultDuration, "how long to receive media after PLAY")
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport for the media checks: auto (UDP, else TCP), udp or tcp")
	fl.BoolVar(&opts.Full, "full", false, "also wait out the session timeout (with and without keepalives)")
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.StringVar(&opts.UserAgent, "user-agent", "", "RTSP User-Agent header")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates (rtsps://, rtmps://)")
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(Transports, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func checkRun(ctx context.Context, opts *Options) error {
	log := opts.Logger()
	cfg := check.Config{
		URL: opts.URL, User: opts.User, Pass: opts.Pass, UserAgent: opts.UserAgent,
		Insecure: opts.Insecure, Timeout: opts.Timeout(), Duration: opts.Duration,
		Transport: opts.Transport, Full: opts.Full,
	}
	if log.Verbose {
		cfg.Trace = func(s string) { log.Debugf("%s", s) }
	}
	report, err := check.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			// Exit 0 would say that nothing failed.
			return fault.New(fault.Runtime, "check interrupted: no report")
		}
		return err
	}
	if opts.Output == "json" {
		err = check.WriteJSON(opts.IO.Out, report)
	} else {
		err = check.WriteText(opts.IO.Out, report, opts.IO.ColorStdout())
	}
	if err != nil {
		return err
	}
	if s := report.Summary(); s.Failed > 0 {
		return fault.New(fault.CheckFailed, "check: %d of %d checks failed", s.Failed, len(report.Checks))
	}
	return nil
}
