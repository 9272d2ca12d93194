// Package mediaurl parses, validates and redacts RTSP and RTMP URLs.
package mediaurl

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/avcat/avcat/pkg/fault"
)

// Network schemes.
const (
	SchemeRTSP  = "rtsp"
	SchemeRTSPS = "rtsps"
	// SchemeRTSPH is RTSP in an HTTP tunnel, as GStreamer spells it.
	SchemeRTSPH = "rtsph"
	SchemeRTMP  = "rtmp"
	SchemeRTMPS = "rtmps"
)

// IsNetwork reports whether spec looks like a network URL (scheme://).
func IsNetwork(spec string) bool {
	return strings.Contains(spec, "://")
}

// ParseURL parses and validates a network URL. Errors are usage errors
// that never echo the password.
func ParseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fault.New(fault.Usage, "empty URL")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return nil, fault.New(fault.Usage, "malformed URL %q: contains whitespace", Redact(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fault.New(fault.Usage, "malformed URL %q", Redact(raw))
	}
	switch strings.ToLower(u.Scheme) {
	case SchemeRTSP, SchemeRTSPS, SchemeRTSPH, SchemeRTMP, SchemeRTMPS:
		u.Scheme = strings.ToLower(u.Scheme)
	case "":
		return nil, fault.New(fault.Usage, "malformed URL %q: missing scheme (rtsp://, rtsps://, rtsph://, rtmp:// or rtmps://)", Redact(raw))
	default:
		return nil, fault.New(fault.Usage, "unsupported URL scheme %q in %q: use rtsp://, rtsps://, rtsph://, rtmp:// or rtmps://", u.Scheme, Redact(raw))
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fault.New(fault.Usage, "malformed URL %q: missing host", Redact(raw))
	}
	if u.Hostname() == "" {
		return nil, fault.New(fault.Usage, "malformed URL %q: missing host", Redact(raw))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fault.New(fault.Usage, "malformed URL %q: bad port %q", Redact(raw), p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, fault.New(fault.Usage, "malformed URL %q: empty port", Redact(raw))
	}
	return u, nil
}

// DefaultPort is the well-known port of a scheme.
func DefaultPort(scheme string) string {
	switch scheme {
	case SchemeRTSP, SchemeRTSPH:
		return "554"
	case SchemeRTSPS:
		return "322"
	case SchemeRTMP:
		return "1935"
	case SchemeRTMPS:
		return "443"
	}
	return ""
}

// HostPort returns host:port with the scheme's default port filled in.
func HostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), DefaultPort(u.Scheme))
}

// RedactURL is Redact for a parsed URL.
func RedactURL(u *url.URL) string {
	return Redact(u.String())
}
