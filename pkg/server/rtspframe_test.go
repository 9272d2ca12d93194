package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/conn"
)

var framerSeeds = []string{
	"OPTIONS rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n\r\n",
	"ANNOUNCE rtsp://h/x RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nv=0\r\nOPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n",
	"$\x00\x00\x04abcd$\x01\x00\x00GET_PARAMETER rtsp://h/x RTSP/1.0\r\ncontent-length:  2\r\n\r\nokSETUP x RTSP/1.0\r\n\r\n",
	"xx\x00$\x00\x00\x01zRTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\nRTSP/1.0 200\r\n\r\n",
	"PLAY rtsp://h/x RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nTEARDOWN x RTSP/1.0\r\n:Content-Length: 4\r\n\r\n",
	"DESCRIBE x RTSP/1.0\r\nContent-Length: 00000000003\r\n\r\nabc",
	"PAUSE x RTSP/1.0\r\nContent-Length: 0\r\nX:\r\n\r\n",
}

// checkFramer feeds data to gortsplib's own reader and to a framer, and
// fails when they disagree on where a message ends: the framer must be
// busy from a message's first byte to its last, and idle right after.
func checkFramer(t *testing.T, data []byte) {
	if bytes.HasPrefix(data, []byte("GET ")) || bytes.HasPrefix(data, []byte("POST")) {
		return // a tunnel: the framer stops following after the HTTP head
	}
	r := bytes.NewReader(data)
	br := bufio.NewReader(r)
	c := conn.NewConn(br, nil)
	var f framer
	fed := 0
	for {
		if _, err := c.Read(); err != nil {
			return
		}
		end := len(data) - r.Len() - br.Buffered()
		for i := fed; i < end; i++ {
			if err := f.feed(data[i : i+1]); err != nil {
				t.Fatalf("feed: %v", err)
			}
			if last := i == end-1; f.busy() == last {
				t.Fatalf("at byte %d of a message ending at %d: busy=%v, want %v (data %q)", i, end, f.busy(), !last, data)
			}
		}
		fed = end
	}
}

func TestFramerSeeds(t *testing.T) {
	for _, s := range framerSeeds {
		checkFramer(t, []byte(s))
	}
	// Every prefix of a message keeps the framer busy.
	var f framer
	msg := framerSeeds[1]
	for i := 0; i < len(msg); i++ {
		_ = f.feed([]byte{msg[i]})
		if !f.busy() && i < strings.Index(msg, "v=0\r\n")+4 {
			t.Fatalf("idle after %d bytes of %q", i+1, msg)
		}
	}
}

func TestFramerTunnelHead(t *testing.T) {
	var f framer
	if err := f.feed([]byte("GET /x HTTP/1.1\r\nAccept: application/x-rtsp-tunnelled\r\n")); err != nil || !f.busy() {
		t.Fatalf("busy=%v err=%v, want busy", f.busy(), err)
	}
	if err := f.feed([]byte("\r\n")); err != nil || f.busy() {
		t.Fatalf("busy=%v err=%v, want idle after the head", f.busy(), err)
	}
	var g framer
	_ = g.feed([]byte("POST /x HTTP/1.1\r\n"))
	line := []byte("X-Pad: " + strings.Repeat("a", 1000) + "\r\n")
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = g.feed(line)
	}
	if err != errHTTPHeadTooLarge {
		t.Fatalf("a 100 KB tunnel head: err %v, want %v", err, errHTTPHeadTooLarge)
	}
}

// checkTunnels: RTSP carried in a POST tunnel (base64) or a WebSocket
// tunnel (masked frames of sizes taken from the data) is followed as the
// same bytes sent plainly: at every point where a tunnel's bytes decode
// to a prefix of data, busy() agrees with a plain framer's.
func checkTunnels(t *testing.T, data []byte) {
	if bytes.HasPrefix(data, []byte("GET ")) || bytes.HasPrefix(data, []byte("POST")) {
		return
	}
	// plainAt feeds a plain framer up to n (n only grows, per tunnel).
	var p framer
	fed := 0
	plainAt := func(n int) bool {
		_ = p.feed(data[fed:n])
		fed = n
		return p.busy()
	}
	// POST: quartets decode to 3 bytes.
	var b framer
	_ = b.feed([]byte("POST /x HTTP/1.1\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n"))
	for i := 0; i < len(data); i += 3 {
		end := min(i+3, len(data))
		if err := b.feed([]byte(base64.StdEncoding.EncodeToString(data[i:end]))); err != nil {
			t.Fatal(err)
		}
		if b.busy() != plainAt(end) {
			t.Fatalf("POST tunnel, after %d bytes: busy=%v, plain %v (data %q)", end, b.busy(), !b.busy(), data)
		}
	}
	// WebSocket: frames of 1 to 200 bytes, 7-, 16- and 64-bit lengths.
	p, fed = framer{}, 0
	var w framer
	_ = w.feed([]byte("GET /x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"))
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	for i, k := 0, 0; i < len(data); k++ {
		size := 1 + int(data[i])%200
		end := min(i+size, len(data))
		payload := data[i:end]
		hdr := []byte{0x82}
		switch {
		case k%3 == 1:
			hdr = append(hdr, 0x80|126, byte(len(payload)>>8), byte(len(payload)))
		case k%3 == 2:
			hdr = append(hdr, 0x80|127, 0, 0, 0, 0, 0, 0, byte(len(payload)>>8), byte(len(payload)))
		default:
			if len(payload) > 125 {
				payload = payload[:125]
				end = i + 125
			}
			hdr = append(hdr, 0x80|byte(len(payload)))
		}
		if k > 0 && k%4 == 0 {
			hdr[0] = 0x80 // a continuation
		}
		frame := append(hdr, mask[:]...)
		for j, c := range payload {
			frame = append(frame, c^mask[j%4])
		}
		if err := w.feed(frame[:len(frame)-1]); err != nil {
			t.Fatal(err)
		}
		if !w.busy() {
			t.Fatalf("WebSocket tunnel: idle inside a frame")
		}
		_ = w.feed(frame[len(frame)-1:])
		if w.busy() != plainAt(end) {
			t.Fatalf("WebSocket tunnel, after %d bytes: busy=%v, plain %v (data %q)", end, w.busy(), !w.busy(), data)
		}
		i = end
	}
}

func TestFramerTunnels(t *testing.T) {
	for _, s := range framerSeeds {
		checkTunnels(t, []byte(s))
	}
	var w framer
	_ = w.feed([]byte("GET /x HTTP/1.1\r\n\r\n"))
	if err := w.feed([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0}); err != errWSMessageTooLarge {
		t.Fatalf("a 2 MiB WebSocket frame: err %v, want %v", err, errWSMessageTooLarge)
	}
}

// FuzzFramerMatchesGortsplib: the framer ends messages exactly where
// gortsplib v5's reader does, whatever the bytes, and follows the same
// bytes inside HTTP and WebSocket tunnels.
func FuzzFramerMatchesGortsplib(f *testing.F) {
	for _, s := range framerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFramer(t, data)
		checkTunnels(t, data)
	})
}
