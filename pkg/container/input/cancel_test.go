package input

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// blockingReader never returns until fed, like a stdin with no data (and
// no working read deadlines).
type blockingReader struct{ ch chan []byte }

func (b *blockingReader) Read(p []byte) (int, error) {
	d, ok := <-b.ch
	if !ok {
		return 0, io.EOF
	}
	return copy(p, d), nil
}

func TestCancelableUnblocksOnDone(t *testing.T) {
	br := &blockingReader{ch: make(chan []byte, 1)}
	r := Cancelable(br)
	ctx, cancel := context.WithCancel(context.Background())
	stop := UnblockOnDone(ctx, r)
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read returned %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a canceled read on a silent input did not return")
	}
	stop()
	// Data that arrives later is not lost.
	br.ch <- []byte("hello")
	close(br.ch)
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello" {
		t.Fatalf("after the deadline: %q, %v", b, err)
	}
}

// A stdin inherited from a shell has no working deadlines: it is wrapped.
func TestCancelableWrapsBlockingFile(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	// Re-open the read end the way os.Stdin is made: a blocking descriptor.
	f := os.NewFile(pr.Fd(), "stdin")
	if f.SetReadDeadline(time.Time{}) == nil {
		t.Skip("this platform gives blocking files deadlines")
	}
	if _, ok := Cancelable(f).(*asyncReader); !ok {
		t.Fatal("a file without deadlines was not wrapped")
	}
	if Cancelable(pw) != io.Reader(pw) {
		t.Fatal("a pipe with deadlines was wrapped")
	}
}
