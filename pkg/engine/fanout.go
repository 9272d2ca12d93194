package engine

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Fanout delivers values from a writer to N readers, each through its own
// bounded queue: a reader that falls behind drops and counts, and never
// stalls the writer or the other readers, unless it is lossless (then the
// writer waits for it). A Session's sinks and each of serve's streams use
// one. Values are shared by every reader: they must not modify them.
// The zero value is ready to use.
type Fanout[T any] struct {
	// Done, when closed, ends the writer's wait for a full lossless queue.
	Done <-chan struct{}

	mu      sync.RWMutex
	queues  []*Queue[T]
	closed  bool
	dropped atomic.Uint64
}

// QueueOptions configure a reader's queue.
type QueueOptions[T any] struct {
	// Size bounds the queue; 0 means DefaultQueueSize.
	Size int
	// Lossless makes the writer wait for room instead of dropping.
	Lossless bool
	// Accept, if set, says which values the reader wants; the others are
	// neither queued nor counted as dropped.
	Accept func(T) bool
}

// Queue is one reader's queue: receive from C until it is closed.
type Queue[T any] struct {
	ch       chan T
	opt      QueueOptions[T]
	dropped  atomic.Uint64
	total    *atomic.Uint64
	gone     chan struct{}
	goneOnce sync.Once
}

// Add adds a reader. After Close it returns a queue that is already
// closed, so a reader that raced the end sees the end.
func (f *Fanout[T]) Add(opt QueueOptions[T]) *Queue[T] {
	if opt.Size <= 0 {
		opt.Size = DefaultQueueSize
	}
	q := &Queue[T]{ch: make(chan T, opt.Size), opt: opt, total: &f.dropped, gone: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(q.ch)
		return q
	}
	f.queues = append(f.queues, q)
	return q
}

// Remove takes a reader out and closes its queue; a write waiting for it
// returns. Call it when the reader stops reading.
func (f *Fanout[T]) Remove(q *Queue[T]) {
	q.goneOnce.Do(func() { close(q.gone) })
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.Index(f.queues, q); i >= 0 {
		f.queues = slices.Delete(f.queues, i, i+1)
		close(q.ch)
	}
}

// Write queues v for every reader and returns how many dropped it.
func (f *Fanout[T]) Write(v T) int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	drops := 0
	for _, q := range f.queues {
		if !q.push(v, f.Done) {
			drops++
		}
	}
	return drops
}

// Close closes every queue: each reader receives what was queued, then
// sees the end. Later writes are discarded. A write waiting for a lossless
// reader holds Close back until the reader makes room or Done is closed.
func (f *Fanout[T]) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for _, q := range f.queues {
		close(q.ch)
	}
	f.queues = nil
}

// Len is the number of readers.
func (f *Fanout[T]) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.queues)
}

// Dropped is how many values the readers, present and past, dropped.
func (f *Fanout[T]) Dropped() uint64 { return f.dropped.Load() }

// C is the queue's channel; it is closed by Remove or Close.
func (q *Queue[T]) C() <-chan T { return q.ch }

// Dropped is how many values this reader dropped.
func (q *Queue[T]) Dropped() uint64 { return q.dropped.Load() }

// push queues v, or reports false when it was dropped (or, lossless, the
// wait was ended).
func (q *Queue[T]) push(v T, done <-chan struct{}) bool {
	if q.opt.Accept != nil && !q.opt.Accept(v) {
		return true
	}
	if q.opt.Lossless {
		select {
		case q.ch <- v:
			return true
		case <-done:
		case <-q.gone:
		}
		return false
	}
	select {
	case q.ch <- v:
		return true
	default:
		q.dropped.Add(1)
		q.total.Add(1)
		return false
	}
}
