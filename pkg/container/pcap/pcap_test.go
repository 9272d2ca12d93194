package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap/rtpcaptest"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

var (
	_ engine.Source        = (*Source)(nil)
	_ engine.Sink          = (*Sink)(nil)
	_ engine.NeedsReporter = (*Sink)(nil)
	_ engine.Lossless      = (*Sink)(nil)
)

// testSDP declares H.264 on PT 96 at port 5000 and AAC on PT 97 at 5002.
const testSDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n" +
	"m=audio 5002 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n" +
	"a=fmtp:97 streamtype=5; profile-level-id=1; mode=AAC-hbr; sizelength=13; indexlength=3; indexdeltalength=3; config=1190\r\n"

var t0 = time.Unix(1700000000, 123456789)

// A hand-made capture.

type fileSpec struct {
	be   bool
	nano bool
	link uint32
	ver  uint16 // major version; 0 means 2
}

type recSpec struct {
	frame []byte
	incl  int // -1: len(frame)
	at    time.Duration
}

func (fs fileSpec) bytes(recs ...recSpec) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if fs.be {
		order = binary.BigEndian
	}
	magic := uint32(magicMicro)
	if fs.nano {
		magic = magicNano
	}
	ver := fs.ver
	if ver == 0 {
		ver = 2
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, ver)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, fs.link)
	for _, r := range recs {
		t := t0.Add(r.at)
		frac := t.Nanosecond() / 1000
		if fs.nano {
			frac = t.Nanosecond()
		}
		incl := r.incl
		if incl < 0 {
			incl = len(r.frame)
		}
		b = order.AppendUint32(b, uint32(t.Unix()))
		b = order.AppendUint32(b, uint32(frac))
		b = order.AppendUint32(b, uint32(incl))
		b = order.AppendUint32(b, uint32(len(r.frame)))
		b = append(b, r.frame...)
	}
	return b
}

func rec(frame []byte, at time.Duration) recSpec { return recSpec{frame: frame, incl: -1, at: at} }

func udp(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0)
	return append(b, payload...)
}

func ipv4(proto byte, flagsFrag uint16, payload []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[6:], flagsFrag)
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{192, 0, 2, 1})
	copy(h[16:], []byte{192, 0, 2, 2})
	binary.BigEndian.PutUint16(h[10:], ipChecksum(h))
	return append(h, payload...)
}

func ipv6(next byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	h[8], h[23] = 0x20, 1 // 2000::1
	h[24], h[39] = 0x20, 2
	return append(h, payload...)
}

func eth(et uint16, payload []byte) []byte {
	b := append(make([]byte, 12), byte(et>>8), byte(et))
	return append(b, payload...)
}

func sll(et uint16, payload []byte) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint16(b[14:], et)
	return append(b, payload...)
}

func sll2(et uint16, payload []byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], et)
	return append(b, payload...)
}

var (
	vid1 = rtpcaptest.RTPPacket(96, 1, 0, 0xabc, []byte{0x65, 1, 2, 3})
	aud1 = rtpcaptest.RTPPacket(97, 1, 0, 0xdef, []byte{0, 16, 1, 0x21, 1, 2})
	vid2 = rtpcaptest.RTPPacket(96, 2, 3600, 0xabc, []byte{0x41, 1, 2, 3})
	rtcp = []byte{0x80, 200, 0, 6, 0, 0, 0xa, 0xbc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
)

// mix is three RTP packets (video, audio, video) among RTCP, DNS and TCP.
func mix(wrap func([]byte) []byte) []recSpec {
	return []recSpec{
		rec(wrap(ipv4(17, 0, udp(6000, 5000, vid1))), 0),
		rec(wrap(ipv4(17, 0, udp(6001, 5001, rtcp))), 5*time.Millisecond),
		rec(wrap(ipv4(17, 0, udp(53, 53, []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}))), 6*time.Millisecond),
		rec(wrap(ipv4(6, 0, make([]byte, 20))), 7*time.Millisecond),
		rec(wrap(ipv4(17, 0, udp(6002, 5002, aud1))), 10*time.Millisecond),
		rec(wrap(ipv4(17, 0, udp(6000, 5000, vid2))), 40*time.Millisecond),
	}
}

