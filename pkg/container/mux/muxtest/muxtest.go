// Package muxtest feeds the file sinks with units from the committed test
// clips and checks their output with ffprobe and ffmpeg. It is for tests
// only.
package muxtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/mp4"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

// MediaDir is testdata/media at the module root.
func MediaDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "testdata", "media")
}

// Clip is the path of a committed clip.
func Clip(name string) string { return filepath.Join(MediaDir(), name) }

type loaded struct {
	desc  *description.Session
	units []*media.Unit
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*loaded{}
)

// Load demuxes a committed clip (MP4 or TS) with the project's sources and
// returns its description and every unit in emission order. Results are
// cached: units are shared, and sinks must not modify them.
func Load(t testing.TB, name string) (*description.Session, []*media.Unit) {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if l := cache[name]; l != nil {
		return l.desc, l.units
	}
	desc, units := load(t, name)
	cache[name] = &loaded{desc, units}
	return desc, units
}

func load(t testing.TB, name string) (*description.Session, []*media.Unit) {
	t.Helper()
	var src engine.Source
	switch filepath.Ext(name) {
	case ".ts":
		src = &mpegts.Source{Path: Clip(name)}
	default:
		src = &mp4.Source{Path: Clip(name)}
	}
	defer src.Close()
	desc, err := src.Open(context.Background())
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	var mu sync.Mutex
	var units []*media.Unit
	err = src.Run(context.Background(), func(u *media.Unit) {
		mu.Lock()
		units = append(units, u)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	return desc, units
}

// RTPOffset is added to the timestamps of RTP-derived units (in seconds,
// the same for every track, as an RTSP source aligns them), so sinks must
// normalize them.
const RTPOffset = 12345

// AsRTP turns decoded units into what an RTSP source delivers: each unit
// is packetized with media.NewPacketizer and depacketized back with
// media.Depacketizer, as the RTSP source does; PTS is shifted by RTPOffset seconds (RTP timestamps do
// not start at 0) and DTS is unknown (NoDTS, DTS=PTS).
func AsRTP(t testing.TB, units []*media.Unit) []*media.Unit {
	t.Helper()
	pk := map[format.Format]*media.Packetizer{}
	dp := map[format.Format]*media.Depacketizer{}
	var out []*media.Unit
	for _, u := range units {
		p := pk[u.Format]
		if p == nil {
			var err error
			p, err = media.NewPacketizer(u.Format)
			if err != nil {
				t.Fatalf("packetizer: %v", err)
			}
			pk[u.Format] = p
		}
		pkts, err := p.Packetize(u)
		if err != nil {
			t.Fatalf("packetize: %v", err)
		}
		pts := u.PTS + RTPOffset*int64(u.Format.ClockRate())
		d := dp[u.Format]
		if d == nil {
			if d, err = media.NewDepacketizer(u.Format); err != nil || d == nil {
				t.Fatalf("depacketizer: %v", err)
			}
			dp[u.Format] = d
		}
		var au [][]byte
		for _, pk := range pkts {
			nalus, err := d.Decode(pk)
			if err != nil && !errors.Is(err, media.ErrNeedMore) {
				t.Fatalf("decode: %v", err)
			}
			au = append(au, nalus...)
		}
		if au == nil {
			t.Fatalf("decode: no access unit from %d packets", len(pkts))
		}
		out = append(out, &media.Unit{Media: u.Media, Format: u.Format, PTS: pts, DTS: pts, NoDTS: true,
			Packets: pkts, Payload: au, Key: media.IsRandomAccess(u.Format, au)})
	}
	return out
}

// Feed opens sink with desc and writes units, failing the test on error.
func Feed(t testing.TB, sink engine.Sink, desc *description.Session, units []*media.Unit) {
	t.Helper()
	if err := sink.Open(desc); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i, u := range units {
		if err := sink.Write(u); err != nil {
			t.Fatalf("Write unit %d: %v", i, err)
		}
	}
}

// Probe runs ffprobe -count_frames on a file.
func Probe(t testing.TB, path string) *testpeer.ProbeResult {
	t.Helper()
	return testpeer.FFprobeStreams(t, "-count_frames", path)
}

// Packet is one packet as ffprobe reports it (timestamps in the stream
// time base; NoPTS/NoDTS when ffprobe prints N/A).
type Packet struct {
	PTS, DTS     int64
	NoPTS, NoDTS bool
	Key          bool
}

// Stream is the packets of one stream.
type Stream struct {
	Type    string // "video" or "audio"
	Codec   string
	TB      string
	Packets []Packet
}

// Packets lists the packets of every stream of a file with ffprobe.
func Packets(t testing.TB, path string) []*Stream {
	t.Helper()
	testpeer.Require(t, testpeer.PeerFFprobe)
	out, err := exec.Command("ffprobe", "-v", "error",
		"-show_entries", "stream=index,codec_type,codec_name,time_base",
		"-show_entries", "packet=stream_index,pts,dts,flags",
		"-of", "csv=nk=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe -show_packets %s: %v", path, err)
	}
	var streams []*Stream
	get := func(i int) *Stream {
		for len(streams) <= i {
			streams = append(streams, &Stream{})
		}
		return streams[i]
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		kv := map[string]string{}
		fields := strings.Split(line, ",")
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		switch fields[0] {
		case "stream":
			i, _ := strconv.Atoi(kv["index"])
			s := get(i)
			s.Type, s.Codec, s.TB = kv["codec_type"], kv["codec_name"], kv["time_base"]
		case "packet":
			i, _ := strconv.Atoi(kv["stream_index"])
			p := Packet{Key: strings.HasPrefix(kv["flags"], "K")}
			var e1, e2 error
			p.PTS, e1 = strconv.ParseInt(kv["pts"], 10, 64)
			p.DTS, e2 = strconv.ParseInt(kv["dts"], 10, 64)
			p.NoPTS, p.NoDTS = e1 != nil, e2 != nil
			get(i).Packets = append(get(i).Packets, p)
		}
	}
	return streams
}

// CheckMonotonic fails the test unless every stream's DTS is known and
// strictly increasing.
func CheckMonotonic(t testing.TB, path string) {
	t.Helper()
	for i, s := range Packets(t, path) {
		for j, p := range s.Packets {
			if p.NoDTS {
				t.Errorf("%s: stream %d packet %d: no DTS", filepath.Base(path), i, j)
				return
			}
			if j > 0 && p.DTS <= s.Packets[j-1].DTS {
				t.Errorf("%s: stream %d packet %d: DTS %d after %d", filepath.Base(path), i, j, p.DTS, s.Packets[j-1].DTS)
				return
			}
		}
	}
}

// DecodeErrors returns what `ffmpeg -v error -i PATH -f null -` prints.
func DecodeErrors(t testing.TB, path string, inputArgs ...string) string {
	t.Helper()
	testpeer.Require(t, testpeer.PeerFFmpeg)
	args := append([]string{"-nostdin", "-v", "error"}, inputArgs...)
	args = append(args, "-i", path, "-f", "null", "-")
	var buf bytes.Buffer
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return buf.String() + err.Error()
	}
	return buf.String()
}

