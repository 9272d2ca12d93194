package annexb

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/container/input/inputtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	// h264File: 100 frames, 640x480, 25 fps, GOP 25, no B-frames
	// (testdata/media/README.md).
	h264File = "../../../testdata/media/h264_baseline.h264"
	// h265File: 25 frames, 320x240, 25 fps, GOP 10, no B-frames; made by
	// testdata/generate.sh (ffprobe -count_packets: 25 packets, 3 keyframes).
	h265File = "testdata/h265_320x240.h265"
)

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nalus splits a whole Annex-B buffer with mediacommon, to build inputs.
func nalus(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		var au h264.AnnexB
		// mediacommon caps NALUs per call; feed it in pieces at start codes
		end := len(b)
		if i := bytes.Index(b[4:], []byte{0, 0, 0, 1}); i >= 0 && i < 1<<16 {
			end = i + 4
		}
		if err := au.Unmarshal(b[:end]); err != nil {
			t.Fatal(err)
		}
		out = append(out, au...)
		b = b[end:]
	}
	return out
}

func join(ns [][]byte) []byte {
	var out []byte
	for _, n := range ns {
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	return out
}

// testCase is one input. The same table feeds TestSource and the seeds of
// FuzzAnnexB.
type testCase struct {
	name    string
	input   func(t testing.TB) []byte
	src     Source // Path names the input; Reader is set by the test
	openErr string
	runErr  string
	kind    fault.Kind
	units   int // -1: not checked
	keys    int // -1: not checked
	step    int64
	big     bool // not a fuzz seed
}

func cases() []testCase {
	h264 := func(t testing.TB) []byte { return mustRead(t, h264File) }
	h265 := func(t testing.TB) []byte { return mustRead(t, h265File) }
	without := func(in func(testing.TB) []byte, drop func(n []byte) bool) func(t testing.TB) []byte {
		return func(t testing.TB) []byte {
			var keep [][]byte
			for _, n := range nalus(t, in(t)) {
				if !drop(n) {
					keep = append(keep, n)
				}
			}
			return join(keep)
		}
	}
	return []testCase{
		{name: "h264", input: h264, src: Source{Path: "x.h264"}, units: 100, keys: 4, step: 3600},
		{name: "h264 head", input: func(t testing.TB) []byte { return h264(t)[:3000] }, // a small fuzz seed
			src: Source{Path: "x.h264"}, units: -1, keys: -1, step: 3600},
		{name: "h265 head", input: func(t testing.TB) []byte { return h265(t)[:3000] },
			src: Source{Path: "x.h265"}, units: -1, keys: -1, step: 3600},
		{name: "h264 unnamed", input: h264, src: Source{Path: "x.bin"}, units: 100, keys: 4, step: 3600},
		{name: "h264 fps 30", input: h264, src: Source{Path: "x.264", FPS: 30}, units: 100, keys: 4, step: 3000},
		{name: "h265", input: h265, src: Source{Path: "x.h265"}, units: 25, keys: 3, step: 3600},
		{name: "h265 named h264", input: h265, src: Source{Path: "x.h264"}, units: 25, keys: 3, step: 3600},
		{name: "h265 forced h264", input: h265, src: Source{Path: "x.h265", Codec: "h264"},
			openErr: "x.h265: no H.264 SPS in the stream", kind: fault.Unsupported},
		{name: "bad codec", input: h264, src: Source{Path: "x.h264", Codec: "vp8"},
			openErr: `annexb: unknown codec "vp8"`, kind: fault.Usage},
		{name: "with AUDs", input: func(t testing.TB) []byte {
			var out [][]byte
			for _, n := range nalus(t, h264(t)) {
				if typ := n[0] & 0x1F; typ == 7 || ((typ == 1 || typ == 5) && n[1]&0x80 != 0 && len(out) > 0 && out[len(out)-1][0]&0x1F != 8) {
					out = append(out, []byte{0x09, 0xF0})
				}
				out = append(out, n)
			}
			return join(out)
		}, src: Source{Path: "x.h264"}, units: 100, keys: 4, step: 3600},
		{name: "3-byte start codes", input: func(t testing.TB) []byte {
			return bytes.ReplaceAll(h264(t), []byte{0, 0, 0, 1}, []byte{0, 0, 1})
		}, src: Source{Path: "x.h264"}, units: 100, keys: 4, step: 3600},
		{name: "empty", input: func(testing.TB) []byte { return nil }, src: Source{Path: "x.h264"},
			openErr: "x.h264: empty file", kind: fault.Unsupported},
		{name: "garbage", input: func(testing.TB) []byte { return []byte("GIF89a and then some") }, src: Source{Path: "x.h264"},
			openErr: "x.h264: not an H.264/H.265 Annex-B stream (no start code at the beginning)", kind: fault.Unsupported},
		{name: "zeros", input: func(testing.TB) []byte { return make([]byte, 5000) }, src: Source{Path: "x.h264"},
			openErr: "not an H.264/H.265 Annex-B stream", kind: fault.Unsupported},
		{name: "start code only", input: func(testing.TB) []byte { return []byte{0, 0, 0, 1} }, src: Source{Path: "x.h264"},
			openErr: "x.h264: no NAL units", kind: fault.Unsupported},
		{name: "no parameter sets", input: without(h264, func(n []byte) bool { return n[0]&0x1F == 7 || n[0]&0x1F == 8 }),
			src: Source{Path: "x.h264"}, openErr: "x.h264: no H.264 SPS/PPS in the stream", kind: fault.Unsupported},
		{name: "no parameter sets unnamed", input: without(h264, func(n []byte) bool { return n[0]&0x1F == 7 || n[0]&0x1F == 8 || n[0]&0x1F == 6 }),
			src: Source{Path: "x"}, openErr: "x: cannot tell H.264 from H.265", kind: fault.Unsupported},
		{name: "no VPS", input: without(h265, func(n []byte) bool { return (n[0]>>1)&0x3F == 32 }),
			src: Source{Path: "x.h265"}, openErr: "x.h265: no H.265 VPS in the stream", kind: fault.Unsupported},
		{name: "truncated", input: func(t testing.TB) []byte { b := h264(t); return b[:len(b)/2] },
			src: Source{Path: "x.h264"}, units: -1, keys: -1, step: 3600},
		{name: "huge NAL unit", input: func(testing.TB) []byte {
			return append([]byte{0, 0, 0, 1, 0x67}, bytes.Repeat([]byte{0xFF}, maxNALUSize+1000)...)
		}, src: Source{Path: "x.h264"}, openErr: "x.h264: corrupt stream: NAL unit at byte 4 is larger than 8 MB", kind: fault.Runtime, big: true},
		{name: "random after start code", input: func(testing.TB) []byte {
			b := make([]byte, 3000)
			rand.New(rand.NewSource(2)).Read(b)
			return append([]byte{0, 0, 0, 1}, b...)
		}, src: Source{Path: "x.h264"}, openErr: "x.h264: ", kind: fault.Unsupported},
	}
}

func TestSource(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			src.Reader = bytes.NewReader(tc.input(t))
			r := inputtest.Demux(t, &src)
			inputtest.CheckErr(t, "Open", r.OpenErr, tc.openErr, tc.kind)
			if r.OpenErr != nil {
				return
			}
			inputtest.CheckErr(t, "Run", r.RunErr, tc.runErr, tc.kind)
			if tc.units >= 0 && len(r.Units) != tc.units {
				t.Fatalf("units = %d, want %d", len(r.Units), tc.units)
			}
			keys := 0
			for i, u := range r.Units {
				if u.Key {
					keys++
				}
				if u.Media != r.Desc.Medias[0] || u.Format != r.Desc.Medias[0].Formats[0] {
					t.Fatalf("unit %d: wrong media/format", i)
				}
				if want := int64(i) * tc.step; u.PTS != want || u.DTS != want {
					t.Fatalf("unit %d: PTS %d DTS %d, want %d", i, u.PTS, u.DTS, want)
				}
				checkAU(t, u)
				if inputtest.HashUnit(u) != r.Hashes[i] {
					t.Fatalf("unit %d: payload changed after emit returned", i)
				}
			}
			if tc.keys >= 0 && keys != tc.keys {
				t.Fatalf("keyframes = %d, want %d", keys, tc.keys)
			}
		})
	}
}

