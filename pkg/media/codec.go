package media

import (
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// IsVideo reports whether the format carries video.
func IsVideo(f format.Format) bool {
	switch f.(type) {
	case *format.H264, *format.H265, *format.AV1, *format.VP8, *format.VP9,
		*format.MJPEG, *format.MPEG1Video, *format.MPEG4Video:
		return true
	}
	return false
}

// IsRandomAccess reports whether a decoded access unit can start decoding.
// Audio units are always random access.
func IsRandomAccess(f format.Format, au [][]byte) bool {
	switch f.(type) {
	case *format.H264:
		return h264.IsRandomAccess(au)
	case *format.H265:
		return h265.IsRandomAccess(au)
	case *format.VP8, *format.VP9, *format.AV1, *format.MPEG4Video, *format.MPEG1Video:
		return false
	}
	return !IsVideo(f)
}

// FindSPS returns the sequence parameter set carried in an access unit.
func FindSPS(f format.Format, au [][]byte) []byte {
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch f.(type) {
		case *format.H264:
			if h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeSPS {
				return nalu
			}
		case *format.H265:
			if h265.NALUType((nalu[0]>>1)&0x3f) == h265.NALUType_SPS_NUT {
				return nalu
			}
		}
	}
	return nil
}

// AccessUnits is how many access units (frames) a decoded unit carries:
// an RTP packet of AAC (RFC 3640) packs several, each element of Payload;
// every other codec's unit is one frame. Undecoded units count 0.
func AccessUnits(u *Unit) int {
	if !u.Decoded() {
		return 0
	}
	if _, ok := u.Format.(*format.MPEG4Audio); ok {
		return len(u.Payload)
	}
	return 1
}

// LastPTS is the PTS of the last access unit of a decoded unit, in the
// format's clock: AAC units hold consecutive 1024-sample frames.
func LastPTS(u *Unit) int64 {
	if _, ok := u.Format.(*format.MPEG4Audio); ok && len(u.Payload) > 1 {
		return u.PTS + int64(len(u.Payload)-1)*mpeg4audio.SamplesPerAccessUnit
	}
	return u.PTS
}
