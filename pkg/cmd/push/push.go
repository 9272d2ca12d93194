// Package push implements `avcat push`.
package push

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/progress"
)

// Options are the inputs of one push run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver
	// Runtime tunes the Go runtime (cmdutil.Runtime.OneStream).
	Runtime cmdutil.Runtime

	// RTMP is set for rtmp-push: RTMP URLs only, no RTP transport.
	RTMP bool

	Input     string
	URL       string
	Format    string
	FPS       float64
	Loop      int
	Speed     float64
	NoPace    bool
	VideoOnly bool
	AudioOnly bool
	StatsJSON string
	SDP       string
	Reconnect bool
	RetryMin  time.Duration
	RetryMax  time.Duration
	cmdutil.ClientOptions
}

// NewCmdPush builds the push command. runF replaces the run in tests.
func NewCmdPush(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints, Runtime: f.Runtime}
	cmd := &cobra.Command{
		Use:   "push INPUT URL",
		Short: "Publish a file or stdin to an RTSP server",
		Long: `Publish INPUT to an RTSP server: ANNOUNCE with the SDP, SETUP each track with
mode=record (TCP interleaved or UDP), RECORD, RTP at real-time pace, TEARDOWN at the end.

INPUT is a file (MP4/MOV, MPEG-TS, FLV, raw H.264/H.265, ADTS AAC; the extension or
--format decides) or - for stdin (MPEG-TS, FLV or Annex-B, sniffed or given by --format).

Pacing follows the media timestamps: real time by default, --speed 2 for twice as fast,
--no-pace to send as fast as the server accepts. --loop plays forever, --loop=N N times,
with continuous RTP timestamps and sequence numbers.`,
		Example: `  avcat push clip.mp4 rtsp://127.0.0.1:8554/live
  avcat push --loop --transport udp clip.ts rtsp://user:pass@server/cam1
  ffmpeg -re -f lavfi -i testsrc2 -c:v libx264 -f mpegts - | avcat push - rtsp://127.0.0.1:8554/test`,
		Args: cmdutil.ExactArgs(2, "INPUT and URL arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input, opts.URL = args[0], args[1]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

// Validate checks flag combinations (shared with rtmp-push).
func (opts *Options) Validate() error {
	if !opts.RTMP {
		if err := cmdutil.EnumFlag("transport", opts.Transport, cmdutil.PublishTransports...); err != nil {
			return err
		}
	}
	switch {
	case opts.Speed <= 0:
		return cmdutil.FlagErrorf("--speed must be positive")
	case opts.Loop < 0:
		return cmdutil.FlagErrorf("--loop must not be negative (0 means forever)")
	}
	if err := cmdutil.CheckTracks(opts.VideoOnly, opts.AudioOnly); err != nil {
		return err
	}
	if opts.Input == "-" && opts.Loop != 1 {
		return cmdutil.FlagErrorf("--loop needs a file: stdin can be read only once")
	}
	return cmdutil.CheckRetry(opts.RetryMin, opts.RetryMax)
}

// AddFlags registers push's flags on cmd (shared with rtmp-push).
func (opts *Options) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "", "input format: mp4, ts, flv, h264, h265, aac (default: from the extension, or sniffed on stdin)")
	fl.Float64Var(&opts.FPS, "fps", 0, "frame rate of raw H.264/H.265 input (default: from the SPS, else 25)")
	fl.IntVar(&opts.Loop, "loop", 1, "play the input N times; --loop alone (or 0) loops forever")
	fl.Lookup("loop").NoOptDefVal = "0"
	fl.Float64Var(&opts.Speed, "speed", 1, "pace at this multiple of real time")
	fl.BoolVar(&opts.NoPace, "no-pace", false, "send as fast as the server accepts")
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates (rtsps://, rtmps://)")
	fl.BoolVar(&opts.VideoOnly, "video-only", false, "send only the video tracks")
	fl.BoolVar(&opts.AudioOnly, "audio-only", false, "send only the audio tracks")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON stats to FILE (- for stdout); see docs/stats-json.md")
	fl.StringVar(&opts.SDP, "sdp", "", "SDP describing an rtpdump or pcap input (default NAME.sdp beside it)")
	fl.BoolVar(&opts.Reconnect, "reconnect", false, "when the server goes away, reconnect with backoff instead of failing")
	cmdutil.AddRetryFlags(fl, &opts.RetryMin, &opts.RetryMax)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(endpoint.InputFormats, cobra.ShellCompDirectiveNoFileComp))
	if opts.RTMP {
		return
	}
	fl.StringVar(&opts.Transport, "transport", "tcp", "RTP transport: tcp or udp (auto: tcp, the one that passes firewalls)")
	cmdutil.TunnelFlag(cmd, &opts.Tunnel)
	fl.StringVar(&opts.UserAgent, "user-agent", "", "RTSP User-Agent header")
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(cmdutil.PublishTransports, cobra.ShellCompDirectiveNoFileComp))
}

// Run publishes the input.
func Run(ctx context.Context, opts *Options) error {
	if !opts.NoPace && !opts.RTMP { // a paced RTSP push: one stream
		opts.Runtime.OneStream()
	}
	resolver := opts.Endpoints()
	newSink, u, err := resolver.SinkFactory(opts.URL, opts.SinkOptions())
	if err != nil {
		return err
	}
	if err := cmdutil.CheckURL(u, "push", opts.RTMP, ""); err != nil {
		return err
	}
	if !opts.RTMP && strings.HasPrefix(u.Scheme, "rtmp") {
		return cmdutil.FlagErrorf("push publishes over RTSP: use rtmp-push for %s:// URLs", u.Scheme)
	}
	loops := &atomic.Int64{}
	loops.Store(1)
	src, err := resolver.Input(opts.Input, opts.IO.In, endpoint.InputOptions{
		FileOptions: endpoint.FileOptions{Format: opts.Format, FPS: opts.FPS, SDP: opts.SDP},
		Loop:        opts.Loop, OnLoop: func(i int) { loops.Store(int64(i + 1)) },
		Selection: engine.Selection{VideoOnly: opts.VideoOnly, AudioOnly: opts.AudioOnly},
		Pace:      !opts.NoPace, Speed: opts.Speed,
	})
	if err != nil {
		return err
	}
	sink := cmdutil.PublishSink(newSink, mediaurl.RedactURL(u), opts.Reconnect, engine.Backoff{Min: opts.RetryMin, Max: opts.RetryMax}, opts.Logger())
	sess := &engine.Session{Source: src, Sinks: []engine.Sink{sink}}
	if ok, err := cmdutil.OpenSession(ctx, sess); !ok {
		return err
	}
	opts.Logger().Debugf("publishing to %s", mediaurl.RedactURL(u))

	rep := &progress.Reporter{IO: opts.IO, Session: sess, Verb: "pushed", Extra: func() string {
		if opts.Loop == 1 {
			return ""
		}
		return fmt.Sprintf("loop %d", loops.Load())
	}}
	start := time.Now()
	err = cmdutil.RunReported(ctx, sess, rep, opts.StatsJSON)
	opts.Logger().Debugf("push ended after %s (%s)", time.Since(start).Truncate(time.Millisecond), sess.Reason())
	return err
}
