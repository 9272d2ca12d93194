package adts

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

	"github.com/avcat/avcat/pkg/container/input/inputtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const sineFile = "testdata/sine.aac"

// sineFrames is the number of ADTS frames in testdata/sine.aac, as
// counted by ffprobe -count_packets (2 s of 48 kHz stereo AAC-LC).
const sineFrames = 95

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frames splits a clean ADTS stream into its frames.
func frames(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) >= 7 {
		n := frameLength(b)
		if n < 7 || n > len(b) {
			t.Fatalf("bad test stream")
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// withCRC rewrites frames with protection_absent = 0 and a dummy CRC.
func withCRC(fr [][]byte) []byte {
	var out []byte
	for _, f := range fr {
		h := append([]byte(nil), f[:7]...)
		h[1] &^= 0x01
		l := len(f) + 2
		h[3] = h[3]&^0x03 | byte(l>>11)
		h[4] = byte(l >> 3)
		h[5] = h[5]&0x1F | byte(l<<5)
		out = append(out, h...)
		out = append(out, 0xAB, 0xCD)
		out = append(out, f[7:]...)
	}
	return out
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// testCase is one input. The same table feeds TestSource and the seeds of
// FuzzADTS.
type testCase struct {
	name  string
	input func(t testing.TB) []byte
	// openErr / runErr are substrings of the expected errors.
	openErr string
	runErr  string
	kind    fault.Kind
	// units is the expected unit count, or -1.
	units int
}

func cases() []testCase {
	sine := func(t testing.TB) []byte { return mustRead(t, sineFile) }
	return []testCase{
		{name: "sine", input: sine, units: sineFrames},
		{name: "sine head", input: func(t testing.TB) []byte { return sine(t)[:600] }, units: -1}, // a small fuzz seed
		{name: "empty", input: func(testing.TB) []byte { return nil }, openErr: "x.aac: empty file", kind: fault.Unsupported},
		{name: "garbage", input: func(testing.TB) []byte {
			return bytes.Repeat([]byte("not audio at all "), 100)
		}, openErr: "not an ADTS (AAC) stream", kind: fault.Unsupported},
		{name: "mp3 sync", input: func(testing.TB) []byte {
			return []byte{0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0}
		}, openErr: "not an ADTS", kind: fault.Unsupported},
		{name: "header only", input: func(t testing.TB) []byte { return sine(t)[:7] },
			openErr: "truncated: no complete ADTS frame", kind: fault.Unsupported},
		{name: "truncated", input: func(t testing.TB) []byte {
			b := sine(t)
			fr := frames(t, b)
			cut := len(concat(fr[:10]...)) + len(fr[10])/2
			return b[:cut]
		}, units: 10},
		{name: "crc", input: func(t testing.TB) []byte { return withCRC(frames(t, sine(t))) }, units: sineFrames},
		{name: "id3", input: func(t testing.TB) []byte {
			id3 := []byte{'I', 'D', '3', 4, 0, 0, 0, 0, 0, 20}
			return concat(id3, make([]byte, 20), sine(t))
		}, units: sineFrames},
		{name: "id3 only", input: func(testing.TB) []byte {
			return []byte{'I', 'D', '3', 4, 0, 0, 0x7F, 0x7F, 0x7F, 0x7F}
		}, openErr: "ID3 tag but no ADTS frame", kind: fault.Unsupported},
		{name: "config change", input: func(t testing.TB) []byte {
			fr := frames(t, sine(t))
			odd := append([]byte(nil), fr[5]...)
			odd[2] = odd[2]&^0x3C | 4<<2 // 44100 Hz
			return concat(concat(fr[:5]...), odd, concat(fr[6:]...))
		}, runErr: "x.aac: frame 5: AAC configuration changed midway from object type 2, 48000 Hz, channel config 2 to object type 2, 44100 Hz, channel config 2",
			kind: fault.Unsupported, units: 5},
		{name: "garbage inside", input: func(t testing.TB) []byte {
			fr := frames(t, sine(t))
			return concat(concat(fr[:20]...), bytes.Repeat([]byte{0xFF, 0x00, 0x12}, 333), concat(fr[20:]...))
		}, units: sineFrames},
		{name: "lying length", input: func(t testing.TB) []byte {
			b := append([]byte(nil), sine(t)...)
			b[3] |= 0x03 // frame length 6144 + ...: runs into the next frames
			b[4] = 0xFF
			return b
		}, openErr: "frame 0 at byte 0: access unit size", kind: fault.Unsupported},
		{name: "huge claimed length at end", input: func(t testing.TB) []byte {
			fr := frames(t, sine(t))
			last := append([]byte(nil), fr[1][:7]...)
			last[3] |= 0x03
			last[4], last[5] = 0xFF, last[5]|0xE0 // 8191
			return concat(fr[0], last, []byte{1, 2, 3})
		}, units: 1},
	}
}

func TestSource(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			r := inputtest.Demux(t, &Source{Path: "dir/x.aac", Reader: bytes.NewReader(tc.input(t))})
			inputtest.CheckErr(t, "Open", r.OpenErr, tc.openErr, tc.kind)
			if r.OpenErr != nil {
				return
			}
			inputtest.CheckErr(t, "Run", r.RunErr, tc.runErr, tc.kind)
			if tc.units >= 0 && len(r.Units) != tc.units {
				t.Fatalf("units = %d, want %d", len(r.Units), tc.units)
			}
			checkUnits(t, r)
		})
	}
}

