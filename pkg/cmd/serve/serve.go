// Package serve implements `avcat serve`.
package serve

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/container/mp4"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/progress"
	"github.com/avcat/avcat/pkg/server"
)

//go:embed demo.mp4
var demoClip []byte

// Options are the inputs of one serve run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver

	server.Options
	StatsJSON     string
	StatsInterval time.Duration
}

// NewCmdServe builds the serve command. runF replaces the run in tests.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run an RTSP + RTMP server with one table of paths",
		Long: `Run an ad-hoc streaming server: RTSP (TCP, UDP and, with --multicast-range,
multicast) and RTMP share one table of paths. The RTSP port also accepts RTSP tunnelled in
HTTP (GET/POST, ffmpeg -rtsp_transport http, GStreamer rtsph://) and in WebSocket. Each
request must arrive within --timeout of its first byte, and a connection must not stay
silent longer than --timeout until it plays or records (docs/limits.md lists every bound).

Publish with RTSP ANNOUNCE/RECORD (ffmpeg -f rtsp, GStreamer rtspclientsink, avcat push)
or RTMP publish (ffmpeg -f flv, OBS, avcat rtmp-push). Read with RTSP PLAY (ffplay, VLC,
GStreamer rtspsrc, avcat probe/pull) or RTMP play, whatever protocol the publisher used.

--file PATH=FILE serves a file on demand (MP4, MPEG-TS, FLV or raw H.264/H.265), looping
unless --no-loop; each reader gets its own real-time playback, and PAUSE and PLAY with
Range: npt= seek in it. With no --file, the embedded demo clip is served at /demo.

Auth: --auth NAME:PASS protects everything; --publish-auth and --read-auth split the two
actions. RTSP uses Basic or Digest; RTMP takes ?user=NAME&pass=PASS on the stream URL.

--tls-cert and --tls-key turn RTSP into RTSPS (with SRTP, RTP/SAVP keyed by MIKEY, over UDP
and TCP) and RTMP into RTMPS.`,
		Example: `  avcat serve
  avcat serve --file cam1=recording.mp4 --file lobby=lobby.ts
  avcat serve --publish-auth pub:secret --read-auth viewer:pass
  avcat serve --rtsp :8555 --no-rtmp --stats-json stats.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.ReadTimeout = f.Global.Timeout
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.RTSPAddr, "rtsp", ":8554", "RTSP listen address")
	fl.StringVar(&opts.RTMPAddr, "rtmp", ":1935", "RTMP listen address")
	fl.BoolVar(&opts.NoRTMP, "no-rtmp", false, "do not listen for RTMP")
	fl.IntVar(&opts.RTPPort, "rtp-port", 8000, "UDP port for RTP (RTCP uses the next one)")
	fl.BoolVar(&opts.NoUDP, "no-udp", false, "offer only TCP-interleaved RTP")
	fl.StringVar(&opts.Multicast, "multicast-range", "", "enable multicast readers with addresses from this range, e.g. 224.1.0.0/16")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "certificate (PEM) for RTSPS and RTMPS")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "private key (PEM) for RTSPS and RTMPS")
	fl.StringArrayVar(&opts.Files, "file", nil, "serve FILE at PATH on demand (PATH=FILE, repeatable)")
	fl.BoolVar(&opts.NoLoop, "no-loop", false, "play --file entries once instead of looping")
	fl.StringVar(&opts.Auth, "auth", "", "require NAME:PASS for publishing and reading")
	fl.StringVar(&opts.PublishAuth, "publish-auth", "", "require NAME:PASS for publishing")
	fl.StringVar(&opts.ReadAuth, "read-auth", "", "require NAME:PASS for reading")
	// The old spellings: --user is a client's user name in every other verb.
	cmdutil.HiddenAlias(fl, &opts.Auth, "user", "", "", "use --auth")
	cmdutil.HiddenAlias(fl, &opts.PublishAuth, "publish-user", "", "", "use --publish-auth")
	cmdutil.HiddenAlias(fl, &opts.ReadAuth, "read-user", "", "", "use --read-auth")
	fl.StringArrayVar(&opts.AllowFrom, "allow-from", nil, "accept clients only from this CIDR (repeatable)")
	fl.BoolVar(&opts.Override, "override", false, "let a new publisher replace the one on a busy path")
	fl.IntVar(&opts.MaxConns, "max-conns", server.DefaultMaxConns, "close RTSP and RTMP connections beyond this many (0: no limit)")
	fl.IntVar(&opts.MaxSessions, "max-sessions", server.DefaultMaxSessions, "refuse RTSP sessions and RTMP publishers and players beyond this many (0: no limit)")
	fl.DurationVar(&opts.SessionTimeout, "session-timeout", server.DefaultSessionTimeout, "end an RTSP session with no request and no RTCP for this long (announced in the Session header)")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON events and periodic stats to FILE (- for stdout)")
	fl.DurationVar(&opts.StatsInterval, "stats-interval", 5*time.Second, "period of the stats events in --stats-json")
	return cmd
}

func serveRun(ctx context.Context, opts *Options) error {
	log := opts.Logger()
	resolver := opts.Endpoints()
	open := func(file string) (func() engine.Source, error) {
		return resolver.FileSource(file, endpoint.FileOptions{})
	}
	demo := func() engine.Source { return &mp4.Source{Path: "demo.mp4", Reader: bytes.NewReader(demoClip)} }
	cfg, err := opts.Config(open, demo)
	if oe := (*server.OptionError)(nil); errors.As(err, &oe) {
		return &cmdutil.FlagError{Err: err} // a bad flag: a usage error
	}
	if err != nil {
		return err
	}
	cfg.Logger = log

	events, err := progress.OpenJSON(opts.StatsJSON, opts.IO.Out)
	if err != nil {
		return err
	}
	defer events.Close()
	if events != nil {
		cfg.OnEvent = func(ev server.Event) { events.Event(ev.Type, ev) }
	}

	srv := &server.Server{Config: *cfg}
	if err := srv.Start(); err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fault.Wrap(fault.Network, err)
		}
		return err
	}
	progress.ServerBanner(opts.IO, srv, cfg, opts.RTPPort)

	usr1 := make(chan os.Signal, 1)
	if len(dumpSignals) > 0 {
		signal.Notify(usr1, dumpSignals...)
		defer signal.Stop(usr1)
	}

	status := &progress.ServerStatus{IO: opts.IO, JSON: events, Interval: opts.StatsInterval}
	status.Follow(ctx, srv.Stats, usr1)
	srv.Close()
	fmt.Fprintln(opts.IO.ErrOut, "avcat serve: stopped")
	return nil
}
