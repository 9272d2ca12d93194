package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/netio"
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

// TestPacerBatches: units due together (within the group window) leave
// in one wake-up of the pacer's one timer, in the order the source gave
// them, with their timestamps untouched, and no unit leaves before it is
// due less the window: PaceGroup (10 ms) until a video step is known, then
// 3/4 of the 40 ms frame interval (30 ms).
func TestPacerBatches(t *testing.T) {
	_, vf := testDesc()
	af := aac48k()
	// Groups: {0, 0.2 (10 ms window)}, {40, 40.5, 45, 69 (30 ms from
	// here)}, {80, 80 (same DTS)}, {120, 125, 149}, {160}.
	units := []*media.Unit{
		unitAt(vf, 0), unitAt(af, 0.2),
		unitAt(vf, 40), unitAt(af, 40.5), unitAt(af, 45), unitAt(af, 69),
		unitAt(vf, 80), unitAt(vf, 80),
		unitAt(vf, 120), unitAt(af, 125), unitAt(af, 149),
		unitAt(vf, 160),
	}
	group := []int{0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 4}
	window := []time.Duration{PaceGroup, PaceGroup}
	for range units[2:] {
		window = append(window, 30*time.Millisecond)
	}
	want := make([]int64, len(units))
	for i, u := range units {
		want[i] = u.DTS
	}
	p := &Pacer{}
	defer p.Stop()
	start := time.Now()
	var timer *netio.Timer
	for i, u := range units {
		if !p.Wait(context.Background(), u) {
			t.Fatalf("unit %d: Wait gave up", i)
		}
		if p.waits != group[i] {
			t.Fatalf("unit %d (%v) left after %d timer waits, want %d: due-together units must leave together",
				i, unitTime(u), p.waits, group[i])
		}
		if w := p.Window(); w != window[i] {
			t.Fatalf("unit %d: window %v, want %v", i, w, window[i])
		}
		if early := unitTime(u) - time.Since(start); early > window[i] {
			t.Fatalf("unit %d left %v before it was due (window %v)", i, early, window[i])
		}
		if u.DTS != want[i] {
			t.Fatalf("unit %d: DTS changed to %d, want %d", i, u.DTS, want[i])
		}
		if timer == nil {
			timer = p.fd
		} else if p.fd != timer {
			t.Fatal("the pacer made a new timer; it should re-arm its one timer")
		}
	}
}

// TestPacerWindow: the group window follows the video frame interval (or
// the shortest track's without video) and the speed, within its bounds.
func TestPacerWindow(t *testing.T) {
	_, vf := testDesc()
	af := aac48k()
	for _, c := range []struct {
		name  string
		speed float64
		units []*media.Unit
		want  time.Duration
	}{
		{"nothing known", 1, []*media.Unit{unitAt(vf, 0)}, PaceGroup},
		{"25 fps", 1, []*media.Unit{unitAt(vf, 0), unitAt(af, 1), unitAt(af, 22.3), unitAt(vf, 40)}, 30 * time.Millisecond},
		{"60 fps", 1, []*media.Unit{unitAt(vf, 0), unitAt(vf, 1000.0/60)}, 12500 * time.Microsecond},
		{"audio only", 1, []*media.Unit{{Format: af}, {Format: af, DTS: 1024}}, 16 * time.Millisecond},
		{"25 fps at speed 8", 8, []*media.Unit{unitAt(vf, 0), unitAt(vf, 40)}, 5 * time.Millisecond},
		{"1 fps", 1, []*media.Unit{unitAt(vf, 0), unitAt(vf, 1000)}, PaceGroupMax},
		{"a repeated DTS", 1, []*media.Unit{unitAt(vf, 0), unitAt(vf, 40), unitAt(vf, 40)}, 30 * time.Millisecond},
	} {
		p := &Pacer{Speed: c.speed, Now: func() time.Time { return time.Time{} }}
		for _, u := range c.units {
			p.learn(u, unitTime(u))
		}
		if got := p.Window(); got < c.want-time.Microsecond || got > c.want+time.Microsecond {
			t.Errorf("%s: window %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPacedKeepsOrder: Paced emits every unit of its source, the same
// pointers in the same order, when some are due together.
func TestPacedKeepsOrder(t *testing.T) {
	src := &tsSource{n: 4}
	if _, err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []int64
	p := &Paced{Source: &dupSource{src}, Speed: 8}
	if err := p.Run(context.Background(), func(u *media.Unit) { got = append(got, u.DTS) }); err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 0, 3600, 3600, 7200, 7200, 10800, 10800}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got DTS %v, want %v", got, want)
	}
}

// dupSource emits each unit of its source twice (two units due together).
type dupSource struct{ *tsSource }

func (s *dupSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	return s.tsSource.Run(ctx, func(u *media.Unit) { emit(u); c := *u; emit(&c) })
}

// aac48k is a mono 48 kHz AAC format (1024-sample frames: 21.3 ms).
func aac48k() *format.MPEG4Audio {
	return &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
}

// unitAt is a unit of f with its DTS at m milliseconds.
func unitAt(f format.Format, m float64) *media.Unit {
	return &media.Unit{Format: f, DTS: int64(m * float64(f.ClockRate()) / 1000)}
}
