// Package server is the path table behind `avcat serve`: one RTSP server
// and one RTMP server sharing paths, with live publishers and files served
// on demand.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/netio"
)

// Credentials protect an action; a nil *Credentials means open access.
type Credentials struct {
	User string
	Pass string
}

// File is a path served from a file, on demand: each reader gets its own
// playback, paced in real time.
type File struct {
	// Name describes the file in logs.
	Name string
	// Open returns a fresh demuxing source for the file.
	Open func() engine.Source
	// Loop restarts the file at its end.
	Loop bool
}

// Config is the server's configuration; zero values get defaults in Start.
type Config struct {
	RTSPAddress string // default ":8554"
	// UDPRTPAddress and UDPRTCPAddress enable RTP over UDP (default :8000, :8001).
	UDPRTPAddress  string
	UDPRTCPAddress string
	// Multicast enables UDP multicast readers (default 224.1.0.0/16, ports 8002/8003).
	MulticastIPRange  string
	MulticastRTPPort  int
	MulticastRTCPPort int
	// RTMPAddress is the RTMP listener; "" disables RTMP.
	RTMPAddress string
	// TLSConfig turns the listeners into RTSPS and RTMPS.
	TLSConfig *tls.Config

	Files map[string]File

	PublishCreds *Credentials
	ReadCreds    *Credentials
	AllowFrom    []*net.IPNet
	// Override lets a new publisher replace the current one.
	Override bool

	ReadTimeout    time.Duration
	WriteQueueSize int
	// MaxConns bounds open RTSP and RTMP connections together, MaxSessions
	// RTSP sessions and RTMP publishers and players together (defaults
	// DefaultMaxConns, DefaultMaxSessions; negative: no bound).
	MaxConns    int
	MaxSessions int
	// SessionTimeout ends an RTSP session that sends no request and, over
	// UDP, no RTCP (default 60 s); the Session header announces it.
	SessionTimeout time.Duration
	Logger         *logging.Logger
	// OnEvent, when set, receives lifecycle events (publish, reader join...).
	OnEvent func(Event)
}

