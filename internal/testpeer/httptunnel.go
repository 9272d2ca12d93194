package testpeer

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTPTunnel is the client side of an RTSP-over-HTTP tunnel (QuickTime's
// scheme): RTSP answers and interleaved RTP come back on the GET
// connection, requests go base64-encoded on the POST connection.
type HTTPTunnel struct {
	Get, Post net.Conn
	br        *bufio.Reader
}

// DialRTSPOverHTTP opens a tunnel to addr for path and returns a raw RTSP
// connection that runs through it, plus the tunnel (to drop one side).
func DialRTSPOverHTTP(addr, path string, timeout time.Duration) (*RTSPConn, *HTTPTunnel, error) {
	d := &net.Dialer{Timeout: timeout}
	get, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	cookie := fmt.Sprintf("avcat%d", time.Now().UnixNano())
	_ = get.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(get, "GET %s HTTP/1.0\r\nX-Sessioncookie: %s\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", path, cookie)
	br := bufio.NewReaderSize(get, 64<<10)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		get.Close()
		return nil, nil, fmt.Errorf("tunnel GET: %v %v", res, err)
	}
	_ = get.SetDeadline(time.Time{})
	post, err := d.Dial("tcp", addr)
	if err != nil {
		get.Close()
		return nil, nil, err
	}
	fmt.Fprintf(post, "POST %s HTTP/1.0\r\nX-Sessioncookie: %s\r\nContent-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n", path, cookie)
	tu := &HTTPTunnel{Get: get, Post: post, br: br}
	return &RTSPConn{Conn: tu, br: bufio.NewReaderSize(tu, 64<<10)}, tu, nil
}

func (t *HTTPTunnel) Read(p []byte) (int, error) { return t.br.Read(p) }

func (t *HTTPTunnel) Write(p []byte) (int, error) {
	if _, err := t.Post.Write([]byte(base64.StdEncoding.EncodeToString(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close closes both connections.
func (t *HTTPTunnel) Close() error {
	t.Post.Close()
	return t.Get.Close()
}

func (t *HTTPTunnel) LocalAddr() net.Addr  { return t.Get.LocalAddr() }
func (t *HTTPTunnel) RemoteAddr() net.Addr { return t.Get.RemoteAddr() }

func (t *HTTPTunnel) SetDeadline(d time.Time) error {
	_ = t.Post.SetDeadline(d)
	return t.Get.SetDeadline(d)
}

func (t *HTTPTunnel) SetReadDeadline(d time.Time) error  { return t.Get.SetReadDeadline(d) }
func (t *HTTPTunnel) SetWriteDeadline(d time.Time) error { return t.Post.SetWriteDeadline(d) }
