package server

// In-process hostile RTSP clients (issue 14, items 3-6): raw TCP against
// the server on 127.0.0.1:0, asserting on what the server does.

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"

	"github.com/avcat/avcat/pkg/logging"
)

// events collects OnEvent calls.
type events struct {
	mu  sync.Mutex
	evs []Event
	ch  chan Event
}

func (e *events) on(ev Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// wait returns the first event of type typ (already seen or to come)
// within limit.
func (e *events) wait(t *testing.T, typ string, limit time.Duration) Event {
	t.Helper()
	deadline := time.After(limit)
	for {
		e.mu.Lock()
		for _, ev := range e.evs {
			if ev.Type == typ {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("no %q event within %v", typ, limit)
		}
	}
}

// startHostile starts a TCP-only server with a live H.264 path /live.
func startHostile(t *testing.T, cfg Config) (*Server, *events) {
	t.Helper()
	ev := &events{ch: make(chan Event, 64)}
	cfg.RTSPAddress = "127.0.0.1:0"
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 5 * time.Second
	}
	cfg.Logger = &logging.Logger{}
	cfg.OnEvent = ev.on
	s := &Server{Config: cfg}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	st, err := newStream(s.rtsp, benchDesc())
	if err != nil {
		t.Fatal(err)
	}
	pub := new(int)
	if err := s.publish("live", pub, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.startStream("live", pub, st); err != nil {
		t.Fatal(err)
	}
	return s, ev
}

// client is a raw RTSP client.
type client struct {
	t       *testing.T
	nc      net.Conn
	br      *bufio.Reader
	cseq    int
	session string
}

func dialClient(t *testing.T, s *Server) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.RTSPAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// do sends a request and reads the answer; a nil response means the
// server closed the connection.
func (c *client) do(method base.Method, url string, h base.Header, body []byte) *base.Response {
	c.t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cseq++
	if h == nil {
		h = base.Header{}
	}
	h["CSeq"] = base.HeaderValue{strconv.Itoa(c.cseq)}
	if _, ok := h["Session"]; !ok && c.session != "" {
		h["Session"] = base.HeaderValue{c.session}
	}
	buf, err := base.Request{Method: method, URL: u, Header: h, Body: body}.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(buf); err != nil {
		return nil
	}
	var res base.Response
	for {
		// Skip interleaved frames a playing session receives.
		b, err := c.br.Peek(1)
		if err != nil {
			return nil
		}
		if b[0] != '$' {
			break
		}
		var fr base.InterleavedFrame
		if fr.Unmarshal(c.br) != nil {
			return nil
		}
	}
	if err := res.Unmarshal(c.br); err != nil {
		return nil
	}
	if v := res.Header["Session"]; len(v) > 0 && res.StatusCode == base.StatusOK {
		c.session, _, _ = strings.Cut(v[0], ";")
	}
	return &res
}

func code(res *base.Response) int {
	if res == nil {
		return 0
	}
	return int(res.StatusCode)
}

func (c *client) want(res *base.Response, want base.StatusCode, what string) {
	c.t.Helper()
	if code(res) != int(want) {
		c.t.Fatalf("%s: got %d (%v), want %d", what, code(res), res, want)
	}
}

// closed reports whether the server closed nc, waiting at most limit.
func closed(nc net.Conn, limit time.Duration) bool {
	_ = nc.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}

// trickle writes msg one byte every step and returns how many bytes were
// sent when the server closed the connection, and when that was after
// the first byte; sent == len(msg) means it never did while sending.
func trickle(nc net.Conn, msg []byte, step time.Duration) (sent int, after time.Duration) {
	gone := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := nc.Read(buf); err != nil {
				gone <- time.Now()
				return
			}
		}
	}()
	_ = nc.SetReadDeadline(time.Time{})
	start := time.Now()
	tick := time.NewTicker(step)
	defer tick.Stop()
	for sent < len(msg) {
		if _, err := nc.Write(msg[sent : sent+1]); err != nil {
			break
		}
		sent++
		select {
		case at := <-gone:
			return sent, at.Sub(start)
		case <-tick.C:
		}
	}
	select {
	case at := <-gone:
		return sent, at.Sub(start)
	case <-time.After(time.Second):
		return len(msg), 0
	}
}

