package rtsp

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch is the most RTP a publishing connection holds before it writes:
// a whole access unit usually fits (a 720p 3 Mbit/s key frame is ~40 KB).
const maxBatch = 64 << 10

// wireCount counts the RTP packets that reached a socket. gortsplib v5
// counts a packet as sent when it is queued, and Close drops what is still
// queued, so a push waits on this count before it closes.
//
// A publisher over TCP also sets batch: its connection then holds the
// interleaved RTP frames gortsplib's writer goroutine hands it one by one
// until the one that completes what the sink has handed over (handed),
// and writes them with one call, so a unit of 20 packets costs one write
// instead of 20. gortsplib v5.6.4 has no call that takes several packets.
type wireCount struct {
	rtp    atomic.Uint64
	batch  bool
	handed atomic.Uint64 // RTP packets the sink has handed (or is handing) to gortsplib

	connMu sync.Mutex
	conn   *countConn // the batching connection, for flush
}

// stream notes one write on an RTSP connection: gortsplib writes each
// request and each interleaved frame in one call, RTP on even channels.
func (w *wireCount) stream(p []byte) {
	if isRTPFrame(p) {
		w.rtp.Add(1)
	}
}

func isRTPFrame(p []byte) bool { return len(p) >= 2 && p[0] == '$' && p[1]%2 == 0 }

// datagram notes one UDP datagram: RTP (or SRTP, whose header is in
// clear) rather than RTCP, whose packet types are 200-207.
func (w *wireCount) datagram(p []byte) {
	if len(p) >= 12 && p[0]>>6 == 2 && (p[1] < 200 || p[1] > 207) {
		w.rtp.Add(1)
	}
}

// flush writes what the connection holds; for a sink that stops part way
// through a unit.
func (w *wireCount) flush() {
	w.connMu.Lock()
	c := w.conn
	w.connMu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.flush() //nolint:errcheck // the writer goroutine sees the error too
		c.mu.Unlock()
	}
}

// countConn counts what is written on an RTSP connection, and batches a
// publisher's RTP (see wireCount).
type countConn struct {
	net.Conn
	w *wireCount

	mu      sync.Mutex
	buf     []byte // held RTP frames
	held    uint64 // frames in buf
	seen    uint64 // RTP frames gortsplib has written to us
	dl, set time.Time
	err     error
}

func newCountConn(c net.Conn, w *wireCount) *countConn {
	cc := &countConn{Conn: c, w: w}
	if w.batch {
		w.connMu.Lock()
		w.conn = cc
		w.connMu.Unlock()
	}
	return cc
}

func (c *countConn) Write(p []byte) (int, error) {
	if !c.w.batch {
		n, err := c.Conn.Write(p)
		if err == nil {
			c.w.stream(p)
		}
		return n, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	rtp := isRTPFrame(p)
	if rtp {
		c.seen++
	}
	more := rtp && c.seen < c.w.handed.Load()
	if len(c.buf) == 0 && !more {
		// Nothing held and nothing to wait for: write p itself.
		if err := c.applyDeadline(); err != nil {
			return 0, err
		}
		n, err := c.Conn.Write(p)
		if err != nil {
			c.err = err
			return n, err
		}
		if rtp {
			c.w.rtp.Add(1)
		}
		return n, nil
	}
	c.buf = append(c.buf, p...)
	if rtp {
		c.held++
	}
	if more && len(c.buf) < maxBatch {
		return len(p), nil
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes the held frames in one call; c.mu is held.
func (c *countConn) flush() error {
	if len(c.buf) == 0 || c.err != nil {
		return c.err
	}
	if err := c.applyDeadline(); err != nil {
		return err
	}
	_, err := c.Conn.Write(c.buf)
	if err != nil {
		c.err = err
		return err
	}
	c.w.rtp.Add(c.held)
	c.buf, c.held = c.buf[:0], 0
	if cap(c.buf) > 2*maxBatch { // one huge frame: do not keep its buffer
		c.buf = nil
	}
	return nil
}

// SetWriteDeadline is noted and applied before the next real write:
// gortsplib sets it before every frame, and a batch is written once.
func (c *countConn) SetWriteDeadline(t time.Time) error {
	if !c.w.batch {
		return c.Conn.SetWriteDeadline(t)
	}
	c.mu.Lock()
	c.dl = t
	c.mu.Unlock()
	return nil
}

func (c *countConn) SetDeadline(t time.Time) error {
	if c.w.batch {
		c.mu.Lock()
		c.dl, c.set = t, t
		c.mu.Unlock()
	}
	return c.Conn.SetDeadline(t)
}

// applyDeadline sets the last write deadline asked for; c.mu is held.
func (c *countConn) applyDeadline() error {
	if c.dl.Equal(c.set) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(c.dl); err != nil {
		return err
	}
	c.set = c.dl
	return nil
}

// countPacketConn counts the datagrams written on a UDP socket. It embeds
// *net.UDPConn because gortsplib needs its SyscallConn and SetReadBuffer.
type countPacketConn struct {
	*net.UDPConn
	w *wireCount
}

func (c *countPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.UDPConn.WriteTo(p, addr)
	if err == nil {
		c.w.datagram(p)
	}
	return n, err
}
