// Package record implements `avcat record`.
package record

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/progress"
	rec "github.com/avcat/avcat/pkg/record"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are the inputs of one record run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver

	URL       string
	Output    string
	Format    string
	Segment   time.Duration
	Duration  time.Duration
	MaxSize   cmdutil.ByteSize
	Reconnect bool
	RetryMin  time.Duration
	RetryMax  time.Duration
	OnSegment string
	Transport string
	User      string
	Pass      string
	Insecure  bool
	VideoOnly bool
	AudioOnly bool
	StatsJSON string
}

// NewCmdRecord builds `record`. runF replaces the run in tests.
func NewCmdRecord(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints}
	cmd := &cobra.Command{
		Use:   "record URL -o TEMPLATE",
		Short: "Record a stream to MP4, fMP4 or MPEG-TS files, segmented",
		Long: `Record an RTSP or RTMP stream into files.

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
if nothing in it was complete; the error says which.`,
		Example: `  avcat record rtsp://cam/stream -o cam1/%Y-%m-%d/%H-%M-%S.mp4 --segment 10m
  avcat record rtsp://cam/stream -o clip.ts --duration 1h
  avcat record rtsp://cam/stream -o cam.mp4 --format fmp4 --on-segment 'echo done:'`,
		Args: cmdutil.ExactArgs(1, "URL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if opts.Output == "" {
				return cmdutil.FlagErrorf("-o TEMPLATE is required")
			}
			if opts.Output == "-" {
				return cmdutil.FlagErrorf("record writes files; use pull for stdout")
			}
			if err := cmdutil.EnumFlag("transport", opts.Transport, rtsp.Transports...); err != nil {
				return err
			}
			if opts.Segment < 0 || opts.Duration < 0 || opts.MaxSize < 0 {
				return cmdutil.FlagErrorf("--segment, --duration and --max-size must not be negative")
			}
			if opts.Segment > 0 && opts.Segment < time.Second {
				return cmdutil.FlagErrorf("--segment must be at least 1s")
			}
			if opts.RetryMin <= 0 || opts.RetryMax < opts.RetryMin {
				return cmdutil.FlagErrorf("--retry-min must be positive and at most --retry-max")
			}
			if _, err := rec.Expand(opts.Output, time.Now()); err != nil {
				return cmdutil.FlagErrorf("-o: %v", err)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return recordRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "", "output path or strftime template (required); a taken name gets _00001, _00002...")
	fl.StringVar(&opts.Format, "format", "", "mp4, fmp4 or ts (default: from the extension)")
	fl.DurationVar(&opts.Segment, "segment", 0, "start a new file every DURATION (at the next keyframe)")
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after this much media, from the first keyframe (as ffmpeg -t)")
	fl.Var(&opts.MaxSize, "max-size", "start a new file past this size: bytes, or 100M, 1.5G, 64MiB")
	fl.BoolVar(&opts.Reconnect, "reconnect", true, "reconnect with backoff when the source drops")
	cmdutil.AddRetryFlags(fl, &opts.RetryMin, &opts.RetryMax)
	fl.StringVar(&opts.OnSegment, "on-segment", "", "run this command with each finished file's path as its last argument")
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport: auto, udp, tcp or multicast")
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates")
	fl.BoolVar(&opts.VideoOnly, "video-only", false, "record only video")
	fl.BoolVar(&opts.AudioOnly, "audio-only", false, "record only audio")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON stats and segment events to FILE (- for stdout); see docs/stats-json.md")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"mp4", "fmp4", "ts"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(rtsp.Transports, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (opts *Options) outputFormat() (string, error) {
	f := opts.Format
	if f == "" {
		switch strings.ToLower(filepath.Ext(opts.Output)) {
		case ".mp4", ".m4v", ".mov":
			f = "mp4"
		case ".ts", ".m2ts":
			f = "ts"
		default:
			return "", fault.New(fault.Usage, "%s: record writes .mp4 or .ts (or give --format mp4|fmp4|ts)", opts.Output)
		}
	}
	switch f {
	case "mp4", "fmp4", "ts":
		return f, nil
	case "mpegts":
		return "ts", nil
	}
	return "", fault.New(fault.Usage, "unknown --format %q: want mp4, fmp4 or ts", f)
}

