// Package rtsp adapts gortsplib's client to engine sources.
package rtsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/avcat/avcat/pkg/fault"
)

// sniffConn remembers the first bytes the peer sent, to explain protocol
// errors ("it answered HTTP").
type sniffConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if len(c.first) < 16 {
			c.first = append(c.first, p[:min(n, 16-len(c.first))]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *sniffConn) prefix() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.first...)
}

// classify turns a gortsplib error into a fault with a one-line message.
func classify(err error, target, hostPort string, timeout time.Duration, hadCreds bool, first []byte) error {
	if err == nil {
		return nil
	}
	if _, ok := fault.KindOf(err); ok {
		return err
	}
	// Whatever the library made of it, a peer whose first bytes are not an
	// RTSP response does not speak RTSP.
	if len(first) > 0 && !bytes.HasPrefix(first, []byte("RTSP/")) && first[0] != '$' &&
		!bytes.HasPrefix([]byte("RTSP/"), first) {
		if bytes.HasPrefix(first, []byte("HTTP/")) {
			return fault.New(fault.Network, "%s is not an RTSP server: it answered HTTP", hostPort)
		}
		return fault.New(fault.Network, "%s is not an RTSP server: it answered %q", hostPort, printable(first))
	}
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		status := fmt.Sprintf("%d %s", bad.Code, bad.Message)
		switch bad.Code {
		case base.StatusUnauthorized, base.StatusForbidden:
			if !hadCreds {
				return fault.New(fault.Auth, "authentication required (%s): give credentials in the URL or with --user/--pass", status)
			}
			return fault.New(fault.Auth, "authentication failed (%s): check the user name and password", status)
		case base.StatusNotFound:
			return fault.New(fault.NotFound, "stream not found: %s (%s)", target, status)
		case base.StatusUnsupportedMediaType:
			return fault.New(fault.Unsupported, "server refused the media (%s)", status)
		}
		return fault.New(fault.Network, "server answered %s", status)
	}
	var tmo liberrors.ErrClientRequestTimedOut
	var udpTmo liberrors.ErrClientUDPTimeout
	var tcpTmo liberrors.ErrClientTCPTimeout
	var netErr net.Error
	switch {
	case errors.As(err, &udpTmo):
		return fault.New(fault.Network, "no RTP received over UDP from %s within %s (firewall? try --transport tcp)", hostPort, timeout)
	case errors.As(err, &tcpTmo):
		return fault.New(fault.Network, "no data received from %s within %s", hostPort, timeout)
	case errors.As(err, &tmo), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return fault.New(fault.Network, "no response from %s within %s", hostPort, timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fault.New(fault.Network, "cannot connect to %s: connection refused", hostPort)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fault.New(fault.Network, "connection to %s reset by peer", hostPort)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fault.New(fault.Network, "cannot resolve host %q", dnsErr.Name)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fault.New(fault.Network, "cannot connect to %s: %v", hostPort, opErr.Err)
	}
	msg := err.Error()
	if strings.Contains(msg, "expected 'RTSP/1.0'") || strings.Contains(msg, "unable to parse status code") ||
		strings.Contains(msg, "empty status message") {
		if len(first) >= 5 && string(first[:5]) == "HTTP/" {
			return fault.New(fault.Network, "%s is not an RTSP server: it answered HTTP", hostPort)
		}
		return fault.New(fault.Network, "%s is not an RTSP server: it answered %q", hostPort, printable(first))
	}
	if errors.Is(err, net.ErrClosed) || strings.Contains(msg, "EOF") {
		return fault.New(fault.Network, "%s closed the connection", hostPort)
	}
	return fault.Wrap(fault.Network, fmt.Errorf("%s: %w", hostPort, err))
}

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}
