package rtsp

import (
	"bytes"
	"net"
	"strconv"
)

// lfConn accepts servers that end RTSP lines with a bare "\n" (old camera
// firmware; ffprobe copes): it turns every bare "\n" of a message's start
// line and headers into "\r\n". Message bodies (Content-Length bytes) and
// interleaved frames ('$', channel, length, data) pass untouched, so a
// server that sends "\r\n" reads exactly as before. It lives here, in avcat's
// own connection wrapper, so it does not depend on the RTSP library.
type lfConn struct {
	net.Conn
	buf  []byte // raw bytes read from Conn
	out  []byte // converted bytes not yet returned
	obuf []byte // out's backing array, reused

	st       lfState
	left     int // bytes left in a body or interleaved frame
	frameHdr int // interleaved header bytes seen (after '$')
	frameLen [2]byte
	line     []byte // start of the current header line, for Content-Length
	lineLen  int    // bytes in the current line, CR excluded
	prevCR   bool
	clen     int   // Content-Length of the current message
	err      error // read error held back until out is drained
}

type lfState int

const (
	lfStart  lfState = iota // between messages
	lfHeader                // in the start line or headers
	lfBody                  // in a body: left bytes to pass
	lfFrame                 // in an interleaved frame's 3-byte header
	lfData                  // in an interleaved frame's data: left bytes to pass
)

// lfLineKeep is how much of a header line is kept to find Content-Length.
const lfLineKeep = 64

func newLFConn(c net.Conn) *lfConn { return &lfConn{Conn: c} }

func (c *lfConn) Read(p []byte) (int, error) {
	if len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		n, err := c.Conn.Read(c.buf[:len(p)])
		if n == 0 {
			return 0, err
		}
		c.obuf = c.convert(c.obuf[:0], c.buf[:n])
		c.out, c.err = c.obuf, err
	}
	k := copy(p, c.out)
	c.out = c.out[k:]
	if len(c.out) == 0 && c.err != nil {
		return k, c.err
	}
	return k, nil
}

// convert appends in to dst, with bare LF line ends of message heads made CRLF.
func (c *lfConn) convert(dst, in []byte) []byte {
	for len(in) > 0 {
		switch c.st {
		case lfBody, lfData:
			n := min(c.left, len(in))
			dst = append(dst, in[:n]...)
			in = in[n:]
			if c.left -= n; c.left == 0 {
				c.st = lfStart
			}
			continue
		case lfStart:
			if in[0] == '$' {
				c.st, c.frameHdr = lfFrame, 0
				dst = append(dst, '$')
				in = in[1:]
				continue
			}
			c.st, c.clen, c.lineLen, c.prevCR, c.line = lfHeader, 0, 0, false, c.line[:0]
		case lfFrame:
			b := in[0]
			dst = append(dst, b)
			in = in[1:]
			if c.frameHdr > 0 {
				c.frameLen[c.frameHdr-1] = b
			}
			if c.frameHdr++; c.frameHdr == 3 {
				c.left = int(c.frameLen[0])<<8 | int(c.frameLen[1])
				c.st = lfData
				if c.left == 0 {
					c.st = lfStart
				}
			}
			continue
		}
		// lfHeader
		b := in[0]
		in = in[1:]
		if b != '\n' {
			dst = append(dst, b)
			c.prevCR = b == '\r'
			if !c.prevCR {
				c.lineLen++
				if len(c.line) < lfLineKeep {
					c.line = append(c.line, b)
				}
			}
			continue
		}
		if !c.prevCR {
			dst = append(dst, '\r')
		}
		dst = append(dst, '\n')
		c.prevCR = false
		if c.lineLen > 0 {
			if n, ok := contentLength(c.line); ok {
				c.clen = n
			}
			c.lineLen, c.line = 0, c.line[:0]
			continue
		}
		// The empty line ends the head.
		c.st = lfStart
		if c.clen > 0 {
			c.st, c.left = lfBody, c.clen
		}
	}
	return dst
}

// contentLength parses a "Content-Length: N" header line.
func contentLength(line []byte) (int, bool) {
	k, v, ok := bytes.Cut(line, []byte(":"))
	if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