// TestSlowRequestCutOff (item 3): a message must complete within the
// timeout of its first byte. Before, every read had its own timeout, and
// a client sending a byte every 100 ms (well inside a 1 s timeout) held
// the connection as long as it liked.
func TestSlowRequestCutOff(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	s, _ := startHostile(t, Config{ReadTimeout: timeout})
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	slow := []byte("OPTIONS " + url + " RTSP/1.0\r\nCSeq: 9\r\nUser-Agent: " + strings.Repeat("s", 40) + "\r\n\r\n")

	t.Run("first request", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, s)
		sent, after := trickle(c.nc, slow, 100*time.Millisecond)
		if sent == len(slow) {
			t.Fatalf("the server kept a connection whose request took %v", time.Duration(len(slow))*100*time.Millisecond)
		}
		t.Logf("cut off %v after the first byte, %d of %d bytes in", after.Round(10*time.Millisecond), sent, len(slow))
	})
	t.Run("body", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, s)
		msg := []byte("SET_PARAMETER " + url + " RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 60\r\n\r\n" + strings.Repeat("b", 60))
		hdr := len(msg) - 60
		_, _ = c.nc.Write(msg[:hdr])
		sent, _ := trickle(c.nc, msg[hdr:], 100*time.Millisecond)
		if sent == 60 {
			t.Fatal("the server kept a connection whose body took 6 s")
		}
	})
	t.Run("while playing over TCP", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, s)
		c.want(c.do(base.Setup, url+"/trackID=0", base.Header{"Transport": headers.Transport{
			Protocol: headers.TransportProtocolTCP, InterleavedIDs: &[2]int{0, 1}, Delivery: ptr(headers.TransportDeliveryUnicast),
		}.Marshal()}, nil), base.StatusOK, "SETUP")
		c.want(c.do(base.Play, url, nil, nil), base.StatusOK, "PLAY")
		// A playing connection may be quiet, but a started frame must end.
		frame := append([]byte{'$', 1, 0, 40}, make([]byte, 40)...)
		sent, _ := trickle(c.nc, frame, 100*time.Millisecond)
		if sent == len(frame) {
			t.Fatal("a playing connection trickled an interleaved frame for 4 s")
		}
	})
	t.Run("prompt requests pass", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, s)
		for range 3 {
			c.want(c.do(base.Options, url, nil, nil), base.StatusOK, "OPTIONS")
		}
	})
}

