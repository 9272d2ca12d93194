package testpeer

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// CameraFaults selects the one rule a FakeCamera breaks. The zero value is
// a camera that follows every rule avcat check grades.
type CameraFaults struct {
	PublicLies    bool // Public lists SET_PARAMETER, which answers 501
	BareLF        bool // responses end their lines with LF alone
	Redirect      bool // DESCRIBE of any path but /real answers 302 to /real
	DupPT         bool // m=video 0 RTP/AVP 96 96
	SpropMismatch bool // in-band SPS says level 4.0, sprop-parameter-sets 3.0
	TSBackwards   bool // every 40th frame's RTP timestamp is 1 s in the past
	NoRTCP        bool // never sends a sender report
	SendsRedirect bool // sends a REDIRECT request to the client after PLAY
	OneSession    bool // a SETUP while another connection has a session gets 453
	BadRange      bool // PLAY answers Range: npt=soon-
	// SessionTimeout is the announced session timeout in seconds (0: 60).
	// A session that hears nothing for that long is gone (454).
	SessionTimeout int
	KeepsSessions  bool // never drops a session, whatever its timeout
	// Digest makes every request but OPTIONS need Digest MD5 credentials
	// (CameraUser, CameraPass), with a nonce per connection. A right
	// response for another nonce gets 401 and a fresh nonce.
	Digest    bool
	StaleFlag bool // with Digest: that 401 says stale=TRUE
	AnyNonce  bool // with Digest: a right response for any nonce is accepted
	// BareRefusal (with Digest): that 401 has no challenge and the
	// connection closes, as gortsplib's server does.
	BareRefusal bool
}

// Credentials and realm of a FakeCamera with Digest.
const (
	CameraUser  = "cam"
	CameraPass  = "s3cret"
	cameraRealm = "fake camera"
)

// FakeCamera is an in-process RTSP camera on 127.0.0.1: one H.264 track
// (640x480, 25 fps, an IDR with in-band SPS/PPS every 25 frames) over UDP or
// TCP, PAUSE, GET_PARAMETER, RTCP sender reports every 500 ms, and the
// faults asked for. It is closed in t.Cleanup.
type FakeCamera struct {
	*FakeServer
	Faults CameraFaults

	mu       sync.Mutex
	sessions int      // connections with a session
	answers  []string // what clients answered to our requests
}

// Answers returns the status lines (and CSeq) clients sent back to the
// camera's own requests (SendsRedirect).
func (cam *FakeCamera) Answers() []string {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	return append([]string(nil), cam.answers...)
}

// SPS and PPS of the fake camera (Constrained Baseline 3.0, 640x480).
var (
	fakeSPS, _ = base64.StdEncoding.DecodeString("Z0LAHtoCgPbAWoMDA1KAAAADAIAAABlHixdQ")
	fakePPS, _ = base64.StdEncoding.DecodeString("aM48gA==")
)

// StartFakeCamera starts a FakeCamera with the given faults.
func StartFakeCamera(t testing.TB, f CameraFaults) *FakeCamera {
	t.Helper()
	cam := &FakeCamera{Faults: f}
	cam.FakeServer = startFakeServer(t, cam.handle)
	return cam
}

// SDP is the session description the camera sends.
func (cam *FakeCamera) SDP() string {
	pts := "96"
	if cam.Faults.DupPT {
		pts = "96 96"
	}
	return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP " + pts + "\r\na=rtpmap:96 H264/90000\r\n" +
		"a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets=" +
		base64.StdEncoding.EncodeToString(fakeSPS) + "," + base64.StdEncoding.EncodeToString(fakePPS) + "\r\n" +
		"a=control:trackID=0\r\n"
}

type camConn struct {
	cam  *FakeCamera
	c    net.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	sess string

	tcp      bool
	chRTP    int
	udpRTP   *net.UDPConn
	udpRTCP  *net.UDPConn
	dstRTP   *net.UDPAddr
	dstRTCP  *net.UDPAddr
	playing  chan struct{} // closed to stop the sender
	hasSess  bool
	lastSeen time.Time // of the session, for its timeout
	expired  bool
	seq      uint16
	frame    int
	start    time.Time
	ssrc     uint32
	rtpStart uint32
	nonce    string // Digest nonce of this connection
}

