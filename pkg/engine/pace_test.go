package engine

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/media"
)

func TestPacerFollowsTimestamps(t *testing.T) {
	_, f := testDesc()
	for _, speed := range []float64{1, 4} {
		p := &Pacer{Speed: speed}
		start := time.Now()
		for i := 0; i <= 10; i++ { // 10 frames at 25 fps = 400 ms of media
			p.Wait(context.Background(), &media.Unit{Format: f, DTS: int64(i * 3600)})
		}
		got := time.Since(start)
		want := time.Duration(float64(400*time.Millisecond) / speed)
		if got < want || got > want+150*time.Millisecond {
			t.Errorf("speed %v: took %v, want about %v", speed, got, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &Pacer{}
	p.Wait(ctx, &media.Unit{Format: f})
	if p.Wait(ctx, &media.Unit{Format: f, DTS: 90000 * 10}) {
		t.Fatal("Wait should give up when ctx is done")
	}
}

// tsSource emits n video units 40 ms apart, with a fresh format each Open
// (as a reopened file would).
type tsSource struct {
	n    int
	desc *description.Session
}

func (s *tsSource) Open(context.Context) (*description.Session, error) {
	s.desc, _ = testDesc()
	return s.desc, nil
}

func (s *tsSource) Run(_ context.Context, emit func(*media.Unit)) error {
	f := s.desc.Medias[0].Formats[0]
	for i := 0; i < s.n; i++ {
		emit(&media.Unit{Format: f, Media: s.desc.Medias[0], PTS: int64(i * 3600), DTS: int64(i * 3600), Payload: [][]byte{{1}}})
	}
	return nil
}

func (s *tsSource) Close() error { return nil }

func TestLoopContinuesTimestamps(t *testing.T) {
	loops := 0
	l := &Loop{New: func() Source { return &tsSource{n: 5} }, Count: 3, OnLoop: func(int) { loops++ }}
	desc, err := l.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := desc.Medias[0].Formats[0]
	var pts []int64
	err = l.Run(context.Background(), func(u *media.Unit) {
		if u.Format != f {
			t.Fatalf("unit of iteration has a foreign format")
		}
		pts = append(pts, u.PTS)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 15 || loops != 2 {
		t.Fatalf("%d units, %d loops", len(pts), loops)
	}
	for i, p := range pts {
		if p != int64(i*3600) {
			t.Fatalf("unit %d pts %d, want %d (timestamps must continue across loops)", i, p, i*3600)
		}
	}
}

// TestPacerWallTime: the wall time of a media time follows the timeline
// the pacer started, whenever the caller gets to ask.
func TestPacerWallTime(t *testing.T) {
	_, f := testDesc()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	p := &Pacer{Speed: 2, Now: func() time.Time { return now }}
	if !p.WallTime(time.Second).IsZero() {
		t.Fatal("wall time before the first unit")
	}
	p.Wait(context.Background(), &media.Unit{Format: f, DTS: 90000}) // media 1 s starts the timeline
	now = t0.Add(5 * time.Second)                                    // a stalled caller
	if got, want := p.WallTime(3*time.Second), t0.Add(time.Second); !got.Equal(want) {
		t.Fatalf("media 3 s at speed 2 plays at %v, want %v", got.Sub(t0), want.Sub(t0))
	}
}