func recordRun(ctx context.Context, opts *Options) (err error) {
	log := opts.Logger()
	format, err := opts.outputFormat()
	if err != nil {
		return err
	}
	resolver := opts.Endpoints()
	if _, _, err := resolver.Source(opts.URL, endpoint.SourceOptions{}); err != nil {
		return err // a malformed URL fails before anything else
	}
	jsonOut, err := progress.OpenJSON(opts.StatsJSON, opts.IO.Out)
	if err != nil {
		return err
	}
	defer jsonOut.Close()
	var files []string
	start := time.Now()
	defer func() {
		jsonOut.Event("end", recordEnd{Elapsed: time.Since(start).Seconds(), Files: len(files), Error: errString(err)})
	}()
	onSegment := func(path string) {
		files = append(files, path)
		log.Infof("recorded %s", path)
		ev := segmentEvent{Path: path}
		if st, err := os.Stat(path); err == nil {
			ev.Bytes = st.Size()
		}
		jsonOut.Event("segment", ev)
		if opts.OnSegment != "" {
			runHook(opts.OnSegment, path, log)
		}
	}
	backoff := opts.RetryMin
	ever := false              // some connection delivered media
	var recorded time.Duration // media recorded so far, for --duration
	for {
		if opts.Duration > 0 && recorded >= opts.Duration {
			return nil
		}
		seg := &rec.Segmenter{
			Template: opts.Output, Segment: opts.Segment, MaxSize: int64(opts.MaxSize), OnSegment: onSegment,
			New: func(path string) (engine.Sink, error) {
				sink, _, err := endpoint.FileSink(path, nil, endpoint.SinkFileOptions{Format: formatFor(format)})
				return sink, err
			},
		}
		src, _, err := resolver.Source(opts.URL, endpoint.SourceOptions{
			Transport: opts.Transport, User: opts.User, Pass: opts.Pass, InsecureTLS: opts.Insecure,
		})
		if err != nil {
			return err
		}
		if opts.VideoOnly || opts.AudioOnly {
			src = &engine.Select{Source: src, Selection: engine.Selection{VideoOnly: opts.VideoOnly, AudioOnly: opts.AudioOnly}}
		}
		// --duration is media time (as ffmpeg -t), over every connection.
		sess := &engine.Session{Source: src, Sinks: []engine.Sink{seg}, MediaDuration: opts.Duration - recorded}
		_, err = sess.Open(ctx)
		gotMedia := false
		if err == nil {
			rep := &progress.Reporter{IO: opts.IO, Session: sess, Verb: "recorded", JSON: jsonOut, EndEvent: "connection_end"}
			rep.Start()
			err = sess.Run(ctx)
			rep.Stop()
			recorded += sess.MediaTime()
			if ctx.Err() != nil {
				return finalErr(err, files)
			}
			if err == nil && sess.Reason() == engine.StopDuration {
				if len(files) == 0 {
					return fault.New(fault.Network, "no usable media within --duration %s: nothing recorded", opts.Duration)
				}
				return nil
			}
			gotMedia = receivedMedia(sess)
			if err == nil && sess.Reason() == engine.StopEOF {
				err = fault.New(fault.Network, "the source ended the stream")
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if gotMedia {
			ever = true
			backoff = opts.RetryMin
		}
		if !ever {
			// A source that never delivered media is a configuration
			// problem: fail now instead of retrying forever.
			return err
		}
		if !retryable(err) || !opts.Reconnect {
			return err
		}
		log.Warnf("source lost (%v); reconnecting in %s", err, backoff)
		jsonOut.Event("reconnect", reconnectEvent{Error: errString(err), DelaySec: backoff.Seconds()})
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, opts.RetryMax)
	}
}

// segmentEvent is the "segment" event: one finished file.
type segmentEvent struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// recordEnd is record's final event.
type recordEnd struct {
	Elapsed float64 `json:"elapsed_seconds"`
	Files   int     `json:"files"`
	Error   string  `json:"error,omitempty"`
}

// reconnectEvent is the "reconnect" event: the source was lost.
type reconnectEvent struct {
	Error    string  `json:"error,omitempty"`
	DelaySec float64 `json:"delay_seconds"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// formatFor maps record's formats onto the sink formats.
func formatFor(f string) string {
	if f == "ts" {
		return endpoint.OutMPEGTS
	}
	return f
}

// retryable: network trouble and stream ends are retried; usage, auth,
// not-found and write errors are not.
func retryable(err error) bool {
	if err == nil {
		return true
	}
	return cmdutil.Classify(err) == fault.Network
}

// receivedMedia reports whether the session got any packet at all.
func receivedMedia(sess *engine.Session) bool {
	if st := sess.Stats(); st != nil {
		for _, t := range st.Snapshot() {
			if t.Packets > 0 {
				return true
			}
		}
	}
	return false
}

func finalErr(err error, files []string) error {
	if err != nil && len(files) > 0 {
		return fmt.Errorf("%w (files written so far are complete)", err)
	}
	return err
}

// runHook runs the --on-segment command with the file path appended.
func runHook(command, path string, log *logging.Logger) {
	cmd := exec.Command("sh", "-c", command+` "$1"`, "avcat-on-segment", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Warnf("--on-segment: %v", err)
		return
	}
	go func() {
		if err := cmd.Wait(); err != nil {
			log.Warnf("--on-segment %s: %v", path, err)
		}
	}()
}