func (cam *FakeCamera) handle(c net.Conn) {
	cc := &camConn{cam: cam, c: c, ssrc: 0x0BADCAFE, rtpStart: 1000, seq: 100}
	cc.nonce, _ = auth.GenerateNonce()
	defer cc.stop()
	defer cc.endSession()
	defer func() {
		if cc.udpRTP != nil {
			_ = cc.udpRTP.Close()
			_ = cc.udpRTCP.Close()
		}
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		parts := strings.Fields(line)
		if len(parts) < 2 {
			continue
		}
		method, url := parts[0], parts[1]
		h := map[string]string{}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.TrimSpace(l) == "" {
				break
			}
			if k, v, ok := strings.Cut(l, ":"); ok {
				h[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if n, _ := strconv.Atoi(h["content-length"]); n > 0 {
			if _, err := r.Discard(n); err != nil {
				return
			}
		}
		if strings.HasPrefix(method, "RTSP/") {
			cam.mu.Lock()
			cam.answers = append(cam.answers, strings.TrimSpace(line)+" CSeq: "+h["cseq"])
			cam.mu.Unlock()
			continue // the client's answer to a request of ours
		}
		if !cc.answer(method, url, h) {
			return
		}
	}
}

func (cc *camConn) write(b []byte) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	_, err := cc.c.Write(b)
	return err
}

func (cc *camConn) reply(code int, reason, cseq string, hdr []string, body string) bool {
	lines := append([]string{fmt.Sprintf("RTSP/1.0 %d %s", code, reason), "CSeq: " + cseq, "Server: testpeer-fake-camera"}, hdr...)
	if body != "" {
		lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)))
	}
	eol := "\r\n"
	if cc.cam.Faults.BareLF {
		eol = "\n"
	}
	return cc.write([]byte(strings.Join(lines, eol)+eol+eol+body)) == nil
}

