package engine

import (
	"math"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/media"
)

// TestStatsCountAACAccessUnits: an RTP packet of AAC carries several
// access units (ffmpeg packs about 7): frames and fps count access units,
// not packets (probe --play said "6.5 fps" for 48 kHz AAC).
func TestStatsCountAACAccessUnits(t *testing.T) {
	f := &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}}
	st := newStats(time.Now(), []format.Format{f})
	const perPacket, packets = 7, 20
	for i := range packets {
		au := make([][]byte, perPacket)
		for j := range au {
			au[j] = []byte{1, 2}
		}
		st.observe(&media.Unit{Format: f, PTS: int64(i * perPacket * 1024), Payload: au, Key: true, Received: time.Now()})
	}
	tr := st.Snapshot()[0]
	if tr.Frames != perPacket*packets {
		t.Fatalf("%d frames, want %d access units", tr.Frames, perPacket*packets)
	}
	if fps := tr.MediaFPS(); math.Abs(fps-46.875) > 0.01 {
		t.Fatalf("fps %.3f, want 46.875 (48000/1024)", fps)
	}
}
