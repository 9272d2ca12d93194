//go:build unix

package netio

import "syscall"

func (w *rawConnWriter) write(fd uintptr) bool {
	w.n, w.err = syscall.Write(int(fd), w.buf)
	return true
}
