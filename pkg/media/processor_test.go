package media_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/media"
)

var (
	sps264  = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xf6, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x58, 0xba, 0x80}
	pps264  = []byte{0x68, 0xce, 0x3c, 0x80}
	sps264b = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01}
	pps264b = []byte{0x68, 0xce, 0x3c, 0x81}
	idr264  = []byte{0x65, 0x88, 0x84}
	p264    = []byte{0x41, 0x9a, 0x02}
	aud264  = []byte{0x09, 0xf0}
	sei264  = []byte{0x06, 0x05, 0x01}

	vps265 = []byte{0x40, 0x01, 0x0c}
	sps265 = []byte{0x42, 0x01, 0x01}
	pps265 = []byte{0x44, 0x01, 0xc1}
	idr265 = []byte{0x26, 0x01, 0xaf} // IDR_W_RADL
	cra265 = []byte{0x2a, 0x01, 0xaf} // CRA
	trl265 = []byte{0x02, 0x01, 0xd0} // TRAIL_R
	aud265 = []byte{0x46, 0x01, 0x50}
)

func nalus(au [][]byte) string {
	var b bytes.Buffer
	for i, n := range au {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%x", n[:2])
	}
	return b.String()
}

// TestProcessorParams: parameter sets are learnt in band (starting from
// the format's) and inserted before random access units that lack them,
// after a leading AUD; other units pass unchanged.
func TestProcessorParams(t *testing.T) {
	h264SDP := func() format.Format {
		return &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps264, PPS: pps264}
	}
	h264Bare := func() format.Format { return &format.H264{PayloadTyp: 96, PacketizationMode: 1} }
	h265SDP := func() format.Format {
		return &format.H265{PayloadTyp: 96, VPS: vps265, SPS: sps265, PPS: pps265}
	}
	type step struct {
		in   [][]byte
		want [][]byte
		key  bool
	}
	for _, c := range []struct {
		name   string
		format func() format.Format
		steps  []step
	}{
		{"H.264 SDP params before an IDR", h264SDP, []step{
			{[][]byte{p264}, [][]byte{p264}, false},
			{[][]byte{idr264}, [][]byte{sps264, pps264, idr264}, true},
		}},
		{"H.264 after a leading AUD", h264SDP, []step{
			{[][]byte{aud264, sei264, idr264}, [][]byte{aud264, sps264, pps264, sei264, idr264}, true},
		}},
		{"H.264 only the missing ones", h264SDP, []step{
			{[][]byte{aud264, sps264, idr264}, [][]byte{aud264, pps264, sps264, idr264}, true},
		}},
		{"H.264 in-band params replace the SDP's", h264SDP, []step{
			{[][]byte{sps264b, pps264b, idr264}, [][]byte{sps264b, pps264b, idr264}, true},
			{[][]byte{p264}, [][]byte{p264}, false},
			{[][]byte{aud264, idr264}, [][]byte{aud264, sps264b, pps264b, idr264}, true},
		}},
		{"H.264 no params anywhere", h264Bare, []step{
			{[][]byte{idr264}, [][]byte{idr264}, true},
			{[][]byte{sps264, pps264, idr264}, [][]byte{sps264, pps264, idr264}, true},
			{[][]byte{idr264}, [][]byte{sps264, pps264, idr264}, true},
		}},
		{"H.265 after a leading AUD", h265SDP, []step{
			{[][]byte{aud265, trl265}, [][]byte{aud265, trl265}, false},
			{[][]byte{aud265, idr265}, [][]byte{aud265, vps265, sps265, pps265, idr265}, true},
			{[][]byte{cra265}, [][]byte{vps265, sps265, pps265, cra265}, true},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.format()
			p := media.NewProcessor(f)
			for i, s := range c.steps {
				in := &media.Unit{Format: f, PTS: int64(i) * 3600, DTS: int64(i) * 3600, Payload: s.in}
				orig := nalus(in.Payload)
				out, err := p.Process(in)
				if err != nil || out == nil {
					t.Fatalf("step %d: %v %v", i, out, err)
				}
				if got, want := nalus(out.Payload), nalus(s.want); got != want {
					t.Errorf("step %d: %s, want %s", i, got, want)
				}
				if out.Key != s.key {
					t.Errorf("step %d: key %v", i, out.Key)
				}
				if nalus(in.Payload) != orig || in.Key {
					t.Errorf("step %d: the input unit was modified", i)
				}
			}
		})
	}
}

