package mp4w_test

import (
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/mp4"
	"github.com/avcat/avcat/pkg/container/mp4w"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

type sinkKind struct {
	name string
	ext  string
	new  func(path string) engine.Sink
	// maxStart is the latest start_time accepted: MP4 edit lists make
	// it 0; fMP4 has none, so B-frame clips start at their decode delay.
	maxStart float64
}

var kinds = []sinkKind{
	{"mp4", ".mp4", func(p string) engine.Sink { return &mp4w.MP4Sink{Path: p} }, 0.001},
	{"fmp4", ".mp4", func(p string) engine.Sink { return &mp4w.FMP4Sink{Path: p} }, 0.081},
}

// TestSinkClips writes every test clip, as demuxed and as RTP-derived
// units, to MP4 and fMP4, and checks the files with ffprobe and ffmpeg:
// codecs (hvc1 for H.265), 640x480, 100 video frames, 48 kHz audio, 4 s,
// start times, DTS strictly increasing per stream, no decode error. The
// MP4 files are read back by the project's demuxer too.
func TestSinkClips(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	for _, k := range kinds {
		for _, c := range muxtest.Cases {
			t.Run(k.name+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				desc, units := c.Units(t)
				out := filepath.Join(t.TempDir(), "out"+k.ext)
				s := k.new(out)
				muxtest.Feed(t, s, desc, units)
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				r := muxtest.Check(t, out, muxtest.Want{Video: c.Video, Audio: "aac", Frames: 100, SampleRate: 48000, Duration: 4})
				v, a := muxtest.StartTimes(t, out)
				if v < 0 || v > k.maxStart || a < 0 || a > k.maxStart {
					t.Errorf("start times: video %.3f s, audio %.3f s; want at most %.3f", v, a, k.maxStart)
				}
				muxtest.CheckMonotonic(t, out)
				if e := muxtest.DecodeErrors(t, out); e != "" {
					t.Errorf("ffmpeg -v error: %s", e)
				}
				if tag := videoTag(t, out); c.Video == "hevc" && tag != "hvc1" || c.Video == "h264" && tag != "avc1" {
					t.Errorf("video sample entry %q", tag)
				}
				if k.name == "mp4" {
					checkLayout(t, out)
					n := readBack(t, out)
					if n != 100+188 {
						t.Errorf("our demuxer read %d units, want 288", n)
					}
				}
				t.Logf("%s: %d video frames, %d audio frames, %.3f s, start video %.3f audio %.3f",
					c.Name, r.Video().NbReadFrames, r.Audio().NbReadFrames, r.Format.Duration, v, a)
			})
		}
	}
}

func videoTag(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=codec_tag_string", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// checkLayout checks ftyp, then an mdat with a 64-bit size that reaches
// the moov, then the moov ending the file.
func checkLayout(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ftyp := int(binary.BigEndian.Uint32(b))
	if string(b[4:8]) != "ftyp" || string(b[ftyp+4:ftyp+8]) != "mdat" || binary.BigEndian.Uint32(b[ftyp:]) != 1 {
		t.Fatalf("layout: %q then %q", b[4:8], b[ftyp+4:ftyp+8])
	}
	mdat := int(binary.BigEndian.Uint64(b[ftyp+8:]))
	moov := ftyp + mdat
	if string(b[moov+4:moov+8]) != "moov" || moov+int(binary.BigEndian.Uint32(b[moov:])) != len(b) {
		t.Fatalf("no moov right after the mdat (%d bytes) at the end", mdat)
	}
}

// readBack demuxes the file with the project's MP4 source.
func readBack(t *testing.T, path string) int {
	t.Helper()
	src := &mp4.Source{Path: path}
	defer src.Close()
	if _, err := src.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := src.Run(t.Context(), func(*media.Unit) { n++ }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSinkOpus writes H.265 and Opus (and skips MP2 and AC-3) from the
// MPEG-TS demuxer's multi-codec test file.
func TestSinkOpus(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	src := &mpegts.Source{Path: "../mpegts/testdata/multi.ts"}
	defer src.Close()
	desc, err := src.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var units []*media.Unit
	if err := src.Run(t.Context(), func(u *media.Unit) { units = append(units, u) }); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "opus.mp4")
			s := k.new(out)
			muxtest.Feed(t, s, desc, units)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := s.(interface{ Skipped() []string }).Skipped(); strings.Join(got, ", ") != "track 1: MP3, track 2: AC-3" {
				t.Errorf("skipped %q", got)
			}
			r := muxtest.Probe(t, out)
			if len(r.Streams) != 2 || r.Streams[0].CodecName != "hevc" || r.Streams[1].CodecName != "opus" ||
				r.Streams[0].NbReadFrames != 25 || r.Streams[1].NbReadFrames != 50 || r.Streams[1].SampleRate != 48000 {
				t.Errorf("streams %+v", r.Streams)
			}
			if e := muxtest.DecodeErrors(t, out); e != "" {
				t.Errorf("ffmpeg -v error: %s", e)
			}
		})
	}
}

