// Package rtpcaptest makes RTP sessions for the tests of the capture
// formats (rtpdump, pcap): real packets from gortsplib's packetizers, with
// arrival times, and helpers to compare what a capture gives back.
package rtpcaptest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

// Start is the arrival time of the first packet of Session.
var Start = time.Date(2024, 5, 17, 12, 30, 0, 123456789, time.UTC)

// Real parameter sets of a 320x240 H.264 stream (x264, baseline).
var (
	SPS = []byte{0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0xa4, 0x80}
	PPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

// Options shape a Session.
type Options struct {
	// Seconds of media (default 2).
	Seconds int
	// VideoTS0 is the RTP timestamp of the first video packet; near 2^32
	// it makes the timestamps wrap.
	VideoTS0 uint32
	// AudioDelay is how long after the first video packet audio starts.
	AudioDelay time.Duration
}

// Session is an H.264 video track (PT 96, 25 fps, access units of up to
// 3000 bytes, fragmented in FU-A) and an AAC track (PT 97, 48 kHz), as
// units of RTP packets that arrived 40 ms apart (video) and 21.33 ms
// apart (audio), with a few microseconds of jitter, merged in arrival
// order. The video timestamps wrap around 2^32 when VideoTS0 is near it.
func Session(t testing.TB, o Options) (*description.Session, []*media.Unit) {
	t.Helper()
	if o.Seconds <= 0 {
		o.Seconds = 2
	}
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: SPS, PPS: PPS}
	aac := &format.MPEG4Audio{
		PayloadTyp: 97,
		Config:     &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2},
		SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
	}
	desc := &description.Session{Title: "rtpcaptest", Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Control: "trackID=0", Formats: []format.Format{h264}},
		{Type: description.MediaTypeAudio, Control: "trackID=1", Formats: []format.Format{aac}},
	}}
	rng := rand.New(rand.NewPCG(1, 2))

	ssrcV, seqV := uint32(0x11223344), uint16(65500) // the sequence numbers wrap too
	venc, err := h264.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	venc.SSRC, venc.InitialSequenceNumber = &ssrcV, &seqV
	if err := venc.Init(); err != nil {
		t.Fatal(err)
	}
	ssrcA, seqA := uint32(0x55667788), uint16(100)
	aenc, err := aac.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	aenc.SSRC, aenc.InitialSequenceNumber = &ssrcA, &seqA
	if err := aenc.Init(); err != nil {
		t.Fatal(err)
	}

	var units []*media.Unit
	for i := range 25 * o.Seconds {
		var au [][]byte
		if i%25 == 0 {
			au = [][]byte{SPS, PPS, nalu(rng, 0x65, 3000)}
		} else {
			au = [][]byte{nalu(rng, 0x41, 200+rng.IntN(1200))}
		}
		pkts, err := venc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = o.VideoTS0 + uint32(i*3600)
		}
		recv := Start.Add(time.Duration(i)*40*time.Millisecond + time.Duration(rng.IntN(900))*time.Microsecond)
		units = append(units, &media.Unit{Media: desc.Medias[0], Format: h264, PTS: int64(i * 3600), DTS: int64(i * 3600),
			NoDTS: true, Received: recv, Packets: pkts})
	}
	for j := range 48000 * o.Seconds / 1024 {
		pkts, err := aenc.Encode([][]byte{nalu(rng, 0x21, 150+rng.IntN(250))})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = 1000 + uint32(j*1024)
		}
		recv := Start.Add(o.AudioDelay + time.Duration(j)*1024*time.Second/48000 + time.Duration(rng.IntN(900))*time.Microsecond)
		units = append(units, &media.Unit{Media: desc.Medias[1], Format: aac, PTS: int64(j * 1024), DTS: int64(j * 1024),
			NoDTS: true, Received: recv, Packets: pkts})
	}
	slices.SortStableFunc(units, func(a, b *media.Unit) int { return a.Received.Compare(b.Received) })
	return desc, units
}

func nalu(rng *rand.Rand, header byte, n int) []byte {
	b := make([]byte, n)
	b[0] = header
	for i := 1; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// Packet is one packet of a capture, as written or as read back.
type Packet struct {
	Track    int
	PT       uint8
	Bytes    []byte
	Received time.Time
	PTS      int64
}

// Flatten lists the packets of units, one per packet, with the track
// index of their media in desc.
func Flatten(t testing.TB, desc *description.Session, units []*media.Unit) []Packet {
	t.Helper()
	var out []Packet
	for _, u := range units {
		track := slices.Index(desc.Medias, u.Media)
		for _, p := range u.Packets {
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, Packet{Track: track, PT: p.PayloadType, Bytes: b, Received: u.Received, PTS: u.PTS})
		}
	}
	return out
}

// Write runs units through sink: Open, Write each, Close.
func Write(t testing.TB, sink engine.Sink, desc *description.Session, units []*media.Unit) {
	t.Helper()
	if err := sink.Open(desc); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, u := range units {
		if err := sink.Write(u); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Read opens src, runs it to the end and closes it. It checks that every
// unit carries one packet of a media of the description Open returned.
func Read(t testing.TB, src engine.Source) (*description.Session, []*media.Unit, error) {
	t.Helper()
	desc, err := src.Open(context.Background())
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	var units []*media.Unit
	err = src.Run(context.Background(), func(u *media.Unit) { units = append(units, u) })
	if cerr := src.Close(); cerr != nil && err == nil {
		err = cerr
	}
	for _, u := range units {
		if len(u.Packets) != 1 || !slices.Contains(desc.Medias, u.Media) || !slices.Contains(u.Media.Formats, u.Format) ||
			u.DTS != u.PTS || !u.NoDTS || u.Received.IsZero() {
			t.Fatalf("malformed unit %+v", u)
		}
	}
	return desc, units, err
}

// Compare checks that got holds the packets of want, in the same order,
// byte for byte, on the same tracks, with arrival times equal after
// truncation to prec relative to base (the start of the capture).
func Compare(t testing.TB, got, want []Packet, base time.Time, prec time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packets back, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Track != w.Track || g.PT != w.PT {
			t.Fatalf("packet %d: track %d PT %d, want track %d PT %d", i, g.Track, g.PT, w.Track, w.PT)
		}
		if !bytes.Equal(g.Bytes, w.Bytes) {
			t.Fatalf("packet %d: bytes differ:\n got %x\nwant %x", i, head(g.Bytes), head(w.Bytes))
		}
		wantRecv := base.Add(w.Received.Sub(base).Truncate(prec))
		if !g.Received.Equal(wantRecv) {
			t.Fatalf("packet %d: received %s, want %s (%s truncated to %s)", i,
				g.Received.Format(time.RFC3339Nano), wantRecv.Format(time.RFC3339Nano), w.Received.Format(time.RFC3339Nano), prec)
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// RTPPacket builds a packet for hand-made captures.
func RTPPacket(pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		panic(fmt.Sprintf("rtpcaptest: %v", err))
	}
	return b
}
