package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/mediaurl"
)

// Source plays an RTMP URL: handshake, connect, createStream, play.
type Source struct {
	URL       *url.URL
	Timeout   time.Duration
	TLSConfig *tls.Config
	Logger    *logging.Logger
	// ReadBatch gathers the reads once the stream plays (see
	// netio.Conn.SetReadBatch); 0 reads as data comes.
	ReadBatch time.Duration

	client   *client
	conn     *watchConn
	reader   *Reader
	desc     *description.Session
	closeMu  sync.Mutex
	closed   bool
	metaMu   sync.Mutex
	metadata map[string]any
}

// Metadata is the onMetaData object the server sent, if any.
func (s *Source) Metadata() map[string]any {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	return s.metadata
}

// Open connects and plays until the tracks are known.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	app, _, err := SplitURL(s.URL)
	if err != nil {
		return nil, err
	}
	hostPort := mediaurl.HostPort(s.URL)
	tcURL, capp, key := target(s.URL)
	s.Logger.Debugf("> connect app=%q tcUrl=%q", redactKey(capp), redactKey(tcURL))
	s.Logger.Debugf("> createStream; play %q", redactKey(key))

	dctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	dialer := &net.Dialer{Timeout: s.Timeout}
	client := &client{
		URL:       s.URL,
		TLSConfig: s.TLSConfig,
		DialContext: func(c context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(c, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshake and connect have no deadlines of their own.
			_ = nc.SetDeadline(time.Now().Add(s.Timeout))
			return nc, nil
		},
		// Half the timeout for an answer to the enhanced-RTMP connect, the
		// rest for the retry without it.
		AnswerWait: s.Timeout / 2,
		OnSkip: func(err error) {
			s.Logger.Debugf("< skipped a message gortmplib cannot parse (%v)", err)
		},
		OnCommand: func(m *message.CommandAMF0) {
			s.Logger.Debugf("< %s %s", m.Name, redactEcho(describeArgs(m.Arguments), key, capp))
		},
		OnPlainRetry: func() {
			s.Logger.Debugf("no answer to connect within %s: retrying without the enhanced-RTMP fields (fourCcList)", s.Timeout/2)
		},
	}
	if err := client.Initialize(dctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if isEOF(err) {
			return nil, fault.New(fault.Network, "%s closed the connection before accepting the play (wrong application %q or stream key?)", hostPort, app)
		}
		var se *statusError
		if errors.As(err, &se) {
			return nil, refusal(se, "play", hostPort, key, capp)
		}
		return nil, classify(err, hostPort, s.Timeout, dctx.Err() != nil)
	}
	s.client = client
	s.Logger.Debugf("< play accepted (NetStream.Play.Start)")
	nc := s.client.NetConn()
	_ = nc.SetDeadline(time.Time{})

	stop := context.AfterFunc(ctx, s.client.Close)
	defer stop()

	s.conn = &watchConn{Conn: s.client, onData: s.onData, logger: s.Logger, keys: []string{key, capp}}
	_ = nc.SetReadDeadline(time.Now().Add(s.Timeout))
	rd, err := NewReader(s.conn, s.Logger)
	if err != nil {
		s.client.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fault.New(fault.Network, "no media from %s within %s: is anything publishing to %q?", hostPort, s.Timeout, strings.TrimSuffix(app+"/"+redactKey(key), "/"))
		}
		return nil, classify(err, hostPort, s.Timeout, false)
	}
	_ = nc.SetReadDeadline(time.Time{})

	for _, sk := range rd.Skipped() {
		s.Logger.Warnf("skipping RTMP track with unsupported codec %s", sk)
	}
	desc := rd.Description()
	if len(desc.Medias) == 0 {
		s.client.Close()
		return nil, fault.New(fault.Unsupported, "no supported tracks in %s", mediaurl.RedactURL(s.URL))
	}
	s.reader, s.desc = rd, desc
	return desc, nil
}

func (s *Source) onData(d amf0.Data) {
	m := metadataOf(d)
	if m == nil {
		return
	}
	s.metaMu.Lock()
	s.metadata = m
	s.metaMu.Unlock()
	s.Logger.Debugf("< onMetaData %v", m)
}

func amfToMap(v any) map[string]any {
	var entries []amf0.ObjectEntry
	switch o := v.(type) {
	case amf0.Object:
		entries = o
	case amf0.ECMAArray:
		entries = o
	default:
		return nil
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		switch val := e.Value.(type) {
		case string:
			// nginx-rtmp pads unset strings with NUL bytes.
			if v := strings.TrimRight(val, "\x00"); v != "" {
				out[e.Key] = v
			}
		case float64, bool:
			out[e.Key] = val
		case amf0.Object, amf0.ECMAArray:
			out[e.Key] = amfToMap(val)
		}
	}
	return out
}

func redactKey(key string) string {
	k, q, ok := strings.Cut(key, "?")
	if !ok {
		return k
	}
	u := &url.URL{Scheme: "rtmp", Host: "h", RawQuery: q}
	r := mediaurl.RedactURL(u)
	_, rq, _ := strings.Cut(r, "?")
	return k + "?" + rq
}

func durToClock(d time.Duration, clockRate int) int64 {
	return d.Microseconds() * int64(clockRate) / 1e6
}

