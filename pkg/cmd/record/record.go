// Package record implements `avcat record`.
package record

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	rec "github.com/avcat/avcat/pkg/record"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are the inputs of one record run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver
	// Runtime tunes the Go runtime (cmdutil.Runtime.OneStream).
	Runtime cmdutil.Runtime

	rec.Options
}

// NewCmdRecord builds `record`. runF replaces the run in tests.
func NewCmdRecord(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints, Runtime: f.Runtime}
	cmd := &cobra.Command{
		Use:   "record [URL...] -o TEMPLATE",
		Short: "Record streams to MP4, fMP4 or MPEG-TS files, segmented",
		Long: `Record RTSP or RTMP streams into files: one, or many cameras in one process.

-o is a path or a strftime-style template such as cam1/%Y-%m-%d/%H-%M-%S.mp4; directories are
created and an existing file is never overwritten. Names sort in time order: with --segment or
--max-size, a template without time directives numbers every file (clip.mp4 gives
clip_00000.mp4, clip_00001.mp4...), and a name already taken gets the next number after the
highest in use (clip.mp4, then clip_00001.mp4). The format comes from the extension (.mp4, .ts)
or --format (mp4, fmp4, ts).

--segment 10m starts a new file at the first keyframe after each 10-minute boundary; every
file starts with a keyframe and carries the parameter sets. When the source drops, record
reconnects with backoff (disable with --reconnect=false) and starts a new file.

Every file is valid on every exit path: Ctrl-C, SIGTERM, --duration, a dropped source, or a
write error. MP4 is written as fragments while recording and gets one moov at close, so it
ends as an ordinary MP4; fMP4 and MPEG-TS are flushed every second too, so even kill -9 loses
at most the last second (an MP4 then stays a fragmented MP4). After a write error (a full
disk) the last file is cut back to its last complete fragment and finalized there, or removed
if nothing in it was complete; the error says which.

Several sources (URLs as arguments, and/or --sources FILE: one URL a line, # comments and
blank lines skipped, - for stdin) are recorded at once, each on its own: its own connection,
reconnect and backoff, so a dead camera never stalls the others. -o then must tell them apart
with a source field (usable with one source too), or it is a usage error (exit 2) before
anything connects:
  %{path}   the URL's path and query as one safe name (rtsp://cam/live/main gives live_main)
  %{host}   host and port as written (10.0.0.5_8554)
  %{index}  the source's position, from 1
Fields are made safe (bytes other than A-Z a-z 0-9 . _ - become _) and never carry a password.
stderr prefixes each source's messages with "source N (URL)" and ends with one line per
failed source. With several sources, a source that is still reconnecting when the run stops
(signal or --duration of the others) counts as failed. The exit code is 0 when every source
succeeded, else the code of the first failed source in the order given (docs/exit-codes.md).
--stats-json tags each event of a source with "source" (its URL, password redacted).`,
		Example: `  avcat record rtsp://cam/stream -o cam1/%Y-%m-%d/%H-%M-%S.mp4 --segment 10m
  avcat record --sources cams.txt -o '%{host}/%{path}/%Y-%m-%d/%H-%M-%S.mp4' --segment 10m
  avcat record rtsp://cam/stream -o clip.ts --duration 1h
  avcat record rtsp://cam/stream -o cam.mp4 --format fmp4 --on-segment 'echo done:'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URLs = append([]string(nil), args...)
			if err := opts.Check(opts.IO.In); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if len(opts.URLs) == 1 { // one camera (cmdutil.Runtime.OneStream)
				opts.Runtime.OneStream()
			}
			return opts.Run(cmd.Context(), opts.Endpoints(), opts.IO, opts.Logger)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "", "output path or strftime template (required); a taken name gets _00001, _00002...")
	fl.StringVar(&opts.Sources, "sources", "", "also record the URLs listed in FILE, one a line (# comments; - for stdin)")
	fl.StringVar(&opts.Format, "format", "", "mp4, fmp4 or ts (default: from the extension)")
	fl.DurationVar(&opts.Segment, "segment", 0, "start a new file every DURATION (at the next keyframe)")
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after this much media, from the first keyframe (as ffmpeg -t)")
	fl.Var(&opts.MaxSize, "max-size", "start a new file past this size: bytes, or 100M, 1.5G, 64MiB")
	fl.BoolVar(&opts.Reconnect, "reconnect", true, "reconnect with backoff when the source drops")
	cmdutil.AddRetryFlags(fl, &opts.RetryMin, &opts.RetryMax)
	fl.StringVar(&opts.OnSegment, "on-segment", "", "run this command with each finished file's path as its last argument")
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport: auto, udp, tcp or multicast")
	cmdutil.TunnelFlag(cmd, &opts.Tunnel)
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates")
	fl.BoolVar(&opts.VideoOnly, "video-only", false, "record only video")
	fl.BoolVar(&opts.AudioOnly, "audio-only", false, "record only audio")
	fl.DurationVar(&opts.ReadBatch, "read-batch", rec.DefaultReadBatch, "read a TCP source's data in batches this far apart (fewer wake-ups, less CPU); 0 reads as it comes")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON stats and segment events to FILE (- for stdout); see docs/stats-json.md")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"mp4", "fmp4", "ts"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(rtsp.Transports, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
