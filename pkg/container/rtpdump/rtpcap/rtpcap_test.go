package rtpcap

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

func TestTimeline(t *testing.T) {
	ms := time.Millisecond
	type step struct {
		track int // 0: 90 kHz video, 1: 48 kHz audio
		ssrc  uint32
		ts    uint32
		at    time.Duration // arrival since the first packet
		pts   int64
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"wrap", []step{
			{0, 1, 0xffffff00, 0, 0},
			{0, 1, 3344, 40 * ms, 3600}, // wrapped past 0xffffffff
			{0, 1, 6944, 80 * ms, 7200},
			{0, 1, 10544, 120 * ms, 10800},
		}},
		{"B-frames go back", []step{
			{0, 1, 1000, 0, 0},
			{0, 1, 1000 + 10800, 40 * ms, 10800},
			{0, 1, 1000 + 3600, 80 * ms, 3600},
			{0, 1, 1000 + 7200, 120 * ms, 7200},
			{0, 1, 1000 + 21600, 160 * ms, 21600},
		}},
		{"second track starts later", []step{
			{0, 1, 5, 0, 0},
			{1, 2, 777, 500 * ms, 24000},
			{1, 2, 777 + 1024, 521 * ms, 25024},
			{0, 1, 5 + 54000, 600 * ms, 54000},
		}},
		{"SSRC change follows arrival", []step{
			{0, 1, 100, 0, 0},
			{0, 1, 3700, 40 * ms, 3600},
			{0, 9, 123456789, 1040 * ms, 93600},
			{0, 9, 123456789 + 3600, 1080 * ms, 97200},
		}},
		{"timestamp jump follows arrival", []step{
			{0, 1, 100, 0, 0},
			{0, 1, 100 + 2_000_000_000, 40 * ms, 3600},
			{0, 1, 100 + 2_000_003_600, 80 * ms, 7200},
		}},
		{"a pause in sending is kept", []step{
			{0, 1, 100, 0, 0},
			{0, 1, 3700, 30 * time.Second, 30 * 90000},
			{0, 1, 7300, 30*time.Second + 40*ms, 30*90000 + 3600},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			formats := []format.Format{&format.H264{PayloadTyp: 96}, &format.Opus{PayloadTyp: 111, ChannelCount: 2}}
			var tl Timeline
			base := time.Unix(1700000000, 0)
			for i, s := range tc.steps {
				pkt := &rtp.Packet{Header: rtp.Header{SSRC: s.ssrc, Timestamp: s.ts}}
				if got := tl.PTS(formats[s.track], pkt, base.Add(s.at)); got != s.pts {
					t.Fatalf("step %d: PTS %d, want %d", i, got, s.pts)
				}
			}
		})
	}
}

func TestMarshalSDP(t *testing.T) {
	desc := &description.Session{Title: "cam", Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Control: "trackID=0", Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}},
		{Type: description.MediaTypeAudio, Control: "trackID=1", Formats: []format.Format{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}}},
		{Type: description.MediaTypeApplication, Control: "trackID=2", Formats: []format.Format{&format.Generic{PayloadTyp: 107, RTPMa: "vnd.onvif.metadata/90000", ClockRat: 90000}}},
	}}
	b, err := MarshalSDP(desc)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"c=IN IP4 127.0.0.1", "m=video 5000 RTP/AVP 96", "m=audio 5002 RTP/AVP 0", "m=application 5004 RTP/AVP 107", "a=control:trackID=2"} {
		if !strings.Contains(string(b), l+"\r\n") {
			t.Fatalf("no %q in\n%s", l, b)
		}
	}
	back, ports, err := ParseSDP(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Medias) != 3 || ports[0] != 5000 || ports[1] != 5002 || ports[2] != 5004 {
		t.Fatalf("parsed back: %d medias, ports %v", len(back.Medias), ports)
	}
	if _, err := MarshalSDP(&description.Session{}); err == nil {
		t.Fatal("MarshalSDP of no tracks succeeded")
	}
}

func TestParseRTP(t *testing.T) {
	good := []byte{0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xaa}
	if p, ok := ParseRTP(good); !ok || p.PayloadType != 96 || len(p.Payload) != 1 {
		t.Fatalf("ParseRTP(good) = %v, %v", p, ok)
	}
	for name, b := range map[string][]byte{
		"short":          good[:11],
		"version 1":      append([]byte{0x40}, good[1:]...),
		"RTCP":           {0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		"padding of 0":   {0xa0, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xaa, 0},
		"padding beyond": {0xa0, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xaa, 9},
		"csrc beyond":    {0x8f, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xaa},
	} {
		if _, ok := ParseRTP(b); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		desc, ports, err := ParseSDP(b)
		if err == nil && len(ports) != len(desc.Medias) {
			t.Fatalf("%d ports for %d medias", len(ports), len(desc.Medias))
		}
	})
}
