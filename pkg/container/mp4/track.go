package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// codec is what a track carries, as far as payload handling goes.
type codec int

const (
	codecH264 codec = iota + 1
	codecH265
	codecAAC
	codecOpus
	codecG711
)

// track is one supported trak: its format and its sample tables, kept as
// go-mp4 decoded them. Samples are walked lazily by a cursor, so memory
// is proportional to the tables, not to the number of samples.
type track struct {
	id     uint32
	fourcc string
	codec  codec
	format format.Format
	media  *description.Media

	// lengthSize is the size of the NALU length prefix (H.264, H.265).
	lengthSize int

	timescale uint32 // media time scale (mdhd)
	clock     int    // the format's clock rate

	stts      []gomp4.SttsEntry
	ctts      []cttsEntry
	stsc      []gomp4.StscEntry
	chunks    []uint64
	sizes     []uint32 // nil when every sample has constSize
	constSize uint32
	stss      []uint32 // nil: every sample is a sync sample
	count     uint32   // usable samples, after every table agreed

	// group makes units of up to groupMax consecutive samples of a chunk:
	// set for PCM (G.711), where a sample is one audio frame of a byte
	// or two.
	group bool

	// Timing, in media units. shift moves decode times onto the
	// presentation timeline (edit list); dtsShift (<= 0) lowers DTS so
	// that negative composition offsets still give PTS >= DTS.
	shift    int64
	dtsShift int64
	// edited is set when an edit list starts the presentation after the
	// first sample: audio units that end before it (encoder priming) are
	// dropped.
	edited bool

	// Measured by Open over every unit.
	units  int
	minPTS int64 // media units, after shift
	maxEnd int64 // media units, after shift: end of the last displayed unit

	// offset (format clock) maps the earliest PTS of the file to 0.
	offset int64
}

type cttsEntry struct {
	count  uint32
	offset int32
}

// groupMax is the most PCM frames put in one unit (ffmpeg uses 1024 too).
const groupMax = 1024

// maxTime bounds timestamps (media units) so that sums never overflow.
const maxTime = int64(1) << 60

// errSkip marks a track that is left out; the message says why.
type errSkip struct{ why string }

func (e *errSkip) Error() string { return e.why }

func skipf(f string, args ...any) error { return &errSkip{why: fmt.Sprintf(f, args...)} }

// parseTrack decodes one trak. It returns an errSkip for a track that
// is well formed but not usable (codec, no samples) and another error
// for a malformed one. A track whose stbl lists no sample takes its
// tables from the movie fragments (frags, by track ID).
func parseTrack(trak []byte, movieTimescale uint32, fileSize int64, frags map[uint32]*fragTables) (*track, error) {
	t := &track{}
	trakIx := indexOf(trak)

	tkhdB, ok := trakIx.get("tkhd")
	if !ok {
		return nil, errors.New("no tkhd box")
	}
	var tkhd gomp4.Tkhd
	if _, err := unmarshal(tkhdB, &tkhd); err != nil {
		return nil, err
	}
	t.id = tkhd.TrackID

	mdiaB, ok := trakIx.get("mdia")
	if !ok {
		return t, errors.New("no mdia box")
	}
	mdia := indexOf(mdiaB)
	mdhdB, ok := mdia.get("mdhd")
	if !ok {
		return t, errors.New("no mdhd box")
	}
	var mdhd gomp4.Mdhd
	if _, err := unmarshal(mdhdB, &mdhd); err != nil {
		return t, err
	}
	if mdhd.Timescale == 0 {
		return t, errors.New("time scale is 0")
	}
	t.timescale = mdhd.Timescale

	minf, ok := mdia.get("minf")
	if !ok {
		return t, errors.New("no minf box")
	}
	stblB, ok := child(minf, "stbl")
	if !ok {
		return t, errors.New("no stbl box")
	}
	stbl := indexOf(stblB)
	if err := t.parseSampleEntry(stbl); err != nil {
		return t, err
	}
	if err := t.parseTables(stbl, fileSize); err != nil {
		return t, err
	}
	ft := frags[t.id]
	fragmented := t.count == 0 && ft != nil
	if fragmented {
		t.useFragments(ft)
	}
	if t.count == 0 {
		return t, skipf("%s (no samples)", t.fourcc)
	}
	if edts, ok := trakIx.get("edts"); ok {
		if elst, ok := child(edts, "elst"); ok {
			t.parseEditList(elst, movieTimescale)
		}
	}
	if fragmented {
		t.shift += ft.firstDTS // fragments start at their tfdt
	}
	return t, nil
}