func mix6(wrap func([]byte) []byte) []recSpec {
	hop := append([]byte{17, 0, 1, 4, 0, 0, 0, 0}, udp(6002, 5002, aud1)...) // hop-by-hop, then UDP
	return []recSpec{
		rec(wrap(ipv6(17, udp(6000, 5000, vid1))), 0),
		rec(wrap(ipv6(0, hop)), 10*time.Millisecond),
		rec(wrap(ipv6(6, make([]byte, 20))), 20*time.Millisecond),
		rec(wrap(ipv6(17, udp(6000, 5000, vid2))), 40*time.Millisecond),
	}
}

func withEth(b []byte) []byte { return eth(0x0800, b) }

type testCase struct {
	name    string
	file    []byte
	sdp     string // default testSDP
	openErr string
	kind    fault.Kind
	runErr  string
	packets int
}

func cases() []testCase {
	le := fileSpec{link: linkEthernet}
	garbage := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	good := le.bytes(mix(withEth)...)
	vlan := func(b []byte) []byte {
		return eth(0x8100, append([]byte{0, 5, 0x08, 0x00}, b...))
	}
	null := func(b []byte) []byte { return append([]byte{2, 0, 0, 0}, b...) }
	loop := func(b []byte) []byte { return append([]byte{0, 0, 0, 2}, b...) }
	raw := func(b []byte) []byte { return b }
	ip4sll := func(b []byte) []byte { return sll(0x0800, b) }
	ip4sll2 := func(b []byte) []byte { return sll2(0x0800, b) }
	ip6eth := func(b []byte) []byte { return eth(0x86dd, b) }
	ip6sll2 := func(b []byte) []byte { return sll2(0x86dd, b) }
	frag := []recSpec{
		rec(withEth(ipv4(17, 0x2000, udp(6000, 5000, vid1))), 0),    // first fragment (MF)
		rec(withEth(ipv4(17, 0x0010, vid1)), time.Millisecond),      // later fragment
		rec(withEth(ipv4(17, 0x4000, udp(6000, 5000, vid2))), 40e6), // DF: whole
	}
	snapped := withEth(ipv4(17, 0, udp(6000, 5000, vid1)))
	portZero := strings.ReplaceAll(strings.ReplaceAll(testSDP, "video 5000", "video 0"), "audio 5002", "audio 0")
	otherPorts := strings.ReplaceAll(strings.ReplaceAll(testSDP, "video 5000", "video 7000"), "audio 5002", "audio 7002")
	return []testCase{
		{name: "ethernet LE µs", file: good, packets: 3},
		{name: "ethernet BE ns", file: fileSpec{be: true, nano: true, link: linkEthernet}.bytes(mix(withEth)...), packets: 3},
		{name: "VLAN", file: le.bytes(mix(vlan)...), packets: 3},
		{name: "SLL", file: fileSpec{link: linkSLL}.bytes(mix(ip4sll)...), packets: 3},
		{name: "SLL2", file: fileSpec{link: linkSLL2}.bytes(mix(ip4sll2)...), packets: 3},
		{name: "raw 101", file: fileSpec{link: linkRaw}.bytes(mix(raw)...), packets: 3},
		{name: "raw 12", file: fileSpec{be: true, link: linkRaw12}.bytes(mix(raw)...), packets: 3},
		{name: "IPv4 228", file: fileSpec{link: linkIPv4}.bytes(mix(raw)...), packets: 3},
		{name: "BSD loopback", file: fileSpec{link: linkNull}.bytes(mix(null)...), packets: 3},
		{name: "OpenBSD loop", file: fileSpec{be: true, link: linkLoop}.bytes(mix(loop)...), packets: 3},
		{name: "IPv6 ethernet", file: le.bytes(mix6(ip6eth)...), packets: 3},
		{name: "IPv6 SLL2", file: fileSpec{link: linkSLL2}.bytes(mix6(ip6sll2)...), packets: 3},
		{name: "IPv6 229", file: fileSpec{link: linkIPv6}.bytes(mix6(raw)...), packets: 3},
		{name: "fragments", file: le.bytes(frag...), packets: 1},
		{name: "SDP ports 0: by payload type", file: good, sdp: portZero, packets: 3},
		{name: "SDP ports elsewhere: by payload type", file: good, sdp: otherPorts, packets: 3},
		{name: "empty", file: nil, openErr: "empty file", kind: fault.Unsupported},
		{name: "garbage", file: garbage, openErr: "not a pcap file (magic", kind: fault.Unsupported},
		{name: "rtpdump", file: []byte("#!rtpplay1.0 127.0.0.1/5000\n"), openErr: "not a pcap file", kind: fault.Unsupported},
		{name: "tiny", file: []byte{0xd4, 0xc3}, openErr: "not a pcap file (2 bytes)", kind: fault.Unsupported},
		{name: "pcapng", file: []byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a}, openErr: "a pcapng file; convert it to pcap first: editcap -F pcap cap.pcap out.pcap", kind: fault.Unsupported},
		{name: "header cut", file: good[:10], openErr: "truncated pcap header (10 of 24 bytes)", kind: fault.Unsupported},
		{name: "version 1", file: fileSpec{ver: 1, link: 1}.bytes(), openErr: "unsupported pcap version 1.4", kind: fault.Unsupported},
		{name: "802.11", file: fileSpec{link: 105}.bytes(), openErr: "link type 105 (IEEE 802.11) is not supported", kind: fault.Unsupported},
		{name: "no packets", file: le.bytes(), openErr: "no packets in the capture", kind: fault.Unsupported},
		{name: "only TCP", file: le.bytes(rec(withEth(ipv4(6, 0, make([]byte, 40))), 0), rec(withEth(ipv4(6, 0, make([]byte, 40))), 1)),
			openErr: "no RTP over UDP for the tracks of the SDP in 2 packets: 2 TCP (RTP interleaved in RTSP over TCP is not supported", kind: fault.Unsupported},
		{name: "only RTCP and DNS", file: le.bytes(mix(withEth)[1:3]...), openErr: "1 RTCP, 1 UDP but not RTP", kind: fault.Unsupported},
		{name: "unknown PT", file: le.bytes(rec(withEth(ipv4(17, 0, udp(1, 5000, rtpcaptest.RTPPacket(8, 1, 0, 1, nil)))), 0)),
			openErr: "RTP with payload types [8] that the SDP does not declare", kind: fault.Unsupported},
		{name: "lying length", file: le.bytes(rec(snapped, 0), recSpec{frame: snapped, incl: 1000000}),
			runErr: "corrupt pcap record at byte", packets: 1},
		{name: "length beyond the end", file: le.bytes(rec(snapped, 0), recSpec{frame: snapped, incl: 5000}), packets: 1},
		{name: "last record cut", file: good[:len(good)-4], packets: 2},
		{name: "snapped", file: le.bytes(recSpec{frame: snapped[:30], incl: -1}, rec(withEth(ipv4(17, 0, udp(1, 5000, vid2))), 1)),
			packets: 1},
		{name: "only snapped", file: le.bytes(recSpec{frame: snapped[:30], incl: -1}), openErr: "1 truncated or malformed", kind: fault.Unsupported},
		{name: "ARP", file: le.bytes(rec(eth(0x0806, make([]byte, 28)), 0)), openErr: "1 not IP", kind: fault.Unsupported},
	}
}

