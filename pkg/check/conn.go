package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
)

// Limits on what a server controls.
const (
	maxHeadBytes = 64 << 10 // one response's status line and header
	maxBodyBytes = 1 << 20  // one response body (SDP)
	// maxServerRequests bounds the requests from the server that are kept.
	maxServerRequests = 10
)

// rtspConn is one raw RTSP connection: well-formed requests out, responses
// and interleaved frames in, with what the wire looked like noted (bare LF
// line ends, server-sent requests). One goroutine reads.
type rtspConn struct {
	nc      net.Conn
	timeout time.Duration
	ua      string
	user    string
	pass    string
	trace   func(string)

	cseq    int
	session string
	sender  *auth.Sender
	// wwwAuth is the first WWW-Authenticate seen, for the auth checks.
	wwwAuth base.HeaderValue

	wmu     sync.Mutex // one writer at a time: requests, answers to the server
	reqCSeq string     // CSeq of the last message read (reader goroutine only)
	resps   chan rtspResp
	done    chan struct{}
	readErr error // set before done is closed

	mu          sync.Mutex
	onFrame     func(channel int, payload []byte, at time.Time)
	bareLF      int
	cseqBad     int
	serverReqs  []string
	methodCodes map[string]base.StatusCode // last status per method
}

type rtspResp struct {
	res *base.Response
	err error
}

func dialRTSP(ctx context.Context, u *base.URL, cfg *Config) (*rtspConn, time.Duration, error) {
	host := u.Host
	if u.Port() == "" {
		port := "554"
		if u.Scheme == "rtsps" {
			port = "322"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := &net.Dialer{Timeout: cfg.Timeout}
	start := time.Now()
	var nc net.Conn
	var err error
	if u.Scheme == "rtsps" {
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{InsecureSkipVerify: cfg.Insecure, ServerName: u.Hostname()}} //nolint:gosec // opt-in
		nc, err = td.DialContext(ctx, "tcp", host)
	} else {
		nc, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return nil, 0, err
	}
	c := &rtspConn{
		nc: nc, timeout: cfg.Timeout, ua: cfg.UserAgent, user: cfg.User, pass: cfg.Pass, trace: cfg.Trace,
		resps: make(chan rtspResp, 4), done: make(chan struct{}),
		methodCodes: map[string]base.StatusCode{},
	}
	go c.readLoop()
	return c, time.Since(start), nil
}

func (c *rtspConn) close() {
	_ = c.nc.Close()
	<-c.done
}

func (c *rtspConn) setOnFrame(f func(channel int, payload []byte, at time.Time)) {
	c.mu.Lock()
	c.onFrame = f
	c.mu.Unlock()
}

// do sends one request and waits for its response. A 401 is answered once
// with credentials when there are some.
// reply is a response and how long it took.
type reply struct {
	*base.Response
	rtt time.Duration
}

func (c *rtspConn) do(method base.Method, u *base.URL, header base.Header) (*reply, error) {
	res, err := c.doOnce(method, u, header)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == base.StatusUnauthorized {
		if c.wwwAuth == nil {
			c.wwwAuth = res.Header["WWW-Authenticate"]
		}
		// Answer with credentials once; a new challenge (a first one, a
		// stale or per-connection nonce) gets a new sender.
		if c.answerChallenge(res.Header["WWW-Authenticate"]) {
			return c.doOnce(method, u, header)
		}
	}
	return res, nil
}

// answerChallenge makes the next requests answer the challenge of a 401,
// when there are credentials and a scheme they fit.
func (c *rtspConn) answerChallenge(www base.HeaderValue) bool {
	if c.user == "" {
		return false
	}
	s := &auth.Sender{WWWAuth: www, User: c.user, Pass: c.pass}
	if s.Initialize() != nil {
		return false
	}
	c.sender = s
	return true
}

func (c *rtspConn) doOnce(method base.Method, u *base.URL, header base.Header) (*reply, error) {
	c.cseq++
	h := base.Header{"CSeq": base.HeaderValue{strconv.Itoa(c.cseq)}}
	if c.ua != "" {
		h["User-Agent"] = base.HeaderValue{c.ua}
	}
	if c.session != "" {
		h["Session"] = base.HeaderValue{c.session}
	}
	for k, v := range header {
		h[k] = v
	}
	req := &base.Request{Method: method, URL: u.CloneWithoutCredentials(), Header: h}
	if c.sender != nil {
		c.sender.AddAuthorization(req)
	}
	b, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	if c.trace != nil {
		c.trace("C->S " + redactAuth(string(b)))
	}
	sent := time.Now()
	if err := c.write(b); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case r := <-c.resps:
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", method, r.err)
		}
		if c.trace != nil {
			c.trace("S->C " + r.res.String())
		}
		if v := r.res.Header["CSeq"]; len(v) != 1 || v[0] != strconv.Itoa(c.cseq) {
			c.mu.Lock()
			c.cseqBad++
			c.mu.Unlock()
		}
		if v := r.res.Header["Session"]; len(v) > 0 {
			c.session, _, _ = strings.Cut(v[0], ";")
			c.session = strings.TrimSpace(c.session)
		}
		c.mu.Lock()
		c.methodCodes[string(method)] = r.res.StatusCode
		c.mu.Unlock()
		return &reply{Response: r.res, rtt: time.Since(sent)}, nil
	case <-c.done:
		return nil, fmt.Errorf("%s: %w", method, c.closedErr())
	case <-timer.C:
		return nil, fmt.Errorf("%s: no response within %v", method, c.timeout)
	}
}

