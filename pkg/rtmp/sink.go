package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/netio"
)

// Sink publishes to an RTMP server: handshake, connect, createStream,
// publish, then @setDataFrame and the FLV-style audio and video messages.
type Sink struct {
	URL       *url.URL
	Timeout   time.Duration
	TLSConfig *tls.Config
	Logger    *logging.Logger

	client    *client
	writer    *Writer
	cork      *corkConn
	closeOnce sync.Once
}

// Needs asks for access units: RTMP carries them, not RTP.
func (s *Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the server instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Open connects and publishes; a refused publish is reported with the
// server's onStatus code and description.
func (s *Sink) Open(desc *description.Session) error {
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	if err := s.Check(desc); err != nil {
		return err
	}
	app, _, err := SplitURL(s.URL)
	if err != nil {
		return err
	}
	hostPort := mediaurl.HostPort(s.URL)
	_, capp, key := target(s.URL)
	s.Logger.Debugf("> connect app=%q; createStream; publish %q", redactKey(capp), redactKey(key))
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	dialer := &net.Dialer{Timeout: s.Timeout}
	client := &client{
		URL: s.URL, Publish: true, TLSConfig: s.TLSConfig,
		DialContext: func(c context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(c, network, addr)
			if err != nil {
				return nil, err
			}
			_ = nc.SetDeadline(time.Now().Add(s.Timeout))
			s.cork = &corkConn{Conn: netio.Wrap(nc, netio.ReadAhead)}
			return s.cork, nil
		},
		OnSkip: func(err error) {
			s.Logger.Debugf("< skipped a message gortmplib cannot parse (%v)", err)
		},
		OnCommand: func(m *message.CommandAMF0) {
			s.Logger.Debugf("< %s %s", m.Name, redactEcho(describeArgs(m.Arguments), key, capp))
		},
	}
	if err := client.Initialize(ctx); err != nil {
		if isEOF(err) {
			return fault.New(fault.Network, "%s closed the connection before accepting the publish (wrong application %q or stream key?)", hostPort, app)
		}
		var se *statusError
		if errors.As(err, &se) {
			return refusal(se, "publish", hostPort, key, capp)
		}
		return classify(err, hostPort, s.Timeout, ctx.Err() != nil)
	}
	s.client = client
	s.Logger.Debugf("< publish accepted (NetStream.Publish.Start)")
	nc := s.client.NetConn()
	_ = nc.SetDeadline(time.Time{})
	_ = nc.SetWriteDeadline(time.Now().Add(s.Timeout))
	w, skipped, err := NewWriter(s.client, desc)
	if err != nil {
		s.client.Close()
		if _, ok := fault.KindOf(err); ok {
			return err
		}
		return fault.New(fault.Network, "%s closed the connection right after accepting the publish: %v", hostPort, err)
	}
	for _, sk := range skipped {
		s.Logger.Warnf("RTMP cannot carry %s: track skipped", sk)
	}
	s.writer = w
	go s.drain()
	return nil
}

// Check tells, without connecting, whether RTMP can carry the stream.
func (s *Sink) Check(desc *description.Session) error {
	_, _, _, err := TracksFor(desc)
	return err
}

// refusal reports the server's refusal of a publish or play with its
// status code and description (where a key echoed with its credentials is
// redacted); a refusal for authentication is an authentication failure.
func refusal(se *statusError, action, hostPort string, keys ...string) error {
	if se.Cmd != "" {
		action = se.Cmd
	}
	se = &statusError{Code: se.Code, Description: redactEcho(se.Description, keys...)}
	k := fault.Network
	switch {
	case strings.Contains(se.Code, "Unauthorized"), isAuthText(se.Description):
		k = fault.Auth
	case strings.Contains(se.Code, "NotFound"):
		k = fault.NotFound
	}
	return fault.New(k, "server %s refused %s: %s", hostPort, action, se)
}

// isAuthText tells whether a refusal's description is about credentials.
func isAuthText(desc string) bool {
	d := strings.ToLower(desc)
	for _, w := range []string{"authentication", "unauthorized", "auth failed", "bad credentials", "invalid credentials"} {
		if strings.Contains(d, w) {
			return true
		}
	}
	return false
}

// redactEcho hides the credentials of a stream key that a server echoed.
func redactEcho(s string, keys ...string) string {
	for _, key := range keys {
		if _, q, ok := strings.Cut(key, "?"); ok && q != "" {
			_, rq, _ := strings.Cut(redactKey(key), "?")
			s = strings.ReplaceAll(s, q, rq)
		}
	}
	return s
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// drain reads what the server sends (acknowledgements, pings) so that its
// window never fills, and notices when it goes away.
func (s *Sink) drain() {
	for {
		if _, err := s.client.Read(); err != nil {
			return
		}
	}
}

// Write sends one unit.
func (s *Sink) Write(u *media.Unit) error {
	_ = s.client.NetConn().SetWriteDeadline(time.Now().Add(s.Timeout))
	s.cork.cork()
	err := s.writer.WriteUnit(u)
	if cerr := s.cork.uncork(); err == nil {
		err = cerr
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fault.New(fault.Network, "RTMP server %s accepts no data for %s", mediaurl.HostPort(s.URL), s.Timeout)
		}
		return fault.New(fault.Network, "RTMP server %s dropped the connection: %v", mediaurl.HostPort(s.URL), err)
	}
	return nil
}

// Close ends the connection.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		if s.client != nil {
			s.client.Close()
		}
	})
	return nil
}
