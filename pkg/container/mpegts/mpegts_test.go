package mpegts

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/container/input/inputtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	// clipFile: H.264 baseline 640x480 25 fps (100 frames, GOP 25) and
	// AAC-LC 48 kHz stereo (189 frames); video starts at 1.421333 s, audio
	// at 1.4 s (testdata/media/README.md).
	clipFile = "../../../testdata/media/h264_aac.ts"
	// multiFile (testdata/generate.sh, counts from ffprobe -count_packets):
	// H.265 320x240 25 frames (GOP 10), MPEG-2 video (skipped), MP2 42
	// frames, AC-3 32 frames, Opus 51 packets, all 48 kHz stereo.
	multiFile = "testdata/multi.ts"
	// mpeg2File: MPEG-2 video only.
	mpeg2File = "testdata/mpeg2.ts"
)

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pidOf(p []byte) uint16 { return uint16(p[1]&0x1F)<<8 | uint16(p[2]) }

// filterPackets keeps the packets keep accepts.
func filterPackets(b []byte, keep func(p []byte) bool) []byte {
	var out []byte
	for i := 0; i+packetSize <= len(b); i += packetSize {
		if keep(b[i : i+packetSize]) {
			out = append(out, b[i:i+packetSize]...)
		}
	}
	return out
}

// pesTimestamps calls fn on the 5-byte PTS and DTS fields of every PES
// header that starts in a packet.
func pesTimestamps(b []byte, fn func(field []byte)) {
	for i := 0; i+packetSize <= len(b); i += packetSize {
		p := b[i : i+packetSize]
		if p[1]&0x40 == 0 || p[3]&0x10 == 0 {
			continue
		}
		pos := 4
		if p[3]&0x20 != 0 {
			pos += 1 + int(p[4])
		}
		if pos+19 > packetSize || p[pos] != 0 || p[pos+1] != 0 || p[pos+2] != 1 {
			continue
		}
		pes := p[pos:]
		switch pes[7] >> 6 {
		case 2:
			fn(pes[9:14])
		case 3:
			fn(pes[9:14])
			fn(pes[14:19])
		}
	}
}

// shiftTimestamps adds delta (mod 2^33) to every PES timestamp.
func shiftTimestamps(b []byte, delta int64) []byte {
	out := append([]byte(nil), b...)
	pesTimestamps(out, func(f []byte) {
		v := int64(f[0]>>1&0x07)<<30 | int64(f[1])<<22 | int64(f[2]>>1)<<15 | int64(f[3])<<7 | int64(f[4]>>1)
		v = (v + delta) & (1<<33 - 1)
		f[0] = f[0]&0xF0 | byte(v>>30&0x07)<<1 | 1
		f[1] = byte(v >> 22)
		f[2] = byte(v>>15)<<1 | 1
		f[3] = byte(v >> 7)
		f[4] = byte(v)<<1 | 1
	})
	return out
}

// testCase is one input. The same table feeds TestSource and the seeds of
// FuzzTS.
type testCase struct {
	name    string
	input   func(t testing.TB) []byte
	openErr string
	runErr  string
	kind    fault.Kind
	// counts of units per format type name, nil when not checked
	counts map[string]int
	// firstPTS of each format, nil when not checked
	firstPTS map[string]int64
}