// Event is a lifecycle event, for --stats-json.
type Event struct {
	Type string `json:"-"` // the event's name

	Path     string `json:"path"`
	Protocol string `json:"protocol,omitempty"`
	Remote   string `json:"remote,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Count is set on "refused" events: refusals since the previous one.
	Count int `json:"count,omitempty"`
}

// Server is a running RTSP + RTMP server.
type Server struct {
	Config

	rtsp      *gortsplib.Server
	rtspLn    net.Listener
	rtmpLn    net.Listener
	handler   *rtspHandler
	ctx       context.Context
	ctxCancel func()
	wg        sync.WaitGroup

	// ready opens the listeners once the file paths are prepared.
	ready chan struct{}
	idle  *idleConns

	conns, sessions slots
	refused         refusals

	mu    sync.Mutex
	paths map[string]*path
	// templates describe file paths, for DESCRIBE.
	templates map[string]*fileTemplate
	started   time.Time
}

// path is one entry of the table.
type path struct {
	name      string
	stream    *stream
	publisher any // *gortsplib.ServerSession or *rtmpConn
	protocol  string
	since     time.Time
	readers   int
}

// Start opens the listeners.
func (s *Server) Start() error {
	if s.RTSPAddress == "" {
		s.RTSPAddress = ":8554"
	}
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = 10 * time.Second
	}
	if s.WriteQueueSize <= 0 {
		s.WriteQueueSize = 512
	}
	if s.Logger == nil {
		s.Logger = &logging.Logger{}
	}
	if s.MaxConns == 0 {
		s.MaxConns = DefaultMaxConns
	}
	if s.MaxSessions == 0 {
		s.MaxSessions = DefaultMaxSessions
	}
	if s.SessionTimeout <= 0 {
		s.SessionTimeout = DefaultSessionTimeout
	}
	s.conns.max, s.sessions.max = int64(s.MaxConns), int64(s.MaxSessions)
	s.refused.s = s
	s.ctx, s.ctxCancel = context.WithCancel(context.Background())
	s.paths = make(map[string]*path)
	s.templates = make(map[string]*fileTemplate)
	s.started = time.Now()
	s.ready = make(chan struct{})
	s.idle = &idleConns{timeout: s.ReadTimeout, conns: make(map[string]*idleConn), batch: newFrameBatcher()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.idle.batch.run(s.ctx.Done())
	}()

	s.handler = &rtspHandler{s: s}
	s.rtsp = &gortsplib.Server{
		Handler:           s.handler,
		RTSPAddress:       s.RTSPAddress,
		UDPRTPAddress:     s.UDPRTPAddress,
		UDPRTCPAddress:    s.UDPRTCPAddress,
		MulticastIPRange:  s.MulticastIPRange,
		MulticastRTPPort:  s.MulticastRTPPort,
		MulticastRTCPPort: s.MulticastRTCPPort,
		TLSConfig:         s.TLSConfig,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.ReadTimeout,
		IdleTimeout:       s.SessionTimeout,
		WriteQueueSize:    s.WriteQueueSize,
		// Clients such as ffmpeg 5.1 keep only the last Digest challenge and
		// cannot answer SHA-256: offer it before MD5.
		AuthMethods: []auth.VerifyMethod{auth.VerifyMethodBasic, auth.VerifyMethodDigestSHA256, auth.VerifyMethodDigestMD5},
		Listen: func(network, address string) (net.Listener, error) {
			return s.listenRTSP(network, address, nil)
		},
		// TLS under the listener's wrapper, so it sees RTSP, not records.
		TLSListen: s.listenRTSP,
	}
	if err := s.rtsp.Start(); err != nil {
		return fmt.Errorf("RTSP listener on %s: %w", s.RTSPAddress, err)
	}

	for name, f := range s.Files {
		t, err := newFileTemplate(s.rtsp, f)
		if err != nil {
			s.rtsp.Close()
			return fmt.Errorf("--file %s=%s: %w", name, f.Name, err)
		}
		s.templates[normPath(name)] = t
	}

	if s.RTMPAddress != "" {
		ln, err := net.Listen("tcp", s.RTMPAddress)
		if err != nil {
			s.closeTemplates()
			s.rtsp.Close()
			return fmt.Errorf("RTMP listener on %s: %w", s.RTMPAddress, err)
		}
		if s.TLSConfig != nil {
			ln = tls.NewListener(ln, s.TLSConfig)
		}
		s.rtmpLn = &allowListener{Listener: ln, allow: s.allowed, ready: s.ready, admit: s.admitConn, protocol: "rtmp"}
		s.wg.Add(1)
		go s.acceptRTMP()
	}
	close(s.ready)
	return nil
}

func (s *Server) listenRTSP(network, address string, conf *tls.Config) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	s.rtspLn = ln
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	return &allowListener{Listener: ln, allow: s.allowed, ready: s.ready, idle: s.idle, admit: s.admitConn, protocol: "rtsp"}, nil
}

// RTSPAddr is the bound RTSP address (useful with port 0).
func (s *Server) RTSPAddr() net.Addr {
	if s.rtspLn == nil {
		return nil
	}
	return s.rtspLn.Addr()
}

// RTMPAddr is the bound RTMP address, or nil.
func (s *Server) RTMPAddr() net.Addr {
	if s.rtmpLn == nil {
		return nil
	}
	return s.rtmpLn.Addr()
}

// Close stops accepting, tears down every session and waits.
func (s *Server) Close() {
	s.ctxCancel()
	if s.rtmpLn != nil {
		s.rtmpLn.Close()
	}
	s.rtsp.Close()
	s.wg.Wait()
	s.refused.flush()
	s.mu.Lock()
	for _, p := range s.paths {
		if p.stream != nil {
			p.stream.close()
		}
	}
	s.paths = map[string]*path{}
	s.mu.Unlock()
	s.closeTemplates()
}

func (s *Server) closeTemplates() {
	for _, t := range s.templates {
		t.close()
	}
}

func (s *Server) emit(ev Event) {
	if s.OnEvent != nil {
		s.OnEvent(ev)
	}
}

func (s *Server) allowed(addr net.Addr) bool {
	if len(s.AllowFrom) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range s.AllowFrom {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func normPath(p string) string {
	return strings.Trim(p, "/")
}

var (
	errPathBusy    = errors.New("path busy")
	errNotFound    = errors.New("no stream on this path")
	errFilePath    = errors.New("path serves a file")
	errNoPublisher = errors.New("not the publisher")
)

// publish reserves a path for a publisher.
func (s *Server) publish(name string, pub any, protocol string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.templates[name]; ok {
		return errFilePath
	}
	if p, ok := s.paths[name]; ok {
		if !s.Override {
			return errPathBusy
		}
		s.unpublishLocked(p, "replaced by a new publisher")
		closePublisher(p.publisher)
	}
	s.paths[name] = &path{name: name, publisher: pub, protocol: protocol, since: time.Now()}
	s.emit(Event{Type: "publish_reserve", Path: name, Protocol: protocol})
	return nil
}

// startStream attaches the publisher's stream once its tracks are known.
func (s *Server) startStream(name string, pub any, st *stream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.paths[name]
	if !ok || p.publisher != pub {
		return errNoPublisher
	}
	p.stream = st
	s.emit(Event{Type: "publish_start", Path: name, Protocol: p.protocol})
	s.Logger.Infof("publish %s (%s, %s)", name, p.protocol, describeTracks(st))
	return nil
}

// unpublish removes a publisher; readers get a clean end.
func (s *Server) unpublish(name string, pub any, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.paths[name]
	if !ok || p.publisher != pub {
		return
	}
	s.unpublishLocked(p, reason)
}

func (s *Server) unpublishLocked(p *path, reason string) {
	delete(s.paths, p.name)
	if p.stream != nil {
		p.stream.close()
	}
	s.emit(Event{Type: "publish_stop", Path: p.name, Protocol: p.protocol, Reason: reason})
	s.Logger.Infof("unpublish %s (%s)", p.name, reason)
}

// liveStream returns the stream of a live path.
func (s *Server) liveStream(name string) (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.paths[name]
	if !ok || p.stream == nil {
		return nil, errNotFound
	}
	return p.stream, nil
}

func (s *Server) readerJoined(name, protocol, remote string) {
	s.mu.Lock()
	if p, ok := s.paths[name]; ok {
		p.readers++
	}
	s.mu.Unlock()
	s.emit(Event{Type: "reader_join", Path: name, Protocol: protocol, Remote: remote})
}

func (s *Server) readerLeft(name, protocol, remote string) {
	s.mu.Lock()
	if p, ok := s.paths[name]; ok && p.readers > 0 {
		p.readers--
	}
	s.mu.Unlock()
	s.emit(Event{Type: "reader_leave", Path: name, Protocol: protocol, Remote: remote})
}

// PathStats is one row of the table, for status lines and SIGUSR1.
type PathStats struct {
	Path      string        `json:"path"`
	Kind      string        `json:"kind"` // live or file
	Protocol  string        `json:"protocol,omitempty"`
	Tracks    string        `json:"tracks,omitempty"`
	Readers   int           `json:"readers"`
	BytesIn   uint64        `json:"bytes_in"`
	Dropped   uint64        `json:"dropped"`
	Uptime    time.Duration `json:"-"`
	UptimeSec float64       `json:"uptime_seconds"`
}

// Stats snapshots the path table, sorted by path.
func (s *Server) Stats() []PathStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PathStats
	for _, p := range s.paths {
		ps := PathStats{Path: p.name, Kind: "live", Protocol: p.protocol, Readers: p.readers, Uptime: time.Since(p.since)}
		if p.stream != nil {
			ps.Tracks = describeTracks(p.stream)
			ps.BytesIn = p.stream.bytesIn.Load()
			ps.Dropped = p.stream.dropped()
		}
		ps.UptimeSec = ps.Uptime.Seconds()
		out = append(out, ps)
	}
	for name, t := range s.templates {
		out = append(out, PathStats{Path: name, Kind: "file", Tracks: describeTracks(t.stream), Readers: int(t.readers.Load())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func describeTracks(st *stream) string {
	if st == nil {
		return ""
	}
	var parts []string
	for _, m := range st.desc.Medias {
		for _, f := range m.Formats {
			parts = append(parts, f.Codec())
		}
	}
	return strings.Join(parts, "+")
}

// allowListener hands out connections once the server is ready, drops
// those from addresses outside --allow-from and those beyond --max-conns,
// and (for RTSP) bounds how long a connection may stay silent before it
// streams.
type allowListener struct {
	net.Listener
	allow    func(net.Addr) bool
	ready    <-chan struct{}
	idle     *idleConns
	admit    func(net.Conn, string) (net.Conn, bool)
	protocol string
}

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c = netio.Wrap(c, 0)
		<-l.ready
		if !l.allow(c.RemoteAddr()) {
			c.Close()
			continue
		}
		if l.admit != nil {
			lc, ok := l.admit(c, l.protocol)
			if !ok {
				c.Close()
				continue
			}
			c = lc
		}
		if l.idle != nil {
			return l.idle.wrap(c), nil
		}
		return c, nil
	}
}

// idleConns tracks RTSP connections: until a connection plays or records,
// each of its reads must complete within timeout, so a client that connects
// and sends nothing is dropped (gortsplib bounds reads only of publishing
// sessions); and at any time, a message (request or interleaved frame)
// must complete within timeout of its first byte (see framer), so a client
// that trickles a request is dropped too.
type idleConns struct {
	timeout time.Duration
	batch   *frameBatcher
	mu      sync.Mutex
	conns   map[string]*idleConn
}

func (ic *idleConns) wrap(c net.Conn) net.Conn {
	w := &idleConn{Conn: c, timeout: ic.timeout, batch: ic.batch, raw: rawConnOf(c)}
	w.onClose = func() {
		ic.mu.Lock()
		delete(ic.conns, c.RemoteAddr().String())
		ic.mu.Unlock()
	}
	ic.mu.Lock()
	ic.conns[c.RemoteAddr().String()] = w
	ic.mu.Unlock()
	return w
}

// streaming lifts the idle limit for a connection that now plays or
// records: its control channel may stay quiet for long.
func (ic *idleConns) streaming(remote string) {
	ic.mu.Lock()
	w := ic.conns[remote]
	ic.mu.Unlock()
	if w != nil {
		w.mu.Lock()
		w.streaming = true
		lib := w.lib
		w.mu.Unlock()
		w.coalesce.Store(w.raw != nil)
		// A read already waiting holds the idle deadline set before PLAY
		// or RECORD: give it gortsplib's own.
		_ = w.Conn.SetReadDeadline(lib)
	}
}

type idleConn struct {
	net.Conn
	timeout   time.Duration
	onClose   func()
	closeOnce sync.Once

	mu        sync.Mutex
	streaming bool
	lib       time.Time     // the deadline gortsplib asked for
	msg       framer        // only the reading goroutine touches it
	msgLeft   time.Duration // of the timeout, for the message under way
	read      int           // bytes read so far

	wmu   sync.Mutex
	armed time.Time // the write deadline set on the socket

	// Interleaved frames wait here for the batcher, once streaming.
	coalesce atomic.Bool
	raw      netio.TryWriter // nil (TLS): no coalescing
	batch    *frameBatcher
	flushMu  sync.Mutex // held while writing to the socket
	bmu      sync.Mutex
	pend     []byte
	spare    []byte // under flushMu
	queued   bool   // in the batcher's list
	stuck    bool   // the socket was full: the writer flushes, waiting
	werr     error
}

func (c *idleConn) Read(p []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	dl := c.lib
	if !c.streaming {
		dl = now.Add(c.timeout)
	}
	c.mu.Unlock()
	busy := c.msg.busy()
	if busy {
		if end := now.Add(max(c.msgLeft, 0)); dl.IsZero() || end.Before(dl) {
			dl = end
		}
	}
	_ = c.Conn.SetReadDeadline(dl)
	n, err := c.Conn.Read(p)
	if c.read == 0 && bytes.HasPrefix(p[:n], []byte("POST")) {
		// gortsplib v5.6.4 answers a tunnel's GET before it registers it,
		// and refuses a POST that comes in between (about 2% of tunnels on
		// loopback): give the GET's registration a head start.
		time.Sleep(tunnelPostDelay)
	}
	c.read += n
	if busy {
		// Only time spent waiting for the client counts: not the time the
		// server takes to answer a request read with this one's start.
		c.msgLeft -= time.Since(now)
	}
	if n > 0 {
		starts := c.msg.starts
		if ferr := c.msg.feed(p[:n]); ferr != nil {
			return 0, ferr
		}
		if c.msg.starts != starts {
			c.msgLeft = c.timeout // a message started in this read
		}
	}
	return n, err
}

// tunnelPostDelay holds the POST half of an HTTP tunnel before gortsplib
// reads it.
const tunnelPostDelay = 100 * time.Millisecond

// SetReadDeadline records gortsplib's deadline; Read applies it, bounded
// by the idle and message limits.
func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.lib = t
	c.mu.Unlock()
	return nil
}

// SetDeadline splits into the read and write deadlines.
func (c *idleConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetWriteDeadline: gortsplib sets one before each packet it writes to a
// reader, and moving a socket's deadline updates a runtime timer (about 7%
// of serve's CPU with 500 readers). A deadline up to slack before the one
// armed keeps it; a later one is armed slack late. A blocked write thus
// fails no earlier than asked, and at most slack later.
func (c *idleConn) SetWriteDeadline(t time.Time) error {
	slack := c.timeout / 8
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case t.IsZero() || c.armed.IsZero() || t.After(c.armed):
		if !t.IsZero() {
			t = t.Add(slack)
		}
	case c.armed.Sub(t) <= slack:
		return nil
	}
	c.armed = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *idleConn) Close() error {
	c.closeOnce.Do(c.onClose)
	return c.Conn.Close()
}

// Coalescing of interleaved frames. gortsplib v5.6.4 writes each RTP
// packet to a TCP reader with its own write call, from the reader's
// queue, and has no hook to write a batch. Once a connection streams, its
// '$' frames are kept, and one goroutine for the server writes each
// connection's frames with one non-blocking write every writeLinger: one
// wake-up for all readers instead of a syscall per packet and reader.
// When the socket does not take a round whole (a slow reader), the
// reader's own writer flushes from then on, waiting for the socket, as
// without coalescing. A reader holds at most maxPending (and as much
// again, reused): 16 KiB keeps 1000 readers at +27 MB of peak RSS where
// 64 KiB cost +59 MB (a keyframe burst fills every reader's buffer), with
// the same CPU (make bench-serve).
const (
	writeLinger = time.Millisecond
	maxPending  = 16 << 10
)

func rawConnOf(c net.Conn) netio.TryWriter {
	if lc, ok := c.(*limitConn); ok {
		c = lc.Conn
	}
	return netio.TryWriterOf(c)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if !c.coalesce.Load() {
		return c.Conn.Write(p)
	}
	if len(p) == 0 || p[0] != '$' { // a response: after the frames before it
		c.flushMu.Lock()
		defer c.flushMu.Unlock()
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	c.bmu.Lock()
	if err := c.werr; err != nil {
		c.bmu.Unlock()
		return 0, err
	}
	c.pend = append(c.pend, p...)
	full := len(c.pend) >= maxPending || c.stuck
	queue := !full && !c.queued
	c.queued = c.queued || queue
	c.bmu.Unlock()
	if queue {
		c.batch.add(c)
	}
	if full { // wait for the socket, as without coalescing
		c.flushMu.Lock()
		defer c.flushMu.Unlock()
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flushLocked writes what is pending, waiting for the socket; the caller
// holds flushMu.
func (c *idleConn) flushLocked() error {
	c.bmu.Lock()
	buf, err := c.pend, c.werr
	if len(buf) == 0 || err != nil {
		c.bmu.Unlock()
		return err
	}
	c.pend = c.spare[:0]
	c.bmu.Unlock()
	_, err = c.Conn.Write(buf)
	c.spare = buf[:0]
	if err != nil {
		c.fail(err)
		return err
	}
	c.bmu.Lock()
	c.stuck = false
	c.bmu.Unlock()
	return nil
}

func (c *idleConn) fail(err error) {
	c.bmu.Lock()
	if c.werr == nil {
		c.werr = err
	}
	c.pend = nil
	c.bmu.Unlock()
}

// flushNow writes what is pending without waiting for the socket. It
// reports whether more came meanwhile, for the next round.
func (c *idleConn) flushNow() (again bool) {
	if !c.flushMu.TryLock() {
		return true // the writer is flushing (and may wait): next round
	}
	defer c.flushMu.Unlock()
	c.bmu.Lock()
	buf := c.pend
	if len(buf) == 0 || c.werr != nil {
		c.queued = false
		c.bmu.Unlock()
		return false
	}
	c.pend = c.spare[:0]
	c.bmu.Unlock()

	n, err := c.raw.TryWrite(buf)
	if err != nil {
		c.fail(err)
		return false
	}
	n = max(n, 0)
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if n == len(buf) {
		c.spare = buf[:0]
		c.queued = len(c.pend) > 0
		return c.queued
	}
	// The socket is full: keep the rest before what came since, for the
	// writer's next flush.
	c.pend = append(buf[n:len(buf):len(buf)], c.pend...)
	c.spare = nil
	c.stuck, c.queued = true, false
	return false
}

// frameBatcher writes the pending frames of streaming connections.
type frameBatcher struct {
	mu    sync.Mutex
	conns []*idleConn
	wake  chan struct{}
}

func newFrameBatcher() *frameBatcher { return &frameBatcher{wake: make(chan struct{}, 1)} }

func (b *frameBatcher) add(c *idleConn) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	first := len(b.conns) == 1
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

func (b *frameBatcher) run(done <-chan struct{}) {
	var round, again []*idleConn
	for {
		select {
		case <-b.wake:
		case <-done:
			return
		}
		time.Sleep(writeLinger)
		b.mu.Lock()
		round, b.conns = b.conns, round[:0]
		b.mu.Unlock()
		again = again[:0]
		for _, c := range round {
			if c.flushNow() {
				again = append(again, c)
			}
		}
		clear(round)
		if len(again) > 0 {
			b.mu.Lock()
			b.conns = append(b.conns, again...)
			b.mu.Unlock()
			clear(again)
			select {
			case b.wake <- struct{}{}:
			default:
			}
		}
	}
}
