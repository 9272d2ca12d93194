package mp4

import (
	"math"

	gomp4 "github.com/abema/go-mp4"
)

// maxMoofSize bounds one moof box read into memory (a second of media
// takes a few kilobytes).
const maxMoofSize = 16 << 20

// maxFragmentSamples bounds the samples read from fragments, as
// maxMoovSize bounds the tables of a moov (4 bytes a sample size).
const maxFragmentSamples = maxMoovSize / 4

// Flags of tfhd and trun (ISO/IEC 14496-12 8.8.7, 8.8.8).
const (
	tfhdBaseDataOffset    = 0x000001
	tfhdDefaultDuration   = 0x000008
	tfhdDefaultSize       = 0x000010
	tfhdDefaultFlags      = 0x000020
	tfhdDefaultBaseIsMoof = 0x020000

	trunDataOffset       = 0x000001
	trunFirstSampleFlags = 0x000004
	trunDuration         = 0x000100
	trunSize             = 0x000200
	trunFlags            = 0x000400
	trunCTO              = 0x000800

	sampleIsNonSync = 0x00010000
)

// fragDefaults are a track's trex defaults.
type fragDefaults struct{ dur, size, flags uint32 }

// fragTables are the sample tables of one track built from the movie
// fragments, in the form parseTables gives: one chunk per trun.
type fragTables struct {
	stts     []gomp4.SttsEntry
	ctts     []cttsEntry
	stsc     []gomp4.StscEntry
	chunks   []uint64
	sizes    []uint32
	stss     []uint32
	allSync  bool
	count    uint32
	firstDTS int64 // tfdt of the first fragment
	seen     bool
	cut      bool // a sample lay past the end of the file: nothing after it is used
}

// trexDefaults reads the trex boxes of a moov's mvex.
func trexDefaults(moov []byte) map[uint32]fragDefaults {
	out := map[uint32]fragDefaults{}
	mvex, ok := child(moov, "mvex")
	if !ok {
		return out
	}
	for _, c := range children(mvex) {
		if c.typ != gomp4.BoxTypeTrex() {
			continue
		}
		var trex gomp4.Trex
		if _, err := unmarshal(c.payload, &trex); err == nil {
			out[trex.TrackID] = fragDefaults{trex.DefaultSampleDuration, trex.DefaultSampleSize, trex.DefaultSampleFlags}
		}
	}
	return out
}

// readFragments walks the top-level moof boxes of a fragmented MP4 and
// builds the sample tables of each track they describe. A fragment whose
// samples run past the end of the file (a recording killed mid-write)
// ends its track there. Malformed boxes end the walk: what was read
// before stays usable.
func readFragments(fr *fileReader, defaults map[uint32]fragDefaults) map[uint32]*fragTables {
	out := map[uint32]*fragTables{}
	size := uint64(fr.size)
	// Samples may not share bytes in a sane file: no more samples than
	// bytes, which also bounds the work a hostile file can ask for.
	budget := min(int64(maxFragmentSamples), fr.size)
	var pos int64
	for pos+gomp4.SmallHeaderSize <= fr.size {
		var hdr [16]byte
		n := min(int64(len(hdr)), fr.size-pos)
		if err := fr.readAt(hdr[:n], pos); err != nil {
			return out
		}
		bi, err := gomp4.ReadBoxInfo(&headerReader{b: hdr[:n], off: pos, size: fr.size})
		if err != nil || !printable(bi.Type[:]) || bi.Size < bi.HeaderSize || bi.Size > uint64(fr.size-pos) {
			return out
		}
		if bi.Type == gomp4.BoxTypeMoof() {
			if bi.Size-bi.HeaderSize > maxMoofSize {
				return out
			}
			moof := make([]byte, bi.Size-bi.HeaderSize)
			if err := fr.readAt(moof, pos+int64(bi.HeaderSize)); err != nil {
				return out
			}
			readMoof(moof, uint64(pos), size, defaults, out, &budget)
		}
		pos += int64(bi.Size)
	}
	return out
}

// readMoof adds the samples of one moof (at file offset moofAt).
func readMoof(moof []byte, moofAt, fileSize uint64, defaults map[uint32]fragDefaults, out map[uint32]*fragTables, budget *int64) {
	dataEnd := moofAt // where the previous traf's data ended
	for _, c := range children(moof) {
		if c.typ != gomp4.BoxTypeTraf() {
			continue
		}
		trafBoxes := children(c.payload)
		var tfhd gomp4.Tfhd
		found := false
		for _, b := range trafBoxes {
			if b.typ == gomp4.BoxTypeTfhd() {
				if _, err := unmarshal(b.payload, &tfhd); err != nil {
					return
				}
				found = true
				break
			}
		}
		if !found {
			return
		}
		ft := out[tfhd.TrackID]
		if ft == nil {
			ft = &fragTables{allSync: true}
			out[tfhd.TrackID] = ft
		}
		def := defaults[tfhd.TrackID]
		if tfhd.CheckFlag(tfhdDefaultDuration) {
			def.dur = tfhd.DefaultSampleDuration
		}
		if tfhd.CheckFlag(tfhdDefaultSize) {
			def.size = tfhd.DefaultSampleSize
		}
		if tfhd.CheckFlag(tfhdDefaultFlags) {
			def.flags = tfhd.DefaultSampleFlags
		}
		base := dataEnd
		switch {
		case tfhd.CheckFlag(tfhdBaseDataOffset):
			base = tfhd.BaseDataOffset
		case tfhd.CheckFlag(tfhdDefaultBaseIsMoof):
			base = moofAt
		}
		pos := base
		for _, b := range trafBoxes {
			switch b.typ {
			case gomp4.BoxTypeTfdt():
				var tfdt gomp4.Tfdt
				if _, err := unmarshal(b.payload, &tfdt); err == nil && !ft.seen {
					t := tfdt.BaseMediaDecodeTimeV1
					if tfdt.GetVersion() == 0 {
						t = uint64(tfdt.BaseMediaDecodeTimeV0)
					}
					ft.firstDTS = int64(min(t, uint64(maxTime)))
				}
			case gomp4.BoxTypeTrun():
				end, ok := ft.addTrun(b.payload, base, pos, fileSize, def, budget)
				if !ok {
					return
				}
				pos = end
			}
		}
		dataEnd = pos
	}
}

