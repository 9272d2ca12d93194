package rtmp

import (
	"fmt"

	"github.com/avcat/avcat/pkg/media"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// toDescription maps RTMP tracks onto gortsplib's codec model, the one
// every other endpoint uses. Tracks without an equivalent are skipped and
// named in the returned list.
func toDescription(tracks []*gortmplib.Track) (*description.Session, map[*gortmplib.Track]format.Format, []string) {
	desc := &description.Session{}
	formats := make(map[*gortmplib.Track]format.Format)
	var skipped []string
	const pt = 96 // numbered below
	for _, t := range tracks {
		var f format.Format
		mt := description.MediaTypeAudio
		switch c := t.Codec.(type) {
		case *codecs.H264:
			f = &format.H264{PayloadTyp: pt, SPS: c.SPS, PPS: c.PPS, PacketizationMode: 1}
			mt = description.MediaTypeVideo
		case *codecs.H265:
			f = &format.H265{PayloadTyp: pt, VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}
			mt = description.MediaTypeVideo
		case *codecs.AV1:
			f = &format.AV1{PayloadTyp: pt}
			mt = description.MediaTypeVideo
		case *codecs.VP9:
			f = &format.VP9{PayloadTyp: pt}
			mt = description.MediaTypeVideo
		case *codecs.MPEG4Audio:
			f = &format.MPEG4Audio{PayloadTyp: pt, Config: c.Config, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
		case *codecs.Opus:
			ch := 2
			if c.IDHeader != nil {
				ch = int(c.IDHeader.ChannelCount)
			}
			f = &format.Opus{PayloadTyp: pt, ChannelCount: ch}
		case *codecs.MPEG1Audio:
			f = &format.MPEG1Audio{}
		case *codecs.AC3:
			f = &format.AC3{PayloadTyp: pt, SampleRate: c.SampleRate, ChannelCount: c.ChannelCount}
		case *codecs.G711:
			f = &format.G711{PayloadTyp: 8, MULaw: c.MULaw, SampleRate: 8000, ChannelCount: c.ChannelCount}
			if c.MULaw {
				f.(*format.G711).PayloadTyp = 0
			}
		case *codecs.LPCM:
			f = &format.LPCM{PayloadTyp: pt, BitDepth: c.BitDepth, SampleRate: c.SampleRate, ChannelCount: c.ChannelCount}
		default:
			skipped = append(skipped, fmt.Sprintf("%T", t.Codec))
			continue
		}
		desc.Medias = append(desc.Medias, &description.Media{
			Type:    mt,
			Control: fmt.Sprintf("trackID=%d", len(desc.Medias)),
			Formats: []format.Format{f},
		})
		formats[t] = f
	}
	media.NumberPayloadTypes(desc)
	return desc, formats, skipped
}
