package netio

import (
	"context"
	"testing"
	"time"
)

func TestTimer(t *testing.T) {
	raw(t)
	tm, err := NewTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	ctx := context.Background()
	for _, d := range []time.Duration{0, time.Millisecond, 30 * time.Millisecond, 5 * time.Millisecond} {
		start := time.Now()
		if !tm.Sleep(ctx, d) {
			t.Fatalf("Sleep(%v) gave up", d)
		}
		if got := time.Since(start); got < d {
			t.Fatalf("Sleep(%v) returned after %v", d, got)
		}
	}

	// A context that ends wakes the wait; a later one works again.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan bool, 1)
	go func() { done <- tm.Sleep(cctx, time.Hour) }()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Sleep reported the hour elapsed after its context ended")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep did not return when its context ended")
	}
	if tm.Sleep(cctx, time.Millisecond) {
		t.Fatal("Sleep on an ended context reported success")
	}
	start := time.Now()
	if !tm.Sleep(ctx, 2*time.Millisecond) || time.Since(start) < 2*time.Millisecond {
		t.Fatal("the timer does not work after a context ended")
	}
}
