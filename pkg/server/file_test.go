package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

func h264Desc() *description.Session {
	return &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}},
	}}
}

// clipSource is a file of 5 keyframes 10 ms apart, with formats of its
// own on each opening; it notes the needs it is asked for.
type clipSource struct {
	desc  *description.Session
	mu    *sync.Mutex
	needs *[]engine.Needs
}

func (s *clipSource) Open(ctx context.Context) (*description.Session, error) {
	s.note(ctx)
	return s.desc, nil
}

func (s *clipSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	s.note(ctx)
	m := s.desc.Medias[0]
	for i := range 5 {
		pts := int64(i * 900)
		emit(&media.Unit{Media: m, Format: m.Formats[0], PTS: pts, DTS: pts, Key: true, Payload: [][]byte{{0x65}}})
	}
	return nil
}

func (s *clipSource) Close() error { return nil }

func (s *clipSource) note(ctx context.Context) {
	s.mu.Lock()
	*s.needs = append(*s.needs, engine.NeedsFrom(ctx))
	s.mu.Unlock()
}

func clipFile(loop bool) (File, func() []engine.Needs) {
	var mu sync.Mutex
	var needs []engine.Needs
	open := func() engine.Source { return &clipSource{desc: h264Desc(), mu: &mu, needs: &needs} }
	return File{Name: "clip", Open: open, Loop: loop}, func() []engine.Needs {
		mu.Lock()
		defer mu.Unlock()
		return append([]engine.Needs(nil), needs...)
	}
}

// TestPlayerLoopsOntoReaderFormats: a looped file plays on the reader's
// own formats, with timestamps that keep going forward, and its source is
// asked for what the reader needs.
func TestPlayerLoopsOntoReaderFormats(t *testing.T) {
	f, needs := clipFile(true)
	desc := h264Desc()
	got := make(chan *media.Unit, 64)
	p := newPlayer(f, desc, engine.NeedPackets, func(u *media.Unit) { got <- u })
	p.play(0, true)
	var units []*media.Unit
	for len(units) < 12 {
		select {
		case u := <-got:
			units = append(units, u)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d units played", len(units))
		}
	}
	p.stop()
	for k, u := range units {
		if u.Format != desc.Medias[0].Formats[0] || u.Media != desc.Medias[0] {
			t.Fatalf("unit %d is not on the reader's format", k)
		}
		if want := int64(k * 900); u.PTS != want || u.DTS != want {
			t.Fatalf("unit %d: PTS %d DTS %d, want %d (timestamps must continue across loops)", k, u.PTS, u.DTS, want)
		}
		if u.NTP.IsZero() || (k > 0 && !u.NTP.After(units[k-1].NTP)) {
			t.Fatalf("unit %d: NTP %v does not follow the media timeline", k, u.NTP)
		}
	}
	n := needs()
	if len(n) < 6 { // 3 iterations at least, each opened and run
		t.Fatalf("%d openings and runs", len(n))
	}
	for i, x := range n {
		if x != engine.NeedPackets {
			t.Fatalf("call %d of the file source saw needs %b, want the reader's %b", i, x, engine.NeedPackets)
		}
	}
}

// TestPlayerSeek: playback from a position starts at the first keyframe
// at or after it, and a file without loop ends.
func TestPlayerSeek(t *testing.T) {
	f, _ := clipFile(false)
	var mu sync.Mutex
	var pts []int64
	p := newPlayer(f, h264Desc(), engine.NeedAccessUnits, func(u *media.Unit) {
		mu.Lock()
		pts = append(pts, u.PTS)
		mu.Unlock()
	})
	ended := make(chan struct{})
	p.onEnd = func() { close(ended) }
	p.play(25*time.Millisecond, true)
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("a file without loop did not end")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pts) != 2 || pts[0] != 2700 || pts[1] != 3600 {
		t.Fatalf("played PTS %v, want [2700 3600] (from the frame at 30 ms)", pts)
	}
}
