package flv

import (
	"fmt"
	"time"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/ac3"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/avcat/avcat/pkg/media"
)

// trackKey names a track: its kind and its enhanced-RTMP multitrack ID
// (0 for legacy tags).
type trackKey struct {
	video bool
	id    uint8
}

// track is a configured track.
type track struct {
	key    trackKey
	media  *description.Media
	format format.Format
	// params are the current parameter sets; fresh reports new ones to
	// put before the next access unit.
	params *media.Params
	fresh  bool
	clock  audioClock
	seen   bool // a frame was read
}

func (t *track) isVideo() bool { return media.IsVideo(t.format) }

// setParams records parameter sets from a sequence header. New ones, as
// after a resolution change, are sent in-band before the next access unit.
func (t *track) setParams(ps ...[]byte) {
	if t.params.Learn(ps) {
		t.fresh = true
	}
}

// withFresh puts new parameter sets before an access unit.
func (t *track) withFresh(au [][]byte) [][]byte {
	if !t.fresh {
		return au
	}
	t.fresh = false
	return t.params.Insert(au)
}

// newTrack builds a track from a message that configures it, or returns
// nil. The second result names a codec seen but not supported.
func newTrack(key trackKey, msg message.Message) (*track, string) {
	var f format.Format
	switch m := msg.(type) {
	case *message.Video:
		if m.Type != message.VideoTypeConfig {
			return nil, ""
		}
		switch m.Codec {
		case message.CodecH264:
			if m.AVCConfig == nil {
				return nil, ""
			}
			sps := m.AVCConfig.SequenceParameterSets[0].NALUnit
			pps := m.AVCConfig.PictureParameterSets[0].NALUnit
			f = &format.H264{PayloadTyp: 96, SPS: sps, PPS: pps, PacketizationMode: 1}
		case message.CodecH265:
			vps, sps, pps := hevcParams(m.HEVCConfig)
			f = &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
		}

	case *message.VideoExSequenceStart:
		switch m.FourCC {
		case message.FourCCAVC:
			sps := m.AVCConfig.SequenceParameterSets[0].NALUnit
			pps := m.AVCConfig.PictureParameterSets[0].NALUnit
			f = &format.H264{PayloadTyp: 96, SPS: sps, PPS: pps, PacketizationMode: 1}
		case message.FourCCHEVC:
			vps, sps, pps := hevcParams(m.HEVCConfig)
			f = &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
		default:
			return nil, fourCCName(m.FourCC) + " video"
		}

	case *message.Audio:
		switch m.Codec {
		case message.CodecMPEG4Audio:
			if m.AACType != message.AudioAACTypeConfig || m.AACConfig == nil {
				return nil, ""
			}
			f = aacFormat(m.AACConfig)
		case message.CodecMPEG1Audio:
			f = &format.MPEG1Audio{}
		case message.CodecPCMA, message.CodecPCMU:
			ch := 1
			if m.IsStereo {
				ch = 2
			}
			f = &format.G711{PayloadTyp: 8, MULaw: m.Codec == message.CodecPCMU, SampleRate: 8000, ChannelCount: ch}
			if m.Codec == message.CodecPCMU {
				f.(*format.G711).PayloadTyp = 0
			}
		default:
			return nil, "LPCM audio"
		}

	case *message.AudioExSequenceStart:
		switch m.FourCC {
		case message.FourCCMP4A:
			f = aacFormat(m.AACConfig)
		case message.FourCCOpus:
			f = &format.Opus{PayloadTyp: 96, ChannelCount: int(m.OpusConfig.ChannelCount)}
		case message.FourCCFLAC:
			return nil, "FLAC audio"
		}

	case *message.AudioExCodedFrames:
		// codecs without a sequence header are configured by a frame
		switch m.FourCC {
		case message.FourCCMP3:
			f = &format.MPEG1Audio{}
		case message.FourCCAC3:
			var si ac3.SyncInfo
			var bsi ac3.BSI
			if len(m.Payload) < 6 || si.Unmarshal(m.Payload) != nil || bsi.Unmarshal(m.Payload[5:]) != nil {
				return nil, ""
			}
			f = &format.AC3{PayloadTyp: 96, SampleRate: si.SampleRate(), ChannelCount: bsi.ChannelCount()}
		}
	}
	if f == nil {
		return nil, ""
	}
	mt := description.MediaTypeAudio
	if media.IsVideo(f) {
		mt = description.MediaTypeVideo
	}
	t := &track{
		key:    key,
		format: f,
		media:  &description.Media{Type: mt, Formats: []format.Format{f}},
		params: media.NewParams(f),
	}
	t.clock.rate = int64(f.ClockRate())
	return t, ""
}

