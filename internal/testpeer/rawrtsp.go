package testpeer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// RTSPConn is a raw RTSP client connection for tests that need exact control
// of what is sent: hand-written requests, TCP-interleaved RTP read (or not
// read) at the test's pace, PAUSE and PLAY without Range. It does no auth,
// no keepalives and no RTP parsing beyond the header fields tests check.
type RTSPConn struct {
	Conn    net.Conn
	Session string // from the last response that carried one

	br   *bufio.Reader
	cseq int
}

// InterleavedFrame is one "$" frame of TCP-interleaved RTP/RTCP.
type InterleavedFrame struct {
	Channel int
	Payload []byte
}

// RTPMarker reports the RTP marker bit (the last packet of a video access
// unit); false for frames too short to be RTP.
func (f *InterleavedFrame) RTPMarker() bool { return len(f.Payload) >= 12 && f.Payload[1]&0x80 != 0 }

// RTPTimestamp returns the RTP timestamp, or 0 for frames too short to be RTP.
func (f *InterleavedFrame) RTPTimestamp() uint32 {
	if len(f.Payload) < 12 {
		return 0
	}
	return binary.BigEndian.Uint32(f.Payload[4:8])
}

// DialRTSP connects to addr ("127.0.0.1:PORT"). dialer may set socket options
// (e.g. a tiny receive buffer); nil uses a plain dialer.
func DialRTSP(addr string, timeout time.Duration, dialer *net.Dialer) (*RTSPConn, error) {
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	dialer.Timeout = timeout
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &RTSPConn{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

// Close closes the connection.
func (c *RTSPConn) Close() error { return c.Conn.Close() }

// Send writes one request with the next CSeq, the session (when known) and
// header, without waiting for the response.
func (c *RTSPConn) Send(method, url string, header map[string]string) error {
	c.cseq++
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s RTSP/1.0\r\nCSeq: %d\r\n", method, url, c.cseq)
	if c.Session != "" {
		if _, ok := header["Session"]; !ok {
			fmt.Fprintf(&b, "Session: %s\r\n", c.Session)
		}
	}
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(c.Conn, b.String())
	return err
}

// Do sends a request and reads until its response, within timeout.
// Interleaved frames read on the way are passed to onFrame (may be nil).
func (c *RTSPConn) Do(method, url string, header map[string]string, timeout time.Duration, onFrame func(*InterleavedFrame)) (*RTSPResponse, error) {
	if err := c.Send(method, url, header); err != nil {
		return nil, err
	}
	_ = c.Conn.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = c.Conn.SetDeadline(time.Time{}) }()
	for {
		resp, fr, err := c.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if fr != nil {
			if onFrame != nil {
				onFrame(fr)
			}
			continue
		}
		return resp, nil
	}
}

// ReadMessage reads the next response or interleaved frame (one of the two
// results is nil), honoring the connection's deadline.
func (c *RTSPConn) ReadMessage() (*RTSPResponse, *InterleavedFrame, error) {
	b, err := c.br.Peek(1)
	if err != nil {
		return nil, nil, err
	}
	if b[0] == '$' {
		var hdr [4]byte
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return nil, nil, err
		}
		n := int(binary.BigEndian.Uint16(hdr[2:]))
		fr := &InterleavedFrame{Channel: int(hdr[1]), Payload: make([]byte, n)}
		if _, err := io.ReadFull(c.br, fr.Payload); err != nil {
			return nil, nil, err
		}
		return nil, fr, nil
	}
	tp := textproto.NewReader(c.br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, nil, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	codeStr, _, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if proto != "RTSP/1.0" || err != nil {
		return nil, nil, fmt.Errorf("not an RTSP response: %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, nil, err
	}
	resp := &RTSPResponse{StatusCode: code, StatusLine: line, Header: h}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 1<<20 {
			return nil, nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		resp.Body = make([]byte, n)
		if _, err := io.ReadFull(c.br, resp.Body); err != nil {
			return nil, nil, err
		}
	}
	if s := h.Get("Session"); s != "" {
		c.Session, _, _ = strings.Cut(s, ";")
	}
	return resp, nil, nil
}

// SDPControl returns the a=control attribute of the first m= section of
// kind ("video" or "audio") of an SDP, resolved against base.
func SDPControl(sdp, kind, base string) (string, error) {
	in := false
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "m=") {
			if in {
				break
			}
			in = strings.HasPrefix(line, "m="+kind+" ")
			continue
		}
		if in && strings.HasPrefix(line, "a=control:") {
			ctl := strings.TrimPrefix(line, "a=control:")
			if strings.Contains(ctl, "://") {
				return ctl, nil
			}
			return strings.TrimSuffix(base, "/") + "/" + ctl, nil
		}
	}
	return "", errors.New("no a=control for " + kind + " in the SDP")
}

// SetupPlayTCP runs DESCRIBE, SETUP of the video track (TCP interleaved,
// channels 0-1) and, if play, PLAY on url. It returns the last response.
func (c *RTSPConn) SetupPlayTCP(url string, play bool, timeout time.Duration) (*RTSPResponse, error) {
	resp, err := c.Do("DESCRIBE", url, map[string]string{"Accept": "application/sdp"}, timeout, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return resp, fmt.Errorf("DESCRIBE: %s", resp.StatusLine)
	}
	base := url
	if cb := resp.Header.Get("Content-Base"); cb != "" {
		base = cb
	}
	ctl, err := SDPControl(string(resp.Body), "video", base)
	if err != nil {
		return resp, err
	}
	resp, err = c.Do("SETUP", ctl, map[string]string{"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, timeout, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return resp, fmt.Errorf("SETUP: %s", resp.StatusLine)
	}
	if !play {
		return resp, nil
	}
	resp, err = c.Do("PLAY", url, nil, timeout, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return resp, fmt.Errorf("PLAY: %s", resp.StatusLine)
	}
	return resp, nil
}

// RTSPMessage is one message read by Stream: a response, an interleaved
// frame, or the error that ended the connection.
type RTSPMessage struct {
	Resp  *RTSPResponse
	Frame *InterleavedFrame
	Err   error
}

// Stream reads c in a background goroutine from now on and delivers every
// message on the returned channel, which is closed after the error that ends
// the connection. Use Send and DoStream afterwards, not Do or ReadMessage.
// The goroutine ends when the connection is closed.
func (c *RTSPConn) Stream() <-chan RTSPMessage {
	ch := make(chan RTSPMessage, 256)
	_ = c.Conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(ch)
		for {
			resp, fr, err := c.ReadMessage()
			ch <- RTSPMessage{Resp: resp, Frame: fr, Err: err}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// DoStream sends a request and waits on ch (from Stream) for its response,
// passing the frames read meanwhile to onFrame (may be nil).
func (c *RTSPConn) DoStream(ch <-chan RTSPMessage, method, url string, header map[string]string, timeout time.Duration, onFrame func(*InterleavedFrame)) (*RTSPResponse, error) {
	if err := c.Send(method, url, header); err != nil {
		return nil, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-ch:
			switch {
			case !ok:
				return nil, fmt.Errorf("%s: connection closed", method)
			case m.Err != nil:
				return nil, fmt.Errorf("%s: %w", method, m.Err)
			case m.Frame != nil:
				if onFrame != nil {
					onFrame(m.Frame)
				}
			default:
				return m.Resp, nil
			}
		case <-timer.C:
			return nil, fmt.Errorf("%s: no response within %v", method, timeout)
		}
	}
}
