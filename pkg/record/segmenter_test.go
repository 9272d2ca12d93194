package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/mp4"
	"github.com/avcat/avcat/pkg/container/mp4w"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
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
	names := []string{"seg.mp4", "seg_00001.mp4", "seg_00002.mp4", "seg_00003.mp4"}
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

// TestSegmenterNamesSortInTimeOrder: the files of a recording, and of the
// recordings before it in the same place, sort (byte order) in the order
// they were written; a segmented template without time directives
// numbers every file, so they sort under any collation too.
func TestSegmenterNamesSortInTimeOrder(t *testing.T) {
	v := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{v}}}}
	record := func(t *testing.T, tmpl string, seg time.Duration, seconds int) []string {
		t.Helper()
		var files []string
		s := &Segmenter{
			Template: tmpl, Segment: seg,
			Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
			New: func(p string) (engine.Sink, error) {
				files = append(files, filepath.Base(p))
				return &fileSink{path: p}, nil
			},
		}
		if err := s.Open(desc); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < seconds*25; i++ {
			u := &media.Unit{Format: v, PTS: int64(i * 3600), DTS: int64(i * 3600), Payload: [][]byte{{5}}, Key: i%25 == 0}
			if err := s.Write(u); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return files
	}
	for _, c := range []struct {
		name string
		tmpl string
		seg  time.Duration
		runs [][]string // files written by each run, in order
	}{
		{"numbered", "x.ts", time.Second, [][]string{
			{"x_00000.ts", "x_00001.ts", "x_00002.ts"},
			{"x_00003.ts", "x_00004.ts", "x_00005.ts"},
		}},
		{"collisions", "%Y/x.ts", time.Second, [][]string{
			{"x.ts", "x_00001.ts", "x_00002.ts"},
			{"x_00003.ts", "x_00004.ts", "x_00005.ts"},
		}},
		{"one file per run", "x.ts", 0, [][]string{{"x.ts"}, {"x_00001.ts"}, {"x_00002.ts"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var all []string
			for i, want := range c.runs {
				got := record(t, filepath.Join(dir, c.tmpl), c.seg, len(want))
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("run %d wrote %v, want %v", i+1, got, want)
				}
				all = append(all, got...)
			}
			sorted := append([]string(nil), all...)
			sort.Strings(sorted)
			if strings.Join(sorted, " ") != strings.Join(all, " ") {
				t.Errorf("names sort as %v, written %v", sorted, all)
			}
		})
	}
	// A gap (a file deleted) is not reused: the next name still sorts last.
	dir := t.TempDir()
	for _, n := range []string{"x_00000.ts", "x_00007.ts"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := uniquePath(filepath.Join(dir, "x.ts"), true); filepath.Base(got) != "x_00008.ts" {
		t.Errorf("next name %s, want x_00008.ts", got)
	}
}

// TestSegmenterDiskFull records the H.264+AAC clip in 1 s segments, with
// the real file sinks, onto a disk that fills up midway: the error names
// the full disk and what became of the last file, and every file left is
// readable by ffprobe (and, for MP4 and fMP4, by the project's demuxer).
func TestSegmenterDiskFull(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	desc, units := muxtest.Cases[0].Units(t)
	for _, c := range []struct {
		name, ext string
		new       func(p string, d *muxtest.Disk) engine.Sink
		limits    []int64 // disk sizes that fill up mid-recording
	}{
		{"mp4", ".mp4", func(p string, d *muxtest.Disk) engine.Sink { return &mp4w.MP4Sink{Path: p, Create: d.Create} }, []int64{70 << 10, 100 << 10}},
		{"fmp4", ".mp4", func(p string, d *muxtest.Disk) engine.Sink { return &mp4w.FMP4Sink{Path: p, Create: d.Create} }, []int64{70 << 10, 100 << 10}},
		{"ts", ".ts", func(p string, d *muxtest.Disk) engine.Sink { return &mpegts.Sink{Path: p, Create: d.Create} }, []int64{70 << 10, 100 << 10}},
		{"flv", ".flv", func(p string, d *muxtest.Disk) engine.Sink { return &flv.Sink{Path: p, Create: d.Create} }, []int64{70 << 10, 100 << 10}},
		{"h264", ".h264", func(p string, d *muxtest.Disk) engine.Sink { return &annexb.Sink{Path: p, Create: d.Create} }, []int64{70 << 10}},
		{"aac", ".aac", func(p string, d *muxtest.Disk) engine.Sink { return &adts.Sink{Path: p, Create: d.Create} }, []int64{16 << 10, 24 << 10}},
	} {
		for _, limit := range c.limits {
			t.Run(fmt.Sprintf("%s/%dK", c.name, limit>>10), func(t *testing.T) {
				dir := t.TempDir()
				d := &muxtest.Disk{Limit: limit}
				seg := &Segmenter{
					Template: filepath.Join(dir, "a"+c.ext), Segment: time.Second,
					New: func(p string) (engine.Sink, error) { return c.new(p, d), nil },
				}
				if err := seg.Open(desc); err != nil {
					t.Fatal(err)
				}
				var err error
				for _, u := range units {
					if err = seg.Write(u); err != nil {
						break
					}
				}
				err = errors.Join(err, seg.Close())
				if !muxtest.IsNoSpace(err) {
					t.Fatalf("error %v, want no space left on device", err)
				}
				if !strings.Contains(err.Error(), "; kept ") && !strings.Contains(err.Error(), "; finalized ") &&
					!strings.Contains(err.Error(), "; removed ") {
					t.Errorf("the error does not say what became of the last file: %v", err)
				}
				entries, _ := os.ReadDir(dir)
				if len(entries) == 0 {
					t.Fatal("no file left")
				}
				for _, e := range entries {
					p := filepath.Join(dir, e.Name())
					r, perr := testpeer.FFprobe(testpeer.FFprobeTimeout, "-count_frames", p)
					st := r.Video()
					if c.ext == ".aac" && perr == nil {
						st = r.Audio()
					}
					if perr != nil || st == nil || st.NbReadFrames == 0 {
						t.Errorf("%s: ffprobe: %v", e.Name(), perr)
						continue
					}
					if msg := muxtest.DecodeErrors(t, p); msg != "" {
						t.Errorf("%s: ffmpeg -v error: %s", e.Name(), msg)
					}
					if c.ext == ".mp4" {
						if n := demux(t, p); n == 0 {
							t.Errorf("%s: our demuxer read no unit", e.Name())
						}
					}
					t.Logf("%s: %d frames", e.Name(), st.NbReadFrames)
				}
				t.Logf("%v", err)
			})
		}
	}
}

// demux counts the units the project's MP4 demuxer reads from path.
func demux(t *testing.T, path string) int {
	t.Helper()
	src := &mp4.Source{Path: path}
	defer src.Close()
	if _, err := src.Open(t.Context()); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	n := 0
	if err := src.Run(t.Context(), func(*media.Unit) { n++ }); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return n
}
