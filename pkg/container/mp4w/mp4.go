package mp4w

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const movieTimescale = 1000

// MP4Sink writes a "hybrid" MP4, as OBS does: a fragmented MP4 while it
// records, an ordinary progressive MP4 once closed.
//
// While recording, the file is ftyp, a 16-byte free box, a moov with
// mvex (mediacommon's fMP4 init), then moof+mdat fragments cut as
// FMP4Sink cuts them (at keyframes, at most a second of media, and every
// second of wall time) and flushed at once. A kill -9 thus leaves a valid
// fragmented MP4 that lacks at most about the last second.
//
// Close appends one moov whose sample tables (stts, ctts, stss, stsc,
// stsz, stco or co64 past 4 GB, an edit list per track) point at the
// samples inside the fragments, then turns the free box into the header
// of one mdat (64-bit size) that spans the first moov and every fragment.
// Readers see ftyp, mdat, moov: an ordinary MP4 whose mdat happens to
// hold the fragment boxes as opaque bytes. The edit lists make the file
// start at 0 (they skip the B-frame decode delay and place a track that
// starts later), so A/V sync is kept.
//
// After a write error (a full disk), Close cuts the file back to its last
// complete fragment and tries to append the moov there: the file is then
// a complete MP4 of what was written; if the moov does not fit either,
// it stays a valid fragmented MP4; with no complete fragment it is
// removed. The error Close returns says which. It implements engine.Sink.
type MP4Sink struct {
	// Path is the file to create.
	Path string
	// Create makes the file; nil means os.Create.
	Create mux.CreateFunc

	f      fragmenter
	tables []*tableTrack
}

// tableTrack is a track's sample tables for the final moov.
type tableTrack struct {
	id   int
	prep *mux.Track

	// timing, in the track clock, along the sample durations
	dts      int64
	lastDur  int64
	firstDTS int64
	minPTS   int64
	maxPTS   int64
	count    uint32

	// tables
	sizes   []uint32
	stts    []sttsRun
	ctts    []int32 // per sample; nil while every offset is 0
	stss    []uint32
	offsets []uint64
	stsc    []stscRun
	nChunks uint32
	codec   []byte // stsd
	width   int
	height  int
}

type sttsRun struct{ count, delta uint32 }

type stscRun struct{ first, perChunk uint32 }