// TestFMP4Pipe writes fMP4 to a pipe: nothing seeks.
func TestFMP4Pipe(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	desc, units := muxtest.Cases[2].Units(t)
	out := filepath.Join(t.TempDir(), "pipe.mp4")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := io.Copy(f, pr)
		done <- err
	}()
	s := &mp4w.FMP4Sink{W: pw}
	muxtest.Feed(t, s, desc, units)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.Close()
	muxtest.Check(t, out, muxtest.Want{Video: "h264", Audio: "aac", Frames: 100, SampleRate: 48000, Duration: 4})
}

// TestFMP4Killed writes half of the units and never calls Close, like a
// kill -9: within about a second the flusher has cut a fragment of what
// was written, and ffprobe reads the partial file with those frames (the
// last frame of each track, whose duration is unknown, waits).
func TestFMP4Killed(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	for _, c := range []muxtest.Case{muxtest.Cases[0], muxtest.Cases[4]} {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			half := units[:len(units)/2]
			want := muxtest.VideoUnits(half)
			out := filepath.Join(t.TempDir(), "killed.mp4")
			s := &mp4w.FMP4Sink{Path: out}
			defer s.Close()
			muxtest.Feed(t, s, desc, half)
			_, r := muxtest.WaitFrames(t, out, "video", want-1, 5*time.Second)
			if n := r.Video().NbReadFrames; n > want {
				t.Errorf("%d frames from %d written", n, want)
			}
			if r.Audio() == nil || r.Audio().NbReadFrames == 0 {
				t.Errorf("no audio in the partial file")
			}
			t.Logf("%s: %d of %d video frames, %d audio frames, %.3f s",
				c.Name, r.Video().NbReadFrames, want, r.Audio().NbReadFrames, r.Format.Duration)
		})
	}
}

// TestMP4ClosedEarly: a recording stopped halfway (Ctrl-C, --duration)
// is a complete MP4 with the frames written.
func TestMP4ClosedEarly(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	for _, c := range []muxtest.Case{muxtest.Cases[1], muxtest.Cases[4]} {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			half := units[:len(units)/2]
			want := muxtest.VideoUnits(half)
			out := filepath.Join(t.TempDir(), "half.mp4")
			s := &mp4w.MP4Sink{Path: out}
			muxtest.Feed(t, s, desc, half)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			r := muxtest.Check(t, out, muxtest.Want{Video: c.Video, Audio: "aac", Frames: want, SampleRate: 48000})
			// audio units run ahead of video in decode order: up to ~0.2 s more
			if d, v := r.Format.Duration, float64(want)/25; d < v-0.05 || d > v+0.3 {
				t.Errorf("duration %.3f s for %d frames", d, want)
			}
			if e := muxtest.DecodeErrors(t, out); e != "" {
				t.Errorf("ffmpeg -v error: %s", e)
			}
			t.Logf("%s: %d of %d video frames, %.3f s", c.Name, r.Video().NbReadFrames, want, r.Format.Duration)
		})
	}
}

