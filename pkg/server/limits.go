package server

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
)

// Defaults of the limits (docs/limits.md).
const (
	DefaultMaxConns       = 1024
	DefaultMaxSessions    = 256
	DefaultSessionTimeout = 60 * time.Second
	// MaxTracks bounds the media of an announced SDP, and the formats of
	// each: every reader is handed that SDP.
	MaxTracks = 16
)

// Refusal reasons, in "refused" events.
const (
	ReasonMaxConns    = "max-conns"
	ReasonMaxSessions = "max-sessions"
)

// slots is a bounded count; max < 0 means no bound.
type slots struct {
	max int64
	n   atomic.Int64
}

func (c *slots) acquire() bool {
	if c.n.Add(1) > c.max && c.max >= 0 {
		c.n.Add(-1)
		return false
	}
	return true
}

func (c *slots) release() { c.n.Add(-1) }

// refusals reports refused connections and sessions: a warning and a
// "refused" event, each at most once a second per reason, with the count
// of refusals since the previous one.
type refusals struct {
	s       *Server
	mu      sync.Mutex
	last    map[string]time.Time
	pending map[string]int
}

func (r *refusals) add(reason, protocol, remote string) {
	r.mu.Lock()
	if r.last == nil {
		r.last, r.pending = map[string]time.Time{}, map[string]int{}
	}
	r.pending[reason]++
	now := time.Now()
	if now.Sub(r.last[reason]) < time.Second {
		r.mu.Unlock()
		return
	}
	n := r.pending[reason]
	r.pending[reason] = 0
	r.last[reason] = now
	r.mu.Unlock()
	r.s.Logger.Warnf("%s: refused %s client %s (%d since the last report)", reason, protocol, remote, n)
	r.s.emit(Event{Type: "refused", Protocol: protocol, Remote: remote, Reason: reason, Count: n})
}

// flush reports what add held back, at Close.
func (r *refusals) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for reason, n := range r.pending {
		if n > 0 {
			r.s.emit(Event{Type: "refused", Reason: reason, Count: n})
		}
	}
	r.pending = map[string]int{}
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// admitConn takes a connection slot, or refuses c.
func (s *Server) admitConn(c net.Conn, protocol string) (net.Conn, bool) {
	if !s.conns.acquire() {
		s.refused.add(ReasonMaxConns, protocol, c.RemoteAddr().String())
		return nil, false
	}
	return &limitConn{Conn: c, release: s.conns.release}, true
}

// admitSession takes a session slot.
func (s *Server) admitSession(protocol, remote string) bool {
	if s.sessions.acquire() {
		return true
	}
	s.refused.add(ReasonMaxSessions, protocol, remote)
	return false
}

func notEnoughBandwidth(max int64) *base.Response {
	return status(base.StatusNotEnoughBandwidth, fmt.Sprintf("Not Enough Bandwidth (server full: %d sessions)", max))
}

// checkTransport refuses what gortsplib v5.6.4 accepts and then misuses:
// interleaved channels above 255 (it wraps them into a byte) and UDP ports
// above 65535.
func checkTransport(req *base.Request) *base.Response {
	var ths headers.Transports
	if err := ths.Unmarshal(req.Header["Transport"]); err != nil {
		return nil // gortsplib answers 400
	}
	for _, th := range ths {
		if ids := th.InterleavedIDs; ids != nil {
			for _, id := range ids {
				if id < 0 || id > 255 {
					return status(base.StatusUnsupportedTransport, fmt.Sprintf("Unsupported Transport (interleaved channel %d is not 0-255)", id))
				}
			}
		}
		for _, ports := range []*[2]int{th.ClientPorts, th.ServerPorts, th.Ports} {
			if ports == nil {
				continue
			}
			for _, p := range ports {
				if p < 0 || p > 65535 {
					return status(base.StatusUnsupportedTransport, fmt.Sprintf("Unsupported Transport (port %d is not 0-65535)", p))
				}
			}
		}
	}
	return nil
}

