package engine

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/media"
)

// TestSessionMediaDuration: MediaDuration is media time, as ffmpeg's -t,
// counted from the first keyframe: a burst of old frames, P-frames before
// the keyframe and the time the source took to start do not lengthen the
// output (RTMP pulls wrote 6.5-7.9 s for --duration 5s).
func TestSessionMediaDuration(t *testing.T) {
	v := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	a := &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}}
	desc := &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{v}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{a}},
	}}
	var us []*media.Unit
	// 10 P-frames, then 25 fps video with a keyframe every 50 frames and
	// 48 kHz AAC (1024 samples per frame), 20 s of each, from PTS 100 s.
	for i := range 10 {
		us = append(us, &media.Unit{Format: v, PTS: int64(i) * 3600, Payload: [][]byte{{0x41}}})
	}
	const base = 100 * 90000
	vi, ai := 0, 0
	for vi < 500 || ai < 937 {
		vt := time.Duration(vi) * 40 * time.Millisecond
		at := time.Duration(ai) * time.Second * 1024 / 48000
		if vi < 500 && (ai >= 937 || vt <= at) {
			us = append(us, &media.Unit{Format: v, PTS: base + int64(vi)*3600, Payload: [][]byte{{0x65}}, Key: vi%50 == 0})
			vi++
		} else {
			us = append(us, &media.Unit{Format: a, PTS: 100*48000 + int64(ai)*1024, Payload: [][]byte{{1}}})
			ai++
		}
	}
	sink := &countingSink{}
	s := &Session{Source: &fakeSource{desc: desc, units: us, hold: true}, Sinks: []Sink{sink}, MediaDuration: 5 * time.Second}
	start := time.Now()
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Reason() != StopDuration {
		t.Fatalf("reason %v, want duration", s.Reason())
	}
	// 10 P-frames (sinks drop them) + 125 frames of 5 s; audio 5 s = 234.4 frames.
	if got := sink.video - 10; got != 125 {
		t.Errorf("%d video frames after the keyframe, want 125 (5 s at 25 fps)", got)
	}
	if sink.audio < 233 || sink.audio > 235 {
		t.Errorf("%d audio frames, want 234 (5 s)", sink.audio)
	}
	if mt := s.MediaTime(); mt != 4960*time.Millisecond {
		t.Errorf("MediaTime %v, want 4.96s", mt)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %v: media time must not wait for the wall clock", time.Since(start))
	}
}

// TestSessionMediaDurationStartWait: a stream with no usable start stops
// after StartWait of wall time.
func TestSessionMediaDurationStartWait(t *testing.T) {
	desc, f := testDesc()
	var us []*media.Unit
	for i := range 5 {
		us = append(us, &media.Unit{Format: f, PTS: int64(i) * 3600, Payload: [][]byte{{0x41}}})
	}
	s := &Session{Source: &fakeSource{desc: desc, units: us, hold: true}, Sinks: []Sink{&countingSink{}}, MediaDuration: time.Hour, StartWait: 50 * time.Millisecond}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Reason() != StopDuration || s.MediaTime() != 0 {
		t.Fatalf("reason %v, media %v", s.Reason(), s.MediaTime())
	}
}

// TestSessionMediaDurationLongGOP: a live source whose first keyframe
// comes later, in wall time, than MediaDuration (joined mid-GOP) still
// records MediaDuration from that keyframe, as ffmpeg -t does.
func TestSessionMediaDurationLongGOP(t *testing.T) {
	desc, f := testDesc()
	var us []*media.Unit
	for i := range 20 { // 10 frames before the keyframe, 20 ms apart
		key := i == 10
		nalu := []byte{0x41}
		if key {
			nalu = []byte{0x65}
		}
		us = append(us, &media.Unit{Format: f, PTS: int64(i) * 3600, DTS: int64(i) * 3600, Payload: [][]byte{nalu}, Key: key})
	}
	sink := &countingSink{}
	s := &Session{Source: &fakeSource{desc: desc, units: us, hold: true, tick: 20 * time.Millisecond}, Sinks: []Sink{sink},
		MediaDuration: 100 * time.Millisecond}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Reason() != StopDuration || s.MediaTime() != 80*time.Millisecond {
		t.Fatalf("reason %v, media %v: want duration reached after 80 ms of media from the keyframe", s.Reason(), s.MediaTime())
	}
}

type countingSink struct{ video, audio int }

func (s *countingSink) Open(*description.Session) error { return nil }
func (s *countingSink) Lossless() bool                  { return true }
func (s *countingSink) Close() error                    { return nil }
func (s *countingSink) Write(u *media.Unit) error {
	if media.IsVideo(u.Format) {
		s.video++
	} else {
		s.audio++
	}
	return nil
}
