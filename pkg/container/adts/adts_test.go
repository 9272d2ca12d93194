package adts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

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

type result struct {
	desc    *description.Session
	units   []*media.Unit
	hashes  []string // payload hashes taken inside emit
	openErr error
	runErr  error
}

func hashUnit(u *media.Unit) string {
	h := sha256.New()
	for _, p := range u.Payload {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func demux(t testing.TB, src *Source) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r result
	defer func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	r.desc, r.openErr = src.Open(ctx)
	if r.openErr != nil {
		return r
	}
	r.runErr = src.Run(ctx, func(u *media.Unit) {
		r.units = append(r.units, u)
		r.hashes = append(r.hashes, hashUnit(u))
	})
	if ctx.Err() != nil {
		t.Fatalf("demux did not finish")
	}
	return r
}

func checkErr(t *testing.T, what string, err error, want string, kind fault.Kind) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", what, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %v, want %q", what, err, want)
	}
	if k, ok := fault.KindOf(err); !ok || k != kind {
		t.Fatalf("%s: kind %v (%v), want %v", what, k, ok, kind)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("%s: multi-line error %q", what, err)
	}
}

func TestSource(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			r := demux(t, &Source{Path: "dir/x.aac", Reader: bytes.NewReader(tc.input(t))})
			checkErr(t, "Open", r.openErr, tc.openErr, tc.kind)
			if r.openErr != nil {
				return
			}
			checkErr(t, "Run", r.runErr, tc.runErr, tc.kind)
			if tc.units >= 0 && len(r.units) != tc.units {
				t.Fatalf("units = %d, want %d", len(r.units), tc.units)
			}
			checkUnits(t, r)
		})
	}
}

// checkUnits checks the rules every unit follows.
func checkUnits(t *testing.T, r result) {
	t.Helper()
	for i, u := range r.units {
		if u.Media != r.desc.Medias[0] || u.Format != r.desc.Medias[0].Formats[0] {
			t.Fatalf("unit %d: wrong media/format", i)
		}
		if len(u.Payload) != 1 || len(u.Payload[0]) == 0 || !u.Key {
			t.Fatalf("unit %d: payload %d AUs, key %v", i, len(u.Payload), u.Key)
		}
		if u.PTS != int64(i)*1024 || u.DTS != u.PTS {
			t.Fatalf("unit %d: PTS %d DTS %d, want %d", i, u.PTS, u.DTS, i*1024)
		}
		if hashUnit(u) != r.hashes[i] {
			t.Fatalf("unit %d: payload changed after emit returned", i)
		}
	}
}

func TestSine(t *testing.T) {
	r := demux(t, &Source{Path: sineFile})
	if r.openErr != nil || r.runErr != nil {
		t.Fatal(r.openErr, r.runErr)
	}
	if len(r.desc.Medias) != 1 {
		t.Fatalf("medias = %d", len(r.desc.Medias))
	}
	f, ok := r.desc.Medias[0].Formats[0].(*format.MPEG4Audio)
	if !ok {
		t.Fatalf("format %T", r.desc.Medias[0].Formats[0])
	}
	if f.Config.SampleRate != 48000 || f.Config.ChannelConfig != 2 || f.Config.Type != 2 || f.ClockRate() != 48000 {
		t.Fatalf("config %+v", f.Config)
	}
	if len(r.units) != sineFrames {
		t.Fatalf("units = %d, want %d", len(r.units), sineFrames)
	}
	checkUnits(t, r)
	// duration: 95 frames of 1024 samples at 48 kHz, about 2 s
	if d := float64(len(r.units)*1024) / 48000; d < 2 || d > 2.1 {
		t.Fatalf("duration %.3f s", d)
	}
	// CRC frames carry the same AUs
	c := demux(t, &Source{Reader: bytes.NewReader(withCRC(frames(t, mustRead(t, sineFile))))})
	for i := range r.units {
		if !bytes.Equal(c.units[i].Payload[0], r.units[i].Payload[0]) {
			t.Fatalf("CRC unit %d differs", i)
		}
	}
}

func TestNotFound(t *testing.T) {
	r := demux(t, &Source{Path: "testdata/missing.aac"})
	checkErr(t, "Open", r.openErr, "missing.aac: no such file", fault.NotFound)
}

func TestPipe(t *testing.T) {
	file := demux(t, &Source{Path: sineFile})
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
	pipe := demux(t, &Source{Reader: pr})
	if pipe.openErr != nil || pipe.runErr != nil {
		t.Fatal(pipe.openErr, pipe.runErr)
	}
	if len(pipe.units) != len(file.units) {
		t.Fatalf("pipe %d units, file %d", len(pipe.units), len(file.units))
	}
	for i := range file.units {
		a, b := file.units[i], pipe.units[i]
		if a.PTS != b.PTS || a.DTS != b.DTS || a.Key != b.Key || file.hashes[i] != pipe.hashes[i] {
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
	full := demux(t, &Source{Reader: bytes.NewReader(b)})
	rng := rand.New(rand.NewSource(1))
	for range 60 {
		cut := rng.Intn(len(b))
		r := demux(t, &Source{Reader: bytes.NewReader(b[:cut])})
		if r.openErr != nil {
			if k, _ := fault.KindOf(r.openErr); k != fault.Unsupported || cut > 400 {
				t.Fatalf("cut %d: Open: %v", cut, r.openErr)
			}
			continue
		}
		if r.runErr != nil {
			t.Fatalf("cut %d: Run: %v", cut, r.runErr)
		}
		if len(r.units) > len(full.units) {
			t.Fatalf("cut %d: %d units", cut, len(r.units))
		}
		for i := range r.units {
			if r.hashes[i] != full.hashes[i] || r.units[i].PTS != full.units[i].PTS {
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
		r := demux(t, &Source{Path: "fuzz.aac", Reader: bytes.NewReader(data)})
		for _, err := range []error{r.openErr, r.runErr} {
			if err == nil {
				continue
			}
			if _, ok := fault.KindOf(err); !ok || !strings.HasPrefix(err.Error(), "fuzz.aac: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad error %q", err)
			}
		}
		total := 0
		for _, u := range r.units {
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
