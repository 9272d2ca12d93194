package annexb

import (
	"io"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// SinkSupported lists the codecs the Annex-B sink writes, for messages.
const SinkSupported = "H.264, H.265 (one video track)"

// Sink writes one H.264 or H.265 track as an Annex-B elementary stream:
// access units in decode order, NAL units behind 4-byte start codes. It
// starts at the first keyframe and puts the parameter sets before every
// IDR (and CRA/BLA) that lacks them. The stream carries no timestamps.
// The first H.264/H.265 track is taken; other tracks are skipped.
// Output is flushed every second and on Close, so a kill -9 loses at most
// about a second. It implements engine.Sink.
type Sink struct {
	// Path is the file to create, unless W is set (Path then only names
	// the output in messages).
	Path string
	// W receives the stream when set; the caller keeps ownership of it.
	W io.Writer
	// Create makes the file at Path; nil means os.Create.
	Create mux.CreateFunc
	// AUD starts every access unit with an access unit delimiter.
	AUD bool

	mu      sync.Mutex
	out     *mux.Output
	clock   mux.Clock
	format  format.Format
	prep    *mux.Track
	skipped []string
	buf     []byte
	flusher *mux.Flusher
	closed  bool
}

// Needs asks for access units.
func (s *Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 1: AAC").
func (s *Sink) Skipped() []string { return s.skipped }

// Open creates the output and picks the first H.264 or H.265 track; none
// is a fault.Unsupported.
func (s *Sink) Open(desc *description.Session) error {
	var taken bool
	picks, skipped, err := mux.Select(desc, "Annex-B", SinkSupported, func(f format.Format) (bool, string) {
		switch f.(type) {
		case *format.H264, *format.H265:
			if taken {
				return false, "Annex-B holds one video track"
			}
			taken = true
			return true, ""
		}
		return false, ""
	})
	s.skipped = skipped
	if err != nil {
		return err
	}
	out, err := mux.OpenWith(s.Path, s.W, s.Create)
	if err != nil {
		return err
	}
	s.out = out
	s.format = picks[0].Format
	s.prep = mux.NewTrack(s.format, &s.clock)
	s.flusher = mux.StartFlusher(s.flush)
	return nil
}

var startCode4 = []byte{0, 0, 0, 1}

// Write appends one access unit; units of other tracks are ignored.
func (s *Sink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.New(fault.Runtime, "Annex-B: write after Close")
	}
	if s.out == nil {
		return fault.New(fault.Runtime, "Annex-B: write before Open")
	}
	if err := s.out.Err(); err != nil {
		return err
	}
	if u.Format != s.format {
		return nil
	}
	fr, ok := s.prep.Prepare(u)
	if !ok {
		return nil
	}
	b := s.buf[:0]
	if s.AUD && !startsWithAUD(s.format, fr.AU) {
		b = append(b, startCode4...)
		if _, ok := s.format.(*format.H265); ok {
			b = append(b, byte(h265.NALUType_AUD_NUT)<<1, 1, 0x50)
		} else {
			b = append(b, byte(h264.NALUTypeAccessUnitDelimiter), 0xf0)
		}
	}
	for _, n := range fr.AU {
		b = append(b, startCode4...)
		b = append(b, n...)
	}
	s.buf = b
	_, err := s.out.Write(b)
	return err
}

func startsWithAUD(f format.Format, au [][]byte) bool {
	if len(au) == 0 || len(au[0]) == 0 {
		return false
	}
	if _, ok := f.(*format.H265); ok {
		return h265.NALUType((au[0][0]>>1)&0x3f) == h265.NALUType_AUD_NUT
	}
	return h264.NALUType(au[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter
}

func (s *Sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.out != nil {
		s.out.Flush() //nolint:errcheck // kept in out.Err, returned by Write
	}
}

// Flush writes the buffered data out, as the flusher does every second.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		return nil
	}
	return s.out.Flush()
}

// Started reports whether media reached the file: units before the first
// keyframe (or audio start) are dropped.
func (s *Sink) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Started()
}

// Close flushes and closes the file. It is safe after a failed Open or
// write, and more than once; it returns the write error, if any. After a
// write error the file is cut back to its last flush, or removed when
// nothing was flushed, and the error says so.
func (s *Sink) Close() error {
	s.flusher.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	return s.out.CloseSalvaged()
}
