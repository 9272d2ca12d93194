package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/media"
)

func TestFanoutDropsAndCounts(t *testing.T) {
	var f Fanout[int]
	slow := f.Add(QueueOptions[int]{Size: 2})
	fast := f.Add(QueueOptions[int]{Size: 8})
	for i := range 5 {
		f.Write(i)
	}
	if got := slow.Dropped(); got != 3 {
		t.Errorf("slow reader dropped %d, want 3", got)
	}
	if got := fast.Dropped(); got != 0 {
		t.Errorf("fast reader dropped %d, want 0", got)
	}
	if got := f.Dropped(); got != 3 {
		t.Errorf("fan-out dropped %d, want 3", got)
	}
	// The slow reader keeps the oldest values, in order.
	if a, b := <-slow.C(), <-slow.C(); a != 0 || b != 1 {
		t.Errorf("slow reader got %d, %d; want 0, 1", a, b)
	}
	// A removed reader's drops still count for the fan-out.
	f.Remove(slow)
	if _, ok := <-slow.C(); ok {
		t.Error("removed queue is not closed")
	}
	if got := f.Dropped(); got != 3 {
		t.Errorf("fan-out dropped %d after Remove, want 3", got)
	}
	if f.Len() != 1 {
		t.Errorf("Len = %d, want 1", f.Len())
	}
}

func TestFanoutAccept(t *testing.T) {
	var f Fanout[int]
	even := f.Add(QueueOptions[int]{Size: 1, Accept: func(v int) bool { return v%2 == 0 }})
	f.Write(1)
	f.Write(3)
	f.Write(2)
	if got := <-even.C(); got != 2 {
		t.Errorf("got %d, want 2", got)
	}
	if even.Dropped() != 0 {
		t.Errorf("values not accepted counted as dropped: %d", even.Dropped())
	}
}

func TestFanoutLosslessWaits(t *testing.T) {
	var f Fanout[int]
	q := f.Add(QueueOptions[int]{Size: 1, Lossless: true})
	f.Write(1)
	wrote := make(chan int)
	go func() { wrote <- f.Write(2) }()
	select {
	case <-wrote:
		t.Fatal("write to a full lossless queue did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	if got := <-q.C(); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	if drops := <-wrote; drops != 0 {
		t.Errorf("write reported %d drops", drops)
	}
	if got := <-q.C(); got != 2 {
		t.Errorf("got %d, want 2", got)
	}
	if q.Dropped() != 0 {
		t.Errorf("lossless queue dropped %d", q.Dropped())
	}
}

func TestFanoutLosslessWaitEnds(t *testing.T) {
	done := make(chan struct{})
	f := &Fanout[int]{Done: done}
	f.Add(QueueOptions[int]{Size: 1, Lossless: true})
	f.Write(1)
	wrote := make(chan int)
	go func() { wrote <- f.Write(2) }()
	close(done)
	if drops := <-wrote; drops != 1 {
		t.Errorf("write reported %d drops, want 1", drops)
	}

	// Remove ends a wait for the reader that left.
	var g Fanout[int]
	q := g.Add(QueueOptions[int]{Size: 1, Lossless: true})
	g.Write(1)
	go func() { wrote <- g.Write(2) }()
	g.Remove(q)
	<-wrote
}

func TestFanoutClose(t *testing.T) {
	var f Fanout[int]
	q := f.Add(QueueOptions[int]{Size: 4})
	f.Write(1)
	f.Write(2)
	f.Close()
	f.Close()
	f.Write(3) // discarded, no panic
	var got []int
	for v := range q.C() {
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("after Close the reader got %v, want [1 2]", got)
	}
	f.Remove(q) // no double close
	late := f.Add(QueueOptions[int]{})
	if _, ok := <-late.C(); ok {
		t.Error("a reader added after Close is not closed")
	}
	if cap(late.C()) != DefaultQueueSize {
		t.Errorf("default size %d, want %d", cap(late.C()), DefaultQueueSize)
	}
}

// BenchmarkFanoutWrite measures Write to N draining readers (a full queue
// drops, as in a session).
func BenchmarkFanoutWrite(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			var f Fanout[*media.Unit]
			var wg sync.WaitGroup
			for range n {
				q := f.Add(QueueOptions[*media.Unit]{})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range q.C() { //nolint:revive // drain
					}
				}()
			}
			u := &media.Unit{}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				f.Write(u)
			}
			b.StopTimer()
			f.Close()
			wg.Wait()
		})
	}
}