func writeCapture(t testing.TB, dir string, file []byte, sdpText string) string {
	t.Helper()
	if sdpText == "" {
		sdpText = testSDP
	}
	p := filepath.Join(dir, "cap.pcap")
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cap.sdp"), []byte(sdpText), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkErr(t *testing.T, what string, err error, want string, kind fault.Kind) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %v, want one containing %q", what, err, want)
	}
	if k, _ := fault.KindOf(err); k != kind {
		t.Fatalf("%s: error %q is of kind %v, want %v", what, err, k, kind)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("%s: error is not one line: %q", what, err)
	}
}

func TestSource(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			p := writeCapture(t, t.TempDir(), tc.file, tc.sdp)
			desc, units, err := rtpcaptest.Read(t, &Source{Path: p})
			if tc.openErr != "" {
				if desc != nil {
					t.Fatalf("Open succeeded, want error %q", tc.openErr)
				}
				checkErr(t, "Open", err, tc.openErr, tc.kind)
				return
			}
			if desc == nil {
				t.Fatalf("Open: %v", err)
			}
			checkErr(t, "Run", err, tc.runErr, fault.Unsupported)
			if len(units) != tc.packets {
				t.Fatalf("%d packets, want %d", len(units), tc.packets)
			}
			// Tracks by port or payload type; capture times to the µs.
			for i, u := range units {
				pt := u.Packets[0].PayloadType
				if (pt == 96) != (u.Media == desc.Medias[0]) {
					t.Fatalf("unit %d: PT %d on the %s track", i, pt, u.Media.Type)
				}
			}
			want := t0.Truncate(time.Microsecond)
			if strings.HasSuffix(tc.name, " ns") {
				want = t0
			}
			if len(units) > 0 && tc.name != "fragments" && !units[0].Received.Equal(want) {
				t.Fatalf("first unit received %s, want %s", units[0].Received.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
			}
		})
	}
}

