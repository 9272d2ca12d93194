package rtsp

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/netio"
)

// Config is what sources and sinks need to reach a server.
type Config struct {
	URL *url.URL
	// Transport is auto, udp, tcp or multicast.
	Transport string
	// Tunnel is none, http or websocket (rtsph:// means http).
	Tunnel    string
	Timeout   time.Duration
	UserAgent string
	TLSConfig *tls.Config
	Logger    *logging.Logger

	sniff       *sniffConn
	sniffMu     sync.Mutex
	dialed      net.Conn // the TCP connection, netio's where it could
	wire        wireCount
	countUDP    bool // wrap UDP sockets to count the RTP sent (publishing)
	transportMu sync.Mutex
	transport   string
	tun         tunnelState
	tunnelKind  gortsplib.Tunnel
	scheme      string // rtsp or rtsps, as gortsplib knows them
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "avcat"
	}
}

func (c *Config) hostPort() string { return mediaurl.HostPort(c.URL) }

// prepare checks --tunnel against the URL and --transport.
func (c *Config) prepare() error {
	tu, scheme, err := c.tunnel()
	if err != nil {
		return err
	}
	c.tunnelKind, c.scheme = tu, scheme
	return nil
}

// baseURL is the URL in gortsplib's terms (rtsph:// becomes rtsp://).
func (c *Config) baseURL() (*base.URL, error) {
	u := *c.URL
	u.Scheme = c.scheme
	bu, err := base.ParseURL(u.String())
	if err != nil {
		return nil, fault.New(fault.Usage, "malformed RTSP URL %q: %v", mediaurl.RedactURL(c.URL), err)
	}
	return bu, nil
}

// setReadBatch gathers the reads of the dialed connection (SourceOptions.ReadBatch).
func (c *Config) setReadBatch(d time.Duration) {
	c.sniffMu.Lock()
	nc := c.dialed
	c.sniffMu.Unlock()
	if b, ok := nc.(interface{ SetReadBatch(time.Duration) }); ok && d > 0 {
		b.SetReadBatch(d)
	}
}

// ActiveTransport names the transport in use after SETUP.
func (c *Config) ActiveTransport() string {
	c.transportMu.Lock()
	defer c.transportMu.Unlock()
	return c.transport
}

// newClient builds a gortsplib client with every callback routed to our
// logger and diagnostics.
func (c *Config) newClient(tr *gortsplib.Protocol, onResponse func(*base.Response)) *gortsplib.Client {
	dialer := &net.Dialer{Timeout: c.Timeout}
	tlsConfig := c.TLSConfig
	if tlsConfig == nil && c.scheme == mediaurl.SchemeRTSPS {
		tlsConfig = &tls.Config{ServerName: c.URL.Hostname()}
	}
	return &gortsplib.Client{
		Scheme:       c.scheme,
		Host:         mediaurl.HostPort(c.URL),
		Tunnel:       c.tunnelKind,
		ReadTimeout:  c.Timeout,
		WriteTimeout: c.Timeout,
		Protocol:     tr,
		TLSConfig:    tlsConfig,
		UserAgent:    c.UserAgent,
		DialContext: func(dctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			nc = netio.Wrap(nc, netio.ReadAhead)
			c.sniffMu.Lock()
			c.dialed = nc
			c.sniffMu.Unlock()
			if c.tunnelKind != gortsplib.TunnelNone {
				return &tunnelConn{Conn: nc, c: c, ws: c.tunnelKind == gortsplib.TunnelWebSocket}, nil
			}
			if c.scheme != mediaurl.SchemeRTSP {
				return nc, nil // under TLS the first bytes say nothing
			}
			sc := &sniffConn{Conn: nc}
			c.sniffMu.Lock()
			c.sniff = sc
			c.sniffMu.Unlock()
			return newLFConn(newCountConn(sc, &c.wire)), nil
		},
		// TLS is set up here so that what is counted is the plain stream.
		DialTLSContext: func(dctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			nc = netio.Wrap(nc, netio.ReadAhead)
			c.sniffMu.Lock()
			c.dialed = nc
			c.sniffMu.Unlock()
			cfg := &tls.Config{}
			if tlsConfig != nil {
				cfg = tlsConfig.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
			if c.tunnelKind != gortsplib.TunnelNone {
				return &tunnelConn{Conn: tls.Client(nc, cfg), c: c, ws: c.tunnelKind == gortsplib.TunnelWebSocket}, nil
			}
			return newCountConn(tls.Client(nc, cfg), &c.wire), nil
		},
		ListenPacket: func(network, addr string) (net.PacketConn, error) {
			pc, err := net.ListenPacket(network, addr)
			// Only a publisher counts (gortsplib's multicast reader needs the
			// bare *net.UDPConn).
			if uc, ok := pc.(*net.UDPConn); ok && err == nil && c.countUDP {
				return &countPacketConn{UDPConn: uc, w: &c.wire}, nil
			}
			return pc, err
		},
		OnRequest: c.traceRequest,
		OnResponse: func(r *base.Response) {
			if onResponse != nil {
				onResponse(r)
			}
			c.noteTransport(r)
			c.traceResponse(r)
		},
		OnTransportSwitch: func(err error) { c.Logger.Warnf("%v", err) },
		OnPacketsLost: func(n uint64) {
			c.Logger.Limited("rtp-lost", "%d RTP packets lost", n)
		},
		OnDecodeError: func(err error) { c.Logger.Limited("rtsp-decode", "%v", err) },
	}
}

// fail turns a library error into a fault with a one-line message.
func (c *Config) fail(err error) error {
	var first []byte
	c.sniffMu.Lock()
	if c.sniff != nil {
		first = c.sniff.prefix()
	}
	c.sniffMu.Unlock()
	if c.tunnelKind != gortsplib.TunnelNone {
		if terr := c.tunnelFail(mediaurl.RedactURL(c.URL), c.hostPort()); terr != nil {
			return terr
		}
	}
	return classify(err, mediaurl.RedactURL(c.URL), c.hostPort(), c.Timeout, c.URL.User != nil, first)
}

// noteTransport records the transport the server accepted in SETUP.
func (c *Config) noteTransport(r *base.Response) {
	v, ok := r.Header["Transport"]
	if !ok || len(v) == 0 {
		return
	}
	var name string
	switch t := strings.ToLower(v[0]); {
	case strings.Contains(t, "rtp/avp/tcp"), strings.Contains(t, "interleaved="):
		name = "tcp"
	case strings.Contains(t, "multicast"):
		name = "multicast"
	default:
		name = "udp"
	}
	c.transportMu.Lock()
	c.transport = name
	c.transportMu.Unlock()
}

// traceRequest prints a request like openRTSP's -V, credentials hidden.
func (c *Config) traceRequest(r *base.Request) {
	if c.Logger == nil || !c.Logger.Verbose {
		return
	}
	b, err := r.Marshal()
	if err != nil {
		return
	}
	c.Logger.Debugf("%s", formatTrace("> ", b))
}

func (c *Config) traceResponse(r *base.Response) {
	if c.Logger == nil || !c.Logger.Verbose {
		return
	}
	b, err := r.Marshal()
	if err != nil {
		return
	}
	c.Logger.Debugf("%s", formatTrace("< ", b))
}
