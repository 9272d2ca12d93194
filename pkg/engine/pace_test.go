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

// TestPacerBatches: units due together (within PaceGroup) leave in one
// wake-up of the pacer's one timer, in the order the source gave them,
// with their timestamps untouched, and no unit leaves before it is due
// (less PaceGroup).
func TestPacerBatches(t *testing.T) {
	_, vf := testDesc()
	af := &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
	ms := func(f format.Format, m float64) *media.Unit {
		return &media.Unit{Format: f, DTS: int64(m * float64(f.ClockRate()) / 1000)}
	}
	// Groups (PaceGroup 10 ms): {0, 0.2}, {40, 40.5, 45, 49}, {80, 80
	// (same DTS)}, {120}: the pacer wakes at 40 at the earliest, when 49 is
	// due in less than PaceGroup.
	units := []*media.Unit{
		ms(vf, 0), ms(af, 0.2),
		ms(vf, 40), ms(af, 40.5), ms(af, 45), ms(af, 49),
		ms(vf, 80), ms(vf, 80),
		ms(vf, 120),
	}
	group := []int{0, 0, 1, 1, 1, 1, 2, 2, 3}
	want := make([]int64, len(units))
	for i, u := range units {
		want[i] = u.DTS
	}
	p := &Pacer{}
	defer p.Stop()
	start := time.Now()
	var timer *time.Timer
	for i, u := range units {
		if !p.Wait(context.Background(), u) {
			t.Fatalf("unit %d: Wait gave up", i)
		}
		if p.waits != group[i] {
			t.Fatalf("unit %d (%v) left after %d timer waits, want %d: due-together units must leave together",
				i, unitTime(u), p.waits, group[i])
		}
		if early := unitTime(u) - time.Since(start); early > PaceGroup {
			t.Fatalf("unit %d left %v before it was due", i, early)
		}
		if u.DTS != want[i] {
			t.Fatalf("unit %d: DTS changed to %d, want %d", i, u.DTS, want[i])
		}
		if timer == nil {
			timer = p.timer
		} else if p.timer != timer {
			t.Fatal("the pacer made a new timer; it should re-arm its one timer")
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
