// Package endpoint resolves URLs and paths to engine sources and sinks.
package endpoint

import (
	"crypto/tls"
	"net/url"
	"strings"
	"time"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/rtmp"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Config is shared by every endpoint the resolver opens.
type Config struct {
	Timeout time.Duration
	Logger  *logging.Logger
}

// SourceOptions are per-verb settings for network sources.
type SourceOptions struct {
	// Transport is auto, udp, tcp or multicast (RTSP only).
	Transport string
	// Tunnel is none, http or websocket (RTSP only).
	Tunnel string
	// User and Pass override credentials in the URL.
	User, Pass string
	UserAgent  string
	// InsecureTLS skips certificate checks for rtsps:// and rtmps://.
	InsecureTLS bool
	// Start asks an RTSP server to begin at this offset (recorded streams).
	Start time.Duration
	// ReadBatch gathers the stream's reads over TCP once it plays: each
	// read waits until this long after the last one that emptied the
	// socket (netio.Conn.SetReadBatch); 0 reads as data comes.
	ReadBatch time.Duration
}

// SourceOpener builds a source for a parsed URL.
type SourceOpener func(u *url.URL, o SourceOptions) (engine.Source, error)

// Resolver maps URL schemes and file extensions to endpoints.
type Resolver struct {
	cfg     Config
	sources map[string]SourceOpener
}

// NewResolver builds the resolver with every built-in endpoint.
func NewResolver(cfg Config) *Resolver {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	r := &Resolver{cfg: cfg, sources: make(map[string]SourceOpener)}
	rtspOpener := func(u *url.URL, o SourceOptions) (engine.Source, error) {
		return &rtsp.Source{Config: rtsp.Config{
			URL: u, Transport: o.Transport, Tunnel: o.Tunnel, Timeout: r.cfg.Timeout,
			UserAgent: o.UserAgent, TLSConfig: tlsConfig(u, o), Logger: r.cfg.Logger,
		}, Start: o.Start, ReadBatch: o.ReadBatch}, nil
	}
	rtmpOpener := func(u *url.URL, o SourceOptions) (engine.Source, error) {
		return &rtmp.Source{URL: u, Timeout: r.cfg.Timeout, TLSConfig: tlsConfig(u, o), Logger: r.cfg.Logger, ReadBatch: o.ReadBatch}, nil
	}
	r.Register(mediaurl.SchemeRTSP, rtspOpener)
	r.Register(mediaurl.SchemeRTSPS, rtspOpener)
	r.Register(mediaurl.SchemeRTSPH, rtspOpener)
	r.Register(mediaurl.SchemeRTMP, rtmpOpener)
	r.Register(mediaurl.SchemeRTMPS, rtmpOpener)
	return r
}

func tlsConfig(u *url.URL, o SourceOptions) *tls.Config {
	if u.Scheme != mediaurl.SchemeRTSPS && u.Scheme != mediaurl.SchemeRTMPS {
		return nil
	}
	return &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: o.InsecureTLS} //nolint:gosec // opt-in by flag
}

// Register adds or replaces the opener of a URL scheme.
func (r *Resolver) Register(scheme string, open SourceOpener) {
	r.sources[strings.ToLower(scheme)] = open
}

// Source resolves a URL to a source.
func (r *Resolver) Source(spec string, o SourceOptions) (engine.Source, *url.URL, error) {
	u, err := mediaurl.ParseURL(spec)
	if err != nil {
		return nil, nil, err
	}
	withCreds(u, o.User, o.Pass)
	open, ok := r.sources[u.Scheme]
	if !ok {
		return nil, nil, fault.New(fault.Usage, "no source handles %s:// URLs", u.Scheme)
	}
	src, err := open(u, o)
	return src, u, err
}

// SourceFactory resolves spec once and returns a func that builds a fresh,
// unopened source for it on each call: the first connection and every
// reconnect (engine.RetrySource.New).
func (r *Resolver) SourceFactory(spec string, o SourceOptions) (func() engine.Source, *url.URL, error) {
	_, u, err := r.Source(spec, o)
	if err != nil {
		return nil, nil, err
	}
	open := r.sources[u.Scheme]
	return func() engine.Source {
		s, _ := open(cloneURL(u), o) // the same opener accepted u above
		return s
	}, u, nil
}

// SinkOptions are per-verb settings for network sinks.
type SinkOptions struct {
	// Transport is tcp or udp (RTSP).
	Transport string
	// Tunnel is none, http or websocket (RTSP).
	Tunnel string
	// User and Pass override credentials in the URL.
	User, Pass  string
	UserAgent   string
	InsecureTLS bool
}

// NetworkSink resolves an rtsp(s):// or rtmp(s):// URL to a publishing sink.
func (r *Resolver) NetworkSink(spec string, o SinkOptions) (engine.Sink, *url.URL, error) {
	u, err := mediaurl.ParseURL(spec)
	if err != nil {
		return nil, nil, err
	}
	withCreds(u, o.User, o.Pass)
	if s := r.networkSink(u, o); s != nil {
		return s, u, nil
	}
	return nil, nil, fault.New(fault.Usage, "cannot publish to %s:// URLs", u.Scheme)
}

// networkSink builds the sink of a parsed URL; nil for other schemes.
func (r *Resolver) networkSink(u *url.URL, o SinkOptions) engine.Sink {
	so := SourceOptions{InsecureTLS: o.InsecureTLS}
	switch u.Scheme {
	case mediaurl.SchemeRTSP, mediaurl.SchemeRTSPS, mediaurl.SchemeRTSPH:
		return &rtsp.Sink{Config: rtsp.Config{
			URL: u, Transport: o.Transport, Tunnel: o.Tunnel, Timeout: r.cfg.Timeout,
			UserAgent: o.UserAgent, TLSConfig: tlsConfig(u, so), Logger: r.cfg.Logger,
		}}
	case mediaurl.SchemeRTMP, mediaurl.SchemeRTMPS:
		return &rtmp.Sink{URL: u, Timeout: r.cfg.Timeout, TLSConfig: tlsConfig(u, so), Logger: r.cfg.Logger}
	}
	return nil
}

// SinkFactory resolves spec once and returns a func that builds a fresh,
// unopened publishing sink for it on each call (engine.RetrySink.New).
func (r *Resolver) SinkFactory(spec string, o SinkOptions) (func() engine.Sink, *url.URL, error) {
	_, u, err := r.NetworkSink(spec, o)
	if err != nil {
		return nil, nil, err
	}
	return func() engine.Sink { return r.networkSink(cloneURL(u), o) }, u, nil
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}

func withCreds(u *url.URL, user, pass string) {
	if user == "" && pass == "" {
		return
	}
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, pass)
}