func (c *rtspConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.nc.Write(b)
	return err
}

func redactAuth(s string) string {
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Authorization") {
			lines[i] = k + ": ***"
		}
	}
	return strings.Join(lines, "\n")
}

func (c *rtspConn) readLoop() {
	defer close(c.done)
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		b, err := br.Peek(1)
		if err != nil {
			c.readErr = err
			return
		}
		if b[0] == '$' {
			var f base.InterleavedFrame
			if err := f.Unmarshal(br); err != nil {
				c.readErr = err
				return
			}
			c.mu.Lock()
			fn := c.onFrame
			c.mu.Unlock()
			if fn != nil {
				fn(f.Channel, f.Payload, time.Now())
			}
			continue
		}
		res, req, err := c.readMessage(br)
		if err != nil {
			c.readErr = err
			return
		}
		if req != "" {
			// A request from the server (REDIRECT, ANNOUNCE ...) gets a
			// well-formed answer: avcat check implements none.
			if _, err := strconv.ParseUint(c.reqCSeq, 10, 32); err == nil {
				_ = c.write([]byte("RTSP/1.0 501 Not Implemented\r\nCSeq: " + c.reqCSeq + "\r\n\r\n"))
			}
			c.mu.Lock()
			if len(c.serverReqs) < maxServerRequests {
				c.serverReqs = append(c.serverReqs, req)
			}
			c.mu.Unlock()
			continue
		}
		select {
		case c.resps <- rtspResp{res: res}:
		default: // nobody asked: an unsolicited response is dropped
		}
	}
}

// readMessage reads one response, or a request sent by the server (its
// method is returned). Bare LF line ends are counted and tolerated.
func (c *rtspConn) readMessage(br *bufio.Reader) (*base.Response, string, error) {
	var head bytes.Buffer
	c.reqCSeq = ""
	bare := false
	contentLength := 0
	first := ""
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, "", fmt.Errorf("response header line longer than %d bytes", br.Size())
			}
			return nil, "", err
		}
		if head.Len()+len(line) > maxHeadBytes {
			return nil, "", fmt.Errorf("response header longer than %d bytes", maxHeadBytes)
		}
		text := strings.TrimSuffix(string(line), "\n")
		if strings.HasSuffix(text, "\r") {
			text = strings.TrimSuffix(text, "\r")
		} else {
			bare = true
		}
		head.WriteString(text + "\r\n")
		if first == "" {
			if text == "" {
				continue // stray empty line between messages
			}
			first = text
			continue
		}
		if text == "" {
			break
		}
		if k, v, ok := strings.Cut(text, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "CSeq") {
			c.reqCSeq = strings.TrimSpace(v)
		}
		if k, v, ok := strings.Cut(text, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 || n > maxBodyBytes {
				return nil, "", fmt.Errorf("bad Content-Length %q", strings.TrimSpace(v))
			}
			contentLength = n
		}
	}
	if bare {
		c.mu.Lock()
		c.bareLF++
		c.mu.Unlock()
	}
	body := make([]byte, contentLength)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, "", err
	}
	if strings.HasPrefix(first, "HTTP/") {
		return nil, "", fmt.Errorf("not an RTSP server: it answered %q", first)
	}
	if !strings.HasPrefix(first, "RTSP/") {
		method, _, _ := strings.Cut(first, " ")
		return nil, method, nil
	}
	msg := bytes.TrimLeft(head.Bytes(), "\r\n")
	var res base.Response
	if err := res.Unmarshal(bufio.NewReader(io.MultiReader(bytes.NewReader(msg), bytes.NewReader(body)))); err != nil {
		return nil, "", fmt.Errorf("malformed response: %w", err)
	}
	return &res, "", nil
}

// closedErr says why the connection ended; call after done is closed.
func (c *rtspConn) closedErr() error {
	if c.readErr == nil || errors.Is(c.readErr, io.EOF) {
		return errors.New("the server closed the connection")
	}
	return c.readErr
}

// isClosed reports whether the connection has ended.
func (c *rtspConn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *rtspConn) stats() (bareLF, cseqBad int, serverReqs []string, codes map[string]base.StatusCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	codes = make(map[string]base.StatusCode, len(c.methodCodes))
	for k, v := range c.methodCodes {
		codes[k] = v
	}
	return c.bareLF, c.cseqBad, append([]string(nil), c.serverReqs...), codes
}
