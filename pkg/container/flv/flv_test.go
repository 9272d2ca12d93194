package flv

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/input/inputtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// clipFile: H.264 baseline 640x480 25 fps (100 frames, GOP 25) and AAC-LC
// 48 kHz stereo (189 frames); video starts at 21 ms, audio at 0
// (testdata/media/README.md).
const clipFile = "../../../testdata/media/h264_aac.flv"

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawTag is a parsed tag of a test file.
type rawTag struct {
	off  int // offset of the tag header
	typ  byte
	ts   uint32
	body []byte
}

func parseTags(t testing.TB, b []byte) []rawTag {
	t.Helper()
	var out []rawTag
	pos := 13
	for pos+11 <= len(b) {
		size := int(b[pos+1])<<16 | int(b[pos+2])<<8 | int(b[pos+3])
		ts := uint32(b[pos+7])<<24 | uint32(b[pos+4])<<16 | uint32(b[pos+5])<<8 | uint32(b[pos+6])
		if pos+11+size+4 > len(b) {
			t.Fatalf("bad test file")
		}
		out = append(out, rawTag{off: pos, typ: b[pos] & 0x1F, ts: ts, body: b[pos+11 : pos+11+size]})
		pos += 11 + size + 4
	}
	return out
}

func putTag(out []byte, typ byte, ts uint32, body []byte) []byte {
	h := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body)),
		byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
	out = append(out, h...)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, uint32(11+len(body)))
}

func header(flags byte) []byte {
	return []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0}
}

// retime rewrites every tag timestamp with f.
func retime(t testing.TB, b []byte, f func(uint32) uint32) []byte {
	out := append([]byte(nil), b[:13]...)
	for _, tg := range parseTags(t, b) {
		out = putTag(out, tg.typ, f(tg.ts), tg.body)
	}
	return out
}

// recorder is a gortmplib.Conn that records what gortmplib.Writer
// publishes as an FLV file, the way an RTMP server records a stream. It
// builds enhanced-RTMP inputs that ffmpeg 5.1 cannot write.
type recorder struct {
	out    []byte
	chunks bytes.Buffer
	mw     *message.Writer
	rr     *rawmessage.Reader
}

func newRecorder(flags byte) *recorder {
	r := &recorder{out: header(flags)}
	r.mw = message.NewWriter(&r.chunks, bytecounter.NewWriter(&r.chunks), false)
	r.rr = rawmessage.NewReader(&r.chunks, bytecounter.NewReader(&r.chunks), nil)
	return r
}

func (r *recorder) BytesReceived() uint64          { return 0 }
func (r *recorder) BytesSent() uint64              { return 0 }
func (r *recorder) Read() (message.Message, error) { return nil, io.EOF }

func (r *recorder) Write(msg message.Message) error {
	if err := r.mw.Write(msg); err != nil {
		return err
	}
	raw, err := r.rr.Read()
	if err != nil {
		return err
	}
	r.out = putTag(r.out, raw.Type, uint32(raw.Timestamp/time.Millisecond), raw.Body)
	return nil
}