// TestTunnelHeadBounded: gortsplib reads a tunnel's opening HTTP request
// with net/http's ReadRequest, which keeps every header line: the framer
// cuts it at 64 KiB.
func TestTunnelHeadBounded(t *testing.T) {
	s, _ := startHostile(t, Config{ReadTimeout: 10 * time.Second})
	c := dialClient(t, s)
	before := heapInuse()
	_, _ = c.nc.Write([]byte("GET /live HTTP/1.1\r\n"))
	line := []byte("X-Pad: " + strings.Repeat("p", 1000) + "\r\n")
	sent := 0
	for ; sent < 16<<20; sent += len(line) {
		_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.nc.Write(line); err != nil {
			break
		}
	}
	if sent >= 16<<20 {
		t.Fatal("the server read a 16 MB tunnel head")
	}
	if !closed(c.nc, 5*time.Second) {
		t.Fatal("connection still open")
	}
	if grew := int64(heapInuse()) - int64(before); grew > 8<<20 {
		t.Errorf("heap grew by %d bytes", grew)
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func ptr[T any](v T) *T { return &v }

func udpTransport(port int) base.HeaderValue {
	return headers.Transport{
		Protocol: headers.TransportProtocolUDP, ClientPorts: &[2]int{port, port + 1},
		Delivery: ptr(headers.TransportDeliveryUnicast),
	}.Marshal()
}

// TestMaxSessions (item 4): beyond MaxSessions a SETUP gets 453, and the
// refusal is reported; a session that ends gives its slot back.
func TestMaxSessions(t *testing.T) {
	t.Parallel()
	s, ev := startHostile(t, Config{MaxSessions: 2})
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	tcp := func(c *client) *base.Response {
		return c.do(base.Setup, url+"/trackID=0", base.Header{"Transport": headers.Transport{
			Protocol: headers.TransportProtocolTCP, InterleavedIDs: &[2]int{0, 1}, Delivery: ptr(headers.TransportDeliveryUnicast),
		}.Marshal()}, nil)
	}
	a, b, c := dialClient(t, s), dialClient(t, s), dialClient(t, s)
	a.want(tcp(a), base.StatusOK, "SETUP 1")
	b.want(tcp(b), base.StatusOK, "SETUP 2")
	res := tcp(c)
	c.want(res, base.StatusNotEnoughBandwidth, "SETUP 3")
	t.Logf("third SETUP: %d %s", res.StatusCode, res.StatusMessage)
	r := ev.wait(t, "refused", 5*time.Second)
	if r.Reason != ReasonMaxSessions || r.Protocol != "rtsp" || r.Count != 1 {
		t.Errorf("refused event %+v", r)
	}
	// ANNOUNCE counts too.
	d := dialClient(t, s)
	d.want(d.do(base.Announce, "rtsp://"+s.RTSPAddr().String()+"/pub", base.Header{"Content-Type": {"application/sdp"}},
		sdpWithTracks(1)), base.StatusNotEnoughBandwidth, "ANNOUNCE 3")

	a.want(a.do(base.Teardown, url, nil, nil), base.StatusOK, "TEARDOWN 1")
	// The slot comes back when gortsplib closes the session.
	for i := 0; ; i++ {
		if code(tcp(c)) == int(base.StatusOK) {
			break
		}
		if i == 50 {
			t.Fatal("no slot after a TEARDOWN")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaxConns (item 4): beyond MaxConns a connection is closed at once.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	s, ev := startHostile(t, Config{MaxConns: 2})
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	a, b := dialClient(t, s), dialClient(t, s)
	a.want(a.do(base.Options, url, nil, nil), base.StatusOK, "OPTIONS 1")
	b.want(b.do(base.Options, url, nil, nil), base.StatusOK, "OPTIONS 2")
	c := dialClient(t, s)
	if res := c.do(base.Options, url, nil, nil); res != nil {
		t.Fatalf("third connection answered %d", res.StatusCode)
	}
	if r := ev.wait(t, "refused", 5*time.Second); r.Reason != ReasonMaxConns {
		t.Errorf("refused event %+v", r)
	}
	a.nc.Close()
	for i := 0; ; i++ {
		d := dialClient(t, s)
		if d.do(base.Options, url, nil, nil) != nil {
			break
		}
		if i == 50 {
			t.Fatal("no slot after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOrphanUDPSessionTimeout (item 4): a UDP reader whose control
// connection is gone, and which sends no RTCP, ends at the timeout the
// Session header announced. gortsplib v5 announces 5 s less than it
// enforces.
func TestOrphanUDPSessionTimeout(t *testing.T) {
	t.Parallel()
	port := freeUDPPair(t)
	const timeout = 2 * time.Second
	s, ev := startHostile(t, Config{
		UDPRTPAddress:  fmt.Sprintf("127.0.0.1:%d", port),
		UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", port+1),
		SessionTimeout: timeout,
	})
	rtpPort := freeUDPPair(t)
	rtp, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", rtpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	c := dialClient(t, s)
	res := c.do(base.Setup, url+"/trackID=0", base.Header{"Transport": udpTransport(rtpPort)}, nil)
	c.want(res, base.StatusOK, "SETUP")
	var sh headers.Session
	if err := sh.Unmarshal(res.Header["Session"]); err != nil || sh.Timeout == nil {
		t.Fatalf("Session header %q", res.Header["Session"])
	}
	announced := time.Duration(*sh.Timeout) * time.Second
	if announced != timeout {
		t.Errorf("announced timeout=%v, want %v", announced, timeout)
	}
	c.want(c.do(base.Play, url, nil, nil), base.StatusOK, "PLAY")
	last := time.Now()
	c.nc.Close()
	ev.wait(t, "reader_leave", announced+10*time.Second)
	took := time.Since(last)
	t.Logf("orphaned session ended %v after its last request (announced %v)", took.Round(10*time.Millisecond), announced)
	// gortsplib checks once a second; the rest is slack for a loaded machine
	// (before, it ended 5 s after the announced timeout).
	if took > announced+2500*time.Millisecond {
		t.Errorf("the session outlived its announced timeout: %v > %v", took, announced)
	}
}

// TestBadTransport (item 5): gortsplib v5.6.4 accepts channel 300 (and
// wraps it to 44) and port 70000.
func TestBadTransport(t *testing.T) {
	t.Parallel()
	port := freeUDPPair(t)
	// With UDP on: gortsplib itself answers 461 to UDP when it is off.
	s, _ := startHostile(t, Config{
		UDPRTPAddress:  fmt.Sprintf("127.0.0.1:%d", port),
		UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", port+1),
	})
	url := "rtsp://" + s.RTSPAddr().String() + "/live/trackID=0"
	for _, tr := range []string{
		"RTP/AVP/TCP;unicast;interleaved=300-301",
		"RTP/AVP/TCP;unicast;interleaved=255-256",
		"RTP/AVP;unicast;client_port=70000-70001",
		"RTP/AVP;unicast;client_port=65535-65536",
	} {
		c := dialClient(t, s)
		res := c.do(base.Setup, url, base.Header{"Transport": {tr}}, nil)
		c.want(res, base.StatusUnsupportedTransport, tr)
		t.Logf("%s: %d %s", tr, res.StatusCode, res.StatusMessage)
	}
	for _, tr := range []string{"RTP/AVP/TCP;unicast;interleaved=254-255", "RTP/AVP;unicast;client_port=65534-65535"} {
		c := dialClient(t, s)
		c.want(c.do(base.Setup, url, base.Header{"Transport": {tr}}, nil), base.StatusOK, tr)
	}
}

func sdpWithTracks(n int) []byte {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n")
	for i := range n {
		fmt.Fprintf(&b, "m=video 0 RTP/AVP 96\r\na=control:trackID=%d\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n", i)
	}
	return []byte(b.String())
}

// TestAnnounceTrackCap (item 5): an SDP of more than MaxTracks tracks is
// refused; MaxTracks pass.
func TestAnnounceTrackCap(t *testing.T) {
	t.Parallel()
	s, _ := startHostile(t, Config{})
	base0 := "rtsp://" + s.RTSPAddr().String()
	c := dialClient(t, s)
	res := c.do(base.Announce, base0+"/many", base.Header{"Content-Type": {"application/sdp"}}, sdpWithTracks(1000))
	c.want(res, base.StatusBadRequest, "ANNOUNCE of 1000 tracks")
	if !strings.Contains(res.StatusMessage, "1000 tracks") {
		t.Errorf("status message %q does not say why", res.StatusMessage)
	}
	c = dialClient(t, s)
	c.want(c.do(base.Announce, base0+"/sixteen", base.Header{"Content-Type": {"application/sdp"}}, sdpWithTracks(MaxTracks)),
		base.StatusOK, "ANNOUNCE of 16 tracks")
}

// TestSessionAuthOtherConn (item 6): with read credentials, a connection
// that knows a UDP session's id cannot act on it without them.
func TestSessionAuthOtherConn(t *testing.T) {
	t.Parallel()
	port := freeUDPPair(t)
	s, _ := startHostile(t, Config{
		UDPRTPAddress:  fmt.Sprintf("127.0.0.1:%d", port),
		UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", port+1),
		ReadCreds:      &Credentials{User: "v", Pass: "w"},
	})
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	basic := base.HeaderValue{"Basic " + base64.StdEncoding.EncodeToString([]byte("v:w"))}
	rtpPort := freeUDPPair(t)

	owner := dialClient(t, s)
	owner.want(owner.do(base.Setup, url+"/trackID=0", base.Header{"Transport": udpTransport(rtpPort)}, nil), base.StatusUnauthorized, "SETUP without credentials")
	owner.want(owner.do(base.Setup, url+"/trackID=0", base.Header{"Transport": udpTransport(rtpPort), "Authorization": basic}, nil), base.StatusOK, "SETUP")
	owner.want(owner.do(base.Play, url, base.Header{"Authorization": basic}, nil), base.StatusOK, "PLAY")
	id := owner.session

	for _, m := range []base.Method{base.Play, base.Pause, base.GetParameter, base.SetParameter, base.Options, base.Teardown} {
		x := dialClient(t, s)
		res := x.do(m, url, base.Header{"Session": {id}}, nil)
		x.want(res, base.StatusUnauthorized, string(m)+" from another connection without credentials")
		if len(res.Header["WWW-Authenticate"]) == 0 {
			t.Errorf("%s: 401 without a challenge", m)
		}
	}
	// The owner's session is untouched, and its connection needs no
	// credentials again.
	owner.want(owner.do(base.GetParameter, url, nil, nil), base.StatusOK, "owner keepalive")

	// Wrong credentials: 401 and the connection is closed.
	x := dialClient(t, s)
	wrong := base.HeaderValue{"Basic " + base64.StdEncoding.EncodeToString([]byte("v:nope"))}
	x.want(x.do(base.Teardown, url, base.Header{"Session": {id}, "Authorization": wrong}, nil), base.StatusUnauthorized, "TEARDOWN with wrong credentials")

	// The right credentials (Digest, answering this connection's challenge) pass.
	y := dialClient(t, s)
	res := y.do(base.Pause, url, base.Header{"Session": {id}}, nil)
	y.want(res, base.StatusUnauthorized, "PAUSE")
	se := &auth.Sender{WWWAuth: digestOnly(res.Header["WWW-Authenticate"]), User: "v", Pass: "w"}
	if err := se.Initialize(); err != nil {
		t.Fatal(err)
	}
	u, _ := base.ParseURL(url)
	req := &base.Request{Method: base.Teardown, URL: u, Header: base.Header{}}
	se.AddAuthorization(req)
	y.want(y.do(base.Teardown, url, base.Header{"Session": {id}, "Authorization": req.Header["Authorization"]}, nil), base.StatusOK, "TEARDOWN with Digest credentials")
}

func digestOnly(v base.HeaderValue) base.HeaderValue {
	var out base.HeaderValue
	for _, h := range v {
		if strings.HasPrefix(h, "Digest") && strings.Contains(h, "MD5") {
			out = append(out, h)
		}
	}
	return out
}

var _ = io.EOF

// TestSlowRequestInTunnels (item 3): the same bound holds for RTSP carried
// in an HTTP tunnel (base64 in the POST) or a WebSocket tunnel (masked
// frames), which the framer follows after the tunnel's HTTP head.
func TestSlowRequestInTunnels(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	s, _ := startHostile(t, Config{ReadTimeout: timeout})
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	req := "OPTIONS " + url + " RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: " + strings.Repeat("s", 40) + "\r\n\r\n"

	t.Run("HTTP", func(t *testing.T) {
		t.Parallel()
		get := dialClient(t, s)
		_, _ = get.nc.Write([]byte("GET /live HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled\r\nX-Sessioncookie: slow1\r\n\r\n"))
		_ = get.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := get.br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("tunnel GET: %q %v", line, err)
		}
		for {
			if line, err := get.br.ReadString('\n'); err != nil || line == "\r\n" {
				break
			}
		}
		post := dialClient(t, s)
		_, _ = post.nc.Write([]byte("POST /live HTTP/1.0\r\nContent-Type: application/x-rtsp-tunnelled\r\nX-Sessioncookie: slow1\r\nContent-Length: 32767\r\n\r\n"))
		// A prompt request passes.
		_, _ = post.nc.Write([]byte(base64.StdEncoding.EncodeToString([]byte(req))))
		var res base.Response
		_ = get.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := res.Unmarshal(get.br); err != nil || res.StatusCode != base.StatusOK {
			t.Fatalf("tunnelled OPTIONS: %v %v", res.StatusCode, err)
		}
		sent, _ := trickle(post.nc, []byte(base64.StdEncoding.EncodeToString([]byte(req))), 100*time.Millisecond)
		if sent == len(base64.StdEncoding.EncodeToString([]byte(req))) {
			t.Fatal("the server kept a tunnel whose request took 15 s")
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, s)
		_, _ = c.nc.Write([]byte("GET /live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: rtsp.onvif.org\r\n\r\n"))
		_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			line, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatalf("WebSocket upgrade: %v", err)
			}
			if line == "\r\n" {
				break
			}
		}
		frame := func(p []byte) []byte {
			b := []byte{0x82, 0x80 | byte(len(p)), 1, 2, 3, 4}
			for i, c := range p {
				b = append(b, c^[]byte{1, 2, 3, 4}[i%4])
			}
			return b
		}
		// One RTSP byte per frame, each frame prompt: the request is slow.
		var msg []byte
		for _, r := range []byte(req) {
			msg = append(msg, frame([]byte{r})...)
		}
		sent, _ := trickle(c.nc, msg, 30*time.Millisecond)
		if sent == len(msg) {
			t.Fatal("the server kept a WebSocket tunnel whose request took 6 s")
		}
	})
	t.Run("WebSocket message size", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, s)
		_, _ = c.nc.Write([]byte("GET /live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: rtsp.onvif.org\r\n\r\n"))
		before := heapInuse()
		hdr := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4} // 256 MiB
		_, _ = c.nc.Write(hdr)
		chunk := make([]byte, 1<<20)
		sent := 0
		for ; sent < 64; sent++ {
			_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.nc.Write(chunk); err != nil {
				break
			}
		}
		if sent == 64 {
			t.Fatal("the server read 64 MiB of one WebSocket message")
		}
		if grew := int64(heapInuse()) - int64(before); grew > 8<<20 {
			t.Errorf("heap grew by %d bytes", grew)
		}
	})
}

// TestPipelinedRequestNotCharged: the bound counts the time spent waiting
// for the client, not the time the server takes to answer the request
// before. gortsplib holds a SETUP from "GStreamer" for 1 s (a workaround
// for rtspclientsink): an OPTIONS whose first byte came with it, and the
// rest promptly after the answer, passes with an 800 ms timeout.
func TestPipelinedRequestNotCharged(t *testing.T) {
	t.Parallel()
	s, _ := startHostile(t, Config{ReadTimeout: 800 * time.Millisecond})
	url := "rtsp://" + s.RTSPAddr().String() + "/live"
	c := dialClient(t, s)
	options := "OPTIONS " + url + " RTSP/1.0\r\nCSeq: 2\r\n\r\n"
	_, _ = c.nc.Write([]byte("SETUP " + url + "/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: GStreamer/1.22\r\n" +
		"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n" + options[:1]))
	var res base.Response
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := res.Unmarshal(c.br); err != nil || res.StatusCode != base.StatusOK {
		t.Fatalf("SETUP: %v %v", res.StatusCode, err)
	}
	_, _ = c.nc.Write([]byte(options[1:]))
	if err := res.Unmarshal(c.br); err != nil || res.StatusCode != base.StatusOK {
		t.Fatalf("OPTIONS after a slow answer: %v %v", res.StatusCode, err)
	}
}
