package rtpdump

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

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

// testSDP declares H.264 on PT 96 and AAC on PT 97.
const testSDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n" +
	"m=audio 5002 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n" +
	"a=fmtp:97 streamtype=5; profile-level-id=1; mode=AAC-hbr; sizelength=13; indexlength=3; indexdeltalength=3; config=1190\r\n"

var t0 = time.Unix(1700000000, 250000*1000)

// rec is a hand-made record; length and plen default to the right values.
type rec struct {
	offset uint32
	data   []byte
	length int // -1: 8+len(data)
	plen   int // -1: len(data)
}

func rtpRec(offset uint32, pt uint8, seq uint16) rec {
	return rec{offset: offset, data: rtpcaptest.RTPPacket(pt, seq, uint32(offset)*90, 0xabc, []byte{1, 2, 3, 4}), length: -1, plen: -1}
}

func dumpBytes(recs ...rec) []byte {
	b := appendFileHeader(nil, defaultHeader(t0, 0))
	for _, r := range recs {
		length, plen := r.length, r.plen
		if length < 0 {
			length = recordHeaderSize + len(r.data)
		}
		if plen < 0 {
			plen = len(r.data)
		}
		b = appendRecordHeader(b, recordHeader{length: uint16(length), plen: uint16(plen), offset: r.offset})
		b = append(b, r.data...)
	}
	return b
}

type testCase struct {
	name    string
	file    []byte
	openErr string // substring of the Open error
	kind    fault.Kind
	runErr  string
	packets int
}

func cases() []testCase {
	good := dumpBytes(rtpRec(0, 96, 1), rtpRec(20, 97, 1), rtpRec(40, 96, 2))
	rtcp := []byte{0x80, 200, 0, 6, 0, 0, 0xa, 0xbc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	garbage := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	hdr := appendFileHeader(nil, defaultHeader(t0, 0))
	return []testCase{
		{name: "good", file: good, packets: 3},
		{name: "empty", file: nil, openErr: "empty file", kind: fault.Unsupported},
		{name: "garbage", file: garbage, openErr: "not an rtpdump file", kind: fault.Unsupported},
		{name: "pcap", file: []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}, openErr: "not an rtpdump file", kind: fault.Unsupported},
		{name: "line cut", file: []byte("#!rtpplay1.0 127.0.0.1/50"), openErr: "truncated rtpdump header", kind: fault.Unsupported},
		{name: "endless line", file: []byte("#!rtpplay1.0 " + strings.Repeat("x", 400)), openErr: "longer than 256 bytes", kind: fault.Unsupported},
		{name: "version", file: []byte("#!rtpplay2.0 127.0.0.1/5000\n" + strings.Repeat("\x00", 16)), openErr: `unsupported rtpdump version "2.0"`, kind: fault.Unsupported},
		{name: "RD_hdr cut", file: hdr[:len(hdr)-5], openErr: "truncated rtpdump header (16-byte RD_hdr_t missing)", kind: fault.Unsupported},
		{name: "no records", file: hdr, openErr: "no packets in the capture", kind: fault.Unsupported},
		{name: "record header cut", file: append(append([]byte{}, hdr...), 0, 20), openErr: "no packets in the capture", kind: fault.Unsupported},
		{name: "RTCP only", file: dumpBytes(rec{data: rtcp, length: -1, plen: 0}), openErr: "only 1 RTCP packets", kind: fault.Unsupported},
		{name: "header-only dump", file: dumpBytes(rec{data: rtpcaptest.RTPPacket(96, 1, 0, 1, nil), length: -1, plen: 1400}),
			openErr: "header-only dump", kind: fault.Unsupported},
		{name: "unknown PT", file: dumpBytes(rtpRec(0, 8, 1), rtpRec(1, 0, 2)), openErr: "payload types [0 8] that the SDP does not declare", kind: fault.Unsupported},
		{name: "vat", file: dumpBytes(rec{data: []byte{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, length: -1, plen: -1}), openErr: "1 packets that are not RTP", kind: fault.Unsupported},
		{name: "length below header", file: dumpBytes(rec{data: nil, length: 3, plen: 0}), openErr: "length 3 is shorter than the record header", kind: fault.Unsupported},
		{name: "corrupt after two", file: dumpBytes(rtpRec(0, 96, 1), rtpRec(1, 96, 2), rec{length: 7, plen: 7}),
			runErr: "corrupt rtpdump record at byte", packets: 2},
		{name: "last record cut", file: good[:len(good)-3], packets: 2},
		{name: "length beyond the end", file: dumpBytes(rtpRec(0, 96, 1), rec{data: []byte{0x80, 96, 0, 2}, length: 65535, plen: 65527}), packets: 1},
		{name: "skips", file: dumpBytes(rec{data: rtcp, length: -1, plen: 0}, rtpRec(5, 8, 1), rtpRec(10, 96, 2)), packets: 1},
		{name: "offsets wrap", file: dumpBytes(rtpRec(0xffffff00, 96, 1), rtpRec(0x100, 96, 2)), packets: 2},
	}
}

// writeCapture writes file as NAME.rtpdump with testSDP beside it.
func writeCapture(t testing.TB, dir string, file []byte) string {
	t.Helper()
	p := filepath.Join(dir, "cap.rtpdump")
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cap.sdp"), []byte(testSDP), 0o644); err != nil {
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
			p := writeCapture(t, t.TempDir(), tc.file)
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
			for i := 1; i < len(units); i++ {
				if units[i].Received.Before(units[i-1].Received) {
					t.Fatalf("unit %d received %s before unit %d (%s)", i, units[i].Received, i-1, units[i-1].Received)
				}
			}
		})
	}
}

