// Package relay implements `avcat relay`.
package relay

import (
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/progress"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are the inputs of one relay run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver

	Source                string
	Destinations          []string
	DstTransport          string
	RetryMin              time.Duration
	RetryMax              time.Duration
	Loop                  int
	Duration              time.Duration
	StatsJSON             string
	cmdutil.ClientOptions // of the source; --tunnel and --insecure serve the destinations too

	// Runtime tunes the Go runtime (cmdutil.Runtime.OneStream).
	Runtime cmdutil.Runtime
}

// NewCmdRelay builds `relay`. runF replaces the run in tests.
func NewCmdRelay(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints, Runtime: f.Runtime}
	cmd := &cobra.Command{
		Use:   "relay SRC DST [DST...]",
		Short: "Relay one source to several destinations, RTSP and RTMP in any mix",
		Long: `Relay SRC to every DST. SRC is an rtsp(s):// or rtmp(s):// URL or a file (played in
real time, --loop to repeat). Each DST is an rtsp(s):// URL (ANNOUNCE/RECORD), an rtmp(s)://
URL (publish), or a file (a local copy, in any format pull writes).

RTSP to RTSP forwards the RTP packets untouched; across protocols avcat converts through
access units. Every destination has its own bounded queue and reconnects on its own with
backoff (--retry-min, --retry-max): a dead destination never stalls the source or the
others. When the source drops, it is reconnected too, and the destinations see one stream
with timestamps that keep going forward.`,
		Example: `  avcat relay rtsp://cam/stream rtsp://127.0.0.1:8554/cam rtmp://127.0.0.1/live/cam
  avcat relay rtmp://127.0.0.1/live/in rtsp://server/out copy.ts`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return cmdutil.FlagErrorf("relay needs a source and at least one destination")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source, opts.Destinations = args[0], args[1:]
			if err := cmdutil.EnumFlag("transport", opts.Transport, rtsp.Transports...); err != nil {
				return err
			}
			if err := cmdutil.EnumFlag("dst-transport", opts.DstTransport, cmdutil.PublishTransports...); err != nil {
				return err
			}
			if err := cmdutil.CheckRetry(opts.RetryMin, opts.RetryMax); err != nil {
				return err
			}
			if opts.StatsJSON == "-" && slices.Contains(opts.Destinations, "-") {
				return cmdutil.FlagErrorf("--stats-json - and the destination - would both write to stdout: give one a file")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if len(opts.Destinations) == 1 { // one stream (cmdutil.Runtime.OneStream)
				opts.Runtime.OneStream()
			}
			return relayRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport to read an RTSP source: auto, udp, tcp or multicast")
	fl.StringVar(&opts.DstTransport, "dst-transport", "tcp", "RTP transport to RTSP destinations: tcp or udp (auto: tcp)")
	cmdutil.TunnelFlag(cmd, &opts.Tunnel)
	cmdutil.AddRetryFlags(fl, &opts.RetryMin, &opts.RetryMax)
	fl.IntVar(&opts.Loop, "loop", 1, "play a file source N times; --loop alone loops forever")
	fl.Lookup("loop").NoOptDefVal = "0"
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after this much media, from the first keyframe (as ffmpeg -t)")
	fl.StringVar(&opts.User, "user", "", "source user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "source password (overrides the URL's)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON stats and endpoint events to FILE (- for stdout); see docs/stats-json.md")
	return cmd
}

func relayRun(ctx context.Context, opts *Options) error {
	resolver := opts.Endpoints()
	log := opts.Logger()
	jsonOut, err := progress.OpenJSON(opts.StatsJSON, opts.IO.Out)
	if err != nil {
		return err
	}
	defer jsonOut.Close()
	event := progress.EndpointLog(log, jsonOut)

	src, srcName, err := openSource(opts, resolver, event)
	if err != nil {
		return err
	}
	so := endpoint.SinkOptions{Transport: opts.DstTransport, Tunnel: opts.Tunnel, InsecureTLS: opts.Insecure}
	sinks, retry, err := cmdutil.Destinations(resolver, opts.Destinations, so, engine.Backoff{Min: opts.RetryMin, Max: opts.RetryMax}, event, opts.IO)
	if err != nil {
		return err
	}
	sess := &engine.Session{Source: src, Sinks: sinks, MediaDuration: opts.Duration}
	if ok, err := cmdutil.OpenSession(ctx, sess); !ok {
		return err
	}
	log.Debugf("relaying %s to %d destinations", srcName, len(sinks))
	rep := &progress.Reporter{IO: opts.IO, Session: sess, JSON: jsonOut, Verb: "relayed", Extra: progress.EndpointStates(retry, src)}
	return cmdutil.RunReported(ctx, sess, rep, "")
}

// openSource builds the source: network URLs reconnect, files are paced.
func openSource(opts *Options, resolver *endpoint.Resolver, event func(string, engine.EndpointState, error)) (engine.Source, string, error) {
	if mediaurl.IsNetwork(opts.Source) {
		newSrc, _, err := resolver.SourceFactory(opts.Source, opts.SourceOptions())
		if err != nil {
			return nil, "", err
		}
		name := mediaurl.Redact(opts.Source)
		return &engine.RetrySource{
			Backoff: engine.Backoff{Min: opts.RetryMin, Max: opts.RetryMax}, New: newSrc,
			OnEvent: func(s engine.EndpointState, err error) { event("source "+name, s, err) },
		}, name, nil
	}
	src, err := resolver.Input(opts.Source, nil, endpoint.InputOptions{Loop: opts.Loop, Pace: true})
	return src, opts.Source, err
}
