// Package probe implements `avcat probe`.
package probe

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/probe"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are the inputs of one probe run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver

	URL     string
	Output  string // text or json
	JSON    bool
	SDPOnly bool
	Play    time.Duration
	cmdutil.ClientOptions
}

// NewCmdProbe builds the probe command. runF replaces the run in tests.
func NewCmdProbe(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints}
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Show a stream's server, SDP and tracks",
		Long: `Probe an RTSP or RTMP URL.

RTSP: sends OPTIONS and DESCRIBE, then prints the server's methods, the raw SDP and one
line per track (codec, clock rate, profile/level, resolution and fps from the SPS, AAC
configuration). RTMP: connects and plays until the tracks are known, and prints them with
the onMetaData object when the server sends one.

--play DURATION also sets up every track, plays for DURATION and adds measured figures:
packets, bytes, bitrate, frames, fps, GOP, RTP loss and jitter, time to first packet and
to first keyframe.

The report goes to stdout: text by default, JSON with --json (or --output-format json; an
ffprobe drop-in, schema in docs/probe-json.md), or only the SDP with --sdp.`,
		Example: `  avcat probe rtsp://127.0.0.1:8554/demo
  avcat probe --sdp rtsp://camera/stream > camera.sdp
  avcat probe --json --user admin --pass secret rtsp://camera/stream
  avcat probe --play 5s --transport tcp rtsp://camera/stream
  avcat probe rtmp://127.0.0.1/live/key`,
		Args: cmdutil.ExactArgs(1, "URL argument (rtsp://, rtsps://, rtsph://, rtmp:// or rtmps://)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if err := cmdutil.ReportFormat(&opts.Output, opts.JSON); err != nil {
				return err
			}
			if err := cmdutil.EnumFlag("transport", opts.Transport, rtsp.Transports...); err != nil {
				return err
			}
			if opts.Play < 0 {
				return cmdutil.FlagErrorf("--play must not be negative")
			}
			if opts.SDPOnly && opts.Output == "json" {
				return cmdutil.FlagErrorf("--sdp and --json cannot be used together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return probeRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cmdutil.ReportFormatFlags(cmd, &opts.Output, &opts.JSON)
	// -o/--output named the format before; -o is the output file elsewhere.
	cmdutil.HiddenAlias(fl, &opts.Output, "output", "o", "text", "report format (use --output-format)")
	fl.BoolVar(&opts.SDPOnly, "sdp", false, "write only the raw SDP to stdout")
	fl.DurationVar(&opts.Play, "play", 0, "also receive media for this long and report measured figures")
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport for --play: auto, udp, tcp or multicast")
	cmdutil.TunnelFlag(cmd, &opts.Tunnel)
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.StringVar(&opts.UserAgent, "user-agent", "", "RTSP User-Agent header")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates (rtsps://, rtmps://)")
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(rtsp.Transports, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func probeRun(ctx context.Context, opts *Options) error {
	src, u, err := opts.Endpoints().Source(opts.URL, opts.SourceOptions())
	if err != nil {
		return err
	}
	report := &probe.Report{URL: mediaurl.RedactURL(u), Protocol: u.Scheme}
	write := func() error { return probe.Write(opts.IO.Out, report, opts.Output, opts.IO.ColorStdout()) }

	sess := &engine.Session{Source: src, Sinks: []engine.Sink{engine.Discard{}}, Duration: opts.Play}
	desc, err := sess.Open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// A server can send an SDP that the RTSP stack refuses: show what
		// it sent, with the reasons, then fail.
		if raw := probe.UnusableSDP(src); len(raw) > 0 {
			var werr error
			if opts.SDPOnly {
				_, werr = opts.IO.Out.Write(raw)
			} else {
				probe.DescribeUnusable(report, raw)
				werr = write()
			}
			if werr != nil {
				return werr
			}
		}
		return err
	}
	rawSDP := probe.Describe(report, src, desc)
	if opts.SDPOnly {
		_ = src.Close()
		if len(rawSDP) == 0 {
			return cmdutil.FlagErrorf("--sdp needs an RTSP URL: RTMP has no SDP")
		}
		_, err := opts.IO.Out.Write(rawSDP)
		return err
	}
	if opts.Play <= 0 {
		_ = src.Close()
		return write()
	}
	opts.Logger().Debugf("playing for %s", opts.Play)
	if err := sess.Run(ctx); err != nil {
		return err
	}
	probe.Measure(report, sess, opts.Transport)
	return write()
}