func TestOffsetsWrap(t *testing.T) {
	p := writeCapture(t, t.TempDir(), dumpBytes(rtpRec(0xffffff00, 96, 1), rtpRec(0x100, 96, 2)))
	_, units, err := rtpcaptest.Read(t, &Source{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if d := units[1].Received.Sub(units[0].Received); d != 0x200*time.Millisecond {
		t.Fatalf("offsets 0xffffff00 then 0x100 are %s apart, want 512ms", d)
	}
}

func roundTrip(t *testing.T, o rtpcaptest.Options) (string, []rtpcaptest.Packet, []rtpcaptest.Packet, []*media.Unit) {
	t.Helper()
	desc, units := rtpcaptest.Session(t, o)
	dir := t.TempDir()
	p := filepath.Join(dir, "cam.rtpdump")
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
	got := rtpcaptest.Flatten(t, gotDesc, gotUnits)
	return p, got, want, gotUnits
}

// TestRoundTrip writes a session with Sink and reads it back with Source:
// the same packets, byte for byte, on the same tracks, with their arrival
// times to the millisecond, and timestamps that pace like the original.
func TestRoundTrip(t *testing.T) {
	p, got, want, units := roundTrip(t, rtpcaptest.Options{VideoTS0: 0xffffffff - 45000, AudioDelay: 10 * time.Millisecond})
	for _, name := range []string{"cam.rtpdump", "cam.1.rtpdump", "cam.sdp"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), name)); err != nil {
			t.Fatalf("the sink did not write %s: %v", name, err)
		}
	}
	start := want[0].Received.Truncate(time.Microsecond)
	rtpcaptest.Compare(t, got, want, start, time.Millisecond)
	t.Logf("%d packets (%d units) round-tripped", len(got), len(units))

	// Timestamps: from the RTP clock, unwrapped (the video timestamps wrap
	// after 0.5 s), and aligned on the arrival of each track's first packet.
	checkTimeline(t, units, time.Millisecond)
}

