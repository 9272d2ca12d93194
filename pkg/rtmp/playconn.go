package rtmp

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// PlayConn is an RTMP play connection that hands every message to the
// caller unparsed by a Reader, for `avcat check` to judge what the server
// sends and in which order.
type PlayConn struct {
	c *client
	// Commands are the commands the server sent during setup, in order
	// ("_result", "onStatus NetStream.Play.Start" ...).
	Commands []string
	// Plain is set when the server ignored the enhanced-RTMP connect and
	// it was sent again without the fourCcList.
	Plain bool
	// FourCCs are the enhanced-RTMP codecs the connect's _result lists
	// (fourCcList), nil when it lists none.
	FourCCs []string
}

// DialPlay connects to u and plays its stream; timeout bounds the setup.
func DialPlay(ctx context.Context, u *url.URL, timeout time.Duration, tlsConfig *tls.Config) (*PlayConn, error) {
	p := &PlayConn{}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dialer := &net.Dialer{Timeout: timeout}
	p.c = &client{
		URL:       u,
		TLSConfig: tlsConfig,
		DialContext: func(c context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(c, network, addr)
			if err == nil {
				_ = nc.SetDeadline(time.Now().Add(timeout))
			}
			return nc, err
		},
		AnswerWait: timeout / 2,
		OnCommand: func(m *message.CommandAMF0) {
			name := m.Name
			if code := statusCode(m); code != "" {
				name += " " + code
			}
			p.Commands = append(p.Commands, name)
			if m.Name == "_result" && m.CommandID == 1 {
				p.FourCCs = fourCCs(m)
			}
		},
		OnPlainRetry: func() { p.Plain = true },
	}
	if err := p.c.Initialize(dctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, classify(err, u.Host, timeout, dctx.Err() != nil)
	}
	_ = p.c.NetConn().SetDeadline(time.Time{})
	return p, nil
}

// Read returns the next message.
func (p *PlayConn) Read() (message.Message, error) { return p.c.Read() }

// SetReadDeadline bounds the next reads.
func (p *PlayConn) SetReadDeadline(t time.Time) error { return p.c.NetConn().SetReadDeadline(t) }

// Close closes the connection.
func (p *PlayConn) Close() { p.c.Close() }

func fourCCs(m *message.CommandAMF0) []string {
	var out []string
	for _, a := range m.Arguments {
		o, ok := objectOrArray(a)
		if !ok {
			continue
		}
		v, _ := o.Get("fourCcList")
		if list, ok := v.(amf0.StrictArray); ok {
			for _, x := range list {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