// Run delivers access units until the server ends the stream, ctx is done,
// or nothing arrives for the timeout.
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.reader == nil {
		return errors.New("rtmp source not open")
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()

	s.reader.OnUnit(emit)

	nc := s.client.NetConn()
	if b, ok := nc.(interface{ SetReadBatch(time.Duration) }); ok && s.ReadBatch > 0 {
		b.SetReadBatch(s.ReadBatch)
	}
	hostPort := mediaurl.HostPort(s.URL)
	for {
		_ = nc.SetReadDeadline(time.Now().Add(s.Timeout))
		if err := s.reader.Read(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if why := s.conn.ended(); why != "" {
				s.Logger.Infof("stream ended: the server sent %s", why)
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fault.New(fault.Network, "no data from %s for %s", hostPort, s.Timeout)
			}
			// Media flowed (Open waits for it): a server that closes the
			// connection now has ended the stream, as with RTSP.
			if isEOF(err) || errors.Is(err, net.ErrClosed) {
				s.Logger.Infof("stream ended: %s closed the connection", hostPort)
				return nil
			}
			return classify(err, hostPort, s.Timeout, false)
		}
		if why := s.conn.ended(); why != "" {
			s.Logger.Infof("stream ended: the server sent %s", why)
			return nil
		}
	}
}

// Close closes the connection.
func (s *Source) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.client != nil && !s.closed {
		s.closed = true
		s.client.Close()
	}
	return nil
}

// watchConn sees every message before gortmplib's reader does: it keeps
// onMetaData, traces commands and notices the end of the stream.
type watchConn struct {
	gortmplib.Conn
	onData func(amf0.Data)
	logger *logging.Logger
	// keys are hidden where the server echoes them with their credentials.
	keys []string

	mu  sync.Mutex
	eof string // the message that ended the stream
}

// ended names the message that ended the stream, or "".
func (c *watchConn) ended() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eof
}

func (c *watchConn) Read() (message.Message, error) {
	msg, err := c.Conn.Read()
	if err != nil {
		return nil, err
	}
	switch m := msg.(type) {
	case *message.DataAMF0:
		c.onData(m.Payload)
	case *message.CommandAMF0:
		c.logger.Debugf("< %s %s", m.Name, redactEcho(describeArgs(m.Arguments), c.keys...))
		if m.Name == "onStatus" && statusCode(m) == "NetStream.Play.Stop" {
			c.mu.Lock()
			c.eof = "NetStream.Play.Stop"
			c.mu.Unlock()
		}
	case *message.UserControlStreamEOF:
		c.logger.Debugf("< StreamEOF")
		c.mu.Lock()
		if c.eof == "" {
			c.eof = "StreamEOF"
		}
		c.mu.Unlock()
	}
	return msg, nil
}

func statusCode(m *message.CommandAMF0) string {
	for _, a := range m.Arguments {
		if o, ok := a.(amf0.Object); ok {
			if code, ok := o.GetString("code"); ok {
				return code
			}
		}
	}
	return ""
}

func describeArgs(args []any) string {
	var parts []string
	for _, a := range args {
		switch v := a.(type) {
		case amf0.Object:
			m := amfToMap(v)
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, fmt.Sprintf("%s=%v", k, m[k]))
			}
			parts = append(parts, "{"+strings.Join(kv, " ")+"}")
		case nil:
		default:
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, " ")
}

// classify turns gortmplib errors into faults with one-line messages.
func classify(err error, hostPort string, timeout time.Duration, timedOut bool) error {
	if _, ok := fault.KindOf(err); ok {
		return err
	}
	if gf, ok := guardFault(err, hostPort); ok {
		return gf
	}
	msg := err.Error()
	var ne net.Error
	switch {
	case timedOut, errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fault.New(fault.Network, "no RTMP answer from %s within %s", hostPort, timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fault.New(fault.Network, "cannot connect to %s: connection refused", hostPort)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fault.New(fault.Network, "%s reset the connection", hostPort)
	case strings.Contains(msg, "credentials are required"), strings.Contains(msg, "authentication error"):
		return fault.New(fault.Auth, "RTMP authentication failed at %s: %s", hostPort, msg)
	case strings.Contains(msg, "StreamNotFound"), strings.Contains(msg, "NotFound"):
		return fault.New(fault.NotFound, "stream not found at %s: %s", hostPort, statusFromMsg(msg))
	case strings.Contains(msg, "bad result"):
		return fault.New(fault.Network, "server %s refused: %s", hostPort, statusFromMsg(msg))
	case strings.Contains(msg, "invalid rtmp version (72)"):
		return fault.New(fault.Network, "%s is not an RTMP server: it answered HTTP", hostPort)
	case strings.Contains(msg, "invalid rtmp version (82)"):
		return fault.New(fault.Network, "%s is not an RTMP server: it answered RTSP", hostPort)
	case strings.Contains(msg, "handshake"), strings.Contains(msg, "invalid"), strings.Contains(msg, "unsupported"):
		return fault.New(fault.Network, "%s is not an RTMP server (%s)", hostPort, msg)
	case errors.Is(err, net.ErrClosed), strings.Contains(msg, "EOF"):
		return fault.New(fault.Network, "%s closed the connection", hostPort)
	}
	return fault.Wrap(fault.Network, fmt.Errorf("%s: %w", hostPort, err))
}

func statusFromMsg(msg string) string {
	if i := strings.Index(msg, "NetStream."); i >= 0 {
		rest := msg[i:]
		if j := strings.IndexAny(rest, "} "); j > 0 {
			return rest[:j]
		}
		return rest
	}
	if i := strings.Index(msg, "NetConnection."); i >= 0 {
		rest := msg[i:]
		if j := strings.IndexAny(rest, "} "); j > 0 {
			return rest[:j]
		}
		return rest
	}
	return msg
}