// checkTimeline checks that each unit's PTS, in seconds, is its arrival
// time since the first unit, within the jitter of the test session (<1 ms)
// plus the capture's time precision: pacing by PTS replays the timing.
func checkTimeline(t *testing.T, units []*media.Unit, prec time.Duration) {
	t.Helper()
	first := units[0].Received
	var last [2]int64
	var seen [2]bool
	for i, u := range units {
		cr := int64(u.Format.ClockRate())
		at := time.Duration(u.PTS) * time.Second / time.Duration(cr)
		arr := u.Received.Sub(first)
		if d := at - arr; d < -time.Millisecond-prec || d > time.Millisecond+prec {
			t.Fatalf("unit %d (%s): PTS %d is %s, but it arrived at %s", i, u.Format.Codec(), u.PTS, at, arr)
		}
		k := 0
		if _, ok := u.Format.(*format.MPEG4Audio); ok {
			k = 1
		}
		if seen[k] && u.PTS != last[k] {
			step := int64(3600)
			if k == 1 {
				step = 1024
			}
			if u.PTS-last[k] != step {
				t.Fatalf("unit %d (%s): PTS step %d, want %d", i, u.Format.Codec(), u.PTS-last[k], step)
			}
		}
		last[k], seen[k] = u.PTS, true
	}
}

// TestFileLayout checks the written files against rtptools' rtpdump.h by
// hand (rtptools is not installed here).
func TestFileLayout(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	dir := t.TempDir()
	p := filepath.Join(dir, "x.rtpdump")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units)
	want := rtpcaptest.Flatten(t, desc, units)
	start := units[0].Received.Truncate(time.Microsecond)

	for track := range 2 {
		b, err := os.ReadFile(TrackPath(p, track))
		if err != nil {
			t.Fatal(err)
		}
		line := "#!rtpplay1.0 127.0.0.1/" + []string{"5000", "5002"}[track] + "\n"
		if !bytes.HasPrefix(b, []byte(line)) {
			t.Fatalf("track %d: file starts %q, want %q", track, b[:min(len(b), 40)], line)
		}
		h := b[len(line):]
		if sec := binary.BigEndian.Uint32(h[0:]); int64(sec) != start.Unix() {
			t.Fatalf("track %d: start.tv_sec %d, want %d", track, sec, start.Unix())
		}
		if usec := binary.BigEndian.Uint32(h[4:]); int(usec) != start.Nanosecond()/1000 {
			t.Fatalf("track %d: start.tv_usec %d, want %d", track, usec, start.Nanosecond()/1000)
		}
		if src := h[8:12]; !bytes.Equal(src, []byte{127, 0, 0, 1}) {
			t.Fatalf("track %d: source %v, want 127.0.0.1", track, src)
		}
		if port := binary.BigEndian.Uint16(h[12:]); int(port) != rtpcap.Port(track) {
			t.Fatalf("track %d: port %d, want %d", track, port, rtpcap.Port(track))
		}
		if pad := binary.BigEndian.Uint16(h[14:]); pad != 0 {
			t.Fatalf("track %d: padding %d, want 0", track, pad)
		}
		// RD_packet_t records, then the packet bytes.
		r := h[16:]
		n := 0
		for _, w := range want {
			if w.Track != track {
				continue
			}
			if len(r) < 8 {
				t.Fatalf("track %d: file ends after %d records", track, n)
			}
			length := int(binary.BigEndian.Uint16(r[0:]))
			plen := int(binary.BigEndian.Uint16(r[2:]))
			offset := binary.BigEndian.Uint32(r[4:])
			if length != 8+len(w.Bytes) || plen != len(w.Bytes) {
				t.Fatalf("track %d record %d: length %d plen %d, want %d and %d", track, n, length, plen, 8+len(w.Bytes), len(w.Bytes))
			}
			if wo := uint32(w.Received.Sub(start) / time.Millisecond); offset != wo {
				t.Fatalf("track %d record %d: offset %d ms, want %d", track, n, offset, wo)
			}
			if !bytes.Equal(r[8:length], w.Bytes) {
				t.Fatalf("track %d record %d: packet bytes differ", track, n)
			}
			r = r[length:]
			n++
		}
		if len(r) != 0 {
			t.Fatalf("track %d: %d bytes after the last record", track, len(r))
		}
		t.Logf("track %d: %d records", track, n)
	}

	sdpText, err := os.ReadFile(filepath.Join(dir, "x.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"c=IN IP4 127.0.0.1", "m=video 5000 RTP/AVP 96", "m=audio 5002 RTP/AVP 97", "a=rtpmap:96 H264/90000", "a=rtpmap:97 mpeg4-generic/48000/2"} {
		if !strings.Contains(string(sdpText), l+"\r\n") {
			t.Fatalf("the SDP lacks %q:\n%s", l, sdpText)
		}
	}
}

