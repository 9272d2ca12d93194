package server

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"
)

// rtspHandler answers RTSP requests for the path table.
type rtspHandler struct {
	s *Server

	// setupMu runs one SETUP at a time: gortsplib (v4.16.2, and still
	// v5.6.4) reads other sessions' transport while a SETUP adds a reader
	// to a stream, and writes a session's own under another lock, so
	// concurrent SETUPs race (TestConcurrentSetups, with -race).
	setupMu sync.Mutex
	holding sync.Map // *gortsplib.ServerConn → struct{}: holds setupMu
	// announcing maps a connection to the ANNOUNCE being answered, and
	// refused to a refusal whose reason only the closing error tells.
	announcing sync.Map // *gortsplib.ServerConn → *base.Request
	refused    sync.Map // *gortsplib.ServerConn → string

	auth sessionAuth
}

// OnRequest takes the SETUP lock; OnResponse of the same request frees it.
func (h *rtspHandler) OnRequest(sc *gortsplib.ServerConn, req *base.Request) {
	h.guardSession(sc, req)
	if line, ok := h.refused.LoadAndDelete(sc); ok {
		h.s.Logger.Warnf("%s", line) // the connection went on: no more reason to wait for
	}
	if req.Method == base.Setup {
		h.setupMu.Lock()
		h.holding.Store(sc, struct{}{})
	}
	if req.Method == base.Announce {
		h.announcing.Store(sc, req)
	}
}

// OnResponse frees the SETUP lock taken by the request being answered.
func (h *rtspHandler) OnResponse(sc *gortsplib.ServerConn, res *base.Response) {
	h.rememberSession(sc, res)
	h.announceTimeout(res)
	if _, ok := h.holding.LoadAndDelete(sc); ok {
		h.setupMu.Unlock()
	}
	if v, ok := h.announcing.LoadAndDelete(sc); ok {
		h.logRefusedAnnounce(sc, v.(*base.Request), res)
	}
}

// logRefusedAnnounce says why a publisher was turned away. A first 401
// without credentials is the normal challenge, not a refusal. When the
// RTSP stack refused (a bad SDP), its reason comes with the connection's
// close.
func (h *rtspHandler) logRefusedAnnounce(sc *gortsplib.ServerConn, req *base.Request, res *base.Response) {
	if res.StatusCode < 400 {
		return
	}
	if _, creds := req.Header["Authorization"]; res.StatusCode == base.StatusUnauthorized && !creds {
		return
	}
	path := "/"
	if req.URL != nil {
		path = normPath(req.URL.Path)
	}
	msg := res.StatusMessage
	generic := msg == "" || msg == base.StatusMessages[res.StatusCode]
	if msg == "" {
		msg = base.StatusMessages[res.StatusCode]
	}
	line := fmt.Sprintf("refused ANNOUNCE of %q from %s: %d %s", path, sc.NetConn().RemoteAddr(), res.StatusCode, msg)
	if res.StatusCode == base.StatusUnauthorized {
		line += " (wrong credentials)"
	}
	if generic {
		h.refused.Store(sc, line)
		return
	}
	h.s.Logger.Warnf("%s", line)
}

// sessionData is what the server remembers about one RTSP session.
type sessionData struct {
	path      string
	publisher bool
	reading   bool
	file      *fileSession
	remote    string
	// admitted: the session holds a --max-sessions slot.
	admitted bool
}

func dataOf(ss *gortsplib.ServerSession) *sessionData {
	if d, ok := ss.UserData().(*sessionData); ok {
		return d
	}
	d := &sessionData{}
	ss.SetUserData(d)
	return d
}