// Want is what a written clip must show.
type Want struct {
	Video      string  // codec_name, "" for none
	Audio      string  // codec_name, "" for none
	Frames     int     // video frames (±1)
	SampleRate int     // audio
	Duration   float64 // seconds (±0.15)
}

// Check probes path and checks it against w; it returns the probe result
// for logging.
func Check(t testing.TB, path string, w Want, inputArgs ...string) *testpeer.ProbeResult {
	t.Helper()
	args := append(append([]string{}, inputArgs...), "-count_frames", path)
	r := testpeer.FFprobeStreams(t, args...)
	if w.Video != "" {
		v := r.Video()
		switch {
		case v == nil:
			t.Errorf("%s: no video stream", filepath.Base(path))
		default:
			if v.CodecName != w.Video {
				t.Errorf("%s: video codec %q, want %q", filepath.Base(path), v.CodecName, w.Video)
			}
			if v.Width != 640 || v.Height != 480 {
				t.Errorf("%s: video %dx%d, want 640x480", filepath.Base(path), v.Width, v.Height)
			}
			if d := v.NbReadFrames - w.Frames; d < -1 || d > 1 {
				t.Errorf("%s: %d video frames, want %d±1", filepath.Base(path), v.NbReadFrames, w.Frames)
			}
		}
	}
	if w.Audio != "" {
		a := r.Audio()
		switch {
		case a == nil:
			t.Errorf("%s: no audio stream", filepath.Base(path))
		default:
			if a.CodecName != w.Audio {
				t.Errorf("%s: audio codec %q, want %q", filepath.Base(path), a.CodecName, w.Audio)
			}
			if a.SampleRate != w.SampleRate {
				t.Errorf("%s: audio at %d Hz, want %d", filepath.Base(path), a.SampleRate, w.SampleRate)
			}
			if a.NbReadFrames == 0 {
				t.Errorf("%s: no audio frame decoded", filepath.Base(path))
			}
		}
	}
	if w.Duration > 0 {
		if d := r.Format.Duration - w.Duration; d < -0.15 || d > 0.15 {
			t.Errorf("%s: duration %.3f s, want %.2f±0.15", filepath.Base(path), r.Format.Duration, w.Duration)
		}
	}
	return r
}

