package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Segmenter is a sink that writes a recording into files named from a
// template, starting a new file at the first keyframe after each segment
// boundary. Every file starts with a keyframe and is finalized when the
// next one starts or when the segmenter closes.
//
// Names never overwrite and sort in time order: a segmented template
// without time directives numbers every file (x_00000.ts, x_00001.ts...,
// as ffmpeg's segment muxer does with x%05d.ts), and a name already taken
// gets the next number after the highest in use (x.ts, then x_00001.ts).
type Segmenter struct {
	// Template is a strftime-style path, e.g. cam1/%Y-%m-%d/%H-%M-%S.mp4.
	Template string
	// Segment is the target length of a file; 0 means one file.
	Segment time.Duration
	// MaxSize starts a new file (at a keyframe) past this many bytes; 0 means no limit.
	MaxSize int64
	// New makes the sink that writes one file.
	New func(path string) (engine.Sink, error)
	// OnSegment is told each finished file.
	OnSegment func(path string)
	// Now is the clock for file names; nil means time.Now.
	Now func() time.Time

	desc     *description.Session
	hasVideo bool
	cur      engine.Sink
	curPath  string
	origin   float64 // media time (s) of the first unit
	next     float64 // media time of the next segment boundary
	started  bool
	bytes    int64
	units    int // units in the current file
	files    []string
	wrote    bool // a finished file holds media
	paused   bool // Pause finished the file; the next Write starts one
}

// Started reports whether media was written (sinks drop units until a
// keyframe).
func (s *Segmenter) Started() bool {
	return s.wrote || (s.cur != nil && curStarted(s.cur, s.units))
}

func curStarted(sk engine.Sink, units int) bool {
	if st, ok := sk.(engine.Starter); ok {
		return st.Started()
	}
	return units > 0
}

// Files lists the files written so far, in order.
func (s *Segmenter) Files() []string { return append([]string(nil), s.files...) }

// Needs asks for access units: files hold access units.
func (s *Segmenter) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless: a recording never drops.
func (s *Segmenter) Lossless() bool { return true }

// Open checks the description and opens the first file, so an unwritable
// path fails before any media flows.
func (s *Segmenter) Open(desc *description.Session) error {
	if s.Now == nil {
		s.Now = time.Now
	}
	if _, err := Expand(s.Template, s.Now()); err != nil {
		return fault.Wrap(fault.Usage, err)
	}
	s.desc = desc
	for _, m := range desc.Medias {
		if m.Type == description.MediaTypeVideo {
			s.hasVideo = true
		}
	}
	return s.openNext()
}

// SeqDigits is the width of the sequence numbers in file names.
const SeqDigits = 5

// uniquePath never returns a path that exists. A taken name gets
// _00001, _00002... before the extension, one more than the highest
// number in use, so that names sort in time order (byte order: '_' sorts
// after the '.' of the unnumbered name). With always set every name gets
// a number, from _00000, so that they sort under any collation.
func uniquePath(p string, always bool) string {
	if _, err := os.Lstat(p); !always && errors.Is(err, fs.ErrNotExist) {
		return p
	}
	ext := filepath.Ext(p)
	base := strings.TrimSuffix(p, ext)
	n := 1
	if always {
		n = 0
	}
	if m, ok := highestSeq(base, ext); ok {
		n = max(n, m+1)
	}
	for ; ; n++ {
		c := fmt.Sprintf("%s_%0*d%s", base, SeqDigits, n, ext)
		if _, err := os.Lstat(c); errors.Is(err, fs.ErrNotExist) {
			return c
		}
	}
}

// highestSeq is the highest N of the files named base_N.ext.
func highestSeq(base, ext string) (int, bool) {
	entries, err := os.ReadDir(filepath.Dir(base))
	if err != nil {
		return 0, false
	}
	prefix := filepath.Base(base) + "_"
	high, found := 0, false
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		num, ok = strings.CutSuffix(num, ext)
		if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && (!found || n > high) {
			high, found = n, true
		}
	}
	return high, found
}

func (s *Segmenter) openNext() error {
	name, err := Expand(s.Template, s.Now())
	if err != nil {
		return fault.Wrap(fault.Usage, err)
	}
	if dir := filepath.Dir(name); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fault.New(fault.Runtime, "cannot create directory for %s: %v", name, unwrapPath(err))
		}
	}
	name = uniquePath(name, (s.Segment > 0 || s.MaxSize > 0) && !HasTimeDirective(s.Template))
	sink, err := s.New(name)
	if err != nil {
		return err
	}
	if err := sink.Open(s.desc); err != nil {
		return err
	}
	s.cur, s.curPath, s.bytes, s.units = sink, name, 0, 0
	s.files = append(s.files, name)
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func unitSeconds(u *media.Unit) float64 {
	cr := u.Format.ClockRate()
	if cr <= 0 {
		return 0
	}
	return float64(u.DTS) / float64(cr)
}

// Write adds a unit, starting a new file when a boundary has passed and
// the unit can start one (a video keyframe, or anything without video).
func (s *Segmenter) Write(u *media.Unit) error {
	if s.cur == nil && s.paused {
		s.paused, s.started = false, false // a new grid from this unit
		if err := s.openNext(); err != nil {
			return err
		}
	}
	if s.cur == nil {
		return errors.New("recording is closed")
	}
	t := unitSeconds(u)
	canStart := !s.hasVideo || (media.IsVideo(u.Format) && u.Key)
	if !s.started {
		s.origin, s.next, s.started = t, t+s.Segment.Seconds(), true
	} else if canStart && s.due(t) {
		if err := s.finish(); err != nil {
			return err
		}
		if err := s.openNext(); err != nil {
			return err
		}
		// Boundaries stay on the grid origin + k*Segment, so segments do
		// not drift by the keyframe delays.
		for s.Segment > 0 && s.next <= t {
			s.next += s.Segment.Seconds()
		}
		s.started = true
	}
	s.bytes += int64(u.Size())
	s.units++
	return s.cur.Write(u)
}

func (s *Segmenter) due(t float64) bool {
	if s.Segment > 0 && t >= s.next {
		return true
	}
	return s.MaxSize > 0 && s.bytes >= s.MaxSize
}

// finish closes the current file and reports it.
func (s *Segmenter) finish() error {
	if s.cur == nil {
		return nil
	}
	started := curStarted(s.cur, s.units)
	err := s.cur.Close()
	path := s.curPath
	s.cur = nil
	if !started {
		// Nothing was written (the source failed before its first
		// keyframe): leave no empty file behind.
		_ = os.Remove(path)
		s.files = s.files[:len(s.files)-1]
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize %s: %w", path, err)
	}
	s.wrote = true
	if s.OnSegment != nil {
		s.OnSegment(path)
	}
	return nil
}

// Pause finishes the current file now (record: the source was lost); the
// next Write starts a new file, with segment boundaries counted from it.
func (s *Segmenter) Pause() error {
	if s.cur == nil {
		return nil
	}
	s.paused = true
	return s.finish()
}

// Close finalizes the current file.
func (s *Segmenter) Close() error { return s.finish() }
