package rtmp

import (
	"testing"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

func TestToDescription(t *testing.T) {
	cfg := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}
	tracks := []*gortmplib.Track{
		{Codec: &codecs.H264{SPS: []byte{0x67, 0x42}, PPS: []byte{0x68}}},
		{Codec: &codecs.MPEG4Audio{Config: cfg}},
		{Codec: &codecs.G711{MULaw: true, ChannelCount: 1}},
		{Codec: &codecs.FLAC{}},
	}
	desc, formats, skipped := toDescription(tracks)
	if len(desc.Medias) != 3 || len(skipped) != 1 {
		t.Fatalf("medias %d skipped %v", len(desc.Medias), skipped)
	}
	if desc.Medias[0].Type != description.MediaTypeVideo || desc.Medias[1].Type != description.MediaTypeAudio {
		t.Fatal("media types")
	}
	h, ok := formats[tracks[0]].(*format.H264)
	if !ok || h.PayloadTyp != 96 || string(h.PPS) != "\x68" {
		t.Fatalf("h264 %+v", formats[tracks[0]])
	}
	a := formats[tracks[1]].(*format.MPEG4Audio)
	if a.ClockRate() != 48000 || a.PayloadTyp != 97 {
		t.Fatalf("aac %+v", a)
	}
	g := formats[tracks[2]].(*format.G711)
	if g.PayloadTyp != 0 || !g.MULaw {
		t.Fatalf("g711 %+v", g)
	}
}