// parseSampleEntry reads the first sample description and builds the
// format. Only the first one is used: files that switch descriptions
// mid-track are rare.
func (t *track) parseSampleEntry(stbl index) error {
	stsdB, ok := stbl.get("stsd")
	if !ok {
		return errors.New("no stsd box")
	}
	var stsd gomp4.Stsd
	n, err := unmarshal(stsdB, &stsd)
	if err != nil {
		return err
	}
	entries := children(stsdB[n:])
	if stsd.EntryCount == 0 || len(entries) == 0 {
		return errors.New("no sample description")
	}
	e := entries[0]
	t.fourcc = fourCC(e.typ)

	switch t.fourcc {
	case "avc1", "avc3":
		return t.parseAVC(e.payload)
	case "hvc1", "hev1":
		return t.parseHEVC(e.payload)
	case "mp4a":
		return t.parseAAC(e.payload)
	case "Opus":
		return t.parseOpus(e.payload)
	case "ulaw", "alaw":
		return t.parseG711(e.payload, t.fourcc == "ulaw")
	}
	return skipf("%s", t.fourcc)
}

// visualChildren returns the boxes inside a visual sample entry.
func visualChildren(entry []byte, typ gomp4.BoxType) ([]byte, error) {
	v := gomp4.VisualSampleEntry{}
	v.SetType(typ) // decode with the layout of a registered entry type
	n, err := unmarshal(entry, &v)
	if err != nil {
		return nil, err
	}
	return entry[n:], nil
}

func (t *track) parseAVC(entry []byte) error {
	kids, err := visualChildren(entry, gomp4.BoxTypeAvc1())
	if err != nil {
		return err
	}
	b, ok := child(kids, "avcC")
	if !ok {
		return errors.New("no avcC box")
	}
	c := gomp4.AVCDecoderConfiguration{}
	c.SetType(gomp4.BoxTypeAvcC())
	if _, err := unmarshal(b, &c); err != nil {
		return err
	}
	f := &format.H264{PacketizationMode: 1}
	if len(c.SequenceParameterSets) > 0 && len(c.SequenceParameterSets[0].NALUnit) > 0 {
		f.SPS = c.SequenceParameterSets[0].NALUnit
	}
	if len(c.PictureParameterSets) > 0 && len(c.PictureParameterSets[0].NALUnit) > 0 {
		f.PPS = c.PictureParameterSets[0].NALUnit
	}
	t.codec, t.format, t.lengthSize = codecH264, f, int(c.LengthSizeMinusOne)+1
	return nil
}

func (t *track) parseHEVC(entry []byte) error {
	kids, err := visualChildren(entry, gomp4.BoxTypeHvc1())
	if err != nil {
		return err
	}
	b, ok := child(kids, "hvcC")
	if !ok {
		return errors.New("no hvcC box")
	}
	var c gomp4.HvcC
	if _, err := unmarshal(b, &c); err != nil {
		return err
	}
	f := &format.H265{}
	for _, a := range c.NaluArrays {
		if len(a.Nalus) == 0 || len(a.Nalus[0].NALUnit) == 0 {
			continue
		}
		nalu := a.Nalus[0].NALUnit
		switch a.NaluType {
		case 32:
			f.VPS = nalu
		case 33:
			f.SPS = nalu
		case 34:
			f.PPS = nalu
		}
	}
	t.codec, t.format, t.lengthSize = codecH265, f, int(c.LengthSizeMinusOne)+1
	return nil
}