// checkUnits checks the rules every unit follows.
func checkUnits(t *testing.T, r inputtest.Result) {
	t.Helper()
	for i, u := range r.Units {
		if u.Media != r.Desc.Medias[0] || u.Format != r.Desc.Medias[0].Formats[0] {
			t.Fatalf("unit %d: wrong media/format", i)
		}
		if len(u.Payload) != 1 || len(u.Payload[0]) == 0 || !u.Key {
			t.Fatalf("unit %d: payload %d AUs, key %v", i, len(u.Payload), u.Key)
		}
		if u.PTS != int64(i)*1024 || u.DTS != u.PTS {
			t.Fatalf("unit %d: PTS %d DTS %d, want %d", i, u.PTS, u.DTS, i*1024)
		}
		if inputtest.HashUnit(u) != r.Hashes[i] {
			t.Fatalf("unit %d: payload changed after emit returned", i)
		}
	}
}

func TestSine(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: sineFile})
	if r.OpenErr != nil || r.RunErr != nil {
		t.Fatal(r.OpenErr, r.RunErr)
	}
	if len(r.Desc.Medias) != 1 {
		t.Fatalf("medias = %d", len(r.Desc.Medias))
	}
	f, ok := r.Desc.Medias[0].Formats[0].(*format.MPEG4Audio)
	if !ok {
		t.Fatalf("format %T", r.Desc.Medias[0].Formats[0])
	}
	if f.Config.SampleRate != 48000 || f.Config.ChannelConfig != 2 || f.Config.Type != 2 || f.ClockRate() != 48000 {
		t.Fatalf("config %+v", f.Config)
	}
	if len(r.Units) != sineFrames {
		t.Fatalf("units = %d, want %d", len(r.Units), sineFrames)
	}
	checkUnits(t, r)
	// duration: 95 frames of 1024 samples at 48 kHz, about 2 s
	if d := float64(len(r.Units)*1024) / 48000; d < 2 || d > 2.1 {
		t.Fatalf("duration %.3f s", d)
	}
	// CRC frames carry the same AUs
	c := inputtest.Demux(t, &Source{Reader: bytes.NewReader(withCRC(frames(t, mustRead(t, sineFile))))})
	for i := range r.Units {
		if !bytes.Equal(c.Units[i].Payload[0], r.Units[i].Payload[0]) {
			t.Fatalf("CRC unit %d differs", i)
		}
	}
}

func TestNotFound(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: "testdata/missing.aac"})
	inputtest.CheckErr(t, "Open", r.OpenErr, "missing.aac: no such file", fault.NotFound)
}

