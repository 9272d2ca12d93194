package rtmp

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/media"
)

// recordConn keeps what a Writer sends.
type recordConn struct{ msgs []message.Message }

func (c *recordConn) BytesReceived() uint64           { return 0 }
func (c *recordConn) BytesSent() uint64               { return 0 }
func (c *recordConn) Read() (message.Message, error)  { return nil, io.EOF }
func (c *recordConn) Write(msg message.Message) error { c.msgs = append(c.msgs, msg); return nil }

// writeAll sends units through a Writer and returns what it sent.
func writeAll(t *testing.T, desc *description.Session, units []*media.Unit) *recordConn {
	t.Helper()
	conn := &recordConn{}
	w, _, err := NewWriter(conn, desc)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if err := w.WriteUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// TestWriterTimestampsNotNegative: with B-frames the first video DTS is
// below the first PTS; RTMP timestamps are unsigned, so the stream is
// shifted to start at 0 (as ffmpeg does) instead of wrapping to 2^32-80.
func TestWriterTimestampsNotNegative(t *testing.T) {
	for _, rtp := range []bool{false, true} {
		desc, units := muxtest.Load(t, "h264_high_bframes_aac.mp4")
		if rtp {
			units = muxtest.AsRTP(t, units)
		}
		// A file starts at 0; RTP units keep their (positive) times.
		want := time.Duration(0)
		if rtp {
			want = muxtest.RTPOffset * time.Second
		}
		conn := writeAll(t, desc, units)
		var video, audio int
		first := time.Duration(-1)
		for _, m := range conn.msgs {
			var dts time.Duration
			switch m := m.(type) {
			case *message.Video:
				if m.Type != message.VideoTypeAU {
					continue
				}
				video++
				dts = m.DTS
				if m.PTSDelta < 0 {
					t.Fatalf("rtp=%v: video PTS below DTS (%v)", rtp, m.PTSDelta)
				}
			case *message.Audio:
				if m.AACType != message.AudioAACTypeAU {
					continue
				}
				audio++
				dts = m.DTS
			default:
				continue
			}
			if dts < 0 || dts > want+time.Hour {
				t.Fatalf("rtp=%v: RTMP timestamp %v (%d as sent)", rtp, dts, uint32(dts/time.Millisecond))
			}
			if first < 0 || dts < first {
				first = dts
			}
		}
		if video == 0 || audio == 0 || first != want {
			t.Fatalf("rtp=%v: %d video, %d audio messages, first timestamp %v (want %v)", rtp, video, audio, first, want)
		}
	}
}

// TestWriterKeepsTimestamps: a stream above 2^24 ms (a relay of a long
// running stream) keeps its timestamps; only a negative start is shifted.
func TestWriterKeepsTimestamps(t *testing.T) {
	const at = 16775 * time.Second
	for _, file := range []string{"h264_baseline_aac.mp4", "h264_high_bframes_aac.mp4"} {
		desc, units := muxtest.Load(t, file)
		conn := &recordConn{}
		w, _, err := NewWriter(conn, desc)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			off := int64(at/time.Second) * int64(u.Format.ClockRate())
			u.PTS += off
			u.DTS += off
			if err := w.WriteUnit(u); err != nil {
				t.Fatal(err)
			}
		}
		firstVideo, firstAudio := time.Duration(-1), time.Duration(-1)
		for _, m := range conn.msgs {
			switch m := m.(type) {
			case *message.Video:
				if m.Type == message.VideoTypeAU && firstVideo < 0 {
					firstVideo = m.DTS
				}
			case *message.Audio:
				if m.AACType == message.AudioAACTypeAU && firstAudio < 0 {
					firstAudio = m.DTS
				}
			}
		}
		if firstVideo < at-100*time.Millisecond || firstVideo > at || firstAudio < at || firstAudio > at+100*time.Millisecond {
			t.Errorf("%s from %v: first video at %v, audio at %v", file, at, firstVideo, firstAudio)
		}
	}
}

// TestWriterMidGOPJoin: a stream joined mid-GOP with the parameter sets
// only in the description (RTMP needs them there to announce the track)
// is sent from its first keyframe, after the sequence header, with the
// parameter sets in band before the IDR and strictly increasing DTS.
func TestWriterMidGOPJoin(t *testing.T) {
	for _, clip := range []string{"h264_high_bframes_aac.mp4", "h265_aac.mp4"} {
		t.Run(clip, func(t *testing.T) {
			desc, units, frames := muxtest.MidGOP(t, clip, false)
			conn := writeAll(t, desc, units)
			header, n := false, 0
			last := time.Duration(-1)
			for _, m := range conn.msgs {
				var dts time.Duration
				var payload []byte
				switch m := m.(type) {
				case *message.Video:
					if m.Type == message.VideoTypeConfig {
						header = m.AVCConfig != nil
						continue
					}
					dts, payload = m.DTS, m.AU
				case *message.VideoExSequenceStart:
					header = m.HEVCConfig != nil
					continue
				case *message.VideoExCodedFrames:
					dts, payload = m.DTS, m.Payload
				case *message.VideoExFramesX:
					dts, payload = m.DTS, m.Payload
				default:
					continue
				}
				if !header {
					t.Fatalf("frame %d before the sequence header", n)
				}
				if dts <= last {
					t.Fatalf("frame %d: DTS %v after %v", n, dts, last)
				}
				last = dts
				if n == 0 {
					var au h264.AVCC
					if err := au.Unmarshal(payload); err != nil {
						t.Fatal(err)
					}
					if got := nalus(desc.Medias[0].Formats[0], au); got != "params+IDR" {
						t.Fatalf("first frame: %s, want params+IDR", got)
					}
				}
				n++
			}
			if n != frames {
				t.Errorf("%d frames sent, want %d", n, frames)
			}
		})
	}
}

// nalus says whether an access unit has its parameter sets before an IDR.
func nalus(f format.Format, au [][]byte) string {
	params := 0
	for _, n := range au {
		if _, ok := f.(*format.H265); ok {
			switch typ := (n[0] >> 1) & 0x3f; {
			case typ >= 32 && typ <= 34:
				params++
			case typ >= 16 && typ <= 21 && params == 3:
				return "params+IDR"
			case typ < 32:
				return fmt.Sprintf("%d params, then picture type %d", params, typ)
			}
			continue
		}
		switch typ := n[0] & 0x1f; {
		case typ == 7 || typ == 8:
			params++
		case typ == 5 && params == 2:
			return "params+IDR"
		case typ >= 1 && typ <= 5:
			return fmt.Sprintf("%d params, then picture type %d", params, typ)
		}
	}
	return "no picture"
}