// TestFlows: with no ports in the SDP, each UDP flow is bound to a track,
// so two tracks with the same payload type are told apart.
func TestFlows(t *testing.T) {
	sdpText := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=two cameras\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n"
	a := rtpcaptest.RTPPacket(96, 1, 0, 0xa, []byte{0x65})
	b := rtpcaptest.RTPPacket(96, 1, 0, 0xb, []byte{0x65})
	file := fileSpec{link: linkEthernet}.bytes(
		rec(withEth(ipv4(17, 0, udp(7000, 40000, a))), 0),
		rec(withEth(ipv4(17, 0, udp(7002, 40002, b))), 1),
		rec(withEth(ipv4(17, 0, udp(7000, 40000, a))), 2),
		rec(withEth(ipv4(17, 0, udp(7002, 40002, b))), 3),
	)
	p := writeCapture(t, t.TempDir(), file, sdpText)
	desc, units, err := rtpcaptest.Read(t, &Source{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range units {
		want := desc.Medias[i%2]
		if u.Media != want || u.Packets[0].SSRC != uint32(0xa+i%2) {
			t.Fatalf("unit %d (SSRC %#x) is on track %d", i, u.Packets[0].SSRC, i%2)
		}
	}
}

func roundTrip(t *testing.T, o rtpcaptest.Options) (string, []rtpcaptest.Packet, []rtpcaptest.Packet, []*media.Unit) {
	t.Helper()
	desc, units := rtpcaptest.Session(t, o)
	p := filepath.Join(t.TempDir(), "cam.pcap")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units)
	want := rtpcaptest.Flatten(t, desc, units)
	gotDesc, gotUnits, err := rtpcaptest.Read(t, &Source{Path: p})
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if len(gotDesc.Medias) != 2 {
		t.Fatalf("%d medias back, want 2", len(gotDesc.Medias))
	}
	if _, ok := gotDesc.Medias[0].Formats[0].(*format.H264); !ok {
		t.Fatalf("track 0 is %T, want H.264", gotDesc.Medias[0].Formats[0])
	}
	if _, ok := gotDesc.Medias[1].Formats[0].(*format.MPEG4Audio); !ok {
		t.Fatalf("track 1 is %T, want AAC", gotDesc.Medias[1].Formats[0])
	}
	return p, rtpcaptest.Flatten(t, gotDesc, gotUnits), want, gotUnits
}

// TestRoundTrip writes a session with Sink and reads it back with Source:
// the same packets, byte for byte, on the same tracks, with their arrival
// times to the microsecond, and timestamps that pace like the original.
func TestRoundTrip(t *testing.T) {
	p, got, want, units := roundTrip(t, rtpcaptest.Options{VideoTS0: 0xffffffff - 45000, AudioDelay: 10 * time.Millisecond})
	if _, err := os.Stat(rtpcap.SidecarPath(p)); err != nil {
		t.Fatalf("no sidecar SDP: %v", err)
	}
	rtpcaptest.Compare(t, got, want, time.Unix(0, 0), time.Microsecond)
	t.Logf("%d packets round-tripped", len(got))

	first := units[0].Received
	for i, u := range units {
		at := time.Duration(u.PTS) * time.Second / time.Duration(u.Format.ClockRate())
		if d := at - u.Received.Sub(first); d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("unit %d: PTS %d is %s, but it arrived at %s", i, u.PTS, at, u.Received.Sub(first))
		}
	}
}