// Snapshot copies the file at path as it is now (what a kill -9 would
// leave behind) to a new file in dir.
func Snapshot(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap := path + ".killed" + filepath.Ext(path)
	if err := os.WriteFile(snap, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return snap
}

// FullWriter fails with ENOSPC once more than Limit bytes were written,
// like a full disk.
type FullWriter struct {
	Limit int
	N     int
}

// ErrNoSpace is what FullWriter fails with.
var ErrNoSpace error = syscall.ENOSPC

func (w *FullWriter) Write(p []byte) (int, error) {
	if w.N+len(p) > w.Limit {
		n := max(0, w.Limit-w.N)
		w.N += n
		return n, &os.PathError{Op: "write", Path: "out", Err: syscall.ENOSPC}
	}
	w.N += len(p)
	return len(p), nil
}

// IsNoSpace reports whether err says the disk is full.
func IsNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// Discard counts bytes written, for benchmarks.
type Discard struct{ N int64 }

func (d *Discard) Write(p []byte) (int, error) {
	d.N += int64(len(p))
	return len(p), nil
}

// Disk is a small filesystem for mux.CreateWith: real files, but writes
// fail with ENOSPC once all the files it created would pass Limit bytes
// (a write that crosses it is cut there, as on a real disk), and Truncate
// gives the space back. It is safe for concurrent use.
type Disk struct {
	Limit int64

	mu    sync.Mutex
	used  int64
	files []*diskFile
}

// Create is a mux.CreateFunc.
func (d *Disk) Create(path string) (mux.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	df := &diskFile{f: f, d: d}
	d.mu.Lock()
	d.files = append(d.files, df)
	d.mu.Unlock()
	return df, nil
}

// Used is the bytes the files take now.
func (d *Disk) Used() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used
}

type diskFile struct {
	f    *os.File
	d    *Disk
	size int64
	pos  int64
}

func (f *diskFile) Write(p []byte) (int, error) {
	n, err := f.WriteAt(p, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *diskFile) WriteAt(p []byte, off int64) (int, error) {
	f.d.mu.Lock()
	grow := max(0, off+int64(len(p))-f.size)
	var err error
	if f.d.used+grow > f.d.Limit {
		room := max(0, f.d.Limit-f.d.used+(f.size-off))
		p = p[:min(int64(len(p)), room)]
		err = &os.PathError{Op: "write", Path: f.f.Name(), Err: syscall.ENOSPC}
	}
	n, werr := f.f.WriteAt(p, off)
	if end := off + int64(n); end > f.size {
		f.d.used += end - f.size
		f.size = end
	}
	f.d.mu.Unlock()
	if werr != nil {
		return n, werr
	}
	return n, err
}

func (f *diskFile) Truncate(size int64) error {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	f.d.used -= f.size - size
	f.size = size
	return nil
}

func (f *diskFile) Close() error { return f.f.Close() }