// enhancedFLV publishes the H.265 test clip of package annexb and two AAC
// tracks (the second one as an enhanced-RTMP multitrack) through
// gortmplib.Writer, starting at ts0.
func enhancedFLV(t testing.TB, ts0 time.Duration) []byte {
	ctx := context.Background()
	vsrc := &annexb.Source{Path: "../annexb/testdata/h265_320x240.h265"}
	vdesc, err := vsrc.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer vsrc.Close()
	var video []*media.Unit
	if err := vsrc.Run(ctx, func(u *media.Unit) { video = append(video, u) }); err != nil {
		t.Fatal(err)
	}
	asrc := &adts.Source{Path: "../adts/testdata/sine.aac"}
	adesc, err := asrc.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer asrc.Close()
	var audio []*media.Unit
	if err := asrc.Run(ctx, func(u *media.Unit) { audio = append(audio, u) }); err != nil {
		t.Fatal(err)
	}
	vf := vdesc.Medias[0].Formats[0].(*format.H265)
	af := adesc.Medias[0].Formats[0].(*format.MPEG4Audio)

	rec := newRecorder(flagVideo | flagAudio)
	vt := &gortmplib.Track{Codec: &codecs.H265{VPS: vf.VPS, SPS: vf.SPS, PPS: vf.PPS}}
	at := &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: af.Config}}
	at2 := &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: af.Config}}
	w := &gortmplib.Writer{Conn: rec, Tracks: []*gortmplib.Track{vt, at, at2}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	type item struct {
		at time.Duration
		fn func() error
	}
	var items []item
	for _, u := range video {
		d := ts0 + time.Duration(u.PTS)*time.Second/90000
		items = append(items, item{d, func() error { return w.WriteH265(vt, d, d, u.Payload) }})
	}
	for i, u := range audio[:47] { // 1 s, like the video
		d := ts0 + time.Duration(u.PTS)*time.Second/48000
		items = append(items, item{d, func() error { return w.WriteMPEG4Audio(at, d, u.Payload[0]) }})
		if i%2 == 0 {
			items = append(items, item{d, func() error { return w.WriteMPEG4Audio(at2, d, u.Payload[0]) }})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at < items[j].at })
	for _, it := range items {
		if err := it.fn(); err != nil {
			t.Fatal(err)
		}
	}
	return rec.out
}

// testCase is one input. The same table feeds TestSource and the seeds of
// FuzzFLV.
type testCase struct {
	name    string
	input   func(t testing.TB) []byte
	openErr string
	runErr  string
	kind    fault.Kind
	// counts of units per format type name ("H264", "MPEG4Audio", ...),
	// nil when not checked
	counts map[string]int
	// firstPTS of the first unit of each format, nil when not checked
	firstPTS map[string]int64
}