func cases() []testCase {
	clip := func(t testing.TB) []byte { return mustRead(t, clipFile) }
	clipCounts := map[string]int{"H264": 100, "MPEG4Audio": 189}
	clipFirst := map[string]int64{"H264": 1920, "MPEG4Audio": 0}
	return []testCase{
		{name: "clip", input: clip, counts: clipCounts, firstPTS: clipFirst},
		{name: "clip head", input: func(t testing.TB) []byte { return clip(t)[:4000] }, // a small fuzz seed
			openErr: "x.ts: no complete program", kind: fault.Unsupported},
		{name: "multi head", input: func(t testing.TB) []byte { return mustRead(t, multiFile)[:16000] }},
		{name: "multi", input: func(t testing.TB) []byte { return mustRead(t, multiFile) },
			counts: map[string]int{"H265": 25, "MPEG1Audio": 42, "AC3": 32, "Opus": 51}},
		{name: "mpeg2 only", input: func(t testing.TB) []byte { return mustRead(t, mpeg2File) },
			openErr: "x.ts: no supported track (found MPEG-1/2 video)", kind: fault.Unsupported},
		{name: "empty", input: func(testing.TB) []byte { return nil }, openErr: "x.ts: empty file", kind: fault.Unsupported},
		{name: "garbage", input: func(testing.TB) []byte { return bytes.Repeat([]byte("garbage! "), 200) },
			openErr: "x.ts: not an MPEG-TS stream", kind: fault.Unsupported},
		{name: "one short packet", input: func(t testing.TB) []byte { return clip(t)[:100] },
			openErr: "x.ts: not an MPEG-TS stream", kind: fault.Unsupported},
		{name: "mid-packet start", input: func(t testing.TB) []byte { return clip(t)[100:] },
			counts: clipCounts, firstPTS: clipFirst},
		{name: "no PAT", input: func(t testing.TB) []byte {
			return filterPackets(clip(t), func(p []byte) bool { return pidOf(p) != 0 })
		}, openErr: "x.ts: no complete program (PAT/PMT, and a first frame of each audio track) in the stream", kind: fault.Unsupported},
		{name: "no audio data", input: func(t testing.TB) []byte {
			return filterPackets(clip(t), func(p []byte) bool { return pidOf(p) != 0x101 })
		}, openErr: "x.ts: no complete program", kind: fault.Unsupported},
		{name: "33-bit wrap", input: func(t testing.TB) []byte {
			return shiftTimestamps(clip(t), 1<<33-int64(3*90000)) // wraps 1.6 s in
		}, counts: clipCounts, firstPTS: clipFirst},
		{name: "truncated", input: func(t testing.TB) []byte { b := clip(t); return b[:len(b)/2+77] }},
		{name: "garbage inside", input: func(t testing.TB) []byte {
			b := clip(t)
			mid := len(b) / 2 / packetSize * packetSize
			junk := make([]byte, 1000)
			rand.New(rand.NewSource(3)).Read(junk)
			return append(append(append([]byte(nil), b[:mid]...), junk...), b[mid:]...)
		}},
		{name: "lying PES length", input: func(t testing.TB) []byte {
			b := append([]byte(nil), clip(t)...)
			n := 0
			for i := 0; i+packetSize <= len(b); i += packetSize {
				p := b[i : i+packetSize]
				if pidOf(p) == 0x101 && p[1]&0x40 != 0 && p[3]&0x20 == 0 && n < 3 {
					p[8], p[9] = 0xFF, 0xFF // PES_packet_length
					n++
				}
			}
			return b
		}},
		{name: "bad continuity", input: func(t testing.TB) []byte {
			b := append([]byte(nil), clip(t)...)
			for i := 0; i+packetSize <= len(b); i += 7 * packetSize {
				if pidOf(b[i:]) == 0x100 {
					b[i+3] ^= 0x05
				}
			}
			return b
		}},
	}
}

func TestSource(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			r := inputtest.Demux(t, &Source{Path: "dir/x.ts", Reader: bytes.NewReader(tc.input(t))})
			inputtest.CheckErr(t, "Open", r.OpenErr, tc.openErr, tc.kind)
			if r.OpenErr != nil {
				return
			}
			inputtest.CheckErr(t, "Run", r.RunErr, tc.runErr, tc.kind)
			counts := map[string]int{}
			first := map[string]int64{}
			for _, u := range r.Units {
				n := inputtest.TypeName(u.Format)
				if counts[n] == 0 {
					first[n] = u.PTS
				}
				counts[n]++
			}
			if tc.counts != nil && fmt.Sprint(counts) != fmt.Sprint(tc.counts) {
				t.Fatalf("counts %v, want %v", counts, tc.counts)
			}
			if tc.firstPTS != nil && fmt.Sprint(first) != fmt.Sprint(tc.firstPTS) {
				t.Fatalf("first PTS %v, want %v", first, tc.firstPTS)
			}
			checkUnits(t, r)
		})
	}
}

