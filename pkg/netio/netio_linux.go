package netio

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a TCP connection whose Read, Write and TryWrite are raw system
// calls. The callbacks handed to the netpoller are method values made
// once, with their arguments in fields, so a call does not allocate.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu       sync.Mutex
	rbuf      []byte
	rn        int
	rerr      syscall.Errno
	readFn    func(uintptr) bool
	readAhead int
	ahead     []byte // read ahead: ahead[ar:aw] not yet returned
	ar, aw    int
	batch     time.Duration // SetReadBatch
	batchT    *Timer
	lastRead  time.Time // when a read(2) last drained the socket
	reads     int       // read(2) calls that returned data, for tests
	gathers   int       // waits of the read batch, for tests
	lowat     int32     // SO_RCVLOWAT set (0: the default, 1)
	lowatFn   func(uintptr)

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	once    bool // TryWrite: one call, do not wait
	writeFn func(uintptr) bool
}

func wrap(c net.Conn, readAhead int) *Conn {
	tc, rc, ok := tcpRaw(c)
	if !ok {
		return nil
	}
	w := &Conn{TCPConn: tc, rc: rc, readAhead: readAhead}
	w.readFn, w.writeFn, w.lowatFn = w.read, w.write, w.raiseLowat
	return w
}

// Read reads like net.Conn's Read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.ar < c.aw {
		n := copy(p, c.ahead[c.ar:c.aw])
		c.ar += n
		return n, nil
	}
	if len(p) >= c.readAhead {
		return c.rawRead(p)
	}
	if c.ahead == nil {
		c.ahead = make([]byte, c.readAhead)
	}
	c.gather()
	n, err := c.rawRead(c.ahead)
	if n == 0 {
		return 0, err
	}
	if n < len(c.ahead) { // drained: the next read gathers again
		c.lastRead = time.Now()
	}
	c.ar, c.aw = copy(p, c.ahead[:n]), n
	return c.ar, nil
}

// SetReadBatch makes reads of a connection with a read-ahead gather: once
// a read drained the socket, the next one waits until d has passed since,
// so what arrives meanwhile comes in one wake-up instead of one per burst
// of the sender. A read that fills the read-ahead does not wait, so the
// kernel holds at most about d of data. It delays data by up to d: for a
// recorder, not a relay. 0 turns it off.
func (c *Conn) SetReadBatch(d time.Duration) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.batch = d
}

// gather waits out the read batch; c.rmu is held.
func (c *Conn) gather() {
	if c.batch <= 0 || c.lastRead.IsZero() {
		return
	}
	wait := time.Until(c.lastRead.Add(c.batch))
	if wait <= 0 {
		return
	}
	if c.batchT == nil {
		t, err := NewTimer()
		if err != nil {
			return
		}
		c.batchT = t
	}
	c.gathers++
	if c.lowat < batchLowat {
		_ = c.rc.Control(c.lowatFn)
	}
	c.batchT.Sleep(context.Background(), wait) // bounded by d; Close waits it out
}

// Close closes the connection and its batch timer.
func (c *Conn) Close() error {
	err := c.TCPConn.Close()
	c.rmu.Lock()
	if c.batchT != nil {
		c.batchT.Close()
		c.batchT = nil
	}
	c.rmu.Unlock()
	return err
}

// rawRead makes one read(2) into p, waiting for data; c.rmu is held.
func (c *Conn) rawRead(p []byte) (int, error) {
	c.rbuf, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	if n > 0 {
		c.reads++
	}
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) read(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(r)
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			if c.lowat > 1 {
				// Wait for any data, not a batch's worth; read again,
				// in case some came before the change.
				setLowat(fd, 1)
				c.lowat = 1
				continue
			}
			return false
		default:
			c.rerr = e
			return true
		}
	}
}

// batchLowat is SO_RCVLOWAT while a read batch gathers: the kernel does
// not signal the socket readable below it (which would wake the netpoller
// for each burst, with no goroutine waiting). The kernel grows the receive
// buffer to twice it.
const batchLowat = 256 << 10

func setLowat(fd uintptr, v int32) {
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT,
		uintptr(unsafe.Pointer(&v)), 4, 0)
}

// raiseLowat is a Control callback: SO_RCVLOWAT to batchLowat.
func (c *Conn) raiseLowat(fd uintptr) {
	setLowat(fd, batchLowat)
	c.lowat = batchLowat
}

// Write writes all of p like net.Conn's Write, waiting for the socket
// when it is full.
func (c *Conn) Write(p []byte) (int, error) {
	return c.writeAll(p, false)
}

// TryWrite makes one write and never waits (see TryWriter).
func (c *Conn) TryWrite(p []byte) (int, error) {
	return c.writeAll(p, true)
}

func (c *Conn) writeAll(p []byte, once bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr, c.once = p, 0, 0, once
	err := c.rc.Write(c.writeFn)
	n, errno := c.wn, c.werr
	c.wbuf = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

func (c *Conn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(len(c.wbuf)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return c.once
		default:
			c.werr = e
			return true
		}
	}
	return true
}

// opError reports err as net.Conn's Read and Write do; the netpoller's
// own errors (deadline, closed) come named "raw-read"/"raw-write".
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
