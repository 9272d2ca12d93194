package input

import (
	"io"
	"os"
	"sync"
	"time"
)

// Cancelable returns r if its reads can be interrupted by a read deadline
// (pipes opened by Go, sockets), and otherwise wraps it so that they can:
// stdin inherited from a shell is a blocking descriptor whose deadlines
// fail, so a Ctrl-C could not stop a read waiting for data. The wrapper
// reads in a goroutine; a read abandoned at the deadline keeps its data
// for the next Read.
func Cancelable(r io.Reader) io.Reader {
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok && d.SetReadDeadline(time.Time{}) == nil {
		return r
	}
	return &asyncReader{r: r, changed: make(chan struct{})}
}

type readResult struct {
	b   []byte
	err error
}

// asyncReader is a reader with read deadlines over any reader.
type asyncReader struct {
	r io.Reader

	mu       sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed when the deadline changes
	pending  chan readResult
	rest     []byte
	err      error
}

// SetReadDeadline makes a blocked or later Read return
// os.ErrDeadlineExceeded once t has passed; zero means no deadline.
func (a *asyncReader) SetReadDeadline(t time.Time) error {
	a.mu.Lock()
	a.deadline = t
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	return nil
}

func (a *asyncReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		a.mu.Lock()
		if len(a.rest) > 0 {
			n := copy(p, a.rest)
			a.rest = a.rest[n:]
			a.mu.Unlock()
			return n, nil
		}
		if a.err != nil {
			err := a.err
			a.mu.Unlock()
			return 0, err
		}
		if a.pending == nil {
			ch := make(chan readResult, 1)
			a.pending = ch
			size := max(len(p), 32<<10)
			go func() {
				b := make([]byte, size)
				n, err := a.r.Read(b)
				ch <- readResult{b[:n], err}
			}()
		}
		pending, deadline, changed := a.pending, a.deadline, a.changed
		a.mu.Unlock()

		var timeout <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case res := <-pending:
			a.mu.Lock()
			a.pending = nil
			a.rest, a.err = res.b, res.err
			if len(a.rest) == 0 && a.err == nil {
				a.mu.Unlock()
				continue
			}
			a.mu.Unlock()
		case <-timeout:
			return 0, os.ErrDeadlineExceeded
		case <-changed:
		}
	}
}