func cases() []testCase {
	clip := func(t testing.TB) []byte { return mustRead(t, clipFile) }
	clipCounts := map[string]int{"H264": 100, "MPEG4Audio": 189}
	clipFirst := map[string]int64{"H264": 21 * 90, "MPEG4Audio": 0}
	return []testCase{
		{name: "clip", input: clip, counts: clipCounts, firstPTS: clipFirst},
		{name: "clip head", input: func(t testing.TB) []byte { return clip(t)[:3000] }}, // a small fuzz seed
		{name: "empty", input: func(testing.TB) []byte { return nil }, openErr: "x.flv: empty file", kind: fault.Unsupported},
		{name: "garbage", input: func(testing.TB) []byte { return []byte("<html>not a video</html>") },
			openErr: "x.flv: not an FLV file", kind: fault.Unsupported},
		{name: "version 2", input: func(testing.TB) []byte { return []byte("FLV\x02\x05\x00\x00\x00\x09\x00\x00\x00\x00") },
			openErr: "x.flv: unsupported FLV version 2", kind: fault.Unsupported},
		{name: "short header", input: func(testing.TB) []byte { return []byte("FLV\x01\x05") },
			openErr: "x.flv: truncated FLV header", kind: fault.Unsupported},
		{name: "bad header size", input: func(testing.TB) []byte { return []byte("FLV\x01\x05\xff\xff\xff\xff\x00\x00\x00\x00") },
			openErr: "x.flv: not an FLV file (header size 4294967295)", kind: fault.Unsupported},
		{name: "header only", input: func(testing.TB) []byte { return header(5) },
			openErr: "x.flv: no audio or video tags", kind: fault.Unsupported},
		{name: "vp6", input: func(testing.TB) []byte {
			out := header(1)
			for i := range 10 {
				out = putTag(out, tagVideo, uint32(i*40), []byte{0x14, 0, 1, 2, 3, 4, 5})
			}
			return out
		}, openErr: "x.flv: no supported track (found VP6 video)", kind: fault.Unsupported},
		{name: "no sequence header", input: func(t testing.TB) []byte {
			out := header(1)
			for _, tg := range parseTags(t, clip(t)) {
				if tg.typ == tagVideo && tg.body[1] != 0 { // AVC NALUs only
					out = putTag(out, tg.typ, tg.ts, tg.body)
				}
			}
			return out
		}, openErr: "x.flv: no sequence header for H.264 video", kind: fault.Unsupported},
		{name: "video only", input: func(t testing.TB) []byte {
			out := header(1)
			for _, tg := range parseTags(t, clip(t)) {
				if tg.typ == tagVideo {
					out = putTag(out, tg.typ, tg.ts, tg.body)
				}
			}
			return out
		}, counts: map[string]int{"H264": 100}, firstPTS: map[string]int64{"H264": 0}},
		{name: "flags lie", input: func(t testing.TB) []byte {
			b := append([]byte(nil), clip(t)...)
			b[4] = 0
			return b
		}, counts: clipCounts, firstPTS: clipFirst},
		{name: "truncated", input: func(t testing.TB) []byte {
			b := clip(t)
			tags := parseTags(t, b)
			return b[:tags[150].off+20]
		}, counts: nil},
		{name: "lying size", input: func(t testing.TB) []byte {
			b := append([]byte(nil), clip(t)...)
			tg := parseTags(t, b)[100]
			b[tg.off+1], b[tg.off+2], b[tg.off+3] = 0xFF, 0xFF, 0xFF // 16 MB, past the end
			return b
		}, counts: nil},
		{name: "huge size", input: func(testing.TB) []byte {
			out := header(5)
			return append(out, tagVideo, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x17, 0, 0, 0)
		}, openErr: "x.flv: no audio or video tags", kind: fault.Unsupported},
		{name: "extended timestamps", input: func(t testing.TB) []byte {
			return retime(t, clip(t), func(ts uint32) uint32 { return ts + 1<<24 })
		}, counts: clipCounts, firstPTS: clipFirst},
		{name: "crossing 2^24 ms", input: func(t testing.TB) []byte {
			return retime(t, clip(t), func(ts uint32) uint32 { return ts + 1<<24 - 2000 })
		}, counts: clipCounts, firstPTS: clipFirst},
		{name: "enhanced h265 multitrack", input: func(t testing.TB) []byte { return enhancedFLV(t, 0) },
			counts: map[string]int{"H265": 25, "MPEG4Audio": 47 + 24}},
		{name: "enhanced extended timestamps", input: func(t testing.TB) []byte { return enhancedFLV(t, 5*time.Hour) },
			counts: map[string]int{"H265": 25, "MPEG4Audio": 47 + 24}},
	}
}

func TestSource(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			r := inputtest.Demux(t, &Source{Path: "dir/x.flv", Reader: bytes.NewReader(tc.input(t))})
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
// stable after emit, DTS <= PTS, DTS monotonic per track, and exact
// spacing (3600 for 25 fps video, one AAC frame for audio) when the input
// is clean.
func checkUnits(t *testing.T, r inputtest.Result) {
	t.Helper()
	medias := map[*description.Media]bool{}
	for _, m := range r.Desc.Medias {
		medias[m] = true
	}
	lastDTS := map[*description.Media]int64{}
	pts := map[*description.Media][]int64{}
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
		pts[u.Media] = append(pts[u.Media], u.PTS)
		if len(u.Payload) == 0 {
			t.Fatalf("unit %d: empty", i)
		}
		for _, n := range u.Payload {
			if len(n) == 0 {
				t.Fatalf("unit %d: empty NALU/AU", i)
			}
		}
		if media.IsVideo(u.Format) != (u.Media.Type == description.MediaTypeVideo) {
			t.Fatalf("unit %d: media type", i)
		}
	}
}