// Needs asks for access units.
func (s *MP4Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *MP4Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 2: G.711 A-law").
func (s *MP4Sink) Skipped() []string { return s.f.skipped }

// Open creates the file; formats MP4 cannot hold are skipped, and none
// left is a fault.Unsupported. The header is written with the first
// fragment, once the parameter sets of every video track are known.
func (s *MP4Sink) Open(desc *description.Session) error {
	s.f.label, s.f.hybrid, s.f.path = "MP4", true, s.Path
	s.f.onFragment = s.addFragment
	err := s.f.open(desc, func() (*mux.Output, error) {
		if s.Path == "" {
			return nil, fault.New(fault.Usage, "MP4: no output path (MP4 needs a seekable file; use fragmented MP4 for pipes)")
		}
		return mux.CreateWith(s.Path, s.Create)
	})
	for _, t := range s.f.tracks {
		s.tables = append(s.tables, &tableTrack{id: t.id, prep: t.prep})
	}
	return err
}

// Write adds one unit; units of skipped tracks are ignored.
func (s *MP4Sink) Write(u *media.Unit) error { return s.f.write(u) }

// Flush writes the completed samples out as a fragment.
func (s *MP4Sink) Flush() error { return s.f.flush() }

// addFragment records the samples of a fragment written at offset at:
// one chunk per track, inside the fragment's mdat.
func (s *MP4Sink) addFragment(p *fmp4.Part, at int64, b []byte) {
	off := uint64(at) + uint64(binary.BigEndian.Uint32(b)) + 8 // after moof and the mdat header
	for _, pt := range p.Tracks {
		t := s.tables[pt.ID-1]
		if t.count == 0 {
			t.dts = int64(pt.BaseTime)
			t.firstDTS, t.minPTS, t.maxPTS = t.dts, math.MaxInt64, math.MinInt64
		}
		t.offsets = append(t.offsets, off)
		t.nChunks++
		if n := len(t.stsc); n == 0 || t.stsc[n-1].perChunk != uint32(len(pt.Samples)) {
			t.stsc = append(t.stsc, stscRun{first: t.nChunks, perChunk: uint32(len(pt.Samples))})
		}
		for _, smp := range pt.Samples {
			t.add(smp)
			off += uint64(len(smp.Payload))
		}
	}
}

// add records one sample in the tables.
func (t *tableTrack) add(smp *fmp4.Sample) {
	pts := t.dts + int64(smp.PTSOffset)
	t.minPTS, t.maxPTS = min(t.minPTS, pts), max(t.maxPTS, pts)
	t.count++
	t.sizes = append(t.sizes, uint32(len(smp.Payload)))
	if smp.PTSOffset != 0 && t.ctts == nil {
		t.ctts = make([]int32, t.count-1, cap(t.sizes))
	}
	if t.ctts != nil {
		t.ctts = append(t.ctts, smp.PTSOffset)
	}
	if !smp.IsNonSyncSample {
		t.stss = append(t.stss, t.count)
	}
	d := int64(smp.Duration)
	t.lastDur = d
	if n := len(t.stts); n > 0 && t.stts[n-1].delta == smp.Duration {
		t.stts[n-1].count++
	} else {
		t.stts = append(t.stts, sttsRun{count: 1, delta: smp.Duration})
	}
	t.dts += d
}

// Started reports whether media reached the file: units before the first
// keyframe (or audio start) are dropped.
func (s *MP4Sink) Started() bool { return s.f.started() }

// Close writes the last fragment and the moov. It is safe after a failed
// Open or write, and more than once; it returns the write error, which
// says what became of the file.
func (s *MP4Sink) Close() error {
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
		return withSalvage(err, s.salvage(), c.out)
	}
	if !c.ready {
		// Nothing was recorded: an MP4 without samples, as before.
		var bb boxes
		bb.raw(ftyp())
		bb.raw(mdatHeader(16))
		if moov, err := s.moov(); err == nil {
			bb.raw(moov)
		}
		c.out.Write(bb.b) //nolint:errcheck // kept in out.Err
		return c.out.Close()
	}
	if err := s.finalize(); err != nil {
		c.out.Fail(err)
		return withSalvage(c.out.Err(), s.salvage(), c.out)
	}
	return c.out.Close()
}

// finalize appends the moov after the last fragment and turns the free
// box into the mdat header. The moov goes first: a crash between the two
// leaves a fragmented MP4 with a moov at its end, which readers skip.
func (s *MP4Sink) finalize() error {
	c := &s.f
	f := c.out.File()
	at := int64(len(ftyp()))
	if c.done <= at+16 {
		return fault.New(fault.Runtime, "MP4: no fragment to index")
	}
	moov, err := s.moov()
	if err != nil {
		return fault.New(fault.Runtime, "MP4: moov: %w", err)
	}
	if _, err := f.WriteAt(moov, c.done); err != nil {
		return err
	}
	if _, err := f.WriteAt(mdatHeader(c.done-at), at); err != nil {
		return err
	}
	return nil
}

// salvage runs after a write error: it cuts the file back to its last
// complete fragment and tries to finalize it there.
func (s *MP4Sink) salvage() string {
	c := &s.f
	did := c.salvage()
	if c.done == 0 || !c.out.Regular() || !strings.HasPrefix(did, "kept ") {
		return did
	}
	if err := s.finalize(); err != nil {
		// the moov does not fit: stay a fragmented MP4
		c.out.File().Truncate(c.done) //nolint:errcheck // best effort
		return fmt.Sprintf("kept %s as fragmented MP4 up to its last complete fragment (%.1f s): no room for its index (%v)",
			c.path, c.duration(), unwrapErr(err))
	}
	return fmt.Sprintf("finalized %s with the %.1f s written before the error", c.path, c.duration())
}

