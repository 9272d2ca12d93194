package mp4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

var _ engine.Source = (*Source)(nil)

var mediaDir = filepath.Join("..", "..", "..", "testdata", "media")

// testCase is one input: a committed clip, a clip rewritten by a helper,
// or bad bytes. The same table feeds TestSource and the seeds of
// FuzzSource.
type testCase struct {
	name string
	data func(tb testing.TB) []byte

	// Open fails with this kind and message when openMsg is set.
	openKind fault.Kind
	openMsg  string
	// Run fails with a Runtime error with this message when runMsg is set.
	runMsg string

	codecs  []string // per media: the format type, e.g. "H264"
	units   []int    // per media
	keys    []int    // per media: units with Key set
	skipped []string

	// video is the size the SPS gives, when the first track is video;
	// its PTS in display order must then be exactly i*3600
	video string
	// duration, checked to within 50 ms when set
	duration time.Duration
	// same names a case whose unit sequence must be identical
	same string
	// prefix names a case whose units per track this case's must start
	// (a truncated file)
	prefix string
}

var cases = []testCase{
	{
		name: "h264 baseline aac", data: clip("h264_baseline_aac.mp4"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{4, 188},
		video: "640x480", duration: 4 * time.Second,
	},
	{
		name: "h264 high bframes aac", data: clip("h264_high_bframes_aac.mp4"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{2, 188},
		video: "640x480", duration: 4 * time.Second,
	},
	{
		name: "h264 high bframes aac nofaststart", data: clip("h264_high_bframes_aac_nofaststart.mp4"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{2, 188},
		video: "640x480", duration: 4 * time.Second, same: "h264 high bframes aac",
	},
	{
		name: "h264 high bframes aac co64", data: co64(clip("h264_high_bframes_aac.mp4")),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{2, 188},
		video: "640x480", duration: 4 * time.Second, same: "h264 high bframes aac",
	},
	{
		name: "h264 high bframes aac nofaststart co64", data: co64(clip("h264_high_bframes_aac_nofaststart.mp4")),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{2, 188},
		video: "640x480", duration: 4 * time.Second, same: "h264 high bframes aac",
	},
	{
		name: "h265 aac", data: clip("h265_aac.mp4"),
		codecs: []string{"H265", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{4, 188},
		video: "640x480", duration: 4 * time.Second,
	},
	{
		name: "h264 negative cts offsets", data: local("h264_negcts.mp4"),
		codecs: []string{"H264"}, units: []int{25}, keys: []int{1},
		video: "160x120", duration: time.Second,
	},
	{
		// 51 packets of 960 samples; the edit list hides the 312-sample
		// pre-skip, so the first packet starts at -312 and becomes 0.
		name: "opus", data: local("opus.mp4"),
		codecs: []string{"Opus"}, units: []int{51}, keys: []int{51},
		duration: time.Second + 312*time.Second/48000,
	},
	{
		// 8000 one-byte samples in one chunk: 7 units of 1024, one of 832.
		name: "ulaw mov", data: local("ulaw.mov"),
		codecs: []string{"G711"}, units: []int{8}, keys: []int{8}, duration: time.Second,
	},
	{
		name: "alaw stereo mov", data: local("alaw_stereo.mov"),
		codecs: []string{"G711"}, units: []int{8}, keys: []int{8}, duration: time.Second,
	},
	{
		// 48 AAC packets, the first one hidden by the edit list.
		name: "mp4v next to aac", data: local("mpeg4_aac.mp4"),
		codecs: []string{"MPEG4Audio"}, units: []int{47}, keys: []int{47},
		skipped: []string{"track 1: mp4v"}, duration: time.Second,
	},
	{
		name: "only mp4v", data: local("only_mpeg4.mp4"),
		openKind: fault.Unsupported, openMsg: "no supported track (found mp4v); supported: H.264, H.265, AAC, Opus, G.711",
	},
	{
		// ffmpeg's fragmented MP4 (an empty moov, then moof+mdat): the
		// samples come from the fragments, the same as the plain file's.
		name: "fragmented", data: local("opus_fragmented.mp4"),
		codecs: []string{"Opus"}, units: []int{51}, keys: []int{51},
		duration: time.Second + 312*time.Second/48000, same: "opus",
	},
	{
		// a fragmented recording cut by a kill: the complete samples play,
		// and Run ends without a truncation error.
		name: "fragmented cut at 70%", data: cut(local("opus_fragmented.mp4"), 0.7),
		codecs: []string{"Opus"}, prefix: "fragmented",
	},

	// Bad input.
	{
		name: "empty", data: bytesOf(nil),
		openKind: fault.Unsupported, openMsg: "test.mp4: empty file",
	},
	{
		name: "random bytes", data: randomBytes(100),
		openKind: fault.Unsupported, openMsg: "test.mp4: not an MP4/MOV file",
	},
	{
		name: "text", data: bytesOf([]byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:4.0,\nsegment0.ts\n")),
		openKind: fault.Unsupported, openMsg: "not an MP4/MOV file",
	},
	{
		// moov is in front: Open works and Run plays up to the cut.
		name: "mdat cut at 60%", data: cut(clip("h264_baseline_aac.mp4"), 0.6),
		codecs: []string{"H264", "MPEG4Audio"},
		runMsg: "test.mp4: truncated: sample ", prefix: "h264 baseline aac",
	},
	{
		name: "nofaststart cut before moov", data: cut(clip("h264_high_bframes_aac_nofaststart.mp4"), 0.9),
		openKind: fault.Unsupported, openMsg: "test.mp4: no moov box (truncated or unfinished recording?)",
	},
	{
		name: "ftyp only", data: cutAt(clip("h264_baseline_aac.mp4"), 32),
		openKind: fault.Unsupported, openMsg: "no moov box",
	},
	{
		name: "ftyp size 0xFFFFFFFF", data: patchAt(clip("h264_baseline_aac.mp4"), 0, 0xFF, 0xFF, 0xFF, 0xFF),
		openKind: fault.Unsupported, openMsg: "no moov box",
	},
	{
		name: "mdat largesize 0xFFFFFFFFFFFFFFFF", data: bytesOf(append(slices.Clone(ftypBox),
			0, 0, 0, 1, 'm', 'd', 'a', 't', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4)),
		openKind: fault.Unsupported, openMsg: "no moov box",
	},
	{
		name: "box size smaller than its header", data: bytesOf(append(slices.Clone(ftypBox),
			0, 0, 0, 4, 'm', 'o', 'o', 'v', 0, 0, 0, 0)),
		openKind: fault.Unsupported, openMsg: "no moov box",
	},
	{
		// The last box may claim to run past the end; moov is read to the end.
		name: "moov size 0xFFFFFFFF", data: patchAt(clip("h264_baseline_aac.mp4"), 32, 0xFF, 0xFF, 0xFF, 0xFF),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{4, 188},
		video: "640x480", same: "h264 baseline aac",
	},
	{
		name: "trak size 0xFFFFFFFF", data: patchBox(clip("h264_baseline_aac.mp4"), 0, -8, 0xFF, 0xFF, 0xFF, 0xFF),
		codecs: []string{"H264"}, units: []int{100}, keys: []int{4}, video: "640x480",
	},
	{
		name: "moov without tracks", data: bytesOf(append(slices.Clone(ftypBox), 0, 0, 0, 8, 'm', 'o', 'o', 'v')),
		openKind: fault.Unsupported, openMsg: "no supported track (no track)",
	},
	{
		// stsz promises 1000 video samples but holds 100.
		name: "stsz count too large", data: patchBox(clip("h264_baseline_aac.mp4"), 0, 8, 0, 0, 0x03, 0xE8, "stsz"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{4, 188},
		video: "640x480", same: "h264 baseline aac",
	},
	{
		name: "stsz count too small", data: patchBox(clip("h264_baseline_aac.mp4"), 0, 8, 0, 0, 0, 50, "stsz"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{50, 188}, keys: []int{2, 188},
	},
	{
		name: "stts count 0xFFFFFFFF", data: patchBox(clip("h264_baseline_aac.mp4"), 0, 8, 0xFF, 0xFF, 0xFF, 0xFF, "stts"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{4, 188},
		video: "640x480", same: "h264 baseline aac",
	},
	{
		name: "stco count 0xFFFFFFFF", data: patchBox(clip("h264_baseline_aac.mp4"), 1, 4, 0xFF, 0xFF, 0xFF, 0xFF, "stco"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{100, 188}, keys: []int{4, 188},
		video: "640x480", same: "h264 baseline aac",
	},
	{
		// A constant size of 4 GiB for 4G samples: one sample fits the
		// count cap, and it lies past the end.
		name: "stsz constant size 0xFFFFFFFF", data: patchBox(clip("h264_baseline_aac.mp4"), 0, 4,
			0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, "stsz"),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{0, 188}, keys: []int{0, 188},
		runMsg: "truncated: sample 1 of track 1 lies beyond the end of the file",
	},
	{
		// The last sample of each track is empty: it is not emitted.
		name: "zero-length samples", data: zeroLast(clip("h264_baseline_aac.mp4")),
		codecs: []string{"H264", "MPEG4Audio"}, units: []int{99, 187}, keys: []int{4, 187},
	},
	{
		name: "track without samples", data: patchBox(clip("h264_baseline_aac.mp4"), 0, 8, 0, 0, 0, 0, "stsz"),
		codecs: []string{"MPEG4Audio"}, units: []int{188}, keys: []int{188},
		skipped: []string{"track 1: avc1 (no samples)"},
	},
	{
		name: "avcC replaced", data: renameBox(clip("h264_baseline_aac.mp4"), "avcC", "xxxx"),
		codecs: []string{"MPEG4Audio"}, units: []int{188}, keys: []int{188},
		skipped: []string{"track 1: avc1 (no avcC box)"},
	},
	{
		name: "esds replaced", data: renameBox(clip("h264_baseline_aac.mp4"), "esds", "xxxx"),
		codecs: []string{"H264"}, units: []int{100}, keys: []int{4},
		skipped: []string{"track 2: mp4a (no esds box)"}, video: "640x480",
	},
}

// ftypBox is a minimal ftyp for hand-made inputs.
var ftypBox = []byte{0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0}

var (
	fileCache   = map[string][]byte{}
	fileCacheMu sync.Mutex
)

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	fileCacheMu.Lock()
	defer fileCacheMu.Unlock()
	if b, ok := fileCache[path]; ok {
		return slices.Clone(b)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	fileCache[path] = b
	return slices.Clone(b)
}

// clip reads a shared clip from testdata/media.
func clip(name string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return readFile(tb, filepath.Join(mediaDir, name)) }
}

// local reads a clip of this package's testdata.
func local(name string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return readFile(tb, filepath.Join("testdata", name)) }
}

func bytesOf(b []byte) func(testing.TB) []byte {
	return func(testing.TB) []byte { return slices.Clone(b) }
}

func randomBytes(n int) func(testing.TB) []byte {
	return func(testing.TB) []byte {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	}
}

// cut keeps the first fraction of a file.
func cut(src func(testing.TB) []byte, frac float64) func(testing.TB) []byte {
	return func(tb testing.TB) []byte {
		b := src(tb)
		return b[:int(float64(len(b))*frac)]
	}
}

// cutAt keeps the first n bytes of a file.
func cutAt(src func(testing.TB) []byte, n int) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return src(tb)[:n] }
}

// patchAt overwrites bytes at an offset.
func patchAt(src func(testing.TB) []byte, off int, v ...byte) func(testing.TB) []byte {
	return func(tb testing.TB) []byte {
		b := src(tb)
		copy(b[off:], v)
		return b
	}
}

// patchBox overwrites bytes of a box of the trak with index trak: the
// trak itself, or the first box of the given type inside it; off is
// relative to the box payload (negative: into its header).
func patchBox(src func(testing.TB) []byte, trak, off int, args ...any) func(testing.TB) []byte {
	var v []byte
	typ := ""
	for _, a := range args {
		switch a := a.(type) {
		case int:
			v = append(v, byte(a))
		case string:
			typ = a
		}
	}
	return func(tb testing.TB) []byte {
		b := src(tb)
		p := trakPayload(tb, b, trak)
		if typ != "" {
			p = findBox(tb, p, typ)
		}
		start := cap(b) - cap(p) // p aliases b
		copy(b[start+off:], v)
		return b
	}
}

func trakPayload(tb testing.TB, b []byte, n int) []byte {
	tb.Helper()
	moov, ok := child(b, "moov")
	if !ok {
		tb.Fatal("no moov")
	}
	i := 0
	for _, c := range children(moov) {
		if c.typ == gomp4.BoxTypeTrak() {
			if i == n {
				return c.payload
			}
			i++
		}
	}
	tb.Fatalf("no trak %d", n)
	return nil
}

// findBox finds the first box of a type anywhere below b (depth first,
// through the containers the demuxer reads).
func findBox(tb testing.TB, b []byte, typ string) []byte {
	tb.Helper()
	var walk func([]byte) []byte
	walk = func(b []byte) []byte {
		for _, c := range children(b) {
			if string(c.typ[:]) == typ {
				return c.payload
			}
			switch string(c.typ[:]) {
			case "mdia", "minf", "stbl", "edts":
				if p := walk(c.payload); p != nil {
					return p
				}
			}
		}
		return nil
	}
	p := walk(b)
	if p == nil {
		tb.Fatalf("no %s box", typ)
	}
	return p
}

// renameBox changes the type of the first box of a type (searched as
// bytes: the four characters followed the size).
func renameBox(src func(testing.TB) []byte, from, to string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte {
		b := src(tb)
		i := bytes.Index(b, []byte(from))
		if i < 4 {
			tb.Fatalf("no %s", from)
		}
		copy(b[i:], to)
		return b
	}
}

// zeroLast sets the size of the last sample of every track to 0.
func zeroLast(src func(testing.TB) []byte) func(testing.TB) []byte {
	return func(tb testing.TB) []byte {
		b := src(tb)
		for i := 0; i < 2; i++ {
			stsz := findBox(tb, trakPayload(tb, b, i), "stsz")
			n := binary.BigEndian.Uint32(stsz[8:])
			binary.BigEndian.PutUint32(stsz[12+4*(n-1):], 0)
		}
		return b
	}
}

// co64 rewrites every stco box as co64 with go-mp4, fixing the sizes of
// the boxes around it and, when moov comes first, the chunk offsets of
// the media data it pushes back.
func co64(src func(testing.TB) []byte) func(testing.TB) []byte {
	return func(tb testing.TB) []byte {
		in := src(tb)
		r := bytes.NewReader(in)

		// Growth of moov: 4 more bytes per chunk.
		var grow uint64
		var moovFirst, seenMdat bool
		if _, err := gomp4.ReadBoxStructure(r, func(h *gomp4.ReadHandle) (any, error) {
			switch h.BoxInfo.Type {
			case gomp4.BoxTypeMdat():
				seenMdat = true
			case gomp4.BoxTypeMoov():
				moovFirst = !seenMdat
				return h.Expand()
			case gomp4.BoxTypeTrak(), gomp4.BoxTypeMdia(), gomp4.BoxTypeMinf(), gomp4.BoxTypeStbl():
				return h.Expand()
			case gomp4.BoxTypeStco():
				box, _, err := h.ReadPayload()
				if err != nil {
					return nil, err
				}
				grow += 4 * uint64(len(box.(*gomp4.Stco).ChunkOffset))
			}
			return nil, nil
		}); err != nil {
			tb.Fatal(err)
		}
		if !moovFirst {
			grow = 0
		}

		f, err := os.CreateTemp(tb.TempDir(), "co64-*.mp4")
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		w := gomp4.NewWriter(f)
		if _, err := gomp4.ReadBoxStructure(r, func(h *gomp4.ReadHandle) (any, error) {
			switch h.BoxInfo.Type {
			case gomp4.BoxTypeMoov(), gomp4.BoxTypeTrak(), gomp4.BoxTypeMdia(), gomp4.BoxTypeMinf(), gomp4.BoxTypeStbl():
				if _, err := w.StartBox(&gomp4.BoxInfo{Type: h.BoxInfo.Type}); err != nil {
					return nil, err
				}
				if _, err := h.Expand(); err != nil {
					return nil, err
				}
				_, err := w.EndBox()
				return nil, err
			case gomp4.BoxTypeStco():
				box, _, err := h.ReadPayload()
				if err != nil {
					return nil, err
				}
				stco := box.(*gomp4.Stco)
				c := &gomp4.Co64{EntryCount: stco.EntryCount}
				for _, o := range stco.ChunkOffset {
					c.ChunkOffset = append(c.ChunkOffset, uint64(o)+grow)
				}
				if _, err := w.StartBox(&gomp4.BoxInfo{Type: gomp4.BoxTypeCo64()}); err != nil {
					return nil, err
				}
				if _, err := gomp4.Marshal(w, c, h.BoxInfo.Context); err != nil {
					return nil, err
				}
				_, err = w.EndBox()
				return nil, err
			}
			return nil, w.CopyBox(r, &h.BoxInfo)
		}); err != nil {
			tb.Fatal(err)
		}
		out, err := os.ReadFile(f.Name())
		if err != nil {
			tb.Fatal(err)
		}
		if bytes.Contains(out, []byte("stco")) || !bytes.Contains(out, []byte("co64")) {
			tb.Fatal("co64 rewrite failed")
		}
		return out
	}
}

// result is what one Open and Run gave.
type result struct {
	src     *Source
	openErr error
	runErr  error
	units   []*media.Unit
}

func demux(tb testing.TB, b []byte) result {
	tb.Helper()
	s := &Source{Path: "dir/test.mp4", Reader: bytes.NewReader(b)}
	defer s.Close()
	res := result{src: s}
	_, res.openErr = s.Open(context.Background())
	if res.openErr != nil {
		return res
	}
	res.runErr = s.Run(context.Background(), func(u *media.Unit) { res.units = append(res.units, u) })
	return res
}

func (r result) byMedia() [][]*media.Unit {
	var out [][]*media.Unit
	for range r.src.tracks {
		out = append(out, nil)
	}
	for _, u := range r.units {
		for i, t := range r.src.tracks {
			if t.media == u.Media {
				out[i] = append(out[i], u)
			}
		}
	}
	return out
}

// unitHash identifies a unit: track, timestamps, key flag and payload.
func unitHash(u *media.Unit) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %d %d %v", u.Media.Control, u.PTS, u.DTS, u.Key)
	for _, p := range u.Payload {
		fmt.Fprintf(h, " %d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func hashes(units []*media.Unit) []string {
	out := make([]string, len(units))
	for i, u := range units {
		out[i] = unitHash(u)
	}
	return out
}

func formatName(f format.Format) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", f), "*format.")
}

func TestSource(t *testing.T) {
	results := map[string]result{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := demux(t, c.data(t))
			results[c.name] = res

			if c.openMsg != "" {
				checkErr(t, "Open", res.openErr, c.openKind, c.openMsg)
				return
			}
			if res.openErr != nil {
				t.Fatalf("Open: %v", res.openErr)
			}
			if c.runMsg != "" {
				checkErr(t, "Run", res.runErr, fault.Runtime, c.runMsg)
			} else if res.runErr != nil {
				t.Fatalf("Run: %v", res.runErr)
			}

			var codecs []string
			for _, tr := range res.src.tracks {
				codecs = append(codecs, formatName(tr.format))
			}
			if !slices.Equal(codecs, c.codecs) {
				t.Errorf("codecs = %v, want %v", codecs, c.codecs)
			}
			if !slices.Equal(res.src.Skipped(), c.skipped) {
				t.Errorf("Skipped() = %q, want %q", res.src.Skipped(), c.skipped)
			}

			per := res.byMedia()
			var units, keys []int
			for _, us := range per {
				k := 0
				for _, u := range us {
					if u.Key {
						k++
					}
				}
				units, keys = append(units, len(us)), append(keys, k)
			}
			if c.units != nil && !slices.Equal(units, c.units) {
				t.Errorf("units = %v, want %v", units, c.units)
			}
			if c.keys != nil && !slices.Equal(keys, c.keys) {
				t.Errorf("keyframes = %v, want %v", keys, c.keys)
			}
			t.Logf("units %v, keys %v, duration %v, run error %v", units, keys, res.src.Duration(), res.runErr)

			checkTiming(t, res)
			if c.video != "" {
				checkVideo(t, res.src.tracks[0], per[0], c.video)
			}
			if c.duration != 0 {
				if d := res.src.Duration() - c.duration; d < -50*time.Millisecond || d > 50*time.Millisecond {
					t.Errorf("Duration() = %v, want %v", res.src.Duration(), c.duration)
				}
			}
			if c.same != "" {
				want, ok := results[c.same]
				if !ok {
					t.Fatalf("case %q has not run", c.same)
				}
				if !slices.Equal(hashes(res.units), hashes(want.units)) {
					t.Errorf("units differ from %q", c.same)
				}
			}
			if c.prefix != "" {
				checkPrefix(t, per, results[c.prefix].byMedia())
			}
		})
	}
}

func checkErr(t *testing.T, what string, err error, kind fault.Kind, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %q", what, msg)
	}
	if k, ok := fault.KindOf(err); !ok || k != kind {
		t.Errorf("%s: kind %v (classified %v), want %v: %v", what, k, ok, kind, err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: error %q does not contain %q", what, err, msg)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: error is not one line: %q", what, err)
	}
	if strings.Contains(err.Error(), "dir/") {
		t.Errorf("%s: error names the path, not the base name: %q", what, err)
	}
}

// checkTiming: PTS >= DTS, DTS non-decreasing per track, and the emit
// order non-decreasing in decode time across tracks.
func checkTiming(t *testing.T, res result) {
	t.Helper()
	prevDTS := map[string]int64{}
	var prevTime time.Duration = -time.Hour
	for i, u := range res.units {
		if u.PTS < u.DTS {
			t.Fatalf("unit %d (%s): PTS %d < DTS %d", i, u.Media.Control, u.PTS, u.DTS)
		}
		if p, ok := prevDTS[u.Media.Control]; ok && u.DTS < p {
			t.Fatalf("unit %d (%s): DTS %d after %d", i, u.Media.Control, u.DTS, p)
		}
		prevDTS[u.Media.Control] = u.DTS
		at := time.Duration(u.DTS) * time.Second / time.Duration(u.Format.ClockRate())
		if at < prevTime-time.Microsecond {
			t.Fatalf("unit %d (%s): DTS %v emitted after %v", i, u.Media.Control, at, prevTime)
		}
		prevTime = max(prevTime, at)
		if len(u.Payload) == 0 {
			t.Fatalf("unit %d: empty payload", i)
		}
		for _, p := range u.Payload {
			if len(p) == 0 {
				t.Fatalf("unit %d: empty NALU", i)
			}
		}
	}
}

// checkVideo: the SPS gives the size and the PTS, sorted, are 0, 3600, ...
func checkVideo(t *testing.T, tr *track, units []*media.Unit, size string) {
	t.Helper()
	var w, h int
	switch f := tr.format.(type) {
	case *format.H264:
		var sps h264.SPS
		if err := sps.Unmarshal(f.SPS); err != nil {
			t.Fatalf("SPS: %v", err)
		}
		w, h = sps.Width(), sps.Height()
		if len(f.PPS) == 0 {
			t.Error("no PPS")
		}
	case *format.H265:
		var sps h265.SPS
		if err := sps.Unmarshal(f.SPS); err != nil {
			t.Fatalf("SPS: %v", err)
		}
		w, h = sps.Width(), sps.Height()
		if len(f.VPS) == 0 || len(f.PPS) == 0 {
			t.Error("no VPS or PPS")
		}
	}
	if got := fmt.Sprintf("%dx%d", w, h); got != size {
		t.Errorf("SPS size %s, want %s", got, size)
	}
	var pts []int64
	for _, u := range units {
		pts = append(pts, u.PTS)
	}
	slices.Sort(pts)
	for i, p := range pts {
		if p != int64(i)*3600 {
			t.Fatalf("PTS in display order: #%d is %d, want %d (all: %v)", i, p, i*3600, pts)
		}
	}
	if !units[0].Key {
		t.Error("first video unit is not a keyframe")
	}
}

// checkPrefix: each track of a truncated file gives a prefix of the
// complete file's units, and not all of them.
func checkPrefix(t *testing.T, got, full [][]*media.Unit) {
	t.Helper()
	total := 0
	for i := range got {
		g, f := hashes(got[i]), hashes(full[i])
		if len(g) > len(f) || !slices.Equal(g, f[:len(g)]) {
			t.Errorf("track %d: units are not a prefix of the complete file's", i)
		}
		if len(g) == len(f) {
			t.Errorf("track %d: all %d units of the complete file", i, len(f))
		}
		total += len(g)
	}
	if total == 0 {
		t.Error("nothing emitted before the cut")
	}
}

func TestFirstUnitsInSync(t *testing.T) {
	// With the edit lists applied, the first displayed video frame and
	// the first audio frame after the priming both start at 0.
	for _, name := range []string{"h264_baseline_aac.mp4", "h264_high_bframes_aac.mp4", "h265_aac.mp4"} {
		res := demux(t, clip(name)(t))
		if res.openErr != nil || res.runErr != nil {
			t.Fatal(res.openErr, res.runErr)
		}
		per := res.byMedia()
		minV := slices.MinFunc(per[0], func(a, b *media.Unit) int { return int(a.PTS - b.PTS) })
		if minV.PTS != 0 || per[1][0].PTS != 0 {
			t.Errorf("%s: first video PTS %d, first audio PTS %d; want 0 and 0", name, minV.PTS, per[1][0].PTS)
		}
		for i, u := range per[1] {
			if u.PTS != int64(i)*1024 {
				t.Fatalf("%s: audio unit %d PTS %d, want %d", name, i, u.PTS, i*1024)
			}
		}
	}
}

func TestOpenPath(t *testing.T) {
	s := &Source{Path: filepath.Join(mediaDir, "h264_baseline_aac.mp4")}
	desc, err := s.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Medias) != 2 || desc.Medias[0].Control != "trackID=1" || desc.Medias[1].Control != "trackID=2" {
		t.Errorf("medias: %+v", desc.Medias)
	}
	if pt := desc.Medias[0].Formats[0].PayloadType(); pt != 96 {
		t.Errorf("video payload type %d", pt)
	}
	if pt := desc.Medias[1].Formats[0].PayloadType(); pt != 97 {
		t.Errorf("audio payload type %d", pt)
	}
	n := 0
	if err := s.Run(context.Background(), func(*media.Unit) { n++ }); err != nil || n != 288 {
		t.Errorf("Run: %d units, %v", n, err)
	}
	// Run again (loop): the same units.
	m := 0
	if err := s.Run(context.Background(), func(*media.Unit) { m++ }); err != nil || m != n {
		t.Errorf("second Run: %d units, %v", m, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}

	s = &Source{Path: filepath.Join(t.TempDir(), "missing.mp4")}
	_, err = s.Open(context.Background())
	checkErr(t, "Open", err, fault.NotFound, "missing.mp4: no such file")
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestPayloadTypes(t *testing.T) {
	for _, c := range []struct {
		file string
		pt   uint8
	}{
		{"ulaw.mov", 0},         // static PCMU
		{"alaw_stereo.mov", 96}, // static PCMA is mono only
		{"opus.mp4", 96},
	} {
		s := &Source{Path: filepath.Join("testdata", c.file)}
		desc, err := s.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if pt := desc.Medias[0].Formats[0].PayloadType(); pt != c.pt {
			t.Errorf("%s: payload type %d, want %d", c.file, pt, c.pt)
		}
		switch f := desc.Medias[0].Formats[0].(type) {
		case *format.G711:
			if f.SampleRate != 8000 || f.MULaw != (c.file == "ulaw.mov") ||
				f.ChannelCount != map[bool]int{true: 1, false: 2}[c.file == "ulaw.mov"] {
				t.Errorf("%s: %+v", c.file, f)
			}
		case *format.Opus:
			if f.ChannelCount != 1 {
				t.Errorf("%s: %+v", c.file, f)
			}
		}
		s.Close()
	}
}

func TestTracks(t *testing.T) {
	b := clip("h264_baseline_aac.mp4")(t)
	s := &Source{Reader: bytes.NewReader(b), Tracks: []int{2}}
	desc, err := s.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Medias) != 1 || desc.Medias[0].Control != "trackID=2" {
		t.Fatalf("medias: %+v", desc.Medias)
	}
	n := 0
	if err := s.Run(context.Background(), func(*media.Unit) { n++ }); err != nil || n != 188 {
		t.Errorf("Run: %d units, %v", n, err)
	}

	s = &Source{Reader: bytes.NewReader(b), Tracks: []int{3}}
	_, err = s.Open(context.Background())
	checkErr(t, "Open", err, fault.NotFound, "input: no track 3 (tracks: 1, 2)")
}

func TestRunStopsOnCancel(t *testing.T) {
	s := &Source{Reader: bytes.NewReader(clip("h264_baseline_aac.mp4")(t))}
	if _, err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := s.Run(ctx, func(*media.Unit) {
		n++
		if n == 10 {
			cancel()
		}
	})
	if err != nil || n != 10 {
		t.Errorf("Run after cancel: %d units, %v", n, err)
	}
}

func TestRunBeforeOpen(t *testing.T) {
	s := &Source{Path: "x.mp4"}
	err := s.Run(context.Background(), func(*media.Unit) {})
	checkErr(t, "Run", err, fault.Runtime, "x.mp4: Run before a successful Open")
}

func TestProbe(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want bool
	}{
		{ftypBox, true},
		{[]byte{0, 0, 0, 8, 'm', 'o', 'o', 'v'}, true},
		{[]byte{0, 0, 0, 8, 'w', 'i', 'd', 'e', 0, 0, 0, 8, 'm', 'd', 'a', 't'}, true},
		{[]byte{0, 0, 0, 8, 'f', 'r', 'e', 'e'}, true},
		{[]byte{0x47, 0x40, 0, 0x10, 0, 0, 0xb0, 0x0d}, false}, // MPEG-TS
		{[]byte("FLV\x01\x05\x00\x00\x00\x09"), false},
		{[]byte{0, 0, 0, 1, 0x67, 0x42}, false}, // Annex-B
		{nil, false},
	} {
		r := bytes.NewReader(c.in)
		if got := Probe(r); got != c.want {
			t.Errorf("Probe(%q) = %v, want %v", c.in, got, c.want)
		}
		if r.Len() != len(c.in) {
			t.Errorf("Probe(%q) moved the reader", c.in)
		}
	}
}

func TestRescale(t *testing.T) {
	for _, c := range []struct {
		v        int64
		from, to uint64
		want     int64
	}{
		{512, 12800, 90000, 3600},
		{-1024, 12800, 90000, -7200},
		{1, 3, 2, 1}, // 0.67 rounds up
		{-1, 3, 2, -1},
		{1 << 62, 1, 1 << 20, 1<<63/2 - 1}, // saturates
		{5, 0, 90000, 0},
	} {
		if got := rescale(c.v, c.from, c.to); got != c.want {
			t.Errorf("rescale(%d, %d, %d) = %d, want %d", c.v, c.from, c.to, got, c.want)
		}
	}
}

// maxSeed bounds fuzz seeds: the fuzzer minimizes every new interesting
// input for up to a minute, and big inputs make that the whole run.
const maxSeed = 8 << 10

// seed shrinks an input for the fuzzer: every top-level box is kept but
// mdat, which is cut (and its size fixed) so that the whole fits maxSeed.
// The moov stays whole wherever it is; samples past the cut then take the
// truncated-file path.
func seed(b []byte) []byte {
	if len(b) <= maxSeed {
		return b
	}
	top := children(b)
	other := 0
	for _, c := range top {
		if c.typ != gomp4.BoxTypeMdat() {
			other += 8 + len(c.payload)
		}
	}
	if other+8 > maxSeed {
		return b[:maxSeed]
	}
	var out []byte
	for _, c := range top {
		p := c.payload
		if c.typ == gomp4.BoxTypeMdat() {
			p = p[:min(len(p), maxSeed-other-8)]
		}
		out = binary.BigEndian.AppendUint32(out, uint32(8+len(p)))
		out = append(out, c.typ[:]...)
		out = append(out, p...)
	}
	return out
}

func FuzzSource(f *testing.F) {
	for _, c := range cases {
		f.Add(seed(c.data(f)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s := &Source{Reader: bytes.NewReader(b), Path: "fuzz.mp4"}
		desc, err := s.Open(ctx)
		if err != nil {
			if _, ok := fault.KindOf(err); !ok {
				t.Fatalf("unclassified Open error: %v", err)
			}
			return
		}
		if len(desc.Medias) == 0 {
			t.Fatal("Open succeeded without medias")
		}
		var total int
		err = s.Run(ctx, func(u *media.Unit) {
			if u.PTS < u.DTS {
				t.Fatalf("PTS %d < DTS %d", u.PTS, u.DTS)
			}
			for _, p := range u.Payload {
				if len(p) == 0 || len(p) > len(b) {
					t.Fatalf("payload of %d bytes from %d bytes of input", len(p), len(b))
				}
			}
			total++
		})
		if err != nil {
			if k, ok := fault.KindOf(err); !ok || k != fault.Runtime {
				t.Fatalf("Run error: %v", err)
			}
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Run took more than 10 s (%d units)", total)
		}
	})
}

func BenchmarkDemux(b *testing.B) {
	data := clip("h264_high_bframes_aac.mp4")(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s := &Source{Reader: bytes.NewReader(data)}
		if _, err := s.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := s.Run(context.Background(), func(*media.Unit) { n++ }); err != nil || n != 288 {
			b.Fatal(n, err)
		}
	}
}

// readSeeker hides ReadAt: the demuxer then seeks and reads.
type readSeeker struct{ r *bytes.Reader }

func (r readSeeker) Read(p []byte) (int, error)                { return r.r.Read(p) }
func (r readSeeker) Seek(off int64, whence int) (int64, error) { return r.r.Seek(off, whence) }

func TestReadSeekerOnly(t *testing.T) {
	b := clip("h264_high_bframes_aac_nofaststart.mp4")(t)
	want := demux(t, b)
	s := &Source{Reader: readSeeker{bytes.NewReader(b)}}
	if _, err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var units []*media.Unit
	if err := s.Run(context.Background(), func(u *media.Unit) { units = append(units, u) }); err != nil {
		t.Fatal(err)
	}
	if len(units) != 288 || !slices.Equal(hashes(units), hashes(want.units)) {
		t.Errorf("%d units, differing from the ReaderAt path", len(units))
	}
}

// TestAllocationBounded: no input of the table, lying headers included,
// makes the demuxer allocate more than a few times its size.
func TestAllocationBounded(t *testing.T) {
	for _, c := range cases {
		b := c.data(t)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		demux(t, b)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20+8*uint64(len(b)) {
			t.Errorf("%s: %d bytes allocated for %d bytes of input", c.name, n, len(b))
		}
	}
}

// countingReader counts the reads at offsets and the largest one.
type countingReader struct {
	*bytes.Reader
	reads, most int
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	r.most = max(r.most, len(p))
	return r.Reader.ReadAt(p, off)
}

// TestReadAhead: sample data is read in windows of at most readAhead
// bytes, one read per window rather than one per sample, and the units
// are those of reading sample by sample (readAhead 0), also when the
// windows are smaller than the file and than some samples.
func TestReadAhead(t *testing.T) {
	b := clip("h264_high_bframes_aac.mp4")(t)
	defer func(v int) { readAhead = v }(readAhead)
	var want []string
	for _, ra := range []int{0, 4 << 10, 32 << 10, 512 << 10} {
		readAhead = ra
		r := &countingReader{Reader: bytes.NewReader(b)}
		s := &Source{Reader: r}
		if _, err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.reads, r.most = 0, 0
		var units []*media.Unit
		if err := s.Run(context.Background(), func(u *media.Unit) { units = append(units, u) }); err != nil {
			t.Fatal(err)
		}
		if ra == 0 {
			want = hashes(units)
			if r.reads != len(units) {
				t.Fatalf("sample by sample: %d reads for %d units", r.reads, len(units))
			}
			continue
		}
		if !slices.Equal(hashes(units), want) {
			t.Fatalf("readAhead %d: units differ from reading sample by sample", ra)
		}
		var big int // samples larger than a window are read on their own
		for _, u := range units {
			if n := payloadSize(u); n > ra {
				big++
			}
		}
		limit := 2*(len(b)/ra+1) + big // two tracks, each at most once over the file
		t.Logf("readAhead %d: %d reads for %d units (%d larger than a window), largest %d", ra, r.reads, len(units), big, r.most)
		if r.reads > limit {
			t.Errorf("readAhead %d: %d reads for %d units, want at most %d", ra, r.reads, len(units), limit)
		}
		if big == 0 && r.most > ra {
			t.Errorf("readAhead %d: a read of %d bytes", ra, r.most)
		}
	}
}

func payloadSize(u *media.Unit) int {
	n := 0
	for _, p := range u.Payload {
		n += len(p) + 4
	}
	return n
}