func TestPipe(t *testing.T) {
	file := inputtest.Demux(t, &Source{Path: sineFile})
	pr, pw := io.Pipe()
	go func() {
		b := mustRead(t, sineFile)
		for len(b) > 0 { // odd write sizes
			n := min(len(b), 777)
			if _, err := pw.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
		pw.Close()
	}()
	pipe := inputtest.Demux(t, &Source{Reader: pr})
	if pipe.OpenErr != nil || pipe.RunErr != nil {
		t.Fatal(pipe.OpenErr, pipe.RunErr)
	}
	if len(pipe.Units) != len(file.Units) {
		t.Fatalf("pipe %d units, file %d", len(pipe.Units), len(file.Units))
	}
	for i := range file.Units {
		a, b := file.Units[i], pipe.Units[i]
		if a.PTS != b.PTS || a.DTS != b.DTS || a.Key != b.Key || file.Hashes[i] != pipe.Hashes[i] {
			t.Fatalf("unit %d differs", i)
		}
	}
}

// TestCancel checks that Run returns when ctx is done while it is blocked
// reading a stalled pipe (os.Pipe, like stdin, supports read deadlines).
func TestCancel(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	go func() { _, _ = pw.Write(mustRead(t, sineFile)[:4000]) }() // then stall
	src := &Source{Reader: pr}
	defer src.Close()
	if _, err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	n := 0
	go func() { done <- src.Run(ctx, func(*media.Unit) { n++ }) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		if n == 0 {
			t.Fatal("no units before the stall")
		}
		// the deadline used to unblock the read is cleared again
		go func() { _, _ = pw.Write([]byte("more")) }()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "more" {
			t.Fatalf("pipe unusable after Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestTruncations(t *testing.T) {
	b := mustRead(t, sineFile)
	full := inputtest.Demux(t, &Source{Reader: bytes.NewReader(b)})
	rng := rand.New(rand.NewSource(1))
	for range 60 {
		cut := rng.Intn(len(b))
		r := inputtest.Demux(t, &Source{Reader: bytes.NewReader(b[:cut])})
		if r.OpenErr != nil {
			if k, _ := fault.KindOf(r.OpenErr); k != fault.Unsupported || cut > 400 {
				t.Fatalf("cut %d: Open: %v", cut, r.OpenErr)
			}
			continue
		}
		if r.RunErr != nil {
			t.Fatalf("cut %d: Run: %v", cut, r.RunErr)
		}
		if len(r.Units) > len(full.Units) {
			t.Fatalf("cut %d: %d units", cut, len(r.Units))
		}
		for i := range r.Units {
			if r.Hashes[i] != full.Hashes[i] || r.Units[i].PTS != full.Units[i].PTS {
				t.Fatalf("cut %d: unit %d differs", cut, i)
			}
		}
	}
}

func TestProbe(t *testing.T) {
	if !Probe(mustRead(t, sineFile)[:16]) {
		t.Fatal("sine.aac not probed")
	}
	for _, head := range [][]byte{nil, []byte("FLV\x01"), {0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0}, {0x47, 0, 0, 0, 0, 0, 0}} {
		if Probe(head) {
			t.Fatalf("%x probed as ADTS", head)
		}
	}
}

func FuzzADTS(f *testing.F) {
	for _, tc := range cases() {
		f.Add(tc.input(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := inputtest.Demux(t, &Source{Path: "fuzz.aac", Reader: bytes.NewReader(data)})
		for _, err := range []error{r.OpenErr, r.RunErr} {
			if err == nil {
				continue
			}
			if _, ok := fault.KindOf(err); !ok || !strings.HasPrefix(err.Error(), "fuzz.aac: ") || strings.Contains(err.Error(), "\n") {
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

func BenchmarkADTS(b *testing.B) {
	data := mustRead(b, sineFile)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src := &Source{Reader: bytes.NewReader(data)}
		if _, err := src.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := src.Run(context.Background(), func(*media.Unit) { n++ }); err != nil || n != sineFrames {
			b.Fatal(err, n)
		}
	}
}
