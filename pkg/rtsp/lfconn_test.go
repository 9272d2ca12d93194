package rtsp

import (
	"bytes"
	"io"
	"net"
	"testing"
)

var lfCases = []struct {
	name    string
	in, out string
}{
	{"crlf untouched",
		"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\na\nb\nc$\x00\x00\x03\n\n\nRTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n",
		"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\na\nb\nc$\x00\x00\x03\n\n\nRTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"},
	{"bare lf head, body kept",
		"RTSP/1.0 200 OK\nCSeq: 2\ncontent-length:4\n\nv=0\nRTSP/1.0 200 OK\nCSeq: 3\n\n",
		"RTSP/1.0 200 OK\r\nCSeq: 2\r\ncontent-length:4\r\n\r\nv=0\nRTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n"},
	{"frame after bare lf head",
		"RTSP/1.0 200 OK\nCSeq: 4\n\n$\x01\x00\x02\n\n$\x00\x00\x00RTSP/1.0 200 OK\n\n",
		"RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n$\x01\x00\x02\n\n$\x00\x00\x00RTSP/1.0 200 OK\r\n\r\n"},
	{"mixed line ends", "RTSP/1.0 200 OK\r\nCSeq: 5\n\r\n", "RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n"},
}

// readAll reads in through an lfConn whose peer writes it in chunks of size n.
func readAll(t testing.TB, in []byte, n int) []byte {
	a, b := net.Pipe()
	go func() {
		for len(in) > 0 {
			k := min(n, len(in))
			if _, err := a.Write(in[:k]); err != nil {
				return
			}
			in = in[k:]
		}
		a.Close()
	}()
	out, err := io.ReadAll(newLFConn(b))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

func TestLFConn(t *testing.T) {
	for _, c := range lfCases {
		for _, chunk := range []int{1, 3, 1 << 16} {
			if got := readAll(t, []byte(c.in), chunk); string(got) != c.out {
				t.Errorf("%s (chunks of %d):\n got %q\nwant %q", c.name, chunk, got, c.out)
			}
		}
	}
}

// FuzzLFConn: the wrapper only ever adds a CR before an LF, and the result
// does not depend on how the peer's bytes were split.
func FuzzLFConn(f *testing.F) {
	for _, c := range lfCases {
		f.Add([]byte(c.in), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		whole := (&lfConn{}).convert(nil, in)
		norm := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }
		if !bytes.Equal(norm(whole), norm(in)) {
			t.Fatalf("convert changed more than line ends:\n in %q\nout %q", in, whole)
		}
		c := &lfConn{}
		var split []byte
		n := int(chunk)%7 + 1
		for rest := in; len(rest) > 0; {
			k := min(n, len(rest))
			split = c.convert(split, rest[:k])
			rest = rest[k:]
		}
		if !bytes.Equal(split, whole) {
			t.Fatalf("chunks of %d give %q, whole gives %q", n, split, whole)
		}
	})
}

// loopConn returns the same bytes on every Read, as a stream of frames.
type loopConn struct {
	net.Conn
	data []byte
}

func (c *loopConn) Read(p []byte) (int, error) { return copy(p, c.data), nil }

// Reading interleaved frames through the wrapper reuses its buffers: no
// allocation per read once running.
func TestLFConnNoAllocs(t *testing.T) {
	frame := append([]byte{'$', 0, 0x05, 0x78}, bytes.Repeat([]byte{0x80}, 0x578)...)
	c := newLFConn(&loopConn{data: frame})
	p := make([]byte, len(frame))
	for range 10 {
		if _, err := io.ReadFull(c, p); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(200, func() { io.ReadFull(c, p) }); a != 0 { //nolint:errcheck
		t.Fatalf("%.1f allocations per frame read", a)
	}
}
