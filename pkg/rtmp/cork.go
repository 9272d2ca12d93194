package rtmp

import (
	"net"
	"sync"
)

// corkConn holds back writes while corked and sends them in one write on
// uncork. gortmplib flushes after every RTMP message, so a unit that
// becomes several messages (the AAC access units of one RTP packet, a
// sequence header and a keyframe) would cost one system call each;
// corked, it costs one. Writes from other goroutines (acknowledgements)
// join the held bytes in order.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte
}

// cork starts holding writes back.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was held back and stops holding.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 1<<20 {
		c.buf = nil // do not keep an exceptional keyframe's buffer
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}