// TestSinkWriteError makes the output fail like a full disk: the error is
// a runtime fault "write OUT: no space left on device", and Close does not
// panic.
func TestSinkWriteError(t *testing.T) {
	desc, units := muxtest.Cases[0].Units(t)
	t.Run("fmp4", func(t *testing.T) {
		s := &mp4w.FMP4Sink{W: &muxtest.FullWriter{Limit: 40 << 10}}
		err := feedUntilError(t, s, desc, units)
		checkWriteError(t, err, "write output: no space left on device")
		if err := s.Write(units[len(units)-1]); err == nil {
			t.Error("Write after a failure succeeded")
		}
		s.Close()
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("mp4", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		s := &mp4w.MP4Sink{Path: "/dev/full"}
		err := feedUntilError(t, s, desc, units)
		checkWriteError(t, err, "write /dev/full: no space left on device")
		s.Close()
		// only regular files are cut back or removed after an error
		if st, err := os.Stat("/dev/full"); err != nil || st.Mode().IsRegular() {
			t.Fatalf("/dev/full was removed or replaced: %v", err)
		}
	})
}

// feedUntilError writes units until Write fails, then closes; it returns
// the first error (from Write, else from Close).
func feedUntilError(t *testing.T, s engine.Sink, desc *description.Session, units []*media.Unit) error {
	t.Helper()
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if err := s.Write(u); err != nil {
			return err
		}
	}
	return s.Close()
}

func checkWriteError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if k, ok := fault.KindOf(err); !ok || k != fault.Runtime {
		t.Errorf("kind %v, want runtime", k)
	}
	if !muxtest.IsNoSpace(err) {
		t.Errorf("errors.Is(err, ENOSPC) is false for %v", err)
	}
}

// TestSinkOpen checks what Open accepts, skips and rejects.
func TestSinkOpen(t *testing.T) {
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	g711 := &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}
	mpa := &format.MPEG1Audio{}
	for _, k := range kinds {
		for _, c := range []struct {
			name    string
			formats []format.Format
			err     string
			skipped []string
		}{
			{"h264 and g711", []format.Format{h264, g711}, "", []string{"track 1: G.711 A-law"}},
			{"g711 only", []format.Format{g711}, "cannot hold G.711 A-law (supported: H.264, H.265, AAC, Opus)", nil},
			{"g711 and mp3", []format.Format{g711, mpa}, "cannot hold G.711 A-law, MP3 (supported: H.264, H.265, AAC, Opus)", nil},
		} {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				desc := &description.Session{}
				for _, f := range c.formats {
					desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{f}})
				}
				s := k.new(filepath.Join(t.TempDir(), "x.mp4"))
				err := s.Open(desc)
				defer s.Close()
				if c.err != "" {
					prefix := map[string]string{"mp4": "MP4 ", "fmp4": "fMP4 "}[k.name]
					if err == nil || err.Error() != prefix+c.err {
						t.Fatalf("Open: %v, want %q", err, prefix+c.err)
					}
					if kind, _ := fault.KindOf(err); kind != fault.Unsupported {
						t.Errorf("kind %v, want unsupported", kind)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := s.(interface{ Skipped() []string }).Skipped(); strings.Join(got, "|") != strings.Join(c.skipped, "|") {
					t.Errorf("skipped %q, want %q", got, c.skipped)
				}
			})
		}
	}
	s := &mp4w.MP4Sink{}
	if err := s.Open(&description.Session{Medias: []*description.Media{{Formats: []format.Format{h264}}}}); err == nil {
		t.Error("MP4 without a path opened")
	}
}

// TestSinkLifecycle: Close without Open, twice, and Write after Close.
func TestSinkLifecycle(t *testing.T) {
	desc, units := muxtest.Cases[0].Units(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			if err := k.new("").Close(); err != nil {
				t.Errorf("Close before Open: %v", err)
			}
			s := k.new(filepath.Join(t.TempDir(), "x.mp4"))
			if err := s.Open(desc); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := s.Write(units[0]); err == nil {
				t.Error("Write after Close succeeded")
			}
		})
	}
}

// BenchmarkFMP4Sink muxes the H.264 (B-frames) + AAC clip to a
// discarding writer.
func BenchmarkFMP4Sink(b *testing.B) {
	desc, units := muxtest.Cases[1].Units(b)
	var size int64
	for _, u := range units {
		size += int64(u.Size())
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		s := &mp4w.FMP4Sink{W: &muxtest.Discard{}}
		if err := s.Open(desc); err != nil {
			b.Fatal(err)
		}
		for _, u := range units {
			if err := s.Write(u); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