// sound is what an audio sample entry says about itself.
type sound struct {
	channels   int
	sampleRate float64
	kids       []byte // child boxes
}

// parseSound reads an audio sample entry. ISO files use the 28-byte
// layout; QuickTime sound descriptions v1 and v2 add 16 or 36 bytes
// before the child boxes (v2 also moves the rate and channel count
// there). The brand cannot be trusted, so the layout whose child boxes
// parse wins.
func parseSound(entry []byte) (sound, error) {
	a := gomp4.AudioSampleEntry{}
	a.SetType(gomp4.BoxTypeMp4a()) // decode with the layout of a registered entry type
	n, err := unmarshal(entry, &a)
	if err != nil {
		return sound{}, err
	}
	s := sound{channels: int(a.ChannelCount), sampleRate: float64(a.SampleRate >> 16), kids: entry[n:]}
	base := int(n)
	switch a.EntryVersion {
	case 1:
		if len(entry) >= base+16 && plausibleBoxes(entry[base+16:]) {
			s.kids = entry[base+16:]
		}
	case 2:
		if len(entry) >= base+36 && plausibleBoxes(entry[base+36:]) {
			s.kids = entry[base+36:]
			s.sampleRate = math.Float64frombits(binary.BigEndian.Uint64(entry[base+4:]))
			s.channels = int(binary.BigEndian.Uint32(entry[base+12:]))
		}
	}
	return s, nil
}

func (t *track) parseAAC(entry []byte) error {
	s, err := parseSound(entry)
	if err != nil {
		return err
	}
	b, ok := child(s.kids, "esds")
	if !ok {
		// QuickTime puts it in a wave box.
		if wave, ok2 := child(s.kids, "wave"); ok2 {
			b, ok = child(wave, "esds")
		}
	}
	if !ok {
		return errors.New("no esds box")
	}
	var esds gomp4.Esds
	if _, err := unmarshal(b, &esds); err != nil {
		return err
	}
	var oti byte
	var dsi []byte
	for _, d := range esds.Descriptors {
		switch {
		case d.Tag == gomp4.DecoderConfigDescrTag && d.DecoderConfigDescriptor != nil:
			oti = d.DecoderConfigDescriptor.ObjectTypeIndication
		case d.Tag == gomp4.DecSpecificInfoTag && dsi == nil:
			dsi = d.Data
		}
	}
	switch oti {
	case 0x40, 0x66, 0x67, 0x68: // MPEG-4 audio; MPEG-2 AAC main, LC, SSR
	case 0x69, 0x6b:
		return skipf("mp4a (MP3)")
	default:
		return skipf("mp4a (object type 0x%02x)", oti)
	}
	if len(dsi) == 0 {
		return errors.New("no AudioSpecificConfig")
	}
	var conf mpeg4audio.AudioSpecificConfig
	if err := conf.Unmarshal(dsi); err != nil {
		return fmt.Errorf("bad AudioSpecificConfig: %w", err)
	}
	if _, err := conf.Marshal(); err != nil || conf.SampleRate <= 0 {
		return skipf("mp4a (AAC object type %d)", conf.Type)
	}
	t.codec = codecAAC
	t.format = &format.MPEG4Audio{
		Config:           &conf,
		SizeLength:       13,
		IndexLength:      3,
		IndexDeltaLength: 3,
	}
	return nil
}

func (t *track) parseOpus(entry []byte) error {
	s, err := parseSound(entry)
	if err != nil {
		return err
	}
	ch := s.channels
	if b, ok := child(s.kids, "dOps"); ok {
		var d gomp4.DOps
		if _, err := unmarshal(b, &d); err == nil && d.OutputChannelCount > 0 {
			ch = int(d.OutputChannelCount)
		}
	}
	if ch <= 0 {
		ch = 2
	}
	t.codec = codecOpus
	t.format = &format.Opus{ChannelCount: ch}
	return nil
}

