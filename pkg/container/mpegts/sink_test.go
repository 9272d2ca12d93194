package mpegts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// TestSinkClips writes every test clip, as demuxed and as RTP-derived
// units, and checks the file with ffprobe and ffmpeg: codecs, 640x480,
// 100 video frames, 48 kHz audio, 4 s, a start at 0 (0.08 s with B-frames
// whose DTS starts 2 frames before the PTS), DTS strictly increasing per
// stream, and no decode error.
func TestSinkClips(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	for _, c := range muxtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			out := filepath.Join(t.TempDir(), "out.ts")
			s := &mpegts.Sink{Path: out}
			muxtest.Feed(t, s, desc, units)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			r := muxtest.Check(t, out, muxtest.Want{Video: c.Video, Audio: "aac", Frames: 100, SampleRate: 48000, Duration: 4})
			v, a := muxtest.StartTimes(t, out)
			if v < 0 || v > 0.081 || a < 0 || a > 0.081 {
				t.Errorf("start times: video %.3f s, audio %.3f s; want 0 (0.08 at most)", v, a)
			}
			muxtest.CheckMonotonic(t, out)
			if e := muxtest.DecodeErrors(t, out); e != "" {
				t.Errorf("ffmpeg -v error: %s", e)
			}
			t.Logf("%s: %d video frames, %d audio frames, %.3f s, start video %.3f audio %.3f",
				c.Name, r.Video().NbReadFrames, r.Audio().NbReadFrames, r.Format.Duration, v, a)
		})
	}
}

// TestSinkOtherAudio writes Opus, MP2 and AC-3 (with H.265) from the
// demuxer's multi-codec test file; ffprobe must find them all.
func TestSinkOtherAudio(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	src := &mpegts.Source{Path: "testdata/multi.ts"}
	desc, units := run(t, src)
	out := filepath.Join(t.TempDir(), "multi.ts")
	s := &mpegts.Sink{Path: out}
	muxtest.Feed(t, s, desc, units)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(s.Skipped()) != 0 {
		t.Errorf("skipped %v", s.Skipped())
	}
	r := muxtest.Probe(t, out)
	var got []string
	for _, st := range r.Streams {
		got = append(got, st.CodecName)
	}
	if strings.Join(got, ",") != "hevc,mp2,ac3,opus" {
		t.Errorf("codecs %v, want hevc, mp2, ac3, opus", got)
	}
	if e := muxtest.DecodeErrors(t, out); e != "" {
		t.Errorf("ffmpeg -v error: %s", e)
	}
	muxtest.CheckMonotonic(t, out)
}

// TestSinkPipe writes to a non-seekable writer (a pipe), as on stdout.
func TestSinkPipe(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	desc, units := muxtest.Cases[1].Units(t)
	out := filepath.Join(t.TempDir(), "pipe.ts")
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
		_, err := f.ReadFrom(pr)
		done <- err
	}()
	s := &mpegts.Sink{W: pw}
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

// TestSinkKilled writes half of the units and never calls Close, like a
// kill -9: within about a second the flusher has written what was muxed,
// and ffprobe reads the partial file with those frames.
func TestSinkKilled(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	for _, c := range []muxtest.Case{muxtest.Cases[0], muxtest.Cases[2]} {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			half := units[:len(units)/2]
			want := muxtest.VideoUnits(half)
			out := filepath.Join(t.TempDir(), "killed.ts")
			s := &mpegts.Sink{Path: out}
			defer s.Close()
			muxtest.Feed(t, s, desc, half)
			snap, r := muxtest.WaitFrames(t, out, "video", want-1, 5*time.Second)
			if n := r.Video().NbReadFrames; n > want {
				t.Errorf("%d frames from %d written", n, want)
			}
			if r.Audio() == nil || r.Audio().NbReadFrames == 0 {
				t.Errorf("no audio in the partial file")
			}
			t.Logf("%s: %d of %d video frames, %d audio frames, %.3f s in %s",
				c.Name, r.Video().NbReadFrames, want, r.Audio().NbReadFrames, r.Format.Duration, filepath.Base(snap))
		})
	}
}