func unauthorized() (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

func (h *rtspHandler) check(c *gortsplib.ServerConn, req *base.Request, creds *Credentials) bool {
	return creds == nil || c.VerifyCredentials(req, creds.User, creds.Pass)
}

func status(code base.StatusCode, msg string) *base.Response {
	return &base.Response{StatusCode: code, StatusMessage: msg}
}

// OnConnOpen logs at debug level.
func (h *rtspHandler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.s.Logger.Debugf("rtsp: conn from %s", ctx.Conn.NetConn().RemoteAddr())
}

// OnConnClose logs at debug level.
func (h *rtspHandler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.announcing.Delete(ctx.Conn)
	if line, ok := h.refused.LoadAndDelete(ctx.Conn); ok {
		if ctx.Error != nil {
			line = fmt.Sprintf("%s: %v", line, ctx.Error)
		}
		h.s.Logger.Warnf("%s", line)
	}
	h.s.Logger.Debugf("rtsp: conn from %s closed: %v", ctx.Conn.NetConn().RemoteAddr(), ctx.Error)
}

// OnSessionClose releases what the session held.
func (h *rtspHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.forgetSession(ctx.Session)
	d := dataOf(ctx.Session)
	if d.admitted {
		d.admitted = false
		h.s.sessions.release()
	}
	switch {
	case d.publisher:
		h.s.unpublish(d.path, ctx.Session, "publisher left")
	case d.file != nil:
		d.file.close()
	}
	if d.reading {
		h.s.readerLeft(d.path, "rtsp", d.remote)
	}
}

// OnDescribe serves the SDP of a live path or a file.
func (h *rtspHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.check(ctx.Conn, ctx.Request, h.s.ReadCreds) {
		res, err := unauthorized()
		return res, nil, err
	}
	name := normPath(ctx.Path)
	if t, ok := h.s.templates[name]; ok {
		return &base.Response{StatusCode: base.StatusOK}, t.stream.rtsp, nil
	}
	st, err := h.s.liveStream(name)
	if err != nil {
		return status(base.StatusNotFound, ""), nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st.rtsp, nil
}

// OnAnnounce reserves the path for a publisher.
func (h *rtspHandler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	if !h.check(ctx.Conn, ctx.Request, h.s.PublishCreds) {
		return unauthorized()
	}
	name := normPath(ctx.Path)
	if name == "" {
		return status(base.StatusBadRequest, "Bad Request (empty path)"), nil
	}
	if err := checkTracks(ctx.Description); err != nil {
		// logRefusedAnnounce logs it.
		return status(base.StatusBadRequest, "Bad Request ("+err.Error()+")"), nil
	}
	if !h.admit(ctx.Session, ctx.Conn) {
		return notEnoughBandwidth(h.s.sessions.max), nil
	}
	err := h.s.publish(name, ctx.Session, "rtsp")
	switch {
	case errors.Is(err, errPathBusy):
		return status(base.StatusForbidden, "Forbidden (path busy: someone is publishing)"), nil
	case errors.Is(err, errFilePath):
		return status(base.StatusForbidden, "Forbidden (path serves a file)"), nil
	case err != nil:
		return status(base.StatusInternalServerError, ""), nil
	}
	d := dataOf(ctx.Session)
	d.path, d.publisher = name, true
	d.remote = ctx.Conn.NetConn().RemoteAddr().String()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetup handles SETUP for publishers (no stream) and readers.
func (h *rtspHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res := checkTransport(ctx.Request); res != nil {
		return res, nil, nil
	}
	d := dataOf(ctx.Session)
	if d.publisher {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	if !h.check(ctx.Conn, ctx.Request, h.s.ReadCreds) {
		res, err := unauthorized()
		return res, nil, err
	}
	name := normPath(ctx.Path)
	if !h.admit(ctx.Session, ctx.Conn) {
		return notEnoughBandwidth(h.s.sessions.max), nil, nil
	}
	if t, ok := h.s.templates[name]; ok {
		if d.file == nil {
			fs, err := newFileSession(h.s, t, ctx.Session)
			if err != nil {
				h.s.Logger.Warnf("%s: %v", name, err)
				return status(base.StatusInternalServerError, ""), nil, nil
			}
			d.file, d.path = fs, name
		}
		return &base.Response{StatusCode: base.StatusOK}, d.file.stream.rtsp, nil
	}
	st, err := h.s.liveStream(name)
	if err != nil {
		return status(base.StatusNotFound, ""), nil, nil
	}
	d.path = name
	return &base.Response{StatusCode: base.StatusOK}, st.rtsp, nil
}

// OnPlay starts a reader; files start playing (at Range, if given).
func (h *rtspHandler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.s.idle.streaming(ctx.Conn.NetConn().RemoteAddr().String())
	d := dataOf(ctx.Session)
	if !d.reading {
		d.reading = true
		d.remote = ctx.Conn.NetConn().RemoteAddr().String()
		h.s.readerJoined(d.path, "rtsp", d.remote)
	}
	if d.file != nil {
		start, hasRange := parseNPTStart(ctx.Request.Header["Range"])
		d.file.play(start, hasRange)
	}
	// Live paths have no timeline: a Range is answered by playing live.
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnPause pauses file playback; live paths just stop sending.
func (h *rtspHandler) OnPause(ctx *gortsplib.ServerHandlerOnPauseCtx) (*base.Response, error) {
	if d := dataOf(ctx.Session); d.file != nil {
		d.file.pause()
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnRecord starts the publisher's stream and forwards its packets.
func (h *rtspHandler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	h.s.idle.streaming(ctx.Conn.NetConn().RemoteAddr().String())
	d := dataOf(ctx.Session)
	desc := ctx.Session.AnnouncedDescription()
	st, err := newStream(h.s.rtsp, desc)
	if err != nil {
		return status(base.StatusInternalServerError, ""), nil
	}
	if err := h.s.startStream(d.path, ctx.Session, st); err != nil {
		st.close()
		return status(base.StatusForbidden, "Forbidden (publisher replaced)"), nil
	}
	ss := ctx.Session
	ss.OnPacketRTPAny(func(medi *description.Media, forma format.Format, pkt *rtp.Packet) {
		pts, ok := ss.PacketPTS(medi, pkt)
		if !ok {
			return
		}
		// Readers get sender reports on our clock, the arrival time (as
		// mediamtx does): a publisher's own reports (ffmpeg's drift from
		// its pacing) would shift one track against the other for them.
		st.writePacket(medi, forma, pkt, time.Now(), pts)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnGetParameter answers keepalives, and requests guardSession refused.
func (h *rtspHandler) OnGetParameter(ctx *gortsplib.ServerHandlerOnGetParameterCtx) (*base.Response, error) {
	if hasMark(ctx.Request) {
		return unauthorized()
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetParameter answers keepalives.
func (h *rtspHandler) OnSetParameter(*gortsplib.ServerHandlerOnSetParameterCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnPacketsLost routes gortsplib's report to the rate-limited logger.
func (h *rtspHandler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.s.Logger.Limited("server-rtp-lost", "%d RTP packets lost from a publisher", ctx.Lost)
}

// OnDecodeError routes gortsplib's report to the rate-limited logger.
func (h *rtspHandler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.s.Logger.Limited("server-decode", "%v", ctx.Error)
}

// OnStreamWriteError routes gortsplib's report to the rate-limited logger:
// a slow reader whose queue is full loses packets; others are unaffected.
func (h *rtspHandler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.Logger.Limited("server-write", "reader falls behind: %v", ctx.Error)
}

// admit gives a new session a --max-sessions slot, once.
func (h *rtspHandler) admit(ss *gortsplib.ServerSession, sc *gortsplib.ServerConn) bool {
	d := dataOf(ss)
	if d.admitted {
		return true
	}
	if !h.s.admitSession("rtsp", sc.NetConn().RemoteAddr().String()) {
		return false
	}
	d.admitted = true
	return true
}

func closePublisher(pub any) {
	switch p := pub.(type) {
	case *gortsplib.ServerSession:
		go p.Close()
	case *rtmpConn:
		p.close()
	}
}