// unwrapErr drops the "write PATH:" of a file error.
func unwrapErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ftyp is the file type box of the MP4 (the same during and after the
// recording).
func ftyp() []byte {
	var bb boxes
	bb.box(&gomp4.Ftyp{
		MajorBrand:   [4]byte{'i', 's', 'o', 'm'},
		MinorVersion: 512,
		CompatibleBrands: []gomp4.CompatibleBrandElem{
			{CompatibleBrand: [4]byte{'i', 's', 'o', 'm'}},
			{CompatibleBrand: [4]byte{'i', 's', 'o', '2'}},
			{CompatibleBrand: [4]byte{'a', 'v', 'c', '1'}},
			{CompatibleBrand: [4]byte{'m', 'p', '4', '1'}},
		},
	})
	return bb.b
}

// moov builds the movie box from the tables.
func (s *MP4Sink) moov() ([]byte, error) {
	var tracks []*tableTrack
	start := math.Inf(1) // earliest presentation time of any track, seconds
	for _, t := range s.tables {
		if t.count == 0 {
			continue
		}
		c, ok := codecOf(t.prep)
		if !ok {
			continue
		}
		stsd, err := sampleDescription(c, uint32(t.prep.ClockRate()))
		if err != nil {
			return nil, err
		}
		t.codec = stsd
		t.width, t.height = dimensions(t.prep)
		tracks = append(tracks, t)
		start = min(start, float64(t.minPTS)/float64(t.prep.ClockRate()))
	}

	type edit struct {
		empty, segment uint64 // movie timescale
		mediaTime      int64  // track timescale
		mediaDur       uint64 // track timescale
	}
	edits := make([]edit, len(tracks))
	var movieDur uint64
	for i, t := range tracks {
		rate := float64(t.prep.ClockRate())
		var mediaDur uint64
		for _, r := range t.stts {
			mediaDur += uint64(r.count) * uint64(r.delta)
		}
		mediaTime := t.minPTS - t.firstDTS
		e := edit{mediaTime: mediaTime, mediaDur: mediaDur}
		e.empty = uint64(math.Round((float64(t.minPTS)/rate - start) * movieTimescale))
		// the presentation ends with the last frame shown, which is not
		// the last one decoded when frames are reordered
		end := max(int64(mediaDur), t.maxPTS+t.lastDur-t.firstDTS)
		if seg := end - mediaTime; seg > 0 {
			e.segment = uint64(math.Round(float64(seg) / rate * movieTimescale))
		}
		edits[i] = e
		movieDur = max(movieDur, e.empty+e.segment)
	}

	var bb boxes
	bb.start("moov")
	mvhd := &gomp4.Mvhd{
		Timescale:   movieTimescale,
		Rate:        0x10000,
		Volume:      0x100,
		Matrix:      [9]int32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000},
		NextTrackID: uint32(len(s.tables) + 1),
	}
	if movieDur > math.MaxUint32 {
		mvhd.Version, mvhd.DurationV1 = 1, movieDur
	} else {
		mvhd.DurationV0 = uint32(movieDur)
	}
	bb.box(mvhd)
	for i, t := range tracks {
		e := edits[i]
		video := t.prep.IsVideo()
		bb.start("trak")
		tkhd := &gomp4.Tkhd{
			FullBox: gomp4.FullBox{Flags: [3]byte{0, 0, 3}},
			TrackID: uint32(t.id),
			Matrix:  [9]int32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000},
			Width:   uint32(t.width) << 16,
			Height:  uint32(t.height) << 16,
		}
		if !video {
			tkhd.Volume, tkhd.AlternateGroup = 0x100, 1
		}
		if d := e.empty + e.segment; d > math.MaxUint32 {
			tkhd.Version, tkhd.DurationV1 = 1, d
		} else {
			tkhd.DurationV0 = uint32(d)
		}
		bb.box(tkhd)

		bb.start("edts")
		elst := &gomp4.Elst{}
		if e.empty+e.segment > math.MaxUint32 || e.mediaTime > math.MaxInt32 {
			elst.Version = 1
		}
		entry := func(dur uint64, mediaTime int64) {
			elst.Entries = append(elst.Entries, gomp4.ElstEntry{
				SegmentDurationV0: uint32(dur), MediaTimeV0: int32(mediaTime),
				SegmentDurationV1: dur, MediaTimeV1: mediaTime,
				MediaRateInteger: 1,
			})
		}
		if e.empty > 0 {
			entry(e.empty, -1)
		}
		entry(e.segment, e.mediaTime)
		elst.EntryCount = uint32(len(elst.Entries))
		bb.box(elst)
		bb.end() // edts

		bb.start("mdia")
		mdhd := &gomp4.Mdhd{Timescale: uint32(t.prep.ClockRate()), Language: [3]byte{'u', 'n', 'd'}}
		if e.mediaDur > math.MaxUint32 {
			mdhd.Version, mdhd.DurationV1 = 1, e.mediaDur
		} else {
			mdhd.DurationV0 = uint32(e.mediaDur)
		}
		bb.box(mdhd)
		if video {
			bb.box(&gomp4.Hdlr{HandlerType: [4]byte{'v', 'i', 'd', 'e'}, Name: "VideoHandler"})
		} else {
			bb.box(&gomp4.Hdlr{HandlerType: [4]byte{'s', 'o', 'u', 'n'}, Name: "SoundHandler"})
		}
		bb.start("minf")
		if video {
			bb.box(&gomp4.Vmhd{FullBox: gomp4.FullBox{Flags: [3]byte{0, 0, 1}}})
		} else {
			bb.box(&gomp4.Smhd{})
		}
		bb.start("dinf")
		bb.start("dref")
		bb.raw([]byte{0, 0, 0, 0, 0, 0, 0, 1}) // version, flags, entry_count 1
		bb.box(&gomp4.Url{FullBox: gomp4.FullBox{Flags: [3]byte{0, 0, 1}}})
		bb.end() // dref
		bb.end() // dinf
		bb.start("stbl")
		bb.raw(t.codec)
		t.tables(&bb)
		bb.end() // stbl
		bb.end() // minf
		bb.end() // mdia
		bb.end() // trak
	}
	bb.end() // moov
	return bb.b, bb.err
}

