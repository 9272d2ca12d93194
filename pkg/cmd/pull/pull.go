// Package pull implements `avcat pull` and `avcat rtmp-pull`.
package pull

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/progress"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are the inputs of one pull run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver

	// RTMPOnly is set for rtmp-pull: RTMP URLs, FLV files by default.
	RTMPOnly bool

	URL        string
	Output     string
	Format     string
	Fragmented bool
	VideoOnly  bool
	AudioOnly  bool
	Tracks     []int
	Duration   time.Duration
	Frames     int
	Gap        time.Duration
	Range      string
	Seek       time.Duration
	StatsJSON  string
	cmdutil.ClientOptions
}

// NewCmdPull builds `pull`. runF replaces the run in tests.
func NewCmdPull(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints}
	cmd := &cobra.Command{
		Use:   "pull URL [-o OUT]",
		Short: "Receive a stream and write it to a file or stdout",
		Long: `Receive an RTSP (or RTMP) stream and write it out.

The output format comes from -o's extension or --format: .ts, .mp4 (moov written at the
end; a kill -9 leaves a fragmented MP4; --fragmented for fMP4), .flv, .h264/.h265 (Annex-B, parameter sets before each IDR),
.aac (ADTS), .sdp (only the SDP), and RTP as received: .rtpdump and .pcap (with NAME.sdp
written beside them; see docs/rtp-dumps.md). stdout (-o -, the default) gets MPEG-TS, so
'avcat pull URL | ffplay -' works; binary output to a terminal is refused.

It stops at --duration, --frames, --gap (no packet for that long), the end of the stream,
or Ctrl-C/SIGTERM; the output is finalized in every case.`,
		Example: `  avcat pull rtsp://cam/stream | ffplay -
  avcat pull -o clip.mp4 --duration 30s rtsp://cam/stream
  avcat pull -o dump.pcap --duration 10s rtsp://cam/stream
  avcat pull --video-only -o video.h264 --frames 250 rtsp://cam/stream`,
		Args: cmdutil.ExactArgs(1, "URL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if err := opts.Validate(cmd); err != nil {
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

// AddFlags registers pull's flags on cmd (shared with rtmp-pull).
func (opts *Options) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "-", "output file, or - for stdout")
	fl.StringVar(&opts.Format, "format", "", "output format: "+strings.Join(endpoint.OutputFormats, ", ")+" (default: from the extension)")
	fl.BoolVar(&opts.Fragmented, "fragmented", false, "write fragmented MP4 for .mp4")
	fl.BoolVar(&opts.VideoOnly, "video-only", false, "keep only video tracks")
	fl.BoolVar(&opts.AudioOnly, "audio-only", false, "keep only audio tracks")
	fl.IntSliceVar(&opts.Tracks, "track", nil, "keep track N (0-based, repeatable)")
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after this much media, from the first keyframe (as ffmpeg -t)")
	fl.IntVar(&opts.Frames, "frames", -1, "stop after N video frames")
	fl.DurationVar(&opts.Gap, "gap", 0, "stop when no packet arrived for this long")
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON stats to FILE (- for stdout, with -o FILE); see docs/stats-json.md")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(endpoint.OutputFormats, cobra.ShellCompDirectiveNoFileComp))
	if opts.RTMPOnly {
		return
	}
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport: auto, udp, tcp or multicast")
	cmdutil.TunnelFlag(cmd, &opts.Tunnel)
	fl.StringVar(&opts.Range, "range", "", "start a recorded stream at an offset: npt=START-")
	fl.DurationVar(&opts.Seek, "seek", 0, "start a recorded stream at this offset")
	fl.StringVar(&opts.UserAgent, "user-agent", "", "RTSP User-Agent header")
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(rtsp.Transports, cobra.ShellCompDirectiveNoFileComp))
}

// Validate checks flag values and combinations (shared with rtmp-pull).
func (opts *Options) Validate(cmd *cobra.Command) error {
	if !opts.RTMPOnly {
		if err := cmdutil.EnumFlag("transport", opts.Transport, rtsp.Transports...); err != nil {
			return err
		}
	}
	if cmd.Flags().Changed("frames") && opts.Frames < 1 {
		return cmdutil.FlagErrorf("--frames must be at least 1")
	}
	if opts.Duration < 0 || opts.Gap < 0 || opts.Seek < 0 {
		return cmdutil.FlagErrorf("--duration, --gap and --seek must not be negative")
	}
	if err := cmdutil.CheckTracks(opts.VideoOnly, opts.AudioOnly); err != nil {
		return err
	}
	if opts.StatsJSON == "-" && opts.Output == "-" {
		return cmdutil.FlagErrorf("--stats-json - and -o - would both write to stdout: give -o FILE or --stats-json FILE")
	}
	if opts.Range != "" {
		start, ok := rtsp.ParseNPTStart(opts.Range)
		if !ok {
			return cmdutil.FlagErrorf("invalid --range %q: want npt=START-", opts.Range)
		}
		opts.Seek = start
	}
	return nil
}

// Run pulls the stream into the output.
func Run(ctx context.Context, opts *Options) error {
	resolver := opts.Endpoints()
	log := opts.Logger()
	if opts.RTMPOnly && opts.Output != "-" && opts.Format == "" && !strings.Contains(opts.Output, ".") {
		opts.Format = endpoint.OutFLV
	}
	fo := endpoint.SinkFileOptions{Format: opts.Format, Fragmented: opts.Fragmented}
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output, fo)
	if err != nil {
		return err
	}
	so := opts.SourceOptions()
	so.Start = opts.Seek
	src, u, err := resolver.Source(opts.URL, so)
	if err != nil {
		return err
	}
	if err := cmdutil.CheckURL(u, "pull", opts.RTMPOnly, format); err != nil {
		return err
	}
	sink, _, err := endpoint.FileSink(opts.Output, opts.IO.Out, fo)
	if err != nil {
		return err
	}
	sel := engine.Selection{VideoOnly: opts.VideoOnly, AudioOnly: opts.AudioOnly, Tracks: opts.Tracks}
	if !sel.IsZero() {
		src = &engine.Select{Source: src, Selection: sel}
	}
	sess := &engine.Session{Source: src, Sinks: []engine.Sink{sink}, MediaDuration: opts.Duration, Gap: opts.Gap}
	if opts.Frames > 0 {
		sess.MaxFrames = uint64(opts.Frames)
	}
	if ok, err := cmdutil.OpenSession(ctx, sess); !ok {
		return err
	}
	log.Debugf("writing %s to %s", format, opts.Output)
	if format == endpoint.OutSDP {
		// The SDP is written when the output opens: nothing to receive.
		return cmdutil.CloseSession(sess)
	}
	rep := &progress.Reporter{IO: opts.IO, Session: sess, Verb: "pulled"}
	err = cmdutil.RunReported(ctx, sess, rep, opts.StatsJSON)
	return cmdutil.OutputResult(sess, err, opts.Output, format, log)
}
