package rtpcap

import (
	"sync"
	"time"
)

// FlushInterval is how often the capture sinks flush their buffers, so
// that a kill -9 loses at most about this much of the capture.
const FlushInterval = time.Second

// Flusher calls a function every FlushInterval until stopped.
type Flusher struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartFlusher calls flush every FlushInterval on its own goroutine.
func StartFlusher(flush func()) *Flusher {
	f := &Flusher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				flush()
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

// Stop stops the flusher and waits for a flush in progress. It is
// idempotent and safe on nil.
func (f *Flusher) Stop() {
	if f == nil {
		return
	}
	f.once.Do(func() { close(f.stop) })
	<-f.done
}
