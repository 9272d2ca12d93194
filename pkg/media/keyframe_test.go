package media_test

import (
	"bytes"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// TestStartsKeyframe packetizes access units with gortsplib and checks
// keyframe detection on the packets: single NALUs, aggregates (STAP-A,
// AP) where the key NALU is not the first, and fragments (FU-A, FU) where
// only the first one starts a keyframe.
func TestStartsKeyframe(t *testing.T) {
	big := func(hdr []byte) []byte { return append(append([]byte{}, hdr...), bytes.Repeat([]byte{0xab}, 4000)...) }
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	h265 := &format.H265{PayloadTyp: 96}
	for _, c := range []struct {
		name string
		f    format.Format
		au   [][]byte
		want []bool // per packet
		kind byte   // packet type of the first packet
	}{
		{"H.264 IDR alone", h264, [][]byte{idr264}, []bool{true}, 5},
		{"H.264 P alone", h264, [][]byte{p264}, []bool{false}, 1},
		{"H.264 STAP-A SPS first", h264, [][]byte{sps264, pps264, idr264}, []bool{true}, 24},
		{"H.264 STAP-A AUD, SEI, IDR", h264, [][]byte{aud264, sei264, idr264}, []bool{true}, 24},
		{"H.264 STAP-A AUD, P", h264, [][]byte{aud264, p264}, []bool{false}, 24},
		{"H.264 FU-A IDR", h264, [][]byte{big(idr264[:1])}, []bool{true, false, false}, 28},
		{"H.264 FU-A P", h264, [][]byte{big(p264[:1])}, []bool{false, false, false}, 28},
		{"H.265 IDR alone", h265, [][]byte{idr265}, []bool{true}, 19},
		{"H.265 AP AUD, CRA", h265, [][]byte{aud265, cra265}, []bool{true}, 48},
		{"H.265 AP AUD, TRAIL", h265, [][]byte{aud265, trl265}, []bool{false}, 48},
		{"H.265 FU IDR", h265, [][]byte{big(idr265[:2])}, []bool{true, false, false}, 49},
		{"H.265 FU TRAIL", h265, [][]byte{big(trl265[:2])}, []bool{false, false, false}, 49},
	} {
		t.Run(c.name, func(t *testing.T) {
			pk, err := media.NewPacketizer(c.f)
			if err != nil {
				t.Fatal(err)
			}
			pkts, err := pk.Packetize(&media.Unit{Format: c.f, Payload: c.au})
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) != len(c.want) {
				t.Fatalf("%d packets, want %d", len(pkts), len(c.want))
			}
			kind := pkts[0].Payload[0] & 0x1f
			if _, ok := c.f.(*format.H265); ok {
				kind = (pkts[0].Payload[0] >> 1) & 0x3f
			}
			if kind != c.kind {
				t.Fatalf("first packet of type %d, want %d", kind, c.kind)
			}
			for i, p := range pkts {
				u := &media.Unit{Format: c.f, Packets: []*rtp.Packet{p}}
				if got := media.StartsKeyframe(u); got != c.want[i] {
					t.Errorf("packet %d: %v, want %v", i, got, c.want[i])
				}
			}
		})
	}
	// truncated aggregates do not panic
	for _, b := range [][]byte{{24}, {24, 0}, {24, 0, 9, 0x65}, {0x60, 1, 0, 1}, {0x62, 1, 0x93}} {
		media.StartsKeyframe(&media.Unit{Format: h264, Packets: []*rtp.Packet{{Payload: b}}})
		media.StartsKeyframe(&media.Unit{Format: h265, Packets: []*rtp.Packet{{Payload: b}}})
	}
	if !media.StartsKeyframe(&media.Unit{Format: &format.G711{}, Packets: []*rtp.Packet{{Payload: []byte{1}}}}) {
		t.Error("G.711 packet: false")
	}
}

func FuzzStartsKeyframe(f *testing.F) {
	for _, b := range [][]byte{{24, 0, 2, 9, 0xf0, 0, 1, 0x65}, {0x60, 1, 0, 2, 0x46, 1}, {0x62, 1, 0x93}, {28, 0x85}} {
		f.Add(b)
	}
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	h265 := &format.H265{PayloadTyp: 96}
	f.Fuzz(func(t *testing.T, b []byte) {
		media.StartsKeyframe(&media.Unit{Format: h264, Packets: []*rtp.Packet{{Payload: b}}})
		media.StartsKeyframe(&media.Unit{Format: h265, Packets: []*rtp.Packet{{Payload: b}}})
	})
}
