package mux

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/media"
)

var (
	sps = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xf6, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x58, 0xba, 0x80}
	pps = []byte{0x68, 0xce, 0x3c, 0x80}
	idr = []byte{0x65, 0x88, 0x84}
	non = []byte{0x41, 0x9a, 0x02}
	aud = []byte{0x09, 0xf0}
)

func h264Unit(f format.Format, pts, dts int64, au ...[]byte) *media.Unit {
	return &media.Unit{Format: f, PTS: pts, DTS: dts, Payload: au, Key: media.IsRandomAccess(f, au)}
}

func aacUnit(f format.Format, pts int64) *media.Unit {
	return &media.Unit{Format: f, PTS: pts, DTS: pts, Payload: [][]byte{{1, 2}}, Key: true}
}

// TestTrack checks the keyframe gate, parameter set insertion, the
// shared origin, audio waiting for video, and strictly increasing DTS.
func TestTrack(t *testing.T) {
	type step struct {
		video bool
		unit  *media.Unit
		ok    bool
		pts   int64
		dts   int64
		nalus int // length of the AU written, for video
	}
	v := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	vp := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	a := &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelConfig: 2}}
	for _, c := range []struct {
		name  string
		video format.Format
		steps []step
	}{
		{"params from the SDP go before the IDR", vp, []step{
			{true, h264Unit(vp, 9000, 9000, non), false, 0, 0, 0},        // before the keyframe
			{false, aacUnit(a, 4800), false, 0, 0, 0},                    // audio waits for video
			{true, h264Unit(vp, 18000, 18000, idr), true, 0, 0, 3},       // SPS, PPS, IDR
			{false, aacUnit(a, 9599), false, 0, 0, 0},                    // before the origin (0.2 s)
			{false, aacUnit(a, 9600), true, 0, 0, 0},                     // at the origin: 0
			{true, h264Unit(vp, 21600, 21600, non), true, 3600, 3600, 1}, // P
			{true, h264Unit(vp, 21600, 21600, non), true, 3601, 3601, 1}, // same DTS: bumped
			{false, aacUnit(a, 10624), true, 1024, 1024, 0},
		}},
		{"in-band params are learnt and reused", v, []step{
			{true, h264Unit(v, 0, 0, idr), false, 0, 0, 0}, // no params yet
			{true, h264Unit(v, 3600, 3600, aud, sps, pps, idr), true, 0, 0, 4},
			{true, h264Unit(v, 7200, 7200, non), true, 3600, 3600, 1},
			{true, h264Unit(v, 10800, 10800, aud, idr), true, 7200, 7200, 4}, // AUD, SPS, PPS, IDR
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var clock Clock
			vt := NewTrack(c.video, &clock)
			at := NewTrack(a, &clock)
			for i, s := range c.steps {
				tr := at
				if s.video {
					tr = vt
				}
				fr, ok := tr.Prepare(s.unit)
				if ok != s.ok {
					t.Fatalf("step %d: ok %v", i, ok)
				}
				if !ok {
					continue
				}
				if fr.PTS != s.pts || fr.DTS != s.dts {
					t.Errorf("step %d: pts %d dts %d, want %d %d", i, fr.PTS, fr.DTS, s.pts, s.dts)
				}
				if s.video && len(fr.AU) != s.nalus {
					t.Errorf("step %d: %d NALUs, want %d", i, len(fr.AU), s.nalus)
				}
			}
		})
	}
}

// TestAudioWait: without video frames, audio starts the file after
// AudioWait.
func TestAudioWait(t *testing.T) {
	var clock Clock
	NewTrack(&format.H264{PayloadTyp: 96, PacketizationMode: 1}, &clock)
	at := NewTrack(&format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelConfig: 2}}, &clock)
	start := int64(1000)
	n := int64(0)
	for ; ; n++ {
		if _, ok := at.Prepare(aacUnit(at.Format, start+n*1024)); ok {
			break
		}
	}
	if got := ToDuration(n*1024, 48000); got < AudioWait || got > AudioWait+30*time.Millisecond {
		t.Errorf("audio started after %v", got)
	}
}

func TestDurations(t *testing.T) {
	for _, c := range []struct {
		v, rate int64
		d       time.Duration
	}{
		{90000, 90000, time.Second},
		{1024, 48000, 21333333 * time.Nanosecond},
		{90000 * 100000, 90000, 100000 * time.Second}, // 27 h: no overflow
		{-3600, 90000, -40 * time.Millisecond},
	} {
		if got := ToDuration(c.v, c.rate); got != c.d {
			t.Errorf("ToDuration(%d, %d) = %v, want %v", c.v, c.rate, got, c.d)
		}
		if got := FromDuration(c.d, c.rate); got != c.v {
			t.Errorf("FromDuration(%v, %d) = %d, want %d", c.d, c.rate, got, c.v)
		}
	}
	if got := Rescale(1<<40, 48000, 90000); got != (1<<40)/48000*90000+((1<<40)%48000)*90000/48000 {
		t.Errorf("Rescale: %d", got)
	}
}
