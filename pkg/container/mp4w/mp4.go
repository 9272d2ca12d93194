package mp4w

import (
	"encoding/binary"
	"math"
	"sync"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	movieTimescale = 1000
	chunkSpan      = 0.5     // seconds of media per chunk
	chunkBytes     = 1 << 20 // or this many bytes
	mdatHeaderSize = 16      // size=1, "mdat", 64-bit largesize
)

// MP4Sink writes a regular MP4 file: ftyp, then an mdat written as units
// come (with a 64-bit size patched at Close, so files over 4 GB work),
// then the moov, written at Close from sample tables kept in memory
// (sizes, run-length durations, composition offsets, sync samples, chunk
// offsets, as co64 when the file passes 4 GB). Samples are written in
// chunks of about half a second per track.
//
// Timing: decode times come from the units (derived for RTP units), the
// composition offsets (ctts) from PTS-DTS. An edit list per track makes
// the file start at 0: it skips the B-frame decode delay and, with an
// empty edit, places a track that starts later than the others, so A/V
// sync is kept.
//
// Until Close the file has no moov and is not playable (use FMP4Sink when
// a kill -9 must leave a readable file). It implements engine.Sink.
type MP4Sink struct {
	// Path is the file to create.
	Path string

	mu      sync.Mutex
	out     *mux.Output
	dec     media.Decoder
	clock   mux.Clock
	tracks  []*tableTrack
	byFmt   map[format.Format]*tableTrack
	skipped []string
	mdatAt  int64
	closed  bool
}

// tableTrack is a track's sample tables.
type tableTrack struct {
	id   int
	prep *mux.Track

	// the chunk being gathered
	buf      []byte
	bufN     uint32
	bufStart int64

	// timing
	hasPrev  bool
	prevDTS  int64
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
func (s *MP4Sink) Skipped() []string { return s.skipped }

// Open creates the file and writes ftyp and the mdat header; formats MP4
// cannot hold are skipped, and none left is a fault.Unsupported.
func (s *MP4Sink) Open(desc *description.Session) error {
	picks, skipped, err := mux.Select(desc, "MP4", Supported, accept)
	s.skipped = skipped
	if err != nil {
		return err
	}
	if s.Path == "" {
		return fault.New(fault.Usage, "MP4: no output path (MP4 needs a seekable file; use fragmented MP4 for pipes)")
	}
	out, err := mux.Create(s.Path)
	if err != nil {
		return err
	}
	s.out = out
	s.byFmt = make(map[format.Format]*tableTrack)
	for i, p := range picks {
		t := &tableTrack{id: i + 1, prep: mux.NewTrack(p.Format, &s.clock)}
		s.tracks = append(s.tracks, t)
		s.byFmt[p.Format] = t
	}
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
	s.mdatAt = int64(len(bb.b))
	bb.raw([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 0})
	if _, err := s.out.Write(bb.b); err != nil {
		return err
	}
	return nil
}

// Write adds one unit; units of skipped tracks are ignored.
func (s *MP4Sink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.New(fault.Runtime, "MP4: write after Close")
	}
	if s.out == nil {
		return fault.New(fault.Runtime, "MP4: write before Open")
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
	fr, ok := t.prep.Prepare(du)
	if !ok {
		return nil
	}
	smps, err := samplesOf(t.prep, fr)
	if err != nil {
		return fault.New(fault.Runtime, "MP4: %s: %w", mux.CodecName(u.Format), err)
	}
	for i := range smps {
		if err := s.add(t, &smps[i]); err != nil {
			return err
		}
	}
	return nil
}

// add records a sample in the tables and gathers its data into the
// track's chunk.
func (s *MP4Sink) add(t *tableTrack, smp *sample) error {
	if t.hasPrev {
		t.duration(smp.dts - t.prevDTS)
	} else {
		t.firstDTS, t.minPTS, t.maxPTS = smp.dts, smp.dts+int64(smp.ptsOff), smp.dts+int64(smp.ptsOff)
	}
	t.maxPTS = max(t.maxPTS, smp.dts+int64(smp.ptsOff))
	t.hasPrev, t.prevDTS = true, smp.dts
	t.minPTS = min(t.minPTS, smp.dts+int64(smp.ptsOff))
	t.count++
	t.sizes = append(t.sizes, uint32(len(smp.data)))
	if smp.ptsOff != 0 && t.ctts == nil {
		t.ctts = make([]int32, t.count-1, cap(t.sizes))
	}
	if t.ctts != nil {
		t.ctts = append(t.ctts, smp.ptsOff)
	}
	if smp.sync {
		t.stss = append(t.stss, t.count)
	}
	if t.bufN == 0 {
		t.bufStart = smp.dts
	}
	t.buf = append(t.buf, smp.data...)
	t.bufN++
	if len(t.buf) >= chunkBytes || float64(smp.dts-t.bufStart) >= chunkSpan*float64(t.prep.ClockRate()) {
		return s.writeChunk(t)
	}
	return nil
}

// duration records the duration of the previous sample.
func (t *tableTrack) duration(d int64) {
	if d <= 0 {
		d = t.lastDur
		if d <= 0 {
			d = 1
		}
	}
	d = min(d, math.MaxUint32)
	t.lastDur = d
	if n := len(t.stts); n > 0 && t.stts[n-1].delta == uint32(d) {
		t.stts[n-1].count++
		return
	}
	t.stts = append(t.stts, sttsRun{count: 1, delta: uint32(d)})
}

func (s *MP4Sink) writeChunk(t *tableTrack) error {
	if t.bufN == 0 {
		return nil
	}
	t.offsets = append(t.offsets, uint64(s.out.Offset()))
	t.nChunks++
	if n := len(t.stsc); n == 0 || t.stsc[n-1].perChunk != t.bufN {
		t.stsc = append(t.stsc, stscRun{first: t.nChunks, perChunk: t.bufN})
	}
	_, err := s.out.Write(t.buf)
	t.buf, t.bufN = t.buf[:0], 0
	return err
}

// Started reports whether media reached the file: units before the first
// keyframe (or audio start) are dropped.
func (s *MP4Sink) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Started()
}

// Close writes the last chunks, patches the mdat size and appends the
// moov. It is safe after a failed Open or write, and more than once; it
// returns the write error, if any.
func (s *MP4Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	if s.out.Err() == nil {
		s.finish()
	}
	return s.out.Close()
}

// finish writes what is left and the moov; errors stay in s.out.
func (s *MP4Sink) finish() {
	for _, t := range s.tracks {
		if err := s.writeChunk(t); err != nil {
			return
		}
		if t.count > 0 {
			d := t.lastDur
			if d <= 0 {
				d = defaultDuration(t.prep)
			}
			t.duration(d)
		}
	}
	end := s.out.Offset()
	if err := s.out.Flush(); err != nil {
		return
	}
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(end-s.mdatAt))
	if _, err := s.out.File().WriteAt(size[:], s.mdatAt+8); err != nil {
		s.out.Fail(err)
		return
	}
	moov, err := s.moov()
	if err != nil {
		s.out.Fail(fault.New(fault.Runtime, "MP4: moov: %w", err))
		return
	}
	s.out.Write(moov) //nolint:errcheck // kept in out.Err
}

// moov builds the movie box from the tables.
func (s *MP4Sink) moov() ([]byte, error) {
	var tracks []*tableTrack
	start := math.Inf(1) // earliest presentation time of any track, seconds
	for _, t := range s.tracks {
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
		NextTrackID: uint32(len(s.tracks) + 1),
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
