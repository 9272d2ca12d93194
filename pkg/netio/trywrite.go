package netio

import (
	"net"
	"syscall"
)

// TryWriterOf is c's TryWrite: netio's own, or, for a plain TCP
// connection (under the race detector, or where netio has no raw calls),
// one non-blocking write(2) through its RawConn; nil for anything else.
func TryWriterOf(c net.Conn) TryWriter {
	if tw, ok := c.(TryWriter); ok {
		return tw
	}
	_, rc, ok := tcpRaw(c)
	if !ok {
		return nil
	}
	w := &rawConnWriter{rc: rc}
	w.fn = w.write
	return w
}

// rawConnWriter makes one write(2) per TryWrite; fn is made once, so a
// call does not allocate a closure.
type rawConnWriter struct {
	rc  syscall.RawConn
	fn  func(uintptr) bool
	buf []byte
	n   int
	err error
}

func (w *rawConnWriter) TryWrite(p []byte) (int, error) {
	w.buf = p
	err := w.rc.Write(w.fn)
	n, werr := w.n, w.err
	w.buf = nil
	if err == nil && werr != nil && werr != syscall.EAGAIN && werr != syscall.EINTR {
		err = werr
	}
	return max(n, 0), err
}