// TestProcessorFollowsFormat: new parameter sets stored in the format (a
// reconnect through media.UpdateParams, an RTMP sequence header) are
// inserted from the next keyframe on.
func TestProcessorFollowsFormat(t *testing.T) {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps264, PPS: pps264}
	p := media.NewProcessor(f)
	pk, err := media.NewPacketizer(f)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasParams() {
		t.Fatal("HasParams false with SDP params")
	}
	orig := &description.Session{Medias: []*description.Media{{Formats: []format.Format{f}}}}
	next := &description.Session{Medias: []*description.Media{{Formats: []format.Format{
		&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps264b, PPS: pps264b},
	}}}}
	media.UpdateParams(orig, next)
	out, _ := p.Process(&media.Unit{Format: f, Payload: [][]byte{idr264}})
	if got, want := nalus(out.Payload), nalus([][]byte{sps264b, pps264b, idr264}); got != want {
		t.Errorf("processor: %s, want %s", got, want)
	}
	pkts, err := pk.Packetize(&media.Unit{Format: f, Payload: [][]byte{idr264}, Key: true})
	if err != nil || len(pkts) != 1 || pkts[0].Payload[0]&0x1f != 24 ||
		!bytes.Contains(pkts[0].Payload, sps264b) || !bytes.Contains(pkts[0].Payload, pps264b) {
		t.Errorf("packetizer: %v %v", pkts, err)
	}
}

// TestProcessorDTS runs B-frame clips through RTP (no DTS) and back
// through the processor: it depacketizes every unit and derives a DTS
// that strictly increases and never exceeds the PTS.
func TestProcessorDTS(t *testing.T) {
	for _, clip := range []string{"h264_high_bframes_aac.mp4", "h265_aac.mp4"} {
		t.Run(clip, func(t *testing.T) {
			desc, units := muxtest.Load(t, clip)
			var f format.Format
			for _, m := range desc.Medias {
				if m.Type == description.MediaTypeVideo {
					f = m.Formats[0]
				}
			}
			var video []*media.Unit
			for _, u := range units {
				if u.Format == f {
					video = append(video, u)
				}
			}
			p := media.NewProcessor(f)
			n, reordered := 0, 0
			var last int64
			for i, u := range muxtest.AsRTP(t, video) {
				in := &media.Unit{Format: u.Format, PTS: u.PTS, DTS: u.PTS, NoDTS: true, Packets: u.Packets}
				out, err := p.Process(in)
				if err != nil || out == nil {
					t.Fatalf("unit %d: %v %v", i, out, err)
				}
				if out.NoDTS {
					t.Fatalf("unit %d: no DTS derived", i)
				}
				if out.DTS > out.PTS || (n > 0 && out.DTS <= last) {
					t.Fatalf("unit %d: pts %d dts %d after dts %d", i, out.PTS, out.DTS, last)
				}
				if out.DTS < out.PTS {
					reordered++
				}
				last = out.DTS
				n++
			}
			if n != 100 || reordered == 0 {
				t.Errorf("%d units, %d with DTS < PTS; want 100 with B-frames", n, reordered)
			}
		})
	}
}

// TestProcessorPassesOthers: audio units pass as they are.
func TestProcessorPassesOthers(t *testing.T) {
	f := &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}
	p := media.NewProcessor(f)
	u := &media.Unit{Format: f, PTS: 1, DTS: 1, Payload: [][]byte{{1, 2}}, Key: true}
	if out, err := p.Process(u); out != u || err != nil {
		t.Errorf("got %v %v", out, err)
	}
	if !p.HasParams() {
		t.Error("HasParams false for G.711")
	}
}