// tables appends stts, stss, ctts, stsc, stsz and stco/co64.
func (t *tableTrack) tables(bb *boxes) {
	be := binary.BigEndian
	full := func(typ string, version byte, n int) {
		bb.start(typ)
		bb.b = append(bb.b, version, 0, 0, 0)
		bb.b = be.AppendUint32(bb.b, uint32(n))
	}

	full("stts", 0, len(t.stts))
	for _, r := range t.stts {
		bb.b = be.AppendUint32(bb.b, r.count)
		bb.b = be.AppendUint32(bb.b, r.delta)
	}
	bb.end()

	if len(t.stss) < int(t.count) {
		full("stss", 0, len(t.stss))
		for _, n := range t.stss {
			bb.b = be.AppendUint32(bb.b, n)
		}
		bb.end()
	}

	if t.ctts != nil {
		var version byte
		var runs []sttsRun
		for _, o := range t.ctts {
			if o < 0 {
				version = 1
			}
			if n := len(runs); n > 0 && runs[n-1].delta == uint32(o) {
				runs[n-1].count++
			} else {
				runs = append(runs, sttsRun{count: 1, delta: uint32(o)})
			}
		}
		full("ctts", version, len(runs))
		for _, r := range runs {
			bb.b = be.AppendUint32(bb.b, r.count)
			bb.b = be.AppendUint32(bb.b, r.delta)
		}
		bb.end()
	}

	full("stsc", 0, len(t.stsc))
	for _, r := range t.stsc {
		bb.b = be.AppendUint32(bb.b, r.first)
		bb.b = be.AppendUint32(bb.b, r.perChunk)
		bb.b = be.AppendUint32(bb.b, 1)
	}
	bb.end()

	bb.start("stsz")
	bb.b = append(bb.b, 0, 0, 0, 0)
	bb.b = be.AppendUint32(bb.b, 0) // sizes follow
	bb.b = be.AppendUint32(bb.b, uint32(len(t.sizes)))
	for _, n := range t.sizes {
		bb.b = be.AppendUint32(bb.b, n)
	}
	bb.end()

	if len(t.offsets) > 0 && t.offsets[len(t.offsets)-1] > math.MaxUint32 {
		full("co64", 0, len(t.offsets))
		for _, o := range t.offsets {
			bb.b = be.AppendUint64(bb.b, o)
		}
	} else {
		full("stco", 0, len(t.offsets))
		for _, o := range t.offsets {
			bb.b = be.AppendUint32(bb.b, uint32(o))
		}
	}
	bb.end()
}