func (cc *camConn) answer(method, url string, h map[string]string) bool {
	cseq := h["cseq"]
	f := cc.cam.Faults
	public := "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"
	if f.PublicLies {
		public += ", SET_PARAMETER"
	}
	to := f.SessionTimeout
	if to == 0 {
		to = 60
	}
	sess := []string{fmt.Sprintf("Session: C0FFEE;timeout=%d", to)}
	if h["session"] != "" {
		cc.mu.Lock()
		gone := cc.expired || !cc.lastSeen.IsZero() && !f.KeepsSessions && time.Since(cc.lastSeen) > time.Duration(to)*time.Second
		if gone && !cc.expired {
			cc.expired = true
		}
		cc.lastSeen = time.Now()
		cc.mu.Unlock()
		if gone {
			cc.stop()
			return cc.reply(454, "Session Not Found", cseq, nil, "")
		}
	}
	if f.Digest && method != "OPTIONS" {
		if hdr := cc.checkAuth(method, url, h["authorization"]); hdr != nil {
			return cc.reply(401, "Unauthorized", cseq, hdr, "") && len(hdr) > 0
		}
	}
	switch method {
	case "OPTIONS":
		return cc.reply(200, "OK", cseq, []string{"Public: " + public}, "")
	case "DESCRIBE":
		if f.Redirect && !strings.Contains(url, "/real") {
			return cc.reply(302, "Found", cseq, []string{"Location: rtsp://" + cc.cam.Addr + "/real"}, "")
		}
		base := strings.TrimSuffix(url, "/") + "/"
		return cc.reply(200, "OK", cseq, []string{"Content-Base: " + base, "Content-Type: application/sdp"}, cc.cam.SDP())
	case "SETUP":
		if !cc.beginSession() {
			return cc.reply(453, "Not Enough Bandwidth", cseq, nil, "")
		}
		cc.mu.Lock()
		cc.lastSeen = time.Now()
		cc.mu.Unlock()
		tr := h["transport"]
		switch {
		case strings.Contains(tr, "multicast"):
			cc.endSession()
			return cc.reply(461, "Unsupported Transport", cseq, nil, "")
		case strings.Contains(tr, "interleaved="):
			cc.tcp = true
			ids := strings.SplitN(strings.Split(strings.SplitN(tr, "interleaved=", 2)[1], ";")[0], "-", 2)
			cc.chRTP, _ = strconv.Atoi(ids[0])
			return cc.reply(200, "OK", cseq, append(sess, "Transport: "+tr+fmt.Sprintf(";ssrc=%08X", cc.ssrc)), "")
		case strings.Contains(tr, "client_port="):
			ps := strings.SplitN(strings.Split(strings.SplitN(tr, "client_port=", 2)[1], ";")[0], "-", 2)
			p0, _ := strconv.Atoi(ps[0])
			ip := cc.c.RemoteAddr().(*net.TCPAddr).IP
			cc.dstRTP = &net.UDPAddr{IP: ip, Port: p0}
			cc.dstRTCP = &net.UDPAddr{IP: ip, Port: p0 + 1}
			var err error
			if cc.udpRTP, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
				return false
			}
			if cc.udpRTCP, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
				return false
			}
			sp := cc.udpRTP.LocalAddr().(*net.UDPAddr).Port
			sp2 := cc.udpRTCP.LocalAddr().(*net.UDPAddr).Port
			return cc.reply(200, "OK", cseq, append(sess, fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d;server_port=%d-%d;ssrc=%08X",
				p0, p0+1, sp, sp2, cc.ssrc)), "")
		}
		cc.endSession()
		return cc.reply(461, "Unsupported Transport", cseq, nil, "")
	case "PLAY":
		cc.mu.Lock()
		info := fmt.Sprintf("RTP-Info: url=%strackID=0;seq=%d;rtptime=%d", strings.TrimSuffix(url, "/")+"/", cc.seq, cc.ts(cc.frame))
		cc.mu.Unlock()
		rng := "Range: npt=0.000-"
		if f.BadRange {
			rng = "Range: npt=soon-"
		}
		ok := cc.reply(200, "OK", cseq, append(sess, rng, info), "")
		if ok && f.SendsRedirect {
			ok = cc.write([]byte("REDIRECT "+url+" RTSP/1.0\r\nCSeq: 1\r\nLocation: rtsp://"+cc.cam.Addr+"/elsewhere\r\n\r\n")) == nil
		}
		cc.play()
		return ok
	case "PAUSE":
		cc.stop()
		return cc.reply(200, "OK", cseq, sess, "")
	case "TEARDOWN":
		cc.stop()
		cc.endSession()
		return cc.reply(200, "OK", cseq, nil, "")
	case "GET_PARAMETER":
		return cc.reply(200, "OK", cseq, sess, "")
	}
	return cc.reply(501, "Not Implemented", cseq, nil, "")
}

// checkAuth returns the WWW-Authenticate lines of a 401 (none: close after
// it), or nil when the request carries a right Digest response.
func (cc *camConn) checkAuth(method, url, authz string) []string {
	f := cc.cam.Faults
	stale := false
	if u, err := base.ParseURL(url); err == nil && authz != "" {
		req := &base.Request{Method: base.Method(method), URL: u, Header: base.Header{"Authorization": base.HeaderValue{authz}}}
		methods := []auth.VerifyMethod{auth.VerifyMethodDigestMD5}
		if auth.Verify(req, CameraUser, CameraPass, methods, cameraRealm, cc.nonce) == nil {
			return nil
		}
		var a headers.Authorization
		if a.Unmarshal(req.Header["Authorization"]) == nil &&
			auth.Verify(req, CameraUser, CameraPass, methods, cameraRealm, a.Nonce) == nil {
			if f.AnyNonce {
				return nil
			}
			// Right credentials, a nonce that is not this connection's.
			if f.BareRefusal {
				return []string{}
			}
			cc.nonce, _ = auth.GenerateNonce()
			stale = f.StaleFlag
		}
	}
	www := auth.GenerateWWWAuthenticate([]auth.VerifyMethod{auth.VerifyMethodDigestMD5}, cameraRealm, cc.nonce)
	if stale {
		www[0] += ", stale=TRUE"
	}
	out := make([]string, len(www))
	for i, v := range www {
		out[i] = "WWW-Authenticate: " + v
	}
	return out
}