// TestFileLayout decodes the written frames by hand.
func TestFileLayout(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.pcap")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units[:3])
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0}
	if !bytes.Equal(b[:24], wantHdr) {
		t.Fatalf("file header % x, want % x", b[:24], wantHdr)
	}
	r := b[24:]
	for _, w := range rtpcaptest.Flatten(t, desc, units[:3]) {
		sec, usec := binary.LittleEndian.Uint32(r[0:]), binary.LittleEndian.Uint32(r[4:])
		incl, orig := binary.LittleEndian.Uint32(r[8:]), binary.LittleEndian.Uint32(r[12:])
		if int64(sec) != w.Received.Unix() || int(usec) != w.Received.Nanosecond()/1000 {
			t.Fatalf("record time %d.%06d, want %d.%06d", sec, usec, w.Received.Unix(), w.Received.Nanosecond()/1000)
		}
		if incl != orig || int(incl) != 42+len(w.Bytes) {
			t.Fatalf("record lengths %d/%d, want %d", incl, orig, 42+len(w.Bytes))
		}
		f := r[16 : 16+incl]
		if et := binary.BigEndian.Uint16(f[12:]); et != 0x0800 {
			t.Fatalf("ethertype %#x", et)
		}
		ip := f[14:34]
		if ip[0] != 0x45 || ip[9] != 17 || ipChecksum(ip) != 0 || int(binary.BigEndian.Uint16(ip[2:])) != 28+len(w.Bytes) {
			t.Fatalf("bad IPv4 header % x", ip)
		}
		if !bytes.Equal(ip[12:16], []byte{127, 0, 0, 1}) || !bytes.Equal(ip[16:20], []byte{127, 0, 0, 1}) {
			t.Fatalf("addresses %v → %v", ip[12:16], ip[16:20])
		}
		u := f[34:42]
		dport := int(binary.BigEndian.Uint16(u[2:]))
		if dport != rtpcap.Port(w.Track) || int(binary.BigEndian.Uint16(u[0:])) != dport+1000 {
			t.Fatalf("track %d: UDP ports %d → %d", w.Track, binary.BigEndian.Uint16(u[0:]), dport)
		}
		if !bytes.Equal(f[42:], w.Bytes) {
			t.Fatal("payload differs")
		}
		r = r[16+incl:]
	}
	if len(r) != 0 {
		t.Fatalf("%d bytes after the last record", len(r))
	}
}

func TestSinkErrors(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	dir := t.TempDir()
	s := &Sink{Path: filepath.Join(dir, "x.pcap")}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	u := *units[0]
	u.Packets, u.Payload = nil, [][]byte{{0x65, 1, 2}}
	checkErr(t, "Write of a unit without packets", s.Write(&u), "pcap needs RTP input, but the H264 track arrives without RTP packets", fault.Unsupported)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(units[0]); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Fatalf("Write after Close: %v", err)
	}
	s = &Sink{Path: filepath.Join(dir, "missing", "x.pcap")}
	checkErr(t, "Open in a missing directory", s.Open(desc), "no such directory", fault.Runtime)
	if err := s.Close(); err != nil {
		t.Fatalf("Close after a failed Open: %v", err)
	}
	checkErr(t, "Open without tracks", (&Sink{Path: filepath.Join(dir, "y.pcap")}).Open(&description.Session{}), "no tracks", fault.Unsupported)
}