// addTrun adds the samples of one trun whose data starts at base plus its
// data offset (or at pos without one); it returns where its data ends.
func (ft *fragTables) addTrun(payload []byte, base, pos, fileSize uint64, def fragDefaults, budget *int64) (uint64, bool) {
	if len(payload) < 8 {
		return pos, false
	}
	flags := uint32(payload[1])<<16 | uint32(payload[2])<<8 | uint32(payload[3])
	entriesAt, entrySize := 8, 0
	for _, f := range []uint32{trunDataOffset, trunFirstSampleFlags} {
		if flags&f != 0 {
			entriesAt += 4
		}
	}
	for _, f := range []uint32{trunDuration, trunSize, trunFlags, trunCTO} {
		if flags&f != 0 {
			entrySize += 4
		}
	}
	if entrySize > 0 {
		payload = clampCount(payload, 4, entriesAt, entrySize)
	}
	var trun gomp4.Trun
	if _, err := unmarshal(payload, &trun); err != nil {
		return pos, false
	}
	if flags&trunDataOffset != 0 {
		pos = uint64(int64(base) + int64(trun.DataOffset))
	}
	ft.seen = true
	n := trun.SampleCount
	if entrySize > 0 {
		n = min(n, uint32(len(trun.Entries)))
	}
	chunkAt, added := pos, uint32(0)
	for i := uint32(0); i < n && !ft.cut; i++ {
		var e gomp4.TrunEntry
		if entrySize > 0 {
			e = trun.Entries[i]
		}
		dur, size, sflags := def.dur, def.size, def.flags
		if flags&trunDuration != 0 {
			dur = e.SampleDuration
		}
		if flags&trunSize != 0 {
			size = e.SampleSize
		}
		switch {
		case i == 0 && flags&trunFirstSampleFlags != 0:
			sflags = trun.FirstSampleFlags
		case flags&trunFlags != 0:
			sflags = e.SampleFlags
		}
		var cto int32
		if flags&trunCTO != 0 {
			cto = e.SampleCompositionTimeOffsetV1
			if trun.GetVersion() == 0 {
				cto = int32(e.SampleCompositionTimeOffsetV0)
			}
		}
		if size == 0 || pos > fileSize || uint64(size) > fileSize-pos || ft.count == math.MaxUint32 || *budget <= 0 {
			ft.cut = true // past the end of the file (or no data, or too many): stop here
			break
		}
		*budget--
		ft.addSample(dur, size, sflags&sampleIsNonSync == 0, cto)
		pos += uint64(size)
		added++
	}
	if added > 0 {
		ft.chunks = append(ft.chunks, chunkAt)
		if k := len(ft.stsc); k == 0 || ft.stsc[k-1].SamplesPerChunk != added {
			ft.stsc = append(ft.stsc, gomp4.StscEntry{FirstChunk: uint32(len(ft.chunks)), SamplesPerChunk: added, SampleDescriptionIndex: 1})
		}
	}
	return pos, !ft.cut
}

func (ft *fragTables) addSample(dur, size uint32, sync bool, cto int32) {
	ft.count++
	ft.sizes = append(ft.sizes, size)
	if k := len(ft.stts); k > 0 && ft.stts[k-1].SampleDelta == dur {
		ft.stts[k-1].SampleCount++
	} else {
		ft.stts = append(ft.stts, gomp4.SttsEntry{SampleCount: 1, SampleDelta: dur})
	}
	if k := len(ft.ctts); k > 0 && ft.ctts[k-1].offset == cto {
		ft.ctts[k-1].count++
	} else {
		ft.ctts = append(ft.ctts, cttsEntry{count: 1, offset: cto})
	}
	if sync {
		ft.stss = append(ft.stss, ft.count)
	} else {
		ft.allSync = false
	}
}

// useFragments gives a track whose moov lists no sample the tables built
// from the fragments (parseTrack adds their first tfdt to the shift).
func (t *track) useFragments(ft *fragTables) {
	t.stts, t.ctts, t.stsc, t.chunks = ft.stts, ft.ctts, ft.stsc, ft.chunks
	t.sizes, t.constSize, t.count = ft.sizes, 0, ft.count
	t.stss = ft.stss
	if ft.allSync {
		t.stss = nil
	} else if t.stss == nil {
		t.stss = []uint32{}
	}
}