// beginSession counts this connection's session; false when OneSession
// refuses it.
func (cc *camConn) beginSession() bool {
	cam := cc.cam
	cam.mu.Lock()
	defer cam.mu.Unlock()
	if cc.hasSess {
		return true
	}
	if cam.Faults.OneSession && cam.sessions > 0 {
		return false
	}
	cam.sessions++
	cc.hasSess = true
	return true
}

func (cc *camConn) endSession() {
	cam := cc.cam
	cam.mu.Lock()
	defer cam.mu.Unlock()
	if cc.hasSess {
		cam.sessions--
		cc.hasSess = false
	}
}

func (cc *camConn) ts(frame int) uint32 { return cc.rtpStart + uint32(frame)*3600 }

func (cc *camConn) stop() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.playing != nil {
		close(cc.playing)
		cc.playing = nil
	}
}

func (cc *camConn) play() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.playing != nil {
		return
	}
	stop := make(chan struct{})
	cc.playing = stop
	if cc.start.IsZero() {
		cc.start = time.Now()
	}
	go cc.send(stop)
}

func (cc *camConn) send(stop chan struct{}) {
	frames := time.NewTicker(40 * time.Millisecond)
	defer frames.Stop()
	srs := time.NewTicker(500 * time.Millisecond)
	defer srs.Stop()
	cc.sendSR()
	for {
		select {
		case <-stop:
			return
		case <-frames.C:
			if !cc.sendFrame() {
				return
			}
		case <-srs.C:
			cc.sendSR()
		}
	}
}

func (cc *camConn) sendFrame() bool {
	cc.mu.Lock()
	n := cc.frame
	cc.frame++
	ts := cc.ts(n)
	if cc.cam.Faults.TSBackwards && n%40 == 39 {
		ts -= 90000
	}
	var nalus [][]byte
	if n%25 == 0 {
		sps := fakeSPS
		if cc.cam.Faults.SpropMismatch {
			sps = append([]byte(nil), fakeSPS...)
			sps[3] = 40 // level_idc 4.0
		}
		nalus = [][]byte{sps, fakePPS, {0x65, 0x88, 0x84, 0x00, 0x10}}
	} else {
		nalus = [][]byte{{0x41, 0x9a, 0x02, 0x04, 0x08}}
	}
	var pkts [][]byte
	for i, nalu := range nalus {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: cc.seq, Timestamp: ts,
			SSRC: cc.ssrc, Marker: i == len(nalus)-1}, Payload: nalu}
		cc.seq++
		b, _ := p.Marshal()
		pkts = append(pkts, b)
	}
	cc.mu.Unlock()
	for _, b := range pkts {
		if !cc.out(b, false) {
			return false
		}
	}
	return true
}

func (cc *camConn) sendSR() {
	if cc.cam.Faults.NoRTCP {
		return
	}
	cc.mu.Lock()
	now := time.Now()
	elapsed := now.Sub(cc.start)
	rtpTS := cc.rtpStart + uint32(elapsed.Seconds()*90000)
	cc.mu.Unlock()
	secs := uint64(now.Unix()) + 2208988800
	frac := uint64(now.Nanosecond()) << 32 / 1e9
	sr := rtcp.SenderReport{SSRC: cc.ssrc, NTPTime: secs<<32 | frac, RTPTime: rtpTS}
	b, _ := sr.Marshal()
	cc.out(b, true)
}

func (cc *camConn) out(b []byte, isRTCP bool) bool {
	if cc.tcp {
		ch := cc.chRTP
		if isRTCP {
			ch++
		}
		frame := make([]byte, 4+len(b))
		frame[0], frame[1] = '$', byte(ch)
		binary.BigEndian.PutUint16(frame[2:], uint16(len(b)))
		copy(frame[4:], b)
		return cc.write(frame) == nil
	}
	if cc.udpRTP == nil {
		return false
	}
	if isRTCP {
		_, _ = cc.udpRTCP.WriteToUDP(b, cc.dstRTCP)
	} else {
		_, _ = cc.udpRTP.WriteToUDP(b, cc.dstRTP)
	}
	return true
}
