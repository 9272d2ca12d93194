// Package mp4w writes MP4 files: MP4Sink, a regular MP4 whose moov is
// written at Close, and FMP4Sink, a fragmented MP4 (mediacommon's fmp4
// Init and Part) that works on pipes.
//
// Both take H.264 (avc1+avcC), H.265 (hvc1+hvcC), AAC (mp4a+esds) and Opus
// (Opus+dOps). The sample entries come from mediacommon's fMP4 init
// writer, so both sinks describe codecs the same way. Units go through
// mux.Track: video starts at its first keyframe with the parameter sets
// before every IDR, DTS is derived for RTP units, and all tracks share one
// timeline starting at the first video keyframe.
package mp4w

import (
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/avcat/avcat/pkg/container/mux"
)

// Supported lists the codecs the MP4 sinks write, for messages.
const Supported = "H.264, H.265, AAC, Opus"

// accept reports whether an MP4 track can hold f.
func accept(f format.Format) (bool, string) {
	switch f := f.(type) {
	case *format.H264, *format.H265, *format.Opus:
		return true, ""
	case *format.MPEG4Audio:
		if f.Config == nil {
			return false, "no config"
		}
		return true, ""
	}
	return false, ""
}

// codecOf describes a track for mediacommon's MP4 writers; ok is false
// while the parameter sets of a video track are unknown.
func codecOf(t *mux.Track) (fmp4.Codec, bool) {
	switch f := t.Format.(type) {
	case *format.H264:
		_, sps, pps := t.Params()
		if sps == nil || pps == nil {
			return nil, false
		}
		return &fmp4.CodecH264{SPS: sps, PPS: pps}, true
	case *format.H265:
		vps, sps, pps := t.Params()
		if vps == nil || sps == nil || pps == nil {
			return nil, false
		}
		return &fmp4.CodecH265{VPS: vps, SPS: sps, PPS: pps}, true
	case *format.MPEG4Audio:
		return &fmp4.CodecMPEG4Audio{Config: *f.Config}, true
	case *format.Opus:
		return &fmp4.CodecOpus{ChannelCount: max(f.ChannelCount, 1)}, true
	}
	return nil, false
}

// dimensions returns the picture size from the SPS, or 0, 0.
func dimensions(t *mux.Track) (int, int) {
	_, sps, _ := t.Params()
	switch t.Format.(type) {
	case *format.H264:
		var s h264.SPS
		if sps != nil && s.Unmarshal(sps) == nil {
			return s.Width(), s.Height()
		}
	case *format.H265:
		var s h265.SPS
		if sps != nil && s.Unmarshal(sps) == nil {
			return s.Width(), s.Height()
		}
	}
	return 0, 0
}

// sample is one MP4 sample, timestamps in the track clock.
type sample struct {
	dts    int64
	ptsOff int32
	sync   bool
	data   []byte
}

// samplesOf splits a frame into MP4 samples: an AVCC access unit for
// video, one sample per AAC access unit or Opus packet for audio.
func samplesOf(t *mux.Track, fr mux.Frame) ([]sample, error) {
	switch f := t.Format.(type) {
	case *format.H264, *format.H265:
		b, err := h264.AVCC(fr.AU).Marshal()
		if err != nil {
			return nil, err
		}
		return []sample{{dts: fr.DTS, ptsOff: int32(fr.PTS - fr.DTS), sync: fr.Key, data: b}}, nil
	case *format.MPEG4Audio:
		out := make([]sample, 0, len(fr.AU))
		n := aacFrameLen(f)
		for i, au := range fr.AU {
			out = append(out, sample{dts: fr.DTS + int64(i)*n, sync: true, data: au})
		}
		return out, nil
	case *format.Opus:
		out := make([]sample, 0, len(fr.AU))
		dts := fr.DTS
		for _, p := range fr.AU {
			out = append(out, sample{dts: dts, sync: true, data: p})
			dts += max(opus.PacketDuration2(p), 1)
		}
		return out, nil
	}
	return nil, nil
}

func aacFrameLen(f *format.MPEG4Audio) int64 {
	if f.Config != nil && f.Config.FrameLengthFlag {
		return 960
	}
	return 1024
}

// defaultDuration is the duration of a track's last sample when no other
// is known: a 25 fps frame, an AAC frame, 20 ms of Opus.
func defaultDuration(t *mux.Track) int64 {
	switch f := t.Format.(type) {
	case *format.MPEG4Audio:
		return aacFrameLen(f)
	case *format.Opus:
		return 960
	}
	return t.ClockRate() / 25
}