func (t *track) parseG711(entry []byte, mulaw bool) error {
	s, err := parseSound(entry)
	if err != nil {
		return err
	}
	rate := int(math.Round(s.sampleRate))
	if rate <= 0 || rate > 1_000_000 || s.sampleRate != s.sampleRate { // NaN from a bad v2 entry
		rate = int(t.timescale) // the media time scale is the sample rate for PCM
	}
	ch := s.channels
	if ch <= 0 || ch > 64 {
		ch = 1
	}
	t.codec = codecG711
	t.format = &format.G711{MULaw: mulaw, SampleRate: rate, ChannelCount: ch}
	return nil
}

// parseTables decodes stts, ctts, stsc, stsz/stz2, stco/co64 and stss
// with go-mp4 (stz2, which go-mp4 lacks, by hand), clamping every entry
// count to what its box really holds, then settles the number of usable
// samples: the smallest that stsz, stts and the chunk tables agree on.
func (t *track) parseTables(stbl index, fileSize int64) error {
	b, ok := stbl.get("stts")
	if !ok {
		return errors.New("no stts box")
	}
	var stts gomp4.Stts
	if _, err := unmarshal(clampCount(b, 4, 8, 8), &stts); err != nil {
		return err
	}
	t.stts = stts.Entries

	if b, ok := stbl.get("ctts"); ok {
		var ctts gomp4.Ctts
		if _, err := unmarshal(clampCount(b, 4, 8, 8), &ctts); err != nil {
			return err
		}
		t.ctts = make([]cttsEntry, 0, len(ctts.Entries))
		for _, e := range ctts.Entries {
			// Version 0 offsets are unsigned by the book, but muxers
			// write negative ones there too: read both as signed.
			off := e.SampleOffsetV1
			if ctts.GetVersion() == 0 {
				off = int32(e.SampleOffsetV0)
			}
			t.ctts = append(t.ctts, cttsEntry{count: e.SampleCount, offset: off})
		}
	}

	b, ok = stbl.get("stsc")
	if !ok {
		return errors.New("no stsc box")
	}
	var stsc gomp4.Stsc
	if _, err := unmarshal(clampCount(b, 4, 8, 12), &stsc); err != nil {
		return err
	}
	t.stsc = stsc.Entries

	if b, ok := stbl.get("co64"); ok {
		var co64 gomp4.Co64
		if _, err := unmarshal(clampCount(b, 4, 8, 8), &co64); err != nil {
			return err
		}
		t.chunks = co64.ChunkOffset
	} else if b, ok := stbl.get("stco"); ok {
		var stco gomp4.Stco
		if _, err := unmarshal(clampCount(b, 4, 8, 4), &stco); err != nil {
			return err
		}
		t.chunks = make([]uint64, len(stco.ChunkOffset))
		for i, o := range stco.ChunkOffset {
			t.chunks[i] = uint64(o)
		}
	} else {
		return errors.New("no stco or co64 box")
	}

	var count uint64
	if b, ok := stbl.get("stsz"); ok {
		if len(b) >= 8 && binary.BigEndian.Uint32(b[4:]) == 0 {
			b = clampCount(b, 8, 12, 4)
		}
		var stsz gomp4.Stsz
		if _, err := unmarshal(b, &stsz); err != nil {
			return err
		}
		if stsz.SampleSize == 0 {
			t.sizes = stsz.EntrySize
			count = uint64(len(stsz.EntrySize))
		} else {
			t.constSize = stsz.SampleSize
			// Samples of a constant size beyond the end of the file
			// cannot be read: do not count past them.
			count = min(uint64(stsz.SampleCount), uint64(fileSize)/uint64(stsz.SampleSize)+1)
		}
	} else if b, ok := stbl.get("stz2"); ok {
		sizes, err := parseStz2(b)
		if err != nil {
			return err
		}
		t.sizes, count = sizes, uint64(len(sizes))
	} else {
		return errors.New("no stsz or stz2 box")
	}

	if b, ok := stbl.get("stss"); ok {
		// A malformed stss is ignored: every sample is then a sync sample.
		var stss gomp4.Stss
		if _, err := unmarshal(clampCount(b, 4, 8, 4), &stss); err == nil {
			t.stss = stss.SampleNumber
			if t.stss == nil {
				t.stss = []uint32{} // present and empty: no sync sample at all
			}
		}
	}

	var timed uint64
	for _, e := range t.stts {
		timed += uint64(e.SampleCount)
	}
	count = min(count, timed, t.chunkCapacity())
	t.count = uint32(min(count, math.MaxUint32))

	// PCM: a sample is one frame of a byte or two per channel, and each
	// lasts one tick. Such samples go out in groups.
	if t.codec == codecG711 && t.sizes == nil {
		t.group = true
		for _, e := range t.stts {
			if e.SampleCount > 0 && e.SampleDelta != 1 {
				t.group = false
			}
		}
	}
	return nil
}

