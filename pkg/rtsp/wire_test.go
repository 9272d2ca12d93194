package rtsp

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestWireCount(t *testing.T) {
	var w wireCount
	rtp := []byte{0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	rtpMarker := []byte{0x80, 0xe0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1} // PT 96 + marker = 224
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}
	w.datagram(rtp)
	w.datagram(rtpMarker)
	w.datagram(sr)
	w.datagram([]byte{0x80}) // too short
	w.stream([]byte("$\x00\x00\x0c"))
	w.stream([]byte("$\x01\x00\x1c")) // RTCP channel
	w.stream([]byte("OPTIONS rtsp://x RTSP/1.0\r\n\r\n"))
	if got := w.rtp.Load(); got != 3 {
		t.Fatalf("counted %d RTP packets, want 3", got)
	}
}

func TestTunnelFirstBytes(t *testing.T) {
	frame := []byte("$\x02\x00\x0cpayload.....")
	http := &tunnelConn{}
	if got := http.firstBytes([]byte(base64.StdEncoding.EncodeToString(frame))); string(got[:2]) != "$\x02" {
		t.Fatalf("HTTP tunnel: first bytes %q", got)
	}
	// A masked client WebSocket binary frame: FIN+binary, mask bit, length.
	key := []byte{1, 2, 3, 4}
	ws := []byte{0x82, 0x80 | byte(len(frame))}
	ws = append(ws, key...)
	for i, b := range frame {
		ws = append(ws, b^key[i%4])
	}
	if got := (&tunnelConn{ws: true}).firstBytes(ws); string(got) != "$\x02" {
		t.Fatalf("WebSocket tunnel: first bytes %q", got)
	}
}

func TestGetWithoutLength(t *testing.T) {
	get := "GET /x HTTP/1.1\r\nHost: h\r\nAccept: application/x-rtsp-tunnelled\r\nContent-Length: 30000\r\n\r\n"
	got := string(getWithoutLength([]byte(get)))
	if strings.Contains(got, "Content-Length") || !strings.HasSuffix(got, "tunnelled\r\n\r\n") || !strings.HasPrefix(got, "GET /x HTTP/1.1\r\nHost: h\r\n") {
		t.Fatalf("GET head: %q", got)
	}
	post := "POST /x HTTP/1.1\r\nContent-Length: 30000\r\n\r\n"
	if got := string(getWithoutLength([]byte(post))); got != post {
		t.Fatalf("a POST must keep its Content-Length: %q", got)
	}
}

// FuzzTunnelAnswer: whatever the HTTP side of a tunnel sends, in whatever
// pieces, is recorded without a panic and explained in one line.
func FuzzTunnelAnswer(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\nRTSP/1.0 200 OK\r\n"), uint8(7), false)
	f.Add([]byte("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html>"), uint8(3), true)
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n\x82\x05hello"), uint8(1), true)
	f.Add([]byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n"), uint8(0), false)
	f.Add([]byte("\x00\xff garbage\r\n\r\n"), uint8(2), false)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, ws bool) {
		c := &Config{}
		tc := &tunnelConn{c: c, ws: ws}
		step := int(chunk%32) + 1
		for i := 0; i < len(data); i += step {
			tc.note(data[i:min(i+step, len(data))])
		}
		if err := c.tunnelFail("rtsp://h/x", "h:554"); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error: %q", err)
		}
	})
}
