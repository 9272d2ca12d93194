package record

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

// fileSink creates its file in Open and counts units.
type fileSink struct {
	path   string
	units  int
	first  *media.Unit
	closed bool
}

func (f *fileSink) Open(*description.Session) error { return os.WriteFile(f.path, nil, 0o644) }
func (f *fileSink) Write(u *media.Unit) error {
	if f.first == nil {
		f.first = u
	}
	f.units++
	return nil
}
func (f *fileSink) Close() error { f.closed = true; return nil }

func TestSegmenterSplitsOnKeyframes(t *testing.T) {
	dir := t.TempDir()
	v := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{v}}}}
	var sinks []*fileSink
	var finished []string
	seg := &Segmenter{
		Template: filepath.Join(dir, "cam/%Y/seg.mp4"),
		Segment:  2 * time.Second,
		Now:      func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		New: func(p string) (engine.Sink, error) {
			s := &fileSink{path: p}
			sinks = append(sinks, s)
			return s, nil
		},
		OnSegment: func(p string) { finished = append(finished, p) },
	}
	if err := seg.Open(desc); err != nil {
		t.Fatal(err)
	}
	// 7 s at 25 fps, a keyframe every 30 frames (1.2 s).
	for i := 0; i < 175; i++ {
		u := &media.Unit{Format: v, PTS: int64(i * 3600), DTS: int64(i * 3600), Payload: [][]byte{{5}}, Key: i%30 == 0}
		if err := seg.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
	// Boundaries at 2 s, 4 s, 6 s fall on the keyframes at 2.4 s, 4.8 s, 6.0 s.
	want := []int{60, 60, 30, 25}
	if len(sinks) != len(want) {
		t.Fatalf("%d files, want %d", len(sinks), len(want))
	}
	for i, s := range sinks {
		if s.units != want[i] || !s.first.Key || !s.closed {
			t.Errorf("file %d: %d units (want %d), starts with keyframe %v, closed %v", i, s.units, want[i], s.first.Key, s.closed)
		}
	}
	names := []string{"seg.mp4", "seg-1.mp4", "seg-2.mp4", "seg-3.mp4"}
	for i, n := range names {
		if finished[i] != filepath.Join(dir, "cam/2026", n) {
			t.Errorf("file %d is %s, want .../%s (never overwrite)", i, finished[i], n)
		}
	}
}

func TestSegmenterUnwritable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	seg := &Segmenter{Template: filepath.Join(dir, "file", "x.mp4"), New: func(p string) (engine.Sink, error) { return &fileSink{path: p}, nil }}
	if err := seg.Open(&description.Session{}); err == nil {
		t.Fatal("a path under a regular file must fail")
	}
}
