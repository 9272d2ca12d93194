package mp4w

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
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
//
// After a write error, Close truncates the file to its last complete
// fragment (or removes it when none was complete) and says so in the
// error it returns.
type FMP4Sink struct {
	// W receives the stream when set; the caller keeps ownership of it.
	W io.Writer
	// Path is the file to create, unless W is set (Path then only names
	// the output in messages).
	Path string
	// Create makes the file at Path; nil means os.Create.
	Create mux.CreateFunc

	f fragmenter
}

// fragmenter cuts units into fragments; FMP4Sink and MP4Sink share it.
type fragmenter struct {
	mu      sync.Mutex
	label   string // "MP4" or "fMP4", for messages
	path    string
	hybrid  bool // MP4Sink: ftyp and an mdat placeholder before the moov
	out     *mux.Output
	clock   mux.Clock
	tracks  []*fragTrack
	byFmt   map[format.Format]*fragTrack
	skipped []string
	ready   bool
	seq     uint32
	buf     seekablebuffer.Buffer
	flusher *mux.Flusher
	closed  bool
	// done is the file size up to the end of the last fragment that was
	// written and flushed: the file is a valid fMP4 up to there.
	done int64
	// onFragment is told each fragment once it is flushed: its offset in
	// the file and its bytes.
	onFragment func(p *fmp4.Part, at int64, b []byte)
}

type fragTrack struct {
	id      int
	prep    *mux.Track
	pending *sample
	lastDur int64
	samples []*fmp4.Sample
	base    int64 // DTS of samples[0]
	end     int64 // DTS after the last completed sample
	doneDur int64 // duration in complete fragments
}

// Needs asks for access units.
func (s *FMP4Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *FMP4Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 2: G.711 A-law").
func (s *FMP4Sink) Skipped() []string { return s.f.skipped }

// Open creates the output and maps the tracks; formats fMP4 cannot hold
// are skipped, and none left is a fault.Unsupported.
func (s *FMP4Sink) Open(desc *description.Session) error {
	s.f.label = "fMP4"
	return s.f.open(desc, func() (*mux.Output, error) {
		out, err := mux.OpenWith(s.Path, s.W, s.Create)
		if err == nil && s.W == nil {
			s.f.path = s.Path
		}
		return out, err
	})
}

// open maps the tracks, creates the output and starts the flusher.
func (c *fragmenter) open(desc *description.Session, create func() (*mux.Output, error)) error {
	picks, skipped, err := mux.Select(desc, c.label, Supported, accept)
	c.skipped = skipped
	if err != nil {
		return err
	}
	out, err := create()
	if err != nil {
		return err
	}
	c.out = out
	c.byFmt = make(map[format.Format]*fragTrack)
	for i, p := range picks {
		t := &fragTrack{id: i + 1, prep: mux.NewTrack(p.Format, &c.clock)}
		c.tracks = append(c.tracks, t)
		c.byFmt[p.Format] = t
	}
	c.flusher = mux.StartFlusher(c.tick)
	return nil
}

// Write muxes one unit; units of skipped tracks are ignored.
func (s *FMP4Sink) Write(u *media.Unit) error { return s.f.write(u) }

func (c *fragmenter) write(u *media.Unit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fault.New(fault.Runtime, "%s: write after Close", c.label)
	}
	if c.out == nil {
		return fault.New(fault.Runtime, "%s: write before Open", c.label)
	}
	if err := c.out.Err(); err != nil {
		return err
	}
	t := c.byFmt[u.Format]
	if t == nil {
		return nil
	}
	if !c.ready && !t.prep.IsVideo() {
		if err := c.writeInit(); err != nil || !c.ready {
			return err // audio waits for the video's parameter sets
		}
	}
	fr, ok := t.prep.Prepare(u)
	if !ok {
		return nil
	}
	if !c.ready {
		if err := c.writeInit(); err != nil {
			return err
		}
		if !c.ready {
			t.prep.Restart() // another video track still lacks its parameters
			return nil
		}
	}
	smps, err := samplesOf(t.prep, fr)
	if err != nil {
		return fault.New(fault.Runtime, "%s: %s: %w", c.label, mux.CodecName(u.Format), err)
	}
	if t.prep.IsVideo() && fr.Key && c.hasSamples() {
		t.complete(fr.DTS)
		if err := c.fragment(); err != nil {
			return err
		}
	}
	for i := range smps {
		t.add(&smps[i])
	}
	if c.span() >= fragmentSpan {
		return c.fragment()
	}
	return nil
}

// writeInit writes the init segment once every video track is described.
// The hybrid MP4 puts its own ftyp and a 16-byte free box (the future
// mdat header) before mediacommon's moov.
func (c *fragmenter) writeInit() error {
	init := fmp4.Init{}
	for _, t := range c.tracks {
		codec, ok := codecOf(t.prep)
		if !ok {
			return nil
		}
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: t.id, TimeScale: uint32(t.prep.ClockRate()), Codec: codec})
	}
	c.buf.Reset()
	if err := init.Marshal(&c.buf); err != nil {
		return fault.New(fault.Runtime, "%s init: %w", c.label, err)
	}
	b := c.buf.Bytes()
	if c.hybrid {
		moov, ok := findBox(b, "moov")
		if !ok {
			return fault.New(fault.Runtime, "%s init: no moov", c.label)
		}
		b = append(append(ftyp(), placeholder[:]...), moov...)
	}
	if _, err := c.out.Write(b); err != nil {
		return err
	}
	c.ready = true
	return nil
}

