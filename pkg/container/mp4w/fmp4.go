package mp4w

import (
	"io"
	"sync"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// fragmentSpan is the longest fragment, in seconds of media.
const fragmentSpan = 1

// FMP4Sink writes a fragmented MP4: mediacommon's fmp4.Init (ftyp+moov),
// then fmp4.Part fragments (moof+mdat). It never seeks, so it works on
// pipes. It implements engine.Sink.
//
// A fragment starts at every video keyframe and lasts at most a second of
// media; the flusher also cuts one every second of wall time, and each
// fragment is flushed to the output as soon as it is cut. A kill -9 thus
// loses at most about a second, and the file is valid up to its last
// complete fragment. The init segment is written once the parameter sets
// of every video track are known (from the SDP, or in-band at the first
// keyframe); units before that are dropped.
type FMP4Sink struct {
	// W receives the stream when set; the caller keeps ownership of it.
	W io.Writer
	// Path is the file to create, unless W is set (Path then only names
	// the output in messages).
	Path string

	mu      sync.Mutex
	out     *mux.Output
	dec     media.Decoder
	clock   mux.Clock
	tracks  []*fragTrack
	byFmt   map[format.Format]*fragTrack
	skipped []string
	ready   bool
	seq     uint32
	buf     seekablebuffer.Buffer
	flusher *mux.Flusher
	closed  bool
}

type fragTrack struct {
	id      int
	prep    *mux.Track
	pending *sample
	lastDur int64
	samples []*fmp4.Sample
	base    int64 // DTS of samples[0]
	end     int64 // DTS after the last completed sample
}

// Needs asks for access units.
func (s *FMP4Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *FMP4Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 2: G.711 A-law").
func (s *FMP4Sink) Skipped() []string { return s.skipped }

// Open creates the output and maps the tracks; formats fMP4 cannot hold
// are skipped, and none left is a fault.Unsupported.
func (s *FMP4Sink) Open(desc *description.Session) error {
	picks, skipped, err := mux.Select(desc, "fMP4", Supported, accept)
	s.skipped = skipped
	if err != nil {
		return err
	}
	out, err := mux.Open(s.Path, s.W)
	if err != nil {
		return err
	}
	s.out = out
	s.byFmt = make(map[format.Format]*fragTrack)
	for i, p := range picks {
		t := &fragTrack{id: i + 1, prep: mux.NewTrack(p.Format, &s.clock)}
		s.tracks = append(s.tracks, t)
		s.byFmt[p.Format] = t
	}
	s.flusher = mux.StartFlusher(s.tick)
	return nil
}

// Write muxes one unit; units of skipped tracks are ignored.
func (s *FMP4Sink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.New(fault.Runtime, "fMP4: write after Close")
	}
	if s.out == nil {
		return fault.New(fault.Runtime, "fMP4: write before Open")
	}
	if err := s.out.Err(); err != nil {
		return err
	}
	t := s.byFmt[u.Format]
	if t == nil {
		return nil
	}
	du, err := s.dec.Decode(u)
	if err != nil || du == nil {
		return nil //nolint:nilerr // a damaged unit is skipped, not fatal
	}
	if !s.ready && !t.prep.IsVideo() {
		if err := s.writeInit(); err != nil || !s.ready {
			return err // audio waits for the video's parameter sets
		}
	}
	fr, ok := t.prep.Prepare(du)
	if !ok {
		return nil
	}
	if !s.ready {
		if err := s.writeInit(); err != nil {
			return err
		}
		if !s.ready {
			t.prep.Restart() // another video track still lacks its parameters
			return nil
		}
	}
	smps, err := samplesOf(t.prep, fr)
	if err != nil {
		return fault.New(fault.Runtime, "fMP4: %s: %w", mux.CodecName(u.Format), err)
	}
	if t.prep.IsVideo() && fr.Key && s.hasSamples() {
		t.complete(fr.DTS)
		if err := s.fragment(); err != nil {
			return err
		}
	}
	for i := range smps {
		t.add(&smps[i])
	}
	if s.span() >= fragmentSpan {
		return s.fragment()
	}
	return nil
}

// writeInit writes the init segment once every video track is described.
func (s *FMP4Sink) writeInit() error {
	init := fmp4.Init{}
	for _, t := range s.tracks {
		c, ok := codecOf(t.prep)
		if !ok {
			return nil
		}
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: t.id, TimeScale: uint32(t.prep.ClockRate()), Codec: c})
	}
	s.buf.Reset()
	if err := init.Marshal(&s.buf); err != nil {
		return fault.New(fault.Runtime, "fMP4 init: %w", err)
	}
	if _, err := s.out.Write(s.buf.Bytes()); err != nil {
		return err
	}
	s.ready = true
	return nil
}