// checkUnits checks the rules every unit follows: known media, payload
// stable after emit, DTS <= PTS, DTS monotonic per track, NALUs without
// start codes.
func checkUnits(t *testing.T, r inputtest.Result) {
	t.Helper()
	medias := map[*description.Media]bool{}
	for _, m := range r.Desc.Medias {
		medias[m] = true
	}
	lastDTS := map[*description.Media]int64{}
	for i, u := range r.Units {
		if !medias[u.Media] || u.Format != u.Media.Formats[0] {
			t.Fatalf("unit %d: unknown media", i)
		}
		if inputtest.HashUnit(u) != r.Hashes[i] {
			t.Fatalf("unit %d: payload changed after emit returned", i)
		}
		if u.DTS > u.PTS {
			t.Fatalf("unit %d: DTS %d > PTS %d", i, u.DTS, u.PTS)
		}
		if d, ok := lastDTS[u.Media]; ok && u.DTS < d {
			t.Fatalf("unit %d: DTS %d after %d", i, u.DTS, d)
		}
		lastDTS[u.Media] = u.DTS
		if len(u.Payload) == 0 {
			t.Fatalf("unit %d: empty", i)
		}
		for _, n := range u.Payload {
			if len(n) == 0 || (media.IsVideo(u.Format) && (bytes.HasPrefix(n, []byte{0, 0, 1}) || bytes.HasPrefix(n, []byte{0, 0, 0, 1}))) {
				t.Fatalf("unit %d: bad payload", i)
			}
		}
		if !media.IsVideo(u.Format) && (!u.Key || len(u.Payload) != 1) {
			t.Fatalf("unit %d: audio key %v, %d frames", i, u.Key, len(u.Payload))
		}
	}
}

// spacing returns the PTS differences of a format type, sorted by PTS.
func spacing(units []*media.Unit, name string) map[int64]int {
	var pts []int64
	for _, u := range units {
		if inputtest.TypeName(u.Format) == name {
			pts = append(pts, u.PTS)
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	out := map[int64]int{}
	for i := 1; i < len(pts); i++ {
		out[pts[i]-pts[i-1]]++
	}
	return out
}

func TestClip(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: clipFile})
	if r.OpenErr != nil || r.RunErr != nil {
		t.Fatal(r.OpenErr, r.RunErr)
	}
	if len(r.Desc.Medias) != 2 {
		t.Fatalf("%d medias", len(r.Desc.Medias))
	}
	vf, ok := r.Desc.Medias[0].Formats[0].(*format.H264)
	if !ok || r.Desc.Medias[0].Type != description.MediaTypeVideo {
		t.Fatalf("video %T", r.Desc.Medias[0].Formats[0])
	}
	var sps h264.SPS
	if err := sps.Unmarshal(vf.SPS); err != nil || sps.Width() != 640 || sps.Height() != 480 || vf.PPS == nil {
		t.Fatalf("SPS %v %dx%d", err, sps.Width(), sps.Height())
	}
	af, ok := r.Desc.Medias[1].Formats[0].(*format.MPEG4Audio)
	if !ok || af.Config.SampleRate != 48000 || af.Config.ChannelConfig != 2 || af.ClockRate() != 48000 {
		t.Fatalf("audio %T", r.Desc.Medias[1].Formats[0])
	}
	if got := spacing(r.Units, "H264"); fmt.Sprint(got) != "map[3600:99]" {
		t.Fatalf("video spacing %v", got)
	}
	if got := spacing(r.Units, "MPEG4Audio"); fmt.Sprint(got) != "map[1024:188]" {
		t.Fatalf("audio spacing %v", got)
	}
	keys, vlast, alast := 0, int64(0), int64(0)
	for i, u := range r.Units {
		switch u.Format.(type) {
		case *format.H264:
			if u.Key {
				keys++
			}
			if u.Key != (i == 0 || u.PTS%(25*3600) == 1920) {
				t.Fatalf("unit %d: key %v at PTS %d", i, u.Key, u.PTS)
			}
			vlast = u.PTS
		default:
			alast = u.PTS
		}
	}
	if keys != 4 {
		t.Fatalf("%d keyframes", keys)
	}
	if d := float64(vlast+3600) / 90000; d < 3.98 || d > 4.05 {
		t.Fatalf("video duration %.3f", d)
	}
	if d := float64(alast+1024) / 48000; d < 3.98 || d > 4.05 {
		t.Fatalf("audio duration %.3f", d)
	}
}