// TestSinkWriteError makes the output fail like a full disk: Write
// reports a runtime fault naming the output and the cause, later writes
// fail the same way, and Close does not panic.
func TestSinkWriteError(t *testing.T) {
	desc, units := muxtest.Cases[0].Units(t)
	w := &muxtest.FullWriter{Limit: 40 << 10}
	s := &mpegts.Sink{W: w}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, u := range units {
		if werr = s.Write(u); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Fatal("no error from Write with a full disk")
	}
	checkWriteError(t, werr, "write output: no space left on device")
	if err := s.Write(units[len(units)-1]); err == nil {
		t.Error("Write after a failure succeeded")
	}
	if err := s.Close(); err == nil {
		t.Error("Close after a write failure returned nil")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// the same with a file on a full device
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	s = &mpegts.Sink{Path: "/dev/full"}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if werr = s.Write(u); werr != nil {
			break
		}
	}
	if werr == nil {
		werr = s.Close()
	} else {
		s.Close()
	}
	checkWriteError(t, werr, "write /dev/full: no space left on device")
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
	vp8 := &format.VP8{PayloadTyp: 97}
	g722 := &format.G722{}
	for _, c := range []struct {
		name    string
		formats []format.Format
		err     string
		skipped []string
	}{
		{"h264 and vp8", []format.Format{h264, vp8}, "", []string{"track 1: VP8"}},
		{"vp8 only", []format.Format{vp8}, "MPEG-TS cannot hold VP8 (supported: H.264, H.265, AAC, Opus, MP3, AC-3)", nil},
		{"vp8 and g722", []format.Format{vp8, g722}, "MPEG-TS cannot hold VP8, G.722 (supported: H.264, H.265, AAC, Opus, MP3, AC-3)", nil},
		{"aac without config", []format.Format{&format.MPEG4Audio{PayloadTyp: 96}}, "MPEG-TS cannot hold AAC (no config) (supported: H.264, H.265, AAC, Opus, MP3, AC-3)", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			desc := &description.Session{}
			for _, f := range c.formats {
				desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}})
			}
			s := &mpegts.Sink{W: &muxtest.Discard{}}
			err := s.Open(desc)
			defer s.Close()
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("Open: %v, want %q", err, c.err)
				}
				if k, _ := fault.KindOf(err); k != fault.Unsupported {
					t.Errorf("kind %v, want unsupported", k)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.Skipped(), "|") != strings.Join(c.skipped, "|") {
				t.Errorf("skipped %q, want %q", s.Skipped(), c.skipped)
			}
			// units of a skipped track are ignored
			if err := s.Write(&media.Unit{Format: vp8, Payload: [][]byte{{1}}}); err != nil {
				t.Errorf("Write of a skipped track: %v", err)
			}
		})
	}
}

// TestSinkLifecycle: Close without Open, twice, and Write after Close.
func TestSinkLifecycle(t *testing.T) {
	s := &mpegts.Sink{}
	if err := s.Close(); err != nil {
		t.Errorf("Close before Open: %v", err)
	}
	desc, units := muxtest.Cases[0].Units(t)
	s = &mpegts.Sink{Path: filepath.Join(t.TempDir(), "no", "such", "dir.ts")}
	err := s.Open(desc)
	if err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("Open in a missing directory: %v", err)
	}
	s.Close()
	s = &mpegts.Sink{W: &muxtest.Discard{}}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(units[0]); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func run(t *testing.T, src *mpegts.Source) (*description.Session, []*media.Unit) {
	t.Helper()
	defer src.Close()
	desc, err := src.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var units []*media.Unit
	if err := src.Run(t.Context(), func(u *media.Unit) { units = append(units, u) }); err != nil && !errors.Is(err, os.ErrClosed) {
		t.Fatal(err)
	}
	return desc, units
}

// BenchmarkSink muxes the H.264+AAC clip to a discarding writer.
func BenchmarkTSSink(b *testing.B) {
	desc, units := muxtest.Cases[1].Units(b)
	var size int64
	for _, u := range units {
		size += int64(u.Size())
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		s := &mpegts.Sink{W: &muxtest.Discard{}}
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
