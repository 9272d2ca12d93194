package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Retry hears each loss with the wait before the next try, and ends Run
// with its error.
func TestRetrySourceRetry(t *testing.T) {
	desc, f := testDesc()
	conns := 0
	var waits []time.Duration
	var reasons []error
	var pts []int64
	stop := fault.New(fault.Auth, "no more")
	r := &RetrySource{
		Backoff: Backoff{Min: 20 * time.Millisecond, Max: 20 * time.Millisecond},
		New: func() Source {
			conns++
			return &fakeSource{desc: desc, units: []*media.Unit{
				{Format: f, PTS: 1000, DTS: 1000, Payload: [][]byte{{5}}, Key: true},
				{Format: f, PTS: 4000, DTS: 4000, Payload: [][]byte{{1}}},
			}}
		},
		Retry: func(err error, wait time.Duration) error {
			reasons, waits = append(reasons, err), append(waits, wait)
			if len(reasons) == 2 {
				return stop
			}
			return nil
		},
	}
	if _, err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := r.Run(context.Background(), func(u *media.Unit) { pts = append(pts, u.PTS) })
	if !errors.Is(err, stop) {
		t.Fatalf("Run returned %v, want the Retry error", err)
	}
	if conns != 2 || len(reasons) != 2 || !errors.Is(reasons[0], ErrStreamEnded) || waits[0] != 20*time.Millisecond {
		t.Fatalf("%d connections, retry calls %v %v", conns, reasons, waits)
	}
	// The second connection continues the first one's timeline.
	if len(pts) != 4 || pts[2] <= pts[1] || pts[3]-pts[2] != 3000 {
		t.Fatalf("pts %v: the second connection does not follow the first", pts)
	}
}