// placeholder is the 16-byte free box that a finished hybrid MP4 turns
// into the header of an mdat (64-bit size) spanning every fragment.
var placeholder = [16]byte{0, 0, 0, 16, 'f', 'r', 'e', 'e'}

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

func (c *fragmenter) hasSamples() bool {
	for _, t := range c.tracks {
		if len(t.samples) > 0 {
			return true
		}
	}
	return false
}

// span is the longest run of completed samples of a track, in seconds.
func (c *fragmenter) span() float64 {
	var m float64
	for _, t := range c.tracks {
		if len(t.samples) > 0 {
			m = max(m, float64(t.end-t.base)/float64(t.prep.ClockRate()))
		}
	}
	return m
}

// fragment writes the completed samples as one moof+mdat and flushes.
func (c *fragmenter) fragment() error {
	var part fmp4.Part
	for _, t := range c.tracks {
		if len(t.samples) == 0 {
			continue
		}
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: t.id, BaseTime: uint64(t.base), Samples: t.samples})
	}
	if len(part.Tracks) == 0 {
		return c.out.Flush()
	}
	c.seq++
	part.SequenceNumber = c.seq
	c.buf.Reset()
	if err := part.Marshal(&c.buf); err != nil {
		return fault.New(fault.Runtime, "%s fragment: %w", c.label, err)
	}
	at := c.out.Offset()
	for _, t := range c.tracks {
		t.samples = nil
	}
	if _, err := c.out.Write(c.buf.Bytes()); err != nil {
		return err
	}
	if err := c.out.Flush(); err != nil {
		return err
	}
	c.done = c.out.Offset()
	for _, pt := range part.Tracks {
		for _, smp := range pt.Samples {
			c.tracks[pt.ID-1].doneDur += int64(smp.Duration)
		}
	}
	if c.onFragment != nil {
		c.onFragment(&part, at, c.buf.Bytes())
	}
	return nil
}

// tick cuts a fragment of what is complete, every second of wall time.
func (c *fragmenter) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.out == nil || c.out.Err() != nil || !c.ready {
		return
	}
	c.fragment() //nolint:errcheck // kept in out.Err, returned by Write
}

// Flush cuts a fragment of the completed samples and writes it out, as
// the flusher does every second.
func (s *FMP4Sink) Flush() error { return s.f.flush() }

func (c *fragmenter) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.out == nil {
		return nil
	}
	if !c.ready {
		return c.out.Flush()
	}
	return c.fragment()
}

// finishFragments writes the last samples as a fragment; errors stay in
// out.Err.
func (c *fragmenter) finishFragments() {
	if !c.ready || c.out.Err() != nil {
		return
	}
	for _, t := range c.tracks {
		if t.pending != nil {
			t.complete(t.pending.dts + max(t.lastDur, 0))
		}
	}
	c.fragment() //nolint:errcheck // kept in out.Err
}

// duration is the longest track in complete fragments, in seconds.
func (c *fragmenter) duration() float64 {
	var d float64
	for _, t := range c.tracks {
		d = max(d, float64(t.doneDur)/float64(t.prep.ClockRate()))
	}
	return d
}

// salvage runs after a write error, with the file still open: it cuts
// the file back to its last complete fragment, or removes it when no
// fragment was complete, and returns what it did, for the error message.
// It returns "" when the output is not a file.
func (c *fragmenter) salvage() string {
	f := c.out.File()
	if !c.out.Regular() || c.path == "" {
		return ""
	}
	if c.done == 0 {
		c.out.Close() //nolint:errcheck // the write error is reported
		if err := os.Remove(c.path); err != nil {
			return fmt.Sprintf("could not remove the unfinished %s: %v", c.path, err)
		}
		return fmt.Sprintf("removed %s: no fragment was complete", c.path)
	}
	if err := f.Truncate(c.done); err != nil {
		return fmt.Sprintf("could not cut %s back to its last complete fragment: %v", c.path, err)
	}
	return fmt.Sprintf("kept %s up to its last complete fragment (%.1f s)", c.path, c.duration())
}

// Started reports whether media reached the file: units before the first
// keyframe (or audio start) are dropped.
func (s *FMP4Sink) Started() bool { return s.f.started() }

func (c *fragmenter) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clock.Started()
}

// Close writes the last samples and closes the file. It is safe after a
// failed Open or write, and more than once; it returns the write error,
// which says what became of the file (see salvage).
func (s *FMP4Sink) Close() error {
	c := &s.f
	c.flusher.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.out == nil {
		c.closed = true
		return nil
	}
	c.closed = true
	c.finishFragments()
	if err := c.out.Err(); err != nil {
		return withSalvage(err, c.salvage(), c.out)
	}
	return c.out.Close()
}

// withSalvage closes out and adds what salvage did to the write error.
func withSalvage(err error, did string, out *mux.Output) error {
	out.Close() //nolint:errcheck // err is the first error
	if did == "" {
		return err
	}
	return fault.New(fault.Runtime, "%w; %s", err, did)
}

// mdatHeader is a 64-bit mdat header for size bytes (header included).
func mdatHeader(size int64) []byte {
	b := []byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[8:], uint64(size))
	return b
}
