//go:build !unix

package netio

import "errors"

func (w *rawConnWriter) write(uintptr) bool {
	w.n, w.err = 0, errors.New("no non-blocking write here")
	return true
}