func TestMulti(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: multiFile})
	if r.OpenErr != nil || r.RunErr != nil {
		t.Fatal(r.OpenErr, r.RunErr)
	}
	var names []string
	for _, m := range r.Desc.Medias {
		names = append(names, inputtest.TypeName(m.Formats[0]))
	}
	if got := strings.Join(names, " "); got != "H265 MPEG1Audio AC3 Opus" {
		t.Fatalf("formats %s", got)
	}
	vf := r.Desc.Medias[0].Formats[0].(*format.H265)
	var sps h265.SPS
	if err := sps.Unmarshal(vf.SPS); err != nil || sps.Width() != 160 || sps.Height() != 120 || vf.VPS == nil || vf.PPS == nil {
		t.Fatalf("SPS %v", err)
	}
	ac3 := r.Desc.Medias[2].Formats[0].(*format.AC3)
	opus := r.Desc.Medias[3].Formats[0].(*format.Opus)
	if ac3.SampleRate != 48000 || ac3.ChannelCount != 2 || opus.ChannelCount != 2 {
		t.Fatalf("AC-3 %+v Opus %+v", ac3, opus)
	}
	for name, want := range map[string]string{
		"H265":       "map[3600:24]",
		"MPEG1Audio": "map[2160:41]", // 1152 samples at 48 kHz, in 90 kHz
		"AC3":        "map[1536:31]",
		"Opus":       "map[960:50]",
	} {
		if got := spacing(r.Units, name); fmt.Sprint(got) != want {
			t.Fatalf("%s spacing %v, want %s", name, got, want)
		}
	}
	keys := 0
	for _, u := range r.Units {
		if u.Key && u.Media == r.Desc.Medias[0] {
			keys++
		}
	}
	if keys != 3 {
		t.Fatalf("%d keyframes", keys)
	}
}

// TestWrap checks that a 33-bit PTS wrap in the middle of the stream does
// not show in the units.
func TestWrap(t *testing.T) {
	want := inputtest.Demux(t, &Source{Path: clipFile})
	b := shiftTimestamps(mustRead(t, clipFile), 1<<33-int64(3*90000))
	got := inputtest.Demux(t, &Source{Reader: bytes.NewReader(b)})
	if got.OpenErr != nil || got.RunErr != nil || len(got.Units) != len(want.Units) {
		t.Fatal(got.OpenErr, got.RunErr, len(got.Units))
	}
	for i := range want.Units {
		if got.Units[i].PTS != want.Units[i].PTS || got.Units[i].DTS != want.Units[i].DTS || got.Hashes[i] != want.Hashes[i] {
			t.Fatalf("unit %d: PTS %d, want %d", i, got.Units[i].PTS, want.Units[i].PTS)
		}
	}
}

func TestNotFound(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: "testdata/missing.ts"})
	inputtest.CheckErr(t, "Open", r.OpenErr, "missing.ts: no such file", fault.NotFound)
}

// TestEndlessPES checks that a PES that never ends is capped, so memory
// stays bounded: the filter passes at most maxPES bytes of it.
func TestEndlessPES(t *testing.T) {
	var pkt [packetSize]byte
	pkt[0], pkt[1], pkt[2], pkt[3] = syncByte, 0x01, 0x00, 0x10 // PID 0x100, payload only
	var in bytes.Buffer
	for i := range (maxPES/packetSize)*2 + 10 {
		pkt[3] = 0x10 | byte(i&0x0F)
		in.Write(pkt[:])
	}
	f := newPacketFilter(bufio.NewReader(&in))
	f.only([]uint16{0x100})
	n, err := io.Copy(io.Discard, f)
	if err != nil {
		t.Fatal(err)
	}
	if n > maxPES {
		t.Fatalf("passed %d bytes of one PES", n)
	}
}