// checkAU checks that an access unit is NALUs without start codes, with
// no delimiter, and with one picture.
func checkAU(t *testing.T, u *media.Unit) {
	t.Helper()
	_, is265 := u.Format.(*format.H265)
	first := 0
	for _, n := range u.Payload {
		if len(n) == 0 || bytes.HasPrefix(n, []byte{0, 0, 1}) || bytes.HasPrefix(n, []byte{0, 0, 0, 1}) || n[len(n)-1] == 0 {
			t.Fatalf("bad NALU %x", n[:min(8, len(n))])
		}
		if is265 {
			typ := (n[0] >> 1) & 0x3F
			if typ == 35 {
				t.Fatal("AUD in payload")
			}
			if typ < 32 && n[2]&0x80 != 0 {
				first++
			}
		} else {
			typ := n[0] & 0x1F
			if typ == 9 {
				t.Fatal("AUD in payload")
			}
			if (typ == 1 || typ == 5) && n[1]&0x80 != 0 {
				first++
			}
		}
	}
	if first != 1 {
		t.Fatalf("%d first slices in one access unit", first)
	}
}

func TestClips(t *testing.T) {
	for _, c := range []struct {
		file          string
		codec         string
		width, height int
		units, keys   int
	}{
		{h264File, "H264", 640, 480, 100, 4},
		{h265File, "H265", 320, 240, 25, 3},
	} {
		t.Run(c.codec, func(t *testing.T) {
			src := &Source{Path: c.file}
			r := inputtest.Demux(t, src)
			if r.OpenErr != nil || r.RunErr != nil {
				t.Fatal(r.OpenErr, r.RunErr)
			}
			if src.FrameRate() != 25 {
				t.Fatalf("frame rate %v, want 25 from the SPS", src.FrameRate())
			}
			var w, h int
			switch f := r.Desc.Medias[0].Formats[0].(type) {
			case *format.H264:
				var sps h264.SPS
				if err := sps.Unmarshal(f.SPS); err != nil || f.PPS == nil {
					t.Fatal(err)
				}
				w, h = sps.Width(), sps.Height()
			case *format.H265:
				var sps h265.SPS
				if err := sps.Unmarshal(f.SPS); err != nil || f.PPS == nil || f.VPS == nil {
					t.Fatal(err)
				}
				w, h = sps.Width(), sps.Height()
			}
			if w != c.width || h != c.height {
				t.Fatalf("SPS %dx%d", w, h)
			}
			keys := 0
			for i, u := range r.Units {
				if u.Key {
					keys++
					if (c.codec == "H264" && i%25 != 0) || (c.codec == "H265" && i%10 != 0) {
						t.Fatalf("keyframe at %d", i)
					}
				}
			}
			if len(r.Units) != c.units || keys != c.keys {
				t.Fatalf("units %d keys %d", len(r.Units), keys)
			}
			last := r.Units[len(r.Units)-1].PTS + 3600
			if want := int64(c.units) * 3600; last != want {
				t.Fatalf("duration %d ticks, want %d", last, want)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: "testdata/missing.h264"})
	inputtest.CheckErr(t, "Open", r.OpenErr, "missing.h264: no such file", fault.NotFound)
}

func TestPipe(t *testing.T) {
	for _, file := range []string{h264File, h265File} {
		want := inputtest.Demux(t, &Source{Path: file})
		pr, pw := io.Pipe()
		go func() {
			b := mustRead(t, file)
			for len(b) > 0 {
				n := min(len(b), 1001)
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
			if a.PTS != b.PTS || a.DTS != b.DTS || a.Key != b.Key || want.Hashes[i] != got.Hashes[i] {
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
	go func() { _, _ = pw.Write(mustRead(t, h264File)[:30000]) }() // then stall
	src := &Source{Reader: pr, Codec: "h264"}
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
	for _, file := range []string{h264File, h265File} {
		b := mustRead(t, file)
		full := inputtest.Demux(t, &Source{Path: file})
		rng := rand.New(rand.NewSource(1))
		for range 50 {
			cut := rng.Intn(len(b))
			r := inputtest.Demux(t, &Source{Path: file, Reader: bytes.NewReader(b[:cut])})
			if r.OpenErr != nil {
				if k, _ := fault.KindOf(r.OpenErr); k != fault.Unsupported || cut > 3000 {
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
			for i := 0; i < len(r.Units)-1; i++ { // the last one may be cut
				if r.Hashes[i] != full.Hashes[i] || r.Units[i].PTS != full.Units[i].PTS {
					t.Fatalf("%s cut %d: unit %d differs", file, cut, i)
				}
			}
		}
	}
}

func TestProbe(t *testing.T) {
	for _, f := range []string{h264File, h265File} {
		if !Probe(mustRead(t, f)[:64]) {
			t.Fatalf("%s not probed", f)
		}
	}
	for _, head := range [][]byte{
		nil, []byte("FLV\x01\x05"), {0x47, 0x40, 0, 0x10},
		{0, 0, 1, 0x0C, 'f', 't', 'y', 'p'}, // an MP4 box of 268 bytes
		{0, 0, 0, 0x20, 'f', 't', 'y', 'p'},
		{0, 0, 0, 0, 1, 0x67, 0x42}, // 4 zeros
	} {
		if Probe(head) {
			t.Fatalf("%x probed as Annex-B", head)
		}
	}
}

func FuzzAnnexB(f *testing.F) {
	for _, tc := range cases() {
		if !tc.big {
			f.Add(tc.input(f))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := inputtest.Demux(t, &Source{Path: "fuzz.h264", Reader: bytes.NewReader(data)})
		for _, err := range []error{r.OpenErr, r.RunErr} {
			if err == nil {
				continue
			}
			if _, ok := fault.KindOf(err); !ok || !strings.HasPrefix(err.Error(), "fuzz.h264: ") || strings.Contains(err.Error(), "\n") {
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

func BenchmarkAnnexB(b *testing.B) {
	data := mustRead(b, h264File)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src := &Source{Reader: bytes.NewReader(data)}
		if _, err := src.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := src.Run(context.Background(), func(*media.Unit) { n++ }); err != nil || n != 100 {
			b.Fatal(err, n)
		}
	}
}
