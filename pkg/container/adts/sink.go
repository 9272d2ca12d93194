package adts

import (
	"io"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// SinkSupported lists what the ADTS sink writes, for messages.
const SinkSupported = "AAC (one track)"

// Sink writes one AAC track as ADTS frames (mediacommon's
// mpeg4audio.ADTSPackets). The first AAC track is taken; other tracks are
// skipped. ADTS carries no timestamps: frames follow each other. Output
// is flushed every second and on Close, so a kill -9 loses at most about
// a second. It implements engine.Sink.
type Sink struct {
	// Path is the file to create, unless W is set (Path then only names
	// the output in messages).
	Path string
	// W receives the stream when set; the caller keeps ownership of it.
	W io.Writer
	// Create makes the file at Path; nil means os.Create.
	Create mux.CreateFunc

	mu      sync.Mutex
	out     *mux.Output
	clock   mux.Clock
	format  *format.MPEG4Audio
	prep    *mux.Track
	skipped []string
	pkts    mpeg4audio.ADTSPackets
	flusher *mux.Flusher
	closed  bool
}

// Needs asks for access units.
func (s *Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 0: H.264").
func (s *Sink) Skipped() []string { return s.skipped }

// Open creates the output and picks the first AAC track; none is a
// fault.Unsupported.
func (s *Sink) Open(desc *description.Session) error {
	var taken bool
	picks, skipped, err := mux.Select(desc, "ADTS", SinkSupported, func(f format.Format) (bool, string) {
		m, ok := f.(*format.MPEG4Audio)
		switch {
		case !ok:
			return false, ""
		case m.Config == nil:
			return false, "no config"
		case m.Config.Type < 1 || m.Config.Type > 4: // what the 2-bit ADTS profile holds
			return false, "ADTS holds AAC Main, LC, SSR and LTP"
		case taken:
			return false, "ADTS holds one track"
		}
		taken = true
		return true, ""
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
	s.format = picks[0].Format.(*format.MPEG4Audio)
	s.prep = mux.NewTrack(s.format, &s.clock)
	s.flusher = mux.StartFlusher(s.flush)
	return nil
}

// Write appends the access units of one unit as ADTS frames; units of
// other tracks are ignored.
func (s *Sink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.New(fault.Runtime, "ADTS: write after Close")
	}
	if s.out == nil {
		return fault.New(fault.Runtime, "ADTS: write before Open")
	}
	if err := s.out.Err(); err != nil {
		return err
	}
	if u.Format != format.Format(s.format) {
		return nil
	}
	fr, ok := s.prep.Prepare(u)
	if !ok {
		return nil
	}
	c := s.format.Config
	s.pkts = s.pkts[:0]
	for _, au := range fr.AU {
		s.pkts = append(s.pkts, &mpeg4audio.ADTSPacket{
			Type:          c.Type,
			SampleRate:    c.SampleRate,
			ChannelConfig: c.ChannelConfig,
			ChannelCount:  c.ChannelCount, //nolint:staticcheck // older configs fill it
			AU:            au,
		})
	}
	b, err := s.pkts.Marshal()
	if err != nil {
		return fault.New(fault.Runtime, "ADTS: %w", err)
	}
	_, err = s.out.Write(b)
	return err
}

func (s *Sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.out != nil {
		s.out.Flush() //nolint:errcheck // kept in out.Err, returned by Write
	}
}

// Flush writes the buffered frames out, as the flusher does every second.
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