// chunkCapacity counts the samples the chunk tables place, walking the
// chunks the way a cursor does.
func (t *track) chunkCapacity() uint64 {
	if len(t.stsc) == 0 {
		return 0
	}
	var n uint64
	j := 0
	for c := range t.chunks {
		for j+1 < len(t.stsc) && uint64(t.stsc[j+1].FirstChunk) <= uint64(c)+1 {
			j++
		}
		n += uint64(t.stsc[j].SamplesPerChunk)
	}
	return n
}

// parseStz2 decodes a compact sample size box (4, 8 or 16 bits a size).
func parseStz2(b []byte) ([]uint32, error) {
	if len(b) < 12 {
		return nil, errors.New("malformed stz2 box")
	}
	field := int(b[7])
	count := uint64(binary.BigEndian.Uint32(b[8:]))
	data := b[12:]
	switch field {
	case 4:
		count = min(count, uint64(len(data))*2)
	case 8:
		count = min(count, uint64(len(data)))
	case 16:
		count = min(count, uint64(len(data))/2)
	default:
		return nil, fmt.Errorf("malformed stz2 box (field size %d)", field)
	}
	sizes := make([]uint32, count)
	for i := range sizes {
		switch field {
		case 4:
			v := data[i/2]
			if i%2 == 0 {
				v >>= 4
			}
			sizes[i] = uint32(v & 0x0f)
		case 8:
			sizes[i] = uint32(data[i])
		case 16:
			sizes[i] = uint32(binary.BigEndian.Uint16(data[2*i:]))
		}
	}
	return sizes, nil
}

// parseEditList applies the start of the edit list: leading empty edits
// delay the track, and the first real edit says which media time is
// shown first (ffmpeg writes one to hide the AAC priming samples and the
// two-frame decode delay of B-frames). Later edits (cuts, dwells, rate
// changes) are not applied, and a malformed list is ignored.
func (t *track) parseEditList(b []byte, movieTimescale uint32) {
	if len(b) >= 4 && b[0] == 1 {
		b = clampCount(b, 4, 8, 20)
	} else {
		b = clampCount(b, 4, 8, 12)
	}
	var elst gomp4.Elst
	if _, err := unmarshal(b, &elst); err != nil {
		return
	}
	var delay uint64 // movie time scale
	for i := range elst.Entries {
		mt := elst.GetMediaTime(i)
		if mt == -1 {
			delay += elst.GetSegmentDuration(i)
			continue
		}
		if mt < 0 || mt > maxTime {
			return
		}
		var d int64
		if movieTimescale > 0 {
			d = min(rescale(int64(min(delay, uint64(maxTime))), uint64(movieTimescale), uint64(t.timescale)), maxTime)
		}
		t.shift = d - mt
		t.edited = mt > 0
		return
	}
}