// TestRTCPRecords: RTCP is recorded with plen 0, as rtptools does, and
// skipped on replay.
func TestRTCPRecords(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.rtpdump")
	s := &Sink{Path: p}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	sr := []byte{0x80, 200, 0, 6, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 99}
	for i, u := range units {
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if err := s.WriteRTCP(desc.Medias[0], sr, u.Received); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, 0, 8+len(sr))
	rec = binary.BigEndian.AppendUint16(rec, uint16(8+len(sr)))
	rec = binary.BigEndian.AppendUint16(rec, 0)
	if i := bytes.Index(b, rec); i < 0 || !bytes.Equal(b[i+8:i+8+len(sr)], sr) {
		t.Fatalf("no RTCP record with plen 0 in the file")
	}
	_, got, err := rtpcaptest.Read(t, &Source{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rtpcaptest.Flatten(t, desc, units)); len(got) != n {
		t.Fatalf("%d packets back, want the %d RTP packets", len(got), n)
	}
}

func TestSinkErrors(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	dir := t.TempDir()

	s := &Sink{Path: filepath.Join(dir, "x.rtpdump")}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	u := *units[0]
	u.Packets, u.Payload = nil, [][]byte{{0x65, 1, 2}}
	err := s.Write(&u)
	checkErr(t, "Write of a unit without packets", err, "rtpdump needs RTP input, but the H264 track arrives without RTP packets", fault.Unsupported)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(units[0]); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Fatalf("Write after Close: %v", err)
	}

	s = &Sink{Path: filepath.Join(dir, "no", "such", "dir", "x.rtpdump")}
	err = s.Open(desc)
	checkErr(t, "Open in a missing directory", err, "cannot create "+filepath.Join(dir, "no", "such", "dir", "x.rtpdump")+": no such directory", fault.Runtime)
	if err := s.Close(); err != nil {
		t.Fatalf("Close after a failed Open: %v", err)
	}

	err = (&Sink{Path: filepath.Join(dir, "y.rtpdump")}).Open(&description.Session{})
	checkErr(t, "Open without tracks", err, "no tracks", fault.Unsupported)
}

// TestSinkNoPackets: a sink closed before any packet leaves valid files.
func TestSinkNoPackets(t *testing.T) {
	desc, _ := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.rtpdump")
	s := &Sink{Path: p}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := rtpcaptest.Read(t, &Source{Path: p})
	checkErr(t, "read an empty capture", err, "x.rtpdump: no packets in the capture", fault.Unsupported)
}