// checkTracks bounds an announced SDP.
func checkTracks(desc *description.Session) error {
	if desc == nil {
		return nil
	}
	if n := len(desc.Medias); n > MaxTracks {
		return fmt.Errorf("SDP has %d tracks, the limit is %d", n, MaxTracks)
	}
	for i, m := range desc.Medias {
		if n := len(m.Formats); n > MaxTracks {
			return fmt.Errorf("SDP track %d has %d formats, the limit is %d", i+1, n, MaxTracks)
		}
	}
	return nil
}

// sessionAuth remembers, per session id, the credentials the session was
// created under, so a request that names the session from another
// connection must pass the same check. gortsplib v5.6.4 hands such a
// request to the session with no check at all (TEARDOWN without even a
// handler callback).
type sessionAuth struct {
	ids       sync.Map // session id → *sessionKey
	bySession sync.Map // *gortsplib.ServerSession → its id
}

type sessionKey struct {
	creds *Credentials
}

func sessionID(h base.HeaderValue) string {
	var sh headers.Session
	if sh.Unmarshal(h) != nil {
		return ""
	}
	return sh.Session
}

// deniedMark tags a request OnRequest refused: it is answered 401 by
// OnGetParameter.
const deniedMark = "X-Avcat-Denied"

// guardSession runs in OnRequest. A request that names a session its
// connection is not bound to must carry the credentials that session was
// created under; if not, it is turned into a session-less GET_PARAMETER
// that OnGetParameter answers 401: OnRequest cannot answer by itself,
// and only a handler's answer gets gortsplib's challenge with this
// connection's nonce.
func (h *rtspHandler) guardSession(sc *gortsplib.ServerConn, req *base.Request) {
	delete(req.Header, deniedMark)
	v, ok := req.Header["Session"]
	if !ok || sc.Session() != nil {
		return
	}
	k, ok := h.auth.ids.Load(sessionID(v))
	if !ok {
		return // gortsplib answers 454
	}
	creds := k.(*sessionKey).creds
	if creds == nil || sc.VerifyCredentials(req, creds.User, creds.Pass) {
		return
	}
	h.s.Logger.Limited("session-auth", "rtsp: %s: %s names another connection's session without its credentials: 401",
		sc.NetConn().RemoteAddr(), req.Method)
	req.Method = base.GetParameter
	delete(req.Header, "Session")
	req.Header[deniedMark] = base.HeaderValue{"1"}
}

// rememberSession runs in OnResponse: it learns the id of a session the
// connection just created or joined.
func (h *rtspHandler) rememberSession(sc *gortsplib.ServerConn, res *base.Response) {
	v, ok := res.Header["Session"]
	if !ok || res.StatusCode != base.StatusOK {
		return
	}
	ss := sc.Session()
	if ss == nil {
		return
	}
	id := sessionID(v)
	d, _ := ss.UserData().(*sessionData)
	if id == "" || d == nil {
		return
	}
	if _, loaded := h.auth.bySession.LoadOrStore(ss, id); loaded {
		return
	}
	creds := h.s.ReadCreds
	if d.publisher {
		creds = h.s.PublishCreds
	}
	h.auth.ids.Store(id, &sessionKey{creds: creds})
}

// forgetSession runs in OnSessionClose.
func (h *rtspHandler) forgetSession(ss *gortsplib.ServerSession) {
	if id, ok := h.auth.bySession.LoadAndDelete(ss); ok {
		h.auth.ids.Delete(id)
	}
}

// announceTimeout makes the Session header announce the timeout gortsplib
// enforces (it announces 5 s less, for Windows Media Player).
func (h *rtspHandler) announceTimeout(res *base.Response) {
	v, ok := res.Header["Session"]
	if !ok {
		return
	}
	var sh headers.Session
	if sh.Unmarshal(v) != nil || sh.Timeout == nil {
		return
	}
	t := uint(h.s.SessionTimeout / time.Second)
	sh.Timeout = &t
	res.Header["Session"] = sh.Marshal()
}

func hasMark(req *base.Request) bool {
	_, ok := req.Header[deniedMark]
	return ok
}
