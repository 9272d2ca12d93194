// Package serve implements `avcat serve`.
package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
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

// DemoPath is the path of the embedded clip.
const DemoPath = "demo"

// Options are the inputs of one serve run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver
	Timeout   time.Duration

	RTSPAddr       string
	RTMPAddr       string
	NoRTMP         bool
	RTPPort        int
	NoUDP          bool
	Multicast      string
	TLSCert        string
	TLSKey         string
	Files          []string
	NoLoop         bool
	User           string
	PublishUser    string
	ReadUser       string
	AllowFrom      []string
	Override       bool
	MaxConns       int
	MaxSessions    int
	SessionTimeout time.Duration
	StatsJSON      string
	StatsInterval  time.Duration
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
			opts.Timeout = f.Global.Timeout
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
	fl.StringVar(&opts.User, "auth", "", "require NAME:PASS for publishing and reading")
	fl.StringVar(&opts.PublishUser, "publish-auth", "", "require NAME:PASS for publishing")
	fl.StringVar(&opts.ReadUser, "read-auth", "", "require NAME:PASS for reading")
	// The old spellings: --user is a client's user name in every other verb.
	cmdutil.HiddenAlias(fl, &opts.User, "user", "", "", "use --auth")
	cmdutil.HiddenAlias(fl, &opts.PublishUser, "publish-user", "", "", "use --publish-auth")
	cmdutil.HiddenAlias(fl, &opts.ReadUser, "read-user", "", "", "use --read-auth")
	fl.StringArrayVar(&opts.AllowFrom, "allow-from", nil, "accept clients only from this CIDR (repeatable)")
	fl.BoolVar(&opts.Override, "override", false, "let a new publisher replace the one on a busy path")
	fl.IntVar(&opts.MaxConns, "max-conns", server.DefaultMaxConns, "close RTSP and RTMP connections beyond this many (0: no limit)")
	fl.IntVar(&opts.MaxSessions, "max-sessions", server.DefaultMaxSessions, "refuse RTSP sessions and RTMP publishers and players beyond this many (0: no limit)")
	fl.DurationVar(&opts.SessionTimeout, "session-timeout", server.DefaultSessionTimeout, "end an RTSP session with no request and no RTCP for this long (announced in the Session header)")
	fl.StringVar(&opts.StatsJSON, "stats-json", "", "write NDJSON events and periodic stats to FILE (- for stdout)")
	fl.DurationVar(&opts.StatsInterval, "stats-interval", 5*time.Second, "period of the stats events in --stats-json")
	return cmd
}

func parseCreds(flag, v string) (*server.Credentials, error) {
	if v == "" {
		return nil, nil
	}
	user, pass, ok := strings.Cut(v, ":")
	if !ok || user == "" {
		return nil, cmdutil.FlagErrorf("--%s wants NAME:PASS", flag)
	}
	return &server.Credentials{User: user, Pass: pass}, nil
}

// config turns the options into a server configuration.
func (opts *Options) config(resolver *endpoint.Resolver) (*server.Config, error) {
	cfg := &server.Config{
		RTSPAddress: opts.RTSPAddr, ReadTimeout: opts.Timeout, Override: opts.Override,
		Files: make(map[string]server.File),
	}
	if !opts.NoRTMP {
		cfg.RTMPAddress = opts.RTMPAddr
	}
	if opts.MaxConns < 0 || opts.MaxSessions < 0 {
		return nil, cmdutil.FlagErrorf("--max-conns and --max-sessions take a count (0: no limit)")
	}
	cfg.MaxConns, cfg.MaxSessions = noLimit(opts.MaxConns), noLimit(opts.MaxSessions)
	if opts.SessionTimeout < time.Second {
		return nil, cmdutil.FlagErrorf("--session-timeout must be at least 1s")
	}
	cfg.SessionTimeout = opts.SessionTimeout
	if !opts.NoUDP {
		if opts.RTPPort <= 0 || opts.RTPPort%2 != 0 || opts.RTPPort > 65534 {
			return nil, cmdutil.FlagErrorf("--rtp-port must be an even port (RTCP uses the next one)")
		}
		// The UDP sockets bind the host --rtsp names, as the RTSP socket
		// does: --rtsp 127.0.0.1:8554 exposes nothing on other interfaces.
		host, _, err := net.SplitHostPort(opts.RTSPAddr)
		if err != nil {
			return nil, cmdutil.FlagErrorf("--rtsp %q: want HOST:PORT or :PORT", opts.RTSPAddr)
		}
		cfg.UDPRTPAddress = net.JoinHostPort(host, strconv.Itoa(opts.RTPPort))
		cfg.UDPRTCPAddress = net.JoinHostPort(host, strconv.Itoa(opts.RTPPort+1))
	}
	if opts.Multicast != "" {
		if _, n, err := net.ParseCIDR(opts.Multicast); err != nil || !n.IP.IsMulticast() {
			return nil, cmdutil.FlagErrorf("--multicast-range %q is not a multicast CIDR", opts.Multicast)
		}
		cfg.MulticastIPRange = opts.Multicast
		cfg.MulticastRTPPort = opts.RTPPort + 2
		cfg.MulticastRTCPPort = opts.RTPPort + 3
	}
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return nil, cmdutil.FlagErrorf("--tls-cert and --tls-key go together")
	}
	if opts.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, fault.New(fault.Usage, "TLS certificate: %v", err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	all, err := parseCreds("auth", opts.User)
	if err != nil {
		return nil, err
	}
	cfg.PublishCreds, cfg.ReadCreds = all, all
	if c, err := parseCreds("publish-auth", opts.PublishUser); err != nil {
		return nil, err
	} else if c != nil {
		cfg.PublishCreds = c
	}
	if c, err := parseCreds("read-auth", opts.ReadUser); err != nil {
		return nil, err
	} else if c != nil {
		cfg.ReadCreds = c
	}
	for _, a := range opts.AllowFrom {
		_, n, err := net.ParseCIDR(a)
		if err != nil {
			ip := net.ParseIP(a)
			if ip == nil {
				return nil, cmdutil.FlagErrorf("--allow-from %q is not a CIDR or an address", a)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			n = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
		}
		cfg.AllowFrom = append(cfg.AllowFrom, n)
	}
	for _, spec := range opts.Files {
		name, file, ok := strings.Cut(spec, "=")
		name = strings.Trim(name, "/")
		if !ok || name == "" || file == "" {
			return nil, cmdutil.FlagErrorf("--file wants PATH=FILE, got %q", spec)
		}
		if _, dup := cfg.Files[name]; dup {
			return nil, cmdutil.FlagErrorf("--file: path %q given twice", name)
		}
		open, err := resolver.FileSource(file, endpoint.FileOptions{})
		if err != nil {
			return nil, err
		}
		cfg.Files[name] = server.File{Name: file, Open: open, Loop: !opts.NoLoop}
	}
	if len(opts.Files) == 0 {
		cfg.Files[DemoPath] = server.File{
			Name: "embedded demo clip",
			Open: func() engine.Source { return &mp4.Source{Path: "demo.mp4", Reader: bytes.NewReader(demoClip)} },
			Loop: !opts.NoLoop,
		}
	}
	return cfg, nil
}

// noLimit maps the flags' 0 (no limit) to the server's -1.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func serveRun(ctx context.Context, opts *Options) error {
	log := opts.Logger()
	cfg, err := opts.config(opts.Endpoints())
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
