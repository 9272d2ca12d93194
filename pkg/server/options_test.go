package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
)

// goodOptions are serve's defaults.
func goodOptions() Options {
	return Options{
		RTSPAddr: "127.0.0.1:8554", RTMPAddr: ":1935", RTPPort: 8000,
		MaxConns: DefaultMaxConns, MaxSessions: DefaultMaxSessions, SessionTimeout: DefaultSessionTimeout,
	}
}

func openAny(string) (func() engine.Source, error) { return func() engine.Source { return nil }, nil }

func TestOptionsConfig(t *testing.T) {
	o := goodOptions()
	o.ReadTimeout = 7 * time.Second
	o.Multicast = "224.1.0.0/16"
	o.Auth, o.ReadAuth = "all:pw", "viewer:"
	o.AllowFrom = []string{"10.0.0.0/8", "192.168.1.5", "::1"}
	o.Files = []string{"/cam1/=a.mp4", "lobby=b.ts"}
	o.NoLoop = true
	o.MaxConns = 0
	var opened []string
	cfg, err := o.Config(func(p string) (func() engine.Source, error) {
		opened = append(opened, p)
		return openAny(p)
	}, func() engine.Source { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTSPAddress != "127.0.0.1:8554" || cfg.RTMPAddress != ":1935" || cfg.ReadTimeout != 7*time.Second {
		t.Errorf("addresses: %+v", cfg)
	}
	if cfg.UDPRTPAddress != "127.0.0.1:8000" || cfg.UDPRTCPAddress != "127.0.0.1:8001" {
		t.Errorf("UDP binds the --rtsp host: %q %q", cfg.UDPRTPAddress, cfg.UDPRTCPAddress)
	}
	if cfg.MulticastIPRange != "224.1.0.0/16" || cfg.MulticastRTPPort != 8002 || cfg.MulticastRTCPPort != 8003 {
		t.Errorf("multicast: %q %d %d", cfg.MulticastIPRange, cfg.MulticastRTPPort, cfg.MulticastRTCPPort)
	}
	if cfg.MaxConns != -1 || cfg.MaxSessions != DefaultMaxSessions {
		t.Errorf("limits: conns %d sessions %d", cfg.MaxConns, cfg.MaxSessions)
	}
	if *cfg.PublishCreds != (Credentials{User: "all", Pass: "pw"}) || *cfg.ReadCreds != (Credentials{User: "viewer"}) {
		t.Errorf("creds: %+v %+v", cfg.PublishCreds, cfg.ReadCreds)
	}
	var nets []string
	for _, n := range cfg.AllowFrom {
		nets = append(nets, n.String())
	}
	if strings.Join(nets, " ") != "10.0.0.0/8 192.168.1.5/32 ::1/128" {
		t.Errorf("allow-from: %v", nets)
	}
	if len(cfg.Files) != 2 || cfg.Files["cam1"].Name != "a.mp4" || cfg.Files["lobby"].Loop || strings.Join(opened, " ") != "a.mp4 b.ts" {
		t.Errorf("files: %+v (opened %v)", cfg.Files, opened)
	}
}

func TestOptionsConfigDefaults(t *testing.T) {
	o := goodOptions()
	o.NoRTMP, o.NoUDP = true, true
	o.RTPPort = 0 // not checked without UDP
	cfg, err := o.Config(openAny, func() engine.Source { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTMPAddress != "" || cfg.UDPRTPAddress != "" || cfg.TLSConfig != nil || cfg.PublishCreds != nil || cfg.ReadCreds != nil {
		t.Errorf("want no RTMP, UDP, TLS or auth: %+v", cfg)
	}
	if f, ok := cfg.Files[DemoPath]; len(cfg.Files) != 1 || !ok || !f.Loop || f.Open == nil {
		t.Errorf("want the demo clip alone, looping: %+v", cfg.Files)
	}
	if cfg, _ := o.Config(openAny, nil); len(cfg.Files) != 0 {
		t.Errorf("no demo given: %+v", cfg.Files)
	}
}

func TestOptionsConfigErrors(t *testing.T) {
	for _, c := range []struct {
		set    func(*Options)
		msg    string
		option bool // an *OptionError, reported with a --help hint
	}{
		{func(o *Options) { o.MaxConns = -1 }, "--max-conns and --max-sessions take a count", true},
		{func(o *Options) { o.MaxSessions = -5 }, "take a count", true},
		{func(o *Options) { o.SessionTimeout = 10 * time.Millisecond }, "--session-timeout must be at least 1s", true},
		{func(o *Options) { o.RTPPort = 8001 }, "--rtp-port must be an even port", true},
		{func(o *Options) { o.RTPPort = 65536 }, "even port", true},
		{func(o *Options) { o.RTPPort = -2 }, "even port", true},
		{func(o *Options) { o.RTSPAddr = "8554" }, `--rtsp "8554": want HOST:PORT`, true},
		{func(o *Options) { o.Multicast = "10.0.0.0/8" }, `--multicast-range "10.0.0.0/8" is not a multicast CIDR`, true},
		{func(o *Options) { o.Multicast = "nonsense" }, "not a multicast CIDR", true},
		{func(o *Options) { o.TLSCert = "a.pem" }, "--tls-cert and --tls-key go together", true},
		{func(o *Options) { o.TLSKey = "a.key" }, "go together", true},
		{func(o *Options) { o.TLSCert, o.TLSKey = "/does/not/exist.pem", "/does/not/exist.key" }, "TLS certificate: ", false},
		{func(o *Options) { o.Auth = "nopass" }, "--auth wants NAME:PASS", true},
		{func(o *Options) { o.PublishAuth = ":pw" }, "--publish-auth wants NAME:PASS", true},
		{func(o *Options) { o.ReadAuth = "x" }, "--read-auth wants NAME:PASS", true},
		{func(o *Options) { o.AllowFrom = []string{"300.1.1.1/8"} }, `--allow-from "300.1.1.1/8" is not a CIDR or an address`, true},
		{func(o *Options) { o.Files = []string{"nonsense"} }, `--file wants PATH=FILE, got "nonsense"`, true},
		{func(o *Options) { o.Files = []string{"/=a.mp4"} }, "PATH=FILE", true},
		{func(o *Options) { o.Files = []string{"x="} }, "PATH=FILE", true},
		{func(o *Options) { o.Files = []string{"x=a.mp4", "/x/=b.mp4"} }, `--file: path "x" given twice`, true},
		{func(o *Options) { o.Files = []string{"x=bad"} }, "cannot open bad", false},
	} {
		o := goodOptions()
		c.set(&o)
		_, err := o.Config(func(p string) (func() engine.Source, error) {
			if p == "bad" {
				return nil, errors.New("cannot open bad")
			}
			return openAny(p)
		}, nil)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: got %v, want %q", o, err, c.msg)
			continue
		}
		var oe *OptionError
		if errors.As(err, &oe) != c.option {
			t.Errorf("%q: OptionError %v, want %v", err, !c.option, c.option)
		}
		if k, _ := fault.KindOf(err); c.option && k != fault.Usage {
			t.Errorf("%q: kind %v, want usage", err, k)
		}
	}
}