// spacing returns the set of PTS differences of a track, sorted.
func spacing(units []*media.Unit, m *description.Media) map[int64]int {
	var pts []int64
	for _, u := range units {
		if u.Media == m {
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
	src := &Source{Path: clipFile}
	r := inputtest.Demux(t, src)
	if r.OpenErr != nil || r.RunErr != nil {
		t.Fatal(r.OpenErr, r.RunErr)
	}
	if len(r.Desc.Medias) != 2 {
		t.Fatalf("%d medias", len(r.Desc.Medias))
	}
	vm, am := r.Desc.Medias[0], r.Desc.Medias[1]
	vf, ok := vm.Formats[0].(*format.H264)
	if !ok || vm.Type != description.MediaTypeVideo {
		t.Fatalf("video format %T", vm.Formats[0])
	}
	var sps h264.SPS
	if err := sps.Unmarshal(vf.SPS); err != nil || sps.Width() != 640 || sps.Height() != 480 || vf.PPS == nil {
		t.Fatalf("SPS %v %dx%d", err, sps.Width(), sps.Height())
	}
	af, ok := am.Formats[0].(*format.MPEG4Audio)
	if !ok || af.Config.SampleRate != 48000 || af.Config.ChannelConfig != 2 || af.ClockRate() != 48000 {
		t.Fatalf("audio format %T %+v", am.Formats[0], af)
	}
	if got := spacing(r.Units, vm); fmt.Sprint(got) != "map[3600:99]" {
		t.Fatalf("video spacing %v", got)
	}
	if got := spacing(r.Units, am); fmt.Sprint(got) != "map[1024:188]" {
		t.Fatalf("audio spacing %v", got)
	}
	keys, vlast, alast := 0, int64(0), int64(0)
	for i, u := range r.Units {
		switch u.Media {
		case vm:
			if u.Key {
				keys++
			}
			vlast = u.PTS
		case am:
			if !u.Key || len(u.Payload) != 1 {
				t.Fatalf("unit %d: audio key %v, %d AUs", i, u.Key, len(u.Payload))
			}
			alast = u.PTS
		}
	}
	if keys != 4 {
		t.Fatalf("%d keyframes", keys)
	}
	// duration: about 4 s on both tracks
	if d := float64(vlast+3600) / 90000; d < 3.98 || d > 4.05 {
		t.Fatalf("video duration %.3f", d)
	}
	if d := float64(alast+1024) / 48000; d < 3.98 || d > 4.05 {
		t.Fatalf("audio duration %.3f", d)
	}
	md := src.Metadata()
	if md["width"] != 640.0 || md["framerate"] != 25.0 {
		t.Fatalf("metadata %v", md)
	}
}

func TestEnhanced(t *testing.T) {
	r := inputtest.Demux(t, &Source{Reader: bytes.NewReader(enhancedFLV(t, 0))})
	if r.OpenErr != nil || r.RunErr != nil {
		t.Fatal(r.OpenErr, r.RunErr)
	}
	if len(r.Desc.Medias) != 3 {
		t.Fatalf("%d medias", len(r.Desc.Medias))
	}
	vf, ok := r.Desc.Medias[0].Formats[0].(*format.H265)
	if !ok {
		t.Fatalf("video %T", r.Desc.Medias[0].Formats[0])
	}
	var sps h265.SPS
	if err := sps.Unmarshal(vf.SPS); err != nil || sps.Width() != 320 || sps.Height() != 240 || vf.VPS == nil || vf.PPS == nil {
		t.Fatalf("SPS %v", err)
	}
	if got := spacing(r.Units, r.Desc.Medias[0]); fmt.Sprint(got) != "map[3600:24]" {
		t.Fatalf("video spacing %v", got)
	}
	if got := spacing(r.Units, r.Desc.Medias[1]); fmt.Sprint(got) != "map[1024:46]" {
		t.Fatalf("audio spacing %v", got)
	}
	// every other frame: real 2048-sample gaps are kept, at the
	// millisecond precision of FLV
	n := 0
	for d, c := range spacing(r.Units, r.Desc.Medias[2]) {
		if d < 2048-48 || d > 2048+48 {
			t.Fatalf("audio 2 spacing %d", d)
		}
		n += c
	}
	if n != 23 {
		t.Fatalf("audio 2: %d gaps", n)
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
	// 5 h in: the same units
	late := inputtest.Demux(t, &Source{Reader: bytes.NewReader(enhancedFLV(t, 5*time.Hour))})
	for i := range r.Units {
		if late.Units[i].PTS != r.Units[i].PTS || late.Hashes[i] != r.Hashes[i] {
			t.Fatalf("unit %d differs after 5 h", i)
		}
	}
}

func TestNotFound(t *testing.T) {
	r := inputtest.Demux(t, &Source{Path: "testdata/missing.flv"})
	inputtest.CheckErr(t, "Open", r.OpenErr, "missing.flv: no such file", fault.NotFound)
}

// TestHugeSize checks that a tag claiming 16 MB in a tiny file does not
// allocate for the claim.
func TestHugeSize(t *testing.T) {
	data := append(header(5), tagVideo, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x17, 0, 0, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		inputtest.Demux(t, &Source{Reader: bytes.NewReader(data)})
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Fatalf("allocated %d bytes for 10 tiny files", n)
	}
}

func TestPipe(t *testing.T) {
	want := inputtest.Demux(t, &Source{Path: clipFile})
	pr, pw := io.Pipe()
	go func() {
		b := mustRead(t, clipFile)
		for len(b) > 0 {
			n := min(len(b), 999)
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
		t.Fatalf("pipe %d units, file %d", len(got.Units), len(want.Units))
	}
	for i := range want.Units {
		a, b := want.Units[i], got.Units[i]
		if a.PTS != b.PTS || a.DTS != b.DTS || a.Key != b.Key || want.Hashes[i] != got.Hashes[i] ||
			inputtest.TypeName(a.Format) != inputtest.TypeName(b.Format) {
			t.Fatalf("unit %d differs", i)
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
	go func() { _, _ = pw.Write(mustRead(t, clipFile)[:40000]) }() // then stall
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
	b := mustRead(t, clipFile)
	full := inputtest.Demux(t, &Source{Path: clipFile})
	rng := rand.New(rand.NewSource(1))
	for range 60 {
		cut := rng.Intn(len(b))
		r := inputtest.Demux(t, &Source{Reader: bytes.NewReader(b[:cut])})
		if r.OpenErr != nil {
			if k, _ := fault.KindOf(r.OpenErr); k != fault.Unsupported || cut > 2000 {
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
		// only complete tags are delivered: a prefix of the full run, per
		// track (the timestamps may shift when a track is cut off)
		perTrack := func(res inputtest.Result) map[string][]string {
			m := map[string][]string{}
			for i, u := range res.Units {
				m[inputtest.TypeName(u.Format)] = append(m[inputtest.TypeName(u.Format)], res.Hashes[i])
			}
			return m
		}
		fm := perTrack(full)
		for k, hs := range perTrack(r) {
			for i := range hs {
				if hs[i] != fm[k][i] {
					t.Fatalf("cut %d: %s unit %d differs", cut, k, i)
				}
			}
		}
	}
}

func TestProbe(t *testing.T) {
	if !Probe(mustRead(t, clipFile)[:16]) {
		t.Fatal("clip not probed")
	}
	for _, head := range [][]byte{nil, []byte("FLV"), []byte("FLV\x02"), {0x47, 0, 0, 0}} {
		if Probe(head) {
			t.Fatalf("%q probed as FLV", head)
		}
	}
}

func FuzzFLV(f *testing.F) {
	for _, tc := range cases() {
		f.Add(tc.input(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := inputtest.Demux(t, &Source{Path: "fuzz.flv", Reader: bytes.NewReader(data)})
		for _, err := range []error{r.OpenErr, r.RunErr} {
			if err == nil {
				continue
			}
			if _, ok := fault.KindOf(err); !ok || !strings.HasPrefix(err.Error(), "fuzz.flv: ") || strings.Contains(err.Error(), "\n") {
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

func BenchmarkFLV(b *testing.B) {
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
