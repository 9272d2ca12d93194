package testpeer

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// RTSPResponse is a raw RTSP response read by RTSPRequest.
type RTSPResponse struct {
	StatusCode int
	StatusLine string // e.g. "RTSP/1.0 401 Unauthorized"
	Header     textproto.MIMEHeader
	Body       []byte
}

// RTSPRequest sends one RTSP request (CSeq: 1 plus header) over a new TCP
// connection to addr ("host:port") and reads the response, all within timeout.
// It is a tiny raw client for readiness checks and for asserting on status
// codes without going through any RTSP library.
func RTSPRequest(addr, method, url string, header map[string]string, timeout time.Duration) (*RTSPResponse, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%s %s RTSP/1.0\r\nCSeq: 1\r\n", method, url)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}

	tp := textproto.NewReader(bufio.NewReader(conn))
	line, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("read status line: %w", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	codeStr, _, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if proto != "RTSP/1.0" || err != nil {
		return nil, fmt.Errorf("not an RTSP response: %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	resp := &RTSPResponse{StatusCode: code, StatusLine: line, Header: h}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 1<<20 {
			return nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		resp.Body = make([]byte, n)
		if _, err := io.ReadFull(tp.R, resp.Body); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
	}
	return resp, nil
}