// TestSinkFlushes: what is written reaches the file within about a
// second, without Close (a kill -9 loses at most that), and reads back.
func TestSinkFlushes(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.rtpdump")
	s := &Sink{Path: p}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range units[:10] {
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	want := 0
	for _, u := range units[:10] {
		if u.Media == desc.Medias[0] {
			want += len(u.Packets)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		src := &Source{Path: p}
		_, got, err := rtpcaptest.Read(t, src)
		if err == nil && len(got) > 0 {
			n := 0
			for _, u := range got {
				if u.Media.Type == description.MediaTypeVideo {
					n++
				}
			}
			if n != want {
				t.Fatalf("%d video packets on disk, want %d", n, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing readable on disk 10 s after writing (last error: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTruncations cuts a capture at many lengths: never a panic, the
// complete records before the cut, and no error once the header is whole.
func TestTruncations(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	dir := t.TempDir()
	p := filepath.Join(dir, "full.rtpdump")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units[:20])
	full, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sdpText, err := os.ReadFile(filepath.Join(dir, "full.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	hdrLen := bytes.IndexByte(full, '\n') + 1 + fileHeaderSize
	prev := 0
	var cuts []int
	for cut := 0; cut < len(full); cut += 1 + cut/50 {
		cuts = append(cuts, cut)
	}
	for _, cut := range append(cuts, len(full)) {
		sub := filepath.Join(dir, "cut.rtpdump")
		if err := os.WriteFile(sub, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cut.sdp"), sdpText, 0o644); err != nil {
			t.Fatal(err)
		}
		_, got, err := rtpcaptest.Read(t, &Source{Path: sub})
		if cut < hdrLen {
			checkErr(t, "cut in the header", err, "cut.rtpdump: ", fault.Unsupported)
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
	want := 0 // the cut copies have no cut.1.rtpdump: track 0 only
	for _, p := range rtpcaptest.Flatten(t, desc, units[:20]) {
		if p.Track == 0 {
			want++
		}
	}
	if prev != want {
		t.Fatalf("%d packets from the whole file, want %d", prev, want)
	}
}

// TestSingleFile: a capture whose SDP has two tracks but one file (as
// other tools write) is split by payload type; colliding types are an
// error.
func TestSingleFile(t *testing.T) {
	dir := t.TempDir()
	p := writeCapture(t, dir, dumpBytes(rtpRec(0, 96, 1), rtpRec(10, 97, 1), rtpRec(20, 96, 2), rtpRec(30, 97, 2)))
	desc, units, err := rtpcaptest.Read(t, &Source{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range units {
		want := desc.Medias[i%2]
		if u.Media != want {
			t.Fatalf("unit %d (PT %d) is on the %s track", i, u.Packets[0].PayloadType, u.Media.Type)
		}
	}

	// An empty track file (killed before its first flush) has no packets:
	// track 1 is then neither in it nor in cap.rtpdump.
	if err := os.WriteFile(filepath.Join(dir, "cap.1.rtpdump"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, units, err = rtpcaptest.Read(t, &Source{Path: p})
	if err != nil || len(units) != 2 || units[0].Media.Type != description.MediaTypeVideo || units[1].Media.Type != description.MediaTypeVideo {
		t.Fatalf("with an empty cap.1.rtpdump: %d units, %v; want the 2 video packets", len(units), err)
	}
	if err := os.Remove(filepath.Join(dir, "cap.1.rtpdump")); err != nil {
		t.Fatal(err)
	}

	sdpText := strings.ReplaceAll(strings.ReplaceAll(testSDP, " 97", " 96"), ":97", ":96")
	if err := os.WriteFile(filepath.Join(dir, "cap.sdp"), []byte(sdpText), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = rtpcaptest.Read(t, &Source{Path: p})
	checkErr(t, "colliding payload types", err, "tracks 0 and 1 both use payload type 96", fault.Unsupported)
}

func TestSDPErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cap.rtpdump")
	if err := os.WriteFile(p, dumpBytes(rtpRec(0, 96, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := rtpcaptest.Read(t, &Source{Path: p})
	checkErr(t, "no sidecar", err, "cap.rtpdump: no SDP (give --sdp FILE or put cap.sdp beside it)", fault.Unsupported)

	_, _, err = rtpcaptest.Read(t, &Source{Path: p, SDP: filepath.Join(dir, "other.sdp")})
	checkErr(t, "missing --sdp", err, "other.sdp: no such file", fault.NotFound)

	if err := os.WriteFile(filepath.Join(dir, "bad.sdp"), []byte("v=0\r\nm=video\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = rtpcaptest.Read(t, &Source{Path: p, SDP: filepath.Join(dir, "bad.sdp")})
	checkErr(t, "bad SDP", err, "bad.sdp: invalid SDP", fault.Unsupported)

	_, _, err = rtpcaptest.Read(t, &Source{Path: filepath.Join(dir, "none.rtpdump")})
	checkErr(t, "missing capture", err, "none.rtpdump: no such file", fault.NotFound)

	_, _, err = rtpcaptest.Read(t, &Source{Path: dir})
	checkErr(t, "directory", err, "is a directory", fault.Usage)
}

func TestCancel(t *testing.T) {
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.rtpdump")
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
	for _, tc := range cases() {
		want := bytes.HasPrefix(tc.file, []byte("#!rtpplay"))
		if got := (&Source{}).Probe(tc.file); got != want {
			t.Errorf("%s: Probe %v, want %v", tc.name, got, want)
		}
	}
	if Probe([]byte("#!rtpp")) {
		t.Error("Probe of a prefix of the magic")
	}
}

// TestRtpplay replays the capture with rtptools' rtpplay, when it is
// installed (Debian package rtptools; not one of avcat's CI peers), to the
// port in each file's header.
func TestRtpplay(t *testing.T) {
	bin, err := exec.LookPath("rtpplay")
	if err != nil {
		t.Skip("rtpplay (Debian package rtptools) is not installed; the layout is checked by TestFileLayout")
	}
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{Seconds: 1})
	p := filepath.Join(t.TempDir(), "x.rtpdump")
	rtpcaptest.Write(t, &Sink{Path: p}, desc, units)
	want := 0
	for _, u := range units {
		if u.Media == desc.Medias[0] {
			want += len(u.Packets)
		}
	}
	conn, port := listenUDP(t)
	// rtpplay sends to the address/port on its command line; -T plays by
	// the recorded arrival offsets.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-T", "-f", p, "127.0.0.1/"+port)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rtpplay: %v: %s", err, out)
	}
	got := 0
	buf := make([]byte, 65536)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) == nil && pkt.PayloadType == 96 {
			got++
		}
	}
	if got != want {
		t.Fatalf("rtpplay sent %d video packets, want %d", got, want)
	}
}

func FuzzRTPDumpSource(f *testing.F) {
	for _, tc := range cases() {
		f.Add(tc.file)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := writeCapture(t, dir, b)
		src := &Source{Path: p}
		desc, err := src.Open(context.Background())
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
		if n*20 > len(b) {
			t.Fatalf("%d packets from %d bytes", n, len(b))
		}
		if desc == nil {
			t.Fatal("Open succeeded without a description")
		}
		if _, ok := fault.KindOf(err); err != nil && !ok {
			t.Fatalf("unclassified Run error: %v", err)
		}
	})
}

func listenUDP(t *testing.T) (*net.UDPConn, string) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// TestFFmpegReplay records ffmpeg's RTP (H.264 + AAC, with its RTCP) with
// Sink, reads it back byte for byte, and replays it into ffmpeg over UDP
// with the sidecar SDP: ffmpeg decodes it.
func TestFFmpegReplay(t *testing.T) {
	dir := t.TempDir()
	c := rtpcaptest.FFmpegCapture(t, dir, nil)
	p := filepath.Join(dir, "ffmpeg.rtpdump")
	s := &Sink{Path: p}
	if err := s.Open(c.Desc); err != nil {
		t.Fatal(err)
	}
	ri := 0
	for _, u := range c.Units {
		for ri < len(c.RTCP) && !c.RTCP[ri].Received.After(u.Received) {
			if err := s.WriteRTCP(c.Desc.Medias[c.RTCP[ri].Track], c.RTCP[ri].Bytes, c.RTCP[ri].Received); err != nil {
				t.Fatal(err)
			}
			ri++
		}
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := rtpcaptest.Flatten(t, c.Desc, c.Units)
	desc, units, err := rtpcaptest.Read(t, &Source{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	got := rtpcaptest.Flatten(t, desc, units)
	// The merge of the two files orders packets of the same millisecond
	// by track; compare each track.
	for track := range 2 {
		var g, w []rtpcaptest.Packet
		for _, x := range got {
			if x.Track == track {
				g = append(g, x)
			}
		}
		for _, x := range want {
			if x.Track == track {
				w = append(w, x)
			}
		}
		// Offsets count from the first record written, which may be an
		// RTCP packet that came before any RTP.
		base := want[0].Received
		if len(c.RTCP) > 0 && c.RTCP[0].Received.Before(base) {
			base = c.RTCP[0].Received
		}
		rtpcaptest.Compare(t, g, w, base.Truncate(time.Microsecond), time.Millisecond)
	}
	t.Logf("ffmpeg sent %d RTP and %d RTCP packets; all RTP read back", len(want), ri)

	sidecar, err := os.ReadFile(filepath.Join(dir, "ffmpeg.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	out := rtpcaptest.ReplayToFFmpeg(t, dir, sidecar, &Source{Path: p}, 2, 25)
	for _, want := range []string{"Video: h264", "320x240", "Audio: aac", "48000 Hz"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ffmpeg's log of the replay lacks %q:\n%s", want, out)
		}
	}
}
