package mpegts

import (
	"io"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/substructs"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// SinkSupported lists the codecs the MPEG-TS sink writes, for messages.
const SinkSupported = "H.264, H.265, AAC, Opus, MP3, AC-3"

// tsClock is the clock of PES timestamps.
const tsClock = 90000

// Sink writes an MPEG transport stream with mediacommon's mpegts.Writer,
// to a file (Path) or any writer (W, e.g. stdout: it never seeks). It
// implements engine.Sink.
//
// Video starts at its first keyframe, with the parameter sets before every
// IDR; DTS is derived for RTP units; the first unit's DTS becomes 0 on a
// timeline shared by all tracks (see package mux). Output is buffered and
// flushed every second and on Close, so a kill -9 loses at most about a
// second; the file is valid up to the last flush.
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
	tw      *mpegts.Writer
	clock   mux.Clock
	tracks  map[format.Format]*tsTrack
	skipped []string
	flusher *mux.Flusher
	closed  bool
}

type tsTrack struct {
	prep *mux.Track
	ts   *mpegts.Track
}

// Needs asks for access units.
func (s *Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 2: VP8").
func (s *Sink) Skipped() []string { return s.skipped }

func tsCodec(f format.Format) (tscodecs.Codec, string) {
	switch f := f.(type) {
	case *format.H264:
		return &tscodecs.H264{}, ""
	case *format.H265:
		return &tscodecs.H265{}, ""
	case *format.MPEG4Audio:
		if f.Config == nil {
			return nil, "no config"
		}
		return &tscodecs.MPEG4Audio{Config: *f.Config}, ""
	case *format.Opus:
		// channel config codes 1 and 2 are mono and stereo (RTP Opus has
		// at most 2 channels)
		return &tscodecs.Opus{Desc: &substructs.OpusAudioDescriptor{ChannelConfigCode: uint8(min(max(f.ChannelCount, 1), 2))}}, ""
	case *format.MPEG1Audio:
		return &tscodecs.MPEG1Audio{}, ""
	case *format.AC3:
		return &tscodecs.AC3{SampleRate: f.SampleRate, ChannelCount: f.ChannelCount}, ""
	}
	return nil, ""
}

// Open creates the output and maps the tracks; formats TS cannot hold
// are skipped (see Skipped), and none left is a fault.Unsupported.
func (s *Sink) Open(desc *description.Session) error {
	picks, skipped, err := mux.Select(desc, "MPEG-TS", SinkSupported, func(f format.Format) (bool, string) {
		c, why := tsCodec(f)
		return c != nil, why
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
	s.tracks = make(map[format.Format]*tsTrack)
	var list []*mpegts.Track
	for _, p := range picks {
		c, _ := tsCodec(p.Format)
		t := &tsTrack{prep: mux.NewTrack(p.Format, &s.clock), ts: &mpegts.Track{Codec: c}}
		s.tracks[p.Format] = t
		list = append(list, t.ts)
	}
	s.tw = &mpegts.Writer{W: s.out, Tracks: list}
	if err := s.tw.Initialize(); err != nil {
		s.out.Close() //nolint:errcheck // reporting the first error
		return fault.New(fault.Runtime, "MPEG-TS writer: %w", err)
	}
	s.flusher = mux.StartFlusher(s.flush)
	return nil
}

// Write muxes one unit; units of skipped tracks are ignored.
func (s *Sink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.New(fault.Runtime, "MPEG-TS: write after Close")
	}
	if s.out == nil {
		return fault.New(fault.Runtime, "MPEG-TS: write before Open")
	}
	if err := s.out.Err(); err != nil {
		return err
	}
	t := s.tracks[u.Format]
	if t == nil {
		return nil
	}
	fr, ok := t.prep.Prepare(u)
	if !ok {
		return nil
	}
	if err := s.write(t, fr); err != nil {
		if e := s.out.Err(); e != nil {
			return e
		}
		return fault.New(fault.Runtime, "MPEG-TS: %s: %w", mux.CodecName(u.Format), err)
	}
	return nil
}

func (s *Sink) write(t *tsTrack, fr mux.Frame) error {
	rate := t.prep.ClockRate()
	pts := mux.Rescale(fr.PTS, rate, tsClock)
	switch f := t.prep.Format.(type) {
	case *format.H264:
		return s.tw.WriteH264(t.ts, pts, mux.Rescale(fr.DTS, rate, tsClock), fr.AU)
	case *format.H265:
		return s.tw.WriteH265(t.ts, pts, mux.Rescale(fr.DTS, rate, tsClock), fr.AU)
	case *format.MPEG4Audio:
		return s.tw.WriteMPEG4Audio(t.ts, pts, fr.AU)
	case *format.Opus:
		return s.tw.WriteOpus(t.ts, pts, fr.AU)
	case *format.MPEG1Audio:
		return s.tw.WriteMPEG1Audio(t.ts, pts, fr.AU)
	case *format.AC3:
		for i, frame := range fr.AU {
			p := mux.Rescale(fr.PTS+int64(i)*1536, int64(f.SampleRate), tsClock)
			if err := s.tw.WriteAC3(t.ts, p, frame); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.out != nil {
		s.out.Flush() //nolint:errcheck // kept in out.Err, returned by Write
	}
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
// write error the file is cut back to its last flush (a second at most
// is lost), or removed when nothing was flushed, and the error says so.
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