// TestSinkFlushes: the file is valid from Open on, and what is written
// reaches it within about a second without Close.
func TestSinkFlushes(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.pcap")
	s := &Sink{Path: p}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, _ := os.ReadFile(p); len(b) != fileHeaderSize {
		t.Fatalf("%d bytes on disk after Open, want the %d-byte header", len(b), fileHeaderSize)
	}
	for _, u := range units[:10] {
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	want := len(rtpcaptest.Flatten(t, desc, units[:10]))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, got, err := rtpcaptest.Read(t, &Source{Path: p})
		if err == nil && len(got) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d packets readable 10 s after writing %d (%v)", len(got), want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTruncations(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	dir := t.TempDir()
	p := filepath.Join(dir, "full.pcap")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units[:20])
	full, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sdpText, _ := os.ReadFile(rtpcap.SidecarPath(p))
	prev := 0
	var cuts []int
	for cut := 0; cut < len(full); cut += 1 + cut/50 {
		cuts = append(cuts, cut)
	}
	for _, cut := range append(cuts, len(full)) {
		sub := writeCapture(t, dir, full[:cut], string(sdpText))
		_, got, err := rtpcaptest.Read(t, &Source{Path: sub})
		if cut < fileHeaderSize {
			checkErr(t, "cut in the header", err, "cap.pcap: ", fault.Unsupported)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "no packets in the capture") {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(got) < prev {
			t.Fatalf("cut at %d: %d packets, fewer than %d at a shorter cut", cut, len(got), prev)
		}
		prev = len(got)
	}
	if want := len(rtpcaptest.Flatten(t, desc, units[:20])); prev != want {
		t.Fatalf("%d packets from the whole file, want %d", prev, want)
	}
}

func TestSDPErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cap.pcap")
	if err := os.WriteFile(p, fileSpec{link: 1}.bytes(mix(withEth)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := rtpcaptest.Read(t, &Source{Path: p})
	checkErr(t, "no sidecar", err, "cap.pcap: no SDP (give --sdp FILE or put cap.sdp beside it)", fault.Unsupported)
	other := filepath.Join(dir, "other.sdp")
	if err := os.WriteFile(other, []byte(testSDP), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, units, err := rtpcaptest.Read(t, &Source{Path: p, SDP: other}); err != nil || len(units) != 3 {
		t.Fatalf("with --sdp: %d packets, %v", len(units), err)
	}
	_, _, err = rtpcaptest.Read(t, &Source{Path: filepath.Join(dir, "none.pcap")})
	checkErr(t, "missing capture", err, "none.pcap: no such file", fault.NotFound)
}

func TestCancel(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.pcap")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units)
	src := &Source{Path: p}
	defer src.Close()
	if _, err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := src.Run(ctx, func(*media.Unit) {
		n++
		if n == 5 {
			cancel()
		}
	})
	if err != nil || n != 5 {
		t.Fatalf("Run after cancel: %d units, %v; want 5 and nil", n, err)
	}
}

func TestProbe(t *testing.T) {
	notPcap := map[string]bool{"empty": true, "garbage": true, "rtpdump": true, "tiny": true, "pcapng": true}
	for _, tc := range cases() {
		if got := (&Source{}).Probe(tc.file); got != !notPcap[tc.name] {
			t.Errorf("%s: Probe %v, want %v", tc.name, got, !notPcap[tc.name])
		}
	}
}

func FuzzPcapSource(f *testing.F) {
	for _, tc := range cases() {
		f.Add(tc.file, tc.sdp == "")
	}
	dir := f.TempDir()
	portZero := strings.ReplaceAll(strings.ReplaceAll(testSDP, "video 5000", "video 0"), "audio 5002", "audio 0")
	f.Fuzz(func(t *testing.T, b []byte, ports bool) {
		sdpText := testSDP
		if !ports {
			sdpText = portZero
		}
		p := writeCapture(t, dir, b, sdpText)
		src := &Source{Path: p}
		_, err := src.Open(context.Background())
		if err != nil {
			src.Close()
			if _, ok := fault.KindOf(err); !ok || strings.Contains(err.Error(), "\n") {
				t.Fatalf("unclassified or multi-line error: %q", err)
			}
			return
		}
		n := 0
		err = src.Run(context.Background(), func(u *media.Unit) {
			n++
			if len(u.Packets) != 1 || u.Media == nil || u.Format == nil {
				t.Fatalf("bad unit %+v", u)
			}
			if _, err := u.Packets[0].Marshal(); err != nil {
				t.Fatalf("unit packet does not marshal: %v", err)
			}
		})
		src.Close()
		if _, ok := fault.KindOf(err); err != nil && !ok {
			t.Fatalf("unclassified Run error: %v", err)
		}
		// A record is at least 16 bytes of header and 12 of RTP.
		if n*28 > len(b) {
			t.Fatalf("%d packets from %d bytes", n, len(b))
		}
	})
}
