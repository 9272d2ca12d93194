package rtsp

import (
	"bytes"
	"encoding/base64"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
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

// recConn records each Write and each SetWriteDeadline that reach it.
type recConn struct {
	net.Conn
	writes    [][]byte
	deadlines int
}

func (c *recConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *recConn) SetWriteDeadline(time.Time) error { c.deadlines++; return nil }

func frame(ch byte, n int) []byte {
	b := append([]byte{'$', ch, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{ch + 1}, n)...)
	return b
}

// TestBatchedWrites: a publisher's connection writes the RTP frames of
// what the sink handed over in one call, in order, counts them when they
// are written, flushes before an RTCP frame or a request, never holds
// more than maxBatch, and applies the write deadline once per real write.
func TestBatchedWrites(t *testing.T) {
	w := &wireCount{batch: true}
	rc := &recConn{}
	c := newCountConn(rc, w)
	write := func(p []byte) {
		t.Helper()
		c.SetWriteDeadline(time.Now().Add(time.Second)) //nolint:errcheck // recConn
		if n, err := c.Write(p); err != nil || n != len(p) {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}

	// One unit of three packets: one write, after the third.
	w.handed.Store(3)
	a, b, d := frame(0, 100), frame(0, 200), frame(0, 50)
	write(a)
	write(b)
	if len(rc.writes) != 0 || w.rtp.Load() != 0 {
		t.Fatalf("%d writes, %d counted before the unit was complete", len(rc.writes), w.rtp.Load())
	}
	write(d)
	if len(rc.writes) != 1 || !bytes.Equal(rc.writes[0], slices.Concat(a, b, d)) || w.rtp.Load() != 3 {
		t.Fatalf("%d writes, %d counted; want the three frames in one write", len(rc.writes), w.rtp.Load())
	}
	if rc.deadlines != 1 {
		t.Fatalf("deadline set %d times for one write", rc.deadlines)
	}

	// A one-packet unit goes at once, as it is.
	w.handed.Store(4)
	write(a)
	if len(rc.writes) != 2 || w.rtp.Load() != 4 {
		t.Fatalf("single packet: %d writes, %d counted", len(rc.writes), w.rtp.Load())
	}

	// An RTCP report in the middle of a unit writes what is held with it.
	w.handed.Store(6)
	write(a)
	sr := frame(1, 28)
	write(sr)
	if len(rc.writes) != 3 || !bytes.Equal(rc.writes[2], slices.Concat(a, sr)) || w.rtp.Load() != 5 {
		t.Fatalf("RTCP: %d writes, %d counted", len(rc.writes), w.rtp.Load())
	}
	write(b)
	if len(rc.writes) != 4 || w.rtp.Load() != 6 {
		t.Fatalf("after RTCP: %d writes, %d counted", len(rc.writes), w.rtp.Load())
	}

	// A big unit is written every maxBatch bytes.
	w.handed.Store(6 + 100)
	big := frame(0, 1400)
	for range 100 {
		write(big)
	}
	for _, p := range rc.writes[4:] {
		if len(p) > maxBatch+len(big) {
			t.Fatalf("a write of %d bytes, over maxBatch", len(p))
		}
	}
	if w.rtp.Load() != 106 || len(rc.writes) != 4+(100*len(big)+maxBatch-1)/maxBatch {
		t.Fatalf("big unit: %d writes, %d counted", len(rc.writes)-4, w.rtp.Load()-6)
	}

	// A unit cut short (the sink gave up) is written by flush.
	w.handed.Store(106 + 5)
	write(a)
	write(b)
	w.handed.Store(108)
	w.flush()
	if w.rtp.Load() != 108 || !bytes.Equal(rc.writes[len(rc.writes)-1], slices.Concat(a, b)) {
		t.Fatalf("flush: %d counted", w.rtp.Load())
	}
}

// TestUnbatchedWrites: other connections (a reader, UDP publishing)
// write each frame as it comes.
func TestUnbatchedWrites(t *testing.T) {
	w := &wireCount{}
	rc := &recConn{}
	c := newCountConn(rc, w)
	w.handed.Store(10)
	for range 3 {
		c.SetWriteDeadline(time.Now()) //nolint:errcheck // recConn
		c.Write(frame(0, 10))          //nolint:errcheck // recConn
	}
	if len(rc.writes) != 3 || rc.deadlines != 3 || w.rtp.Load() != 3 {
		t.Fatalf("%d writes, %d deadlines, %d counted", len(rc.writes), rc.deadlines, w.rtp.Load())
	}
}
