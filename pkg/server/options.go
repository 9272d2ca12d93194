package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
)

// DemoPath is the path of the demo clip, served when no file is given.
const DemoPath = "demo"

// Options are serve's flag values, as given; Config checks them.
type Options struct {
	RTSPAddr  string
	RTMPAddr  string
	NoRTMP    bool
	RTPPort   int // RTCP uses the next port, multicast the two after
	NoUDP     bool
	Multicast string // CIDR of multicast addresses
	TLSCert   string
	TLSKey    string
	Files     []string // PATH=FILE
	NoLoop    bool
	// Auth, PublishAuth and ReadAuth are NAME:PASS; Auth covers both
	// actions, the others override it for one.
	Auth        string
	PublishAuth string
	ReadAuth    string
	AllowFrom   []string // CIDRs or addresses
	Override    bool
	// MaxConns and MaxSessions: 0 means no limit.
	MaxConns       int
	MaxSessions    int
	SessionTimeout time.Duration
	ReadTimeout    time.Duration
}

// OptionError is a bad option value or combination: a usage error that
// names the flag.
type OptionError struct{ Err error }

func (e *OptionError) Error() string { return e.Err.Error() }

func (e *OptionError) Unwrap() error { return e.Err }

func optionErrorf(format string, args ...any) error {
	return &fault.Error{Kind: fault.Usage, Err: &OptionError{Err: fmt.Errorf(format, args...)}}
}

// Config checks the options and builds the server configuration. open
// resolves a --file to its source factory; demo, when no file is given,
// is served at DemoPath.
func (o *Options) Config(open func(path string) (func() engine.Source, error), demo func() engine.Source) (*Config, error) {
	cfg := &Config{
		RTSPAddress: o.RTSPAddr, ReadTimeout: o.ReadTimeout, Override: o.Override,
		Files: make(map[string]File),
	}
	if !o.NoRTMP {
		cfg.RTMPAddress = o.RTMPAddr
	}
	if o.MaxConns < 0 || o.MaxSessions < 0 {
		return nil, optionErrorf("--max-conns and --max-sessions take a count (0: no limit)")
	}
	cfg.MaxConns, cfg.MaxSessions = noLimit(o.MaxConns), noLimit(o.MaxSessions)
	if o.SessionTimeout < time.Second {
		return nil, optionErrorf("--session-timeout must be at least 1s")
	}
	cfg.SessionTimeout = o.SessionTimeout
	if err := o.ports(cfg); err != nil {
		return nil, err
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, optionErrorf("--tls-cert and --tls-key go together")
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fault.New(fault.Usage, "TLS certificate: %v", err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := o.access(cfg); err != nil {
		return nil, err
	}
	for _, spec := range o.Files {
		name, file, ok := strings.Cut(spec, "=")
		name = strings.Trim(name, "/")
		if !ok || name == "" || file == "" {
			return nil, optionErrorf("--file wants PATH=FILE, got %q", spec)
		}
		if _, dup := cfg.Files[name]; dup {
			return nil, optionErrorf("--file: path %q given twice", name)
		}
		src, err := open(file)
		if err != nil {
			return nil, err
		}
		cfg.Files[name] = File{Name: file, Open: src, Loop: !o.NoLoop}
	}
	if len(o.Files) == 0 && demo != nil {
		cfg.Files[DemoPath] = File{Name: "embedded demo clip", Open: demo, Loop: !o.NoLoop}
	}
	return cfg, nil
}

// ports fills the UDP and multicast addresses.
func (o *Options) ports(cfg *Config) error {
	if !o.NoUDP {
		if o.RTPPort <= 0 || o.RTPPort%2 != 0 || o.RTPPort > 65534 {
			return optionErrorf("--rtp-port must be an even port (RTCP uses the next one)")
		}
		// The UDP sockets bind the host --rtsp names, as the RTSP socket
		// does: --rtsp 127.0.0.1:8554 exposes nothing on other interfaces.
		host, _, err := net.SplitHostPort(o.RTSPAddr)
		if err != nil {
			return optionErrorf("--rtsp %q: want HOST:PORT or :PORT", o.RTSPAddr)
		}
		cfg.UDPRTPAddress = net.JoinHostPort(host, strconv.Itoa(o.RTPPort))
		cfg.UDPRTCPAddress = net.JoinHostPort(host, strconv.Itoa(o.RTPPort+1))
	}
	if o.Multicast != "" {
		if _, n, err := net.ParseCIDR(o.Multicast); err != nil || !n.IP.IsMulticast() {
			return optionErrorf("--multicast-range %q is not a multicast CIDR", o.Multicast)
		}
		cfg.MulticastIPRange = o.Multicast
		cfg.MulticastRTPPort = o.RTPPort + 2
		cfg.MulticastRTCPPort = o.RTPPort + 3
	}
	return nil
}

// access fills the credentials and the allowed networks.
func (o *Options) access(cfg *Config) error {
	all, err := parseCreds("auth", o.Auth)
	if err != nil {
		return err
	}
	cfg.PublishCreds, cfg.ReadCreds = all, all
	if c, err := parseCreds("publish-auth", o.PublishAuth); err != nil {
		return err
	} else if c != nil {
		cfg.PublishCreds = c
	}
	if c, err := parseCreds("read-auth", o.ReadAuth); err != nil {
		return err
	} else if c != nil {
		cfg.ReadCreds = c
	}
	for _, a := range o.AllowFrom {
		_, n, err := net.ParseCIDR(a)
		if err != nil {
			ip := net.ParseIP(a)
			if ip == nil {
				return optionErrorf("--allow-from %q is not a CIDR or an address", a)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			n = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
		}
		cfg.AllowFrom = append(cfg.AllowFrom, n)
	}
	return nil
}

func parseCreds(flag, v string) (*Credentials, error) {
	if v == "" {
		return nil, nil
	}
	user, pass, ok := strings.Cut(v, ":")
	if !ok || user == "" {
		return nil, optionErrorf("--%s wants NAME:PASS", flag)
	}
	return &Credentials{User: user, Pass: pass}, nil
}

// noLimit maps the options' 0 (no limit) to the server's -1.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
