package annexb

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Codec names accepted in Source.Codec.
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

const (
	// maxAUNALUs and maxAUSize bound an access unit being assembled, so
	// garbage without picture data cannot grow it forever.
	maxAUNALUs = 256
	maxAUSize  = 8 << 20
)

// naluKind is what a NAL unit means for access unit boundaries.
type naluKind int

const (
	kindOther      naluKind = iota // stays in the current AU
	kindDelimiter                  // AUD: starts an AU, dropped
	kindPrefix                     // parameter sets, SEI: start an AU after a picture
	kindSlice                      // a slice that is not the first of its picture
	kindFirstSlice                 // the first slice of a picture
)

func classifyH264(nalu []byte) naluKind {
	switch h264.NALUType(nalu[0] & 0x1F) {
	case h264.NALUTypeAccessUnitDelimiter:
		return kindDelimiter
	case h264.NALUTypeSEI, h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypePrefix,
		h264.NALUTypeSubsetSPS, h264.NALUTypeReserved16, h264.NALUTypeReserved17, h264.NALUTypeReserved18:
		return kindPrefix
	case h264.NALUTypeNonIDR, h264.NALUTypeIDR, h264.NALUTypeDataPartitionA:
		// first_mb_in_slice is ue(v): it is 0 when its first bit is 1.
		if len(nalu) >= 2 && nalu[1]&0x80 != 0 {
			return kindFirstSlice
		}
		return kindSlice
	case h264.NALUTypeDataPartitionB, h264.NALUTypeDataPartitionC:
		return kindSlice
	}
	return kindOther
}

func classifyH265(nalu []byte) naluKind {
	if len(nalu) < 2 {
		return kindOther
	}
	typ := h265.NALUType((nalu[0] >> 1) & 0x3F)
	switch {
	case typ == h265.NALUType_AUD_NUT:
		return kindDelimiter
	case typ == h265.NALUType_VPS_NUT, typ == h265.NALUType_SPS_NUT, typ == h265.NALUType_PPS_NUT,
		typ == h265.NALUType_PREFIX_SEI_NUT, typ >= 41 && typ <= 44, typ >= 48 && typ <= 55:
		return kindPrefix
	case typ < 32:
		// first_slice_segment_in_pic_flag is the first bit after the header.
		if len(nalu) >= 3 && nalu[2]&0x80 != 0 {
			return kindFirstSlice
		}
		return kindSlice
	}
	return kindOther
}

// assembler groups NAL units into access units: a new AU starts at an AUD,
// at a parameter set or SEI that follows a slice, or at the first slice of
// a picture (first_mb_in_slice == 0 for H.264,
// first_slice_segment_in_pic_flag == 1 for H.265).
type assembler struct {
	classify func([]byte) naluKind
	cur      [][]byte
	size     int
	hasVCL   bool
}

func newAssembler(codec string) *assembler {
	a := &assembler{classify: classifyH264}
	if codec == CodecH265 {
		a.classify = classifyH265
	}
	return a
}

// push adds a NAL unit and returns the access unit it completed, if any.
func (a *assembler) push(nalu []byte) [][]byte {
	var done [][]byte
	kind := a.classify(nalu)
	switch kind {
	case kindDelimiter, kindPrefix, kindFirstSlice:
		if a.hasVCL {
			done = a.take()
		}
	}
	if kind == kindDelimiter {
		return done
	}
	if a.hasVCL && (len(a.cur) >= maxAUNALUs || a.size+len(nalu) > maxAUSize) {
		done = a.take()
	} else if !a.hasVCL && (len(a.cur) >= maxAUNALUs || a.size+len(nalu) > maxAUSize) {
		a.cur, a.size = nil, 0 // no picture in sight: drop the garbage
	}
	a.cur = append(a.cur, nalu)
	a.size += len(nalu)
	if kind == kindSlice || kind == kindFirstSlice {
		a.hasVCL = true
	}
	return done
}

// flush returns the last access unit at the end of the stream, if it has
// picture data.
func (a *assembler) flush() [][]byte {
	if !a.hasVCL {
		a.cur, a.size = nil, 0
		return nil
	}
	return a.take()
}

func (a *assembler) take() [][]byte {
	au := a.cur
	a.cur, a.size, a.hasVCL = nil, 0, false
	return au
}