func TestPipe(t *testing.T) {
	for _, file := range []string{clipFile, multiFile} {
		want := inputtest.Demux(t, &Source{Path: file})
		pr, pw := io.Pipe()
		go func() {
			b := mustRead(t, file)
			for len(b) > 0 {
				n := min(len(b), 1000) // not a multiple of 188
				if _, err := pw.Write(b[:n]); err != nil {
					return
				}
				b = b[n:]
			}
			pw.Close()
		}()
		got := inputtest.Demux(t, &Source{Reader: pr})
		if got.OpenErr != nil || got.RunErr != nil {
			t.Fatal(got.OpenErr, got.RunErr)
		}
		if len(got.Units) != len(want.Units) {
			t.Fatalf("%s: pipe %d units, file %d", file, len(got.Units), len(want.Units))
		}
		for i := range want.Units {
			a, b := want.Units[i], got.Units[i]
			if a.PTS != b.PTS || a.DTS != b.DTS || a.Key != b.Key || want.Hashes[i] != got.Hashes[i] ||
				inputtest.TypeName(a.Format) != inputtest.TypeName(b.Format) {
				t.Fatalf("%s: unit %d differs", file, i)
			}
		}
	}
}

func TestCancel(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	go func() { _, _ = pw.Write(mustRead(t, clipFile)[:60000]) }() // then stall
	src := &Source{Reader: pr}
	defer src.Close()
	if _, err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, func(*media.Unit) {}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestTruncations(t *testing.T) {
	for _, file := range []string{clipFile, multiFile} {
		b := mustRead(t, file)
		full := inputtest.Demux(t, &Source{Path: file})
		rng := rand.New(rand.NewSource(1))
		for range 40 {
			cut := rng.Intn(len(b))
			r := inputtest.Demux(t, &Source{Reader: bytes.NewReader(b[:cut])})
			if r.OpenErr != nil {
				if k, _ := fault.KindOf(r.OpenErr); k != fault.Unsupported || cut > 20000 {
					t.Fatalf("%s cut %d: Open: %v", file, cut, r.OpenErr)
				}
				continue
			}
			if r.RunErr != nil {
				t.Fatalf("%s cut %d: Run: %v", file, cut, r.RunErr)
			}
			if len(r.Units) > len(full.Units) {
				t.Fatalf("%s cut %d: %d units", file, cut, len(r.Units))
			}
			// a prefix of the full run per track, but for the last unit,
			// which the cut may shorten
			perTrack := func(res inputtest.Result) map[string][]string {
				m := map[string][]string{}
				for i, u := range res.Units {
					m[inputtest.TypeName(u.Format)] = append(m[inputtest.TypeName(u.Format)], res.Hashes[i])
				}
				return m
			}
			fm := perTrack(full)
			for k, hs := range perTrack(r) {
				for i := 0; i < len(hs)-1; i++ {
					if hs[i] != fm[k][i] {
						t.Fatalf("%s cut %d: %s unit %d differs", file, cut, k, i)
					}
				}
			}
		}
	}
}

func TestProbe(t *testing.T) {
	if !Probe(mustRead(t, clipFile)[:1024]) {
		t.Fatal("clip not probed")
	}
	bad := append([]byte(nil), mustRead(t, clipFile)[:400]...)
	bad[376] = 0
	for _, head := range [][]byte{nil, {0x47}, mustRead(t, clipFile)[:188], []byte("FLV\x01"), bad} {
		if Probe(head) {
			t.Fatalf("%x... probed as TS", head[:min(len(head), 4)])
		}
	}
}

func FuzzTS(f *testing.F) {
	for _, tc := range cases() {
		f.Add(tc.input(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := inputtest.Demux(t, &Source{Path: "fuzz.ts", Reader: bytes.NewReader(data)})
		for _, err := range []error{r.OpenErr, r.RunErr} {
			if err == nil {
				continue
			}
			if _, ok := fault.KindOf(err); !ok || !strings.HasPrefix(err.Error(), "fuzz.ts: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad error %q", err)
			}
		}
		total := 0
		for _, u := range r.Units {
			total += u.Size()
		}
		if total > len(data) {
			t.Fatalf("%d payload bytes from %d input bytes", total, len(data))
		}
	})
}

func BenchmarkTS(b *testing.B) {
	data := mustRead(b, clipFile)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src := &Source{Reader: bytes.NewReader(data)}
		if _, err := src.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := src.Run(context.Background(), func(*media.Unit) { n++ }); err != nil || n != 289 {
			b.Fatal(err, n)
		}
	}
}
