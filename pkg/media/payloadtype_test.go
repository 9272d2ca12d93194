package media

import (
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

func TestNumberPayloadTypes(t *testing.T) {
	desc := &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{&format.MPEG4Audio{PayloadTyp: 96}}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{&format.Opus{PayloadTyp: 96, ChannelCount: 2}}},
	}}
	NumberPayloadTypes(desc)
	var got []uint8
	for _, m := range desc.Medias {
		got = append(got, m.Formats[0].PayloadType())
	}
	want := []uint8{96, 8, 97, 98}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("payload types %v, want %v", got, want)
		}
	}
}
