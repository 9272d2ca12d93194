package rtmp

import (
	"errors"
	"io"
	"testing"
	"time"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/media"
)

// scriptConn plays back a fixed message sequence, then io.EOF.
type scriptConn struct{ msgs []message.Message }

func (c *scriptConn) BytesReceived() uint64       { return 0 }
func (c *scriptConn) BytesSent() uint64           { return 0 }
func (c *scriptConn) Write(message.Message) error { return nil }
func (c *scriptConn) Read() (message.Message, error) {
	if len(c.msgs) == 0 {
		return nil, io.EOF
	}
	m := c.msgs[0]
	c.msgs = c.msgs[1:]
	return m, nil
}

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x3d, 0xa1, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2e, 0x48}
	testPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

func metaMsg(video, audio bool) message.Message {
	obj := amf0.Object{{Key: "duration", Value: float64(0)}}
	if video {
		obj = append(obj, amf0.ObjectEntry{Key: "videocodecid", Value: float64(7)})
	}
	if audio {
		obj = append(obj, amf0.ObjectEntry{Key: "audiocodecid", Value: float64(10)})
	}
	return &message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 1, Payload: []any{"onMetaData", obj}}
}

func videoConfig(dts time.Duration) message.Message {
	return &message.Video{
		ChunkStreamID: 6, MessageStreamID: 1, Codec: message.CodecH264, IsKeyFrame: true,
		Type: message.VideoTypeConfig, DTS: dts,
		AVCConfig: &gomp4.AVCDecoderConfiguration{
			ConfigurationVersion: 1, Profile: 0x42, Level: 0x1e, LengthSizeMinusOne: 3,
			NumOfSequenceParameterSets: 1, SequenceParameterSets: []gomp4.AVCParameterSet{{Length: uint16(len(testSPS)), NALUnit: testSPS}},
			NumOfPictureParameterSets: 1, PictureParameterSets: []gomp4.AVCParameterSet{{Length: uint16(len(testPPS)), NALUnit: testPPS}},
		},
	}
}

func videoFrame(dts time.Duration, key bool) message.Message {
	nalu := []byte{0x41, 0x9a, 0x00}
	if key {
		nalu = []byte{0x65, 0x88, 0x80}
	}
	au := append([]byte{0, 0, 0, byte(len(nalu))}, nalu...)
	return &message.Video{ChunkStreamID: 6, MessageStreamID: 1, Codec: message.CodecH264, IsKeyFrame: key, Type: message.VideoTypeAU, DTS: dts, AU: au}
}

func audioConfig(dts time.Duration) message.Message {
	return &message.Audio{
		ChunkStreamID: 4, MessageStreamID: 1, Codec: message.CodecMPEG4Audio, Rate: message.AudioRate44100,
		Depth: message.AudioDepth16, IsStereo: true, AACType: message.AudioAACTypeConfig, DTS: dts,
		AACConfig: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2},
	}
}

func audioFrame(dts time.Duration) message.Message {
	return &message.Audio{
		ChunkStreamID: 4, MessageStreamID: 1, Codec: message.CodecMPEG4Audio, Rate: message.AudioRate44100,
		Depth: message.AudioDepth16, IsStereo: true, AACType: message.AudioAACTypeAU, DTS: dts, AU: []byte{0x21, 0x10},
	}
}

// audioRun is AAC frames every 21 ms from start for span.
func audioRun(start, span time.Duration) []message.Message {
	var out []message.Message
	for d := time.Duration(0); d < span; d += 21 * time.Millisecond {
		out = append(out, audioFrame(start+d))
	}
	return out
}

// readAll opens a Reader on msgs and collects its units until the script ends.
func readAll(t *testing.T, msgs []message.Message) (*Reader, []*media.Unit) {
	t.Helper()
	rd, err := NewReader(&scriptConn{msgs: msgs}, nil)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var units []*media.Unit
	rd.OnUnit(func(u *media.Unit) { units = append(units, u) })
	for {
		if err := rd.Read(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Read: %v", err)
			}
			return rd, units
		}
	}
}

func codecsOf(rd *Reader) (video, audio bool) {
	for _, m := range rd.Description().Medias {
		switch m.Formats[0].(type) {
		case *format.H264:
			video = true
		case *format.MPEG4Audio:
			audio = true
		}
	}
	return video, audio
}

func TestReaderTracks(t *testing.T) {
	const far = 16775 * time.Second
	cases := []struct {
		name         string
		msgs         []message.Message
		video, audio bool
		// firstVideo is the DTS of the first video frame out.
		firstVideo time.Duration
	}{
		{
			// nginx to a late joiner: audio for most of a GOP, then the
			// video sequence header with the next keyframe.
			name: "video header 2.5 s after the audio",
			msgs: append(append([]message.Message{metaMsg(true, true), audioConfig(far)}, audioRun(far, 2500*time.Millisecond)...),
				videoConfig(far+2500*time.Millisecond), videoFrame(far+2500*time.Millisecond, true), audioFrame(far+2510*time.Millisecond)),
			video: true, audio: true, firstVideo: far + 2500*time.Millisecond,
		},
		{
			// nginx to a player waiting for the publisher: headers stamped 0.
			name: "headers stamped 0, media far later",
			msgs: append([]message.Message{metaMsg(true, true), audioConfig(0), videoConfig(0), videoFrame(far, true)},
				audioRun(far, 3*time.Second)...),
			video: true, audio: true, firstVideo: far,
		},
		{
			name:  "no metadata, video appearing late is ignored",
			msgs:  append(append([]message.Message{audioConfig(0)}, audioRun(0, 3*time.Second)...), videoConfig(3*time.Second), videoFrame(3*time.Second, true)),
			audio: true,
		},
		{
			name:  "metadata announcing audio only",
			msgs:  append([]message.Message{metaMsg(false, true), audioConfig(0)}, audioRun(0, 2500*time.Millisecond)...),
			audio: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rd, units := readAll(t, c.msgs)
			video, audio := codecsOf(rd)
			if video != c.video || audio != c.audio {
				t.Fatalf("tracks video=%v audio=%v, want %v %v", video, audio, c.video, c.audio)
			}
			var vids int
			for _, u := range units {
				if _, ok := u.Format.(*format.H264); ok {
					if vids == 0 && u.DTS != durToClock(c.firstVideo, 90000) {
						t.Errorf("first video DTS %d, want %d", u.DTS, durToClock(c.firstVideo, 90000))
					}
					vids++
				}
			}
			if c.video && vids != 1 {
				t.Errorf("%d video frames, want 1", vids)
			}
		})
	}
}