// add queues a sample; the previous one gets its duration.
func (t *fragTrack) add(smp *sample) {
	t.complete(smp.dts)
	t.pending = smp
}

// complete gives the pending sample its duration (up to dts) and moves it
// into the fragment.
func (t *fragTrack) complete(dts int64) {
	p := t.pending
	if p == nil {
		return
	}
	d := dts - p.dts
	if d <= 0 {
		d = t.lastDur
		if d <= 0 {
			d = defaultDuration(t.prep)
		}
	}
	t.lastDur = d
	if len(t.samples) == 0 {
		t.base = p.dts
	}
	t.samples = append(t.samples, &fmp4.Sample{
		Duration:        uint32(d),
		PTSOffset:       p.ptsOff,
		IsNonSyncSample: !p.sync,
		Payload:         p.data,
	})
	t.end = p.dts + d
	t.pending = nil
}

func (s *FMP4Sink) hasSamples() bool {
	for _, t := range s.tracks {
		if len(t.samples) > 0 {
			return true
		}
	}
	return false
}

// span is the longest run of completed samples of a track, in seconds.
func (s *FMP4Sink) span() float64 {
	var m float64
	for _, t := range s.tracks {
		if len(t.samples) > 0 {
			m = max(m, float64(t.end-t.base)/float64(t.prep.ClockRate()))
		}
	}
	return m
}

// fragment writes the completed samples as one moof+mdat and flushes.
func (s *FMP4Sink) fragment() error {
	var part fmp4.Part
	for _, t := range s.tracks {
		if len(t.samples) == 0 {
			continue
		}
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: t.id, BaseTime: uint64(t.base), Samples: t.samples})
	}
	if len(part.Tracks) == 0 {
		return s.out.Flush()
	}
	s.seq++
	part.SequenceNumber = s.seq
	s.buf.Reset()
	if err := part.Marshal(&s.buf); err != nil {
		return fault.New(fault.Runtime, "fMP4 fragment: %w", err)
	}
	for _, t := range s.tracks {
		t.samples = nil
	}
	if _, err := s.out.Write(s.buf.Bytes()); err != nil {
		return err
	}
	return s.out.Flush()
}

// tick cuts a fragment of what is complete, every second of wall time.
func (s *FMP4Sink) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil || s.out.Err() != nil || !s.ready {
		return
	}
	s.fragment() //nolint:errcheck // kept in out.Err, returned by Write
}

// Flush cuts a fragment of the completed samples and writes it out, as
// the flusher does every second.
func (s *FMP4Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		return nil
	}
	if !s.ready {
		return s.out.Flush()
	}
	return s.fragment()
}

// Started reports whether media reached the file: units before the first
// keyframe (or audio start) are dropped.
func (s *FMP4Sink) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Started()
}

// Close writes the last samples and closes the file. It is safe after a
// failed Open or write, and more than once; it returns the write error.
func (s *FMP4Sink) Close() error {
	s.flusher.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	if s.ready && s.out.Err() == nil {
		for _, t := range s.tracks {
			if t.pending != nil {
				t.complete(t.pending.dts + max(t.lastDur, 0))
			}
		}
		s.fragment() //nolint:errcheck // kept in out.Err
	}
	return s.out.Close()
}