func aacFormat(c *mpeg4audio.AudioSpecificConfig) format.Format {
	return &format.MPEG4Audio{PayloadTyp: 96, Config: c, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
}

// hevcParams picks VPS, SPS and PPS from an hvcC record; gortmplib checks
// that they are there before it returns the message.
func hevcParams(c *mp4.HvcC) (vps, sps, pps []byte) {
	for _, arr := range c.NaluArrays {
		if len(arr.Nalus) == 0 {
			continue
		}
		switch h265.NALUType(arr.NaluType) {
		case h265.NALUType_VPS_NUT:
			vps = arr.Nalus[0].NALUnit
		case h265.NALUType_SPS_NUT:
			sps = arr.Nalus[0].NALUnit
		case h265.NALUType_PPS_NUT:
			pps = arr.Nalus[0].NALUnit
		}
	}
	return vps, sps, pps
}

// frame is one access unit read from a tag, before timestamp mapping.
type frame struct {
	t       *track
	dts     int64 // ms
	pts     int64 // ms
	payload [][]byte
	dur     int64 // audio: duration in the track clock, 0 if unknown
}

// frames extracts the access units a media message carries for the
// configured tracks; messages of unknown tracks give nothing.
func (s *Source) frames(key trackKey, msg message.Message, out []frame) []frame {
	ms := func(d time.Duration) int64 { return int64(d / time.Millisecond) }
	switch m := msg.(type) {
	case *message.VideoExMultitrack:
		return s.frames(trackKey{video: true, id: m.TrackID}, m.Wrapped, out)
	case *message.AudioExMultitrack:
		return s.frames(trackKey{video: false, id: m.TrackID}, m.Wrapped, out)
	}
	t := s.tracks[key]
	if t == nil {
		return out
	}
	switch m := msg.(type) {
	case *message.Video:
		switch m.Type {
		case message.VideoTypeConfig:
			if m.Codec == message.CodecH264 && m.AVCConfig != nil {
				t.setParams(m.AVCConfig.SequenceParameterSets[0].NALUnit, m.AVCConfig.PictureParameterSets[0].NALUnit)
			} else if m.Codec == message.CodecH265 {
				vps, sps, pps := hevcParams(m.HEVCConfig)
				t.setParams(vps, sps, pps)
			}
		case message.VideoTypeAU:
			if !codecMatches(t.format, m.Codec) {
				return out
			}
			if au := avcc(m.AU); au != nil {
				out = append(out, frame{t: t, dts: ms(m.DTS), pts: ms(m.DTS + m.PTSDelta), payload: t.withFresh(au)})
			}
		}

	case *message.VideoExSequenceStart:
		switch m.FourCC {
		case message.FourCCAVC:
			t.setParams(m.AVCConfig.SequenceParameterSets[0].NALUnit, m.AVCConfig.PictureParameterSets[0].NALUnit)
		case message.FourCCHEVC:
			vps, sps, pps := hevcParams(m.HEVCConfig)
			t.setParams(vps, sps, pps)
		}

	case *message.VideoExCodedFrames:
		if !fourCCMatches(t.format, m.FourCC) {
			return out
		}
		if au := avcc(m.Payload); au != nil {
			out = append(out, frame{t: t, dts: ms(m.DTS), pts: ms(m.DTS + m.PTSDelta), payload: t.withFresh(au)})
		}

	case *message.VideoExFramesX:
		if !fourCCMatches(t.format, m.FourCC) {
			return out
		}
		if au := avcc(m.Payload); au != nil {
			out = append(out, frame{t: t, dts: ms(m.DTS), pts: ms(m.DTS), payload: t.withFresh(au)})
		}

	case *message.Audio:
		at := ms(m.DTS)
		switch f := t.format.(type) {
		case *format.MPEG4Audio:
			if m.Codec == message.CodecMPEG4Audio && m.AACType == message.AudioAACTypeAU && len(m.AU) > 0 {
				out = append(out, frame{t: t, dts: at, pts: at, payload: [][]byte{m.AU}, dur: aacFrameLen(f)})
			}
		case *format.MPEG1Audio:
			if m.Codec == message.CodecMPEG1Audio && len(m.AU) > 0 {
				out = append(out, frame{t: t, dts: at, pts: at, payload: [][]byte{m.AU}, dur: mp3Duration(m.AU)})
			}
		case *format.G711:
			if (m.Codec == message.CodecPCMU) == f.MULaw && (m.Codec == message.CodecPCMA || m.Codec == message.CodecPCMU) && len(m.AU) > 0 {
				out = append(out, frame{t: t, dts: at, pts: at, payload: [][]byte{m.AU}, dur: int64(len(m.AU) / f.ChannelCount)})
			}
		}

	case *message.AudioExCodedFrames:
		at := ms(m.DTS)
		if len(m.Payload) == 0 {
			return out
		}
		var dur int64
		switch f := t.format.(type) {
		case *format.MPEG4Audio:
			if m.FourCC != message.FourCCMP4A {
				return out
			}
			dur = aacFrameLen(f)
		case *format.Opus:
			if m.FourCC != message.FourCCOpus {
				return out
			}
			dur = opus.PacketDuration2(m.Payload)
		case *format.AC3:
			if m.FourCC != message.FourCCAC3 {
				return out
			}
			dur = 1536
		case *format.MPEG1Audio:
			if m.FourCC != message.FourCCMP3 {
				return out
			}
			dur = mp3Duration(m.Payload)
		default:
			return out
		}
		out = append(out, frame{t: t, dts: at, pts: at, payload: [][]byte{m.Payload}, dur: dur})
	}
	return out
}

// avcc splits a length-prefixed access unit; nil when it is malformed or
// empty.
func avcc(b []byte) [][]byte {
	var au h264.AVCC
	if err := au.Unmarshal(b); err != nil || len(au) == 0 {
		return nil
	}
	return au
}

func codecMatches(f format.Format, codec uint8) bool {
	switch f.(type) {
	case *format.H264:
		return codec == message.CodecH264
	case *format.H265:
		return codec == message.CodecH265
	}
	return false
}

func fourCCMatches(f format.Format, c message.FourCC) bool {
	switch f.(type) {
	case *format.H264:
		return c == message.FourCCAVC
	case *format.H265:
		return c == message.FourCCHEVC
	}
	return false
}

func aacFrameLen(f *format.MPEG4Audio) int64 {
	if f.Config != nil && f.Config.FrameLengthFlag {
		return 960
	}
	return 1024
}

// mp3Duration is the duration of MPEG audio frames in the 90 kHz clock of
// format.MPEG1Audio, or 0 when the header does not parse.
func mp3Duration(b []byte) int64 {
	var h mpeg1audio.FrameHeader
	if h.Unmarshal(b) != nil || h.SampleRate == 0 {
		return 0
	}
	return int64(h.SampleCount()) * 90000 / int64(h.SampleRate)
}

func fourCCName(c message.FourCC) string {
	b := []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
	for _, x := range b {
		if x < 0x20 || x > 0x7E {
			return fmt.Sprintf("FourCC 0x%08x", uint32(c))
		}
	}
	return string(b)
}

// videoCodecName and audioCodecName name the codec of a tag that could
// not be decoded, for the "no supported track" error.
func videoCodecName(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if b[0]&0x80 != 0 { // enhanced RTMP
		if len(b) >= 5 {
			return fourCCName(message.FourCC(uint32(b[1])<<24|uint32(b[2])<<16|uint32(b[3])<<8|uint32(b[4]))) + " video"
		}
		return ""
	}
	switch b[0] & 0x0F {
	case 2:
		return "Sorenson H.263 video"
	case 3:
		return "Screen video"
	case 4:
		return "VP6 video"
	case 5:
		return "VP6 alpha video"
	case 6:
		return "Screen video v2"
	case message.CodecH264:
		return "H.264 video"
	case message.CodecH265:
		return "H.265 video"
	}
	return fmt.Sprintf("video codec %d", b[0]&0x0F)
}

func audioCodecName(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	switch b[0] >> 4 {
	case 0, 3:
		return "LPCM audio"
	case 1:
		return "ADPCM audio"
	case 2:
		return "MP3 audio"
	case 14:
		return "MP3 8 kHz audio"
	case 4, 5, 6:
		return "Nellymoser audio"
	case 7, 8:
		return "G.711 audio"
	case 9:
		if len(b) >= 5 {
			return fourCCName(message.FourCC(uint32(b[1])<<24|uint32(b[2])<<16|uint32(b[3])<<8|uint32(b[4]))) + " audio"
		}
		return ""
	case 10:
		return "AAC audio"
	case 11:
		return "Speex audio"
	}
	return fmt.Sprintf("audio codec %d", b[0]>>4)
}
