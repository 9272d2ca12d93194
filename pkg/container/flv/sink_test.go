package flv_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// TestSinkClips writes every test clip, as demuxed and as RTP-derived
// units. H.264 files are checked with ffprobe and ffmpeg: codecs,
// 640x480, 100 video frames, 48 kHz audio, 4 s, start times, DTS strictly
// increasing per stream, no decode error. H.265 uses enhanced FLV, which
// ffmpeg 5.1 cannot read: those files are read back with the project's
// FLV demuxer (built on gortmplib) instead. Every file's onMetaData is
// checked too.
func TestSinkClips(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	for _, c := range muxtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			out := filepath.Join(t.TempDir(), "out.flv")
			s := &flv.Sink{Path: out}
			muxtest.Feed(t, s, desc, units)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			video, audio, meta := readBack(t, out)
			if video != 100 || audio != 188 {
				t.Errorf("our demuxer read %d video and %d audio units, want 100 and 188", video, audio)
			}
			checkMeta(t, meta)
			if c.Video == "hevc" {
				t.Logf("%s: enhanced FLV, read back: %d video, %d audio units", c.Name, video, audio)
				return
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

func readBack(t *testing.T, path string) (video, audio int, meta map[string]any) {
	t.Helper()
	src := &flv.Source{Path: path}
	defer src.Close()
	if _, err := src.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := true
	err := src.Run(t.Context(), func(u *media.Unit) {
		if media.IsVideo(u.Format) {
			if first && !u.Key {
				t.Error("the first video unit is not a keyframe")
			}
			first = false
			video++
		} else {
			audio++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return video, audio, src.Metadata()
}

func checkMeta(t *testing.T, m map[string]any) {
	t.Helper()
	num := func(k string) float64 {
		v, _ := m[k].(float64)
		return v
	}
	if num("width") != 640 || num("height") != 480 || num("audiosamplerate") != 48000 || m["stereo"] != true {
		t.Errorf("onMetaData %v", m)
	}
	if f := num("framerate"); f != 0 && f != 25 {
		t.Errorf("framerate %v", f)
	}
	if d := num("duration"); math.Abs(d-4) > 0.15 {
		t.Errorf("duration %v", d)
	}
}

// TestSinkKilled writes half of the units and never calls Close, like a
// kill -9: within about a second the flusher has written them, and
// ffprobe reads the partial file with those frames.
func TestSinkKilled(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	for _, c := range []muxtest.Case{muxtest.Cases[0], muxtest.Cases[2]} {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			half := units[:len(units)/2]
			want := muxtest.VideoUnits(half)
			out := filepath.Join(t.TempDir(), "killed.flv")
			s := &flv.Sink{Path: out}
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

// TestSinkWriteError makes the output fail like a full disk.
func TestSinkWriteError(t *testing.T) {
	desc, units := muxtest.Cases[0].Units(t)
	for _, c := range []struct {
		name string
		sink *flv.Sink
		want string
	}{
		{"writer", &flv.Sink{W: &muxtest.FullWriter{Limit: 40 << 10}}, "write output: no space left on device"},
		{"file", &flv.Sink{Path: "/dev/full"}, "write /dev/full: no space left on device"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.sink.Path != "" {
				if _, err := os.Stat(c.sink.Path); err != nil {
					t.Skip("no /dev/full")
				}
			}
			s := c.sink
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
			if werr.Error() != c.want {
				t.Errorf("error %q, want %q", werr, c.want)
			}
			if k, _ := fault.KindOf(werr); k != fault.Runtime || !muxtest.IsNoSpace(werr) {
				t.Errorf("kind %v, ENOSPC %v", k, muxtest.IsNoSpace(werr))
			}
			if err := s.Write(units[len(units)-1]); err == nil {
				t.Error("Write after a failure succeeded")
			}
			s.Close()
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// TestSinkOpen checks what Open accepts, skips and rejects.
func TestSinkOpen(t *testing.T) {
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	h264b := &format.H264{PayloadTyp: 98, PacketizationMode: 1}
	vp8 := &format.VP8{PayloadTyp: 97}
	g711 := &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 16000, ChannelCount: 1}
	const supported = "(supported: H.264, H.265, AAC, MP3, Opus, AC-3, G.711 (8 kHz))"
	for _, c := range []struct {
		name    string
		formats []format.Format
		err     string
		skipped []string
	}{
		{"two videos", []format.Format{h264, vp8, h264b}, "", []string{"track 1: VP8", "track 2: H.264 (FLV holds one video track)"}},
		{"vp8 only", []format.Format{vp8}, "FLV cannot hold VP8 " + supported, nil},
		{"g711 at 16 kHz", []format.Format{g711}, "FLV cannot hold G.711 µ-law (FLV holds G.711 at 8 kHz only) " + supported, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			desc := &description.Session{}
			for _, f := range c.formats {
				desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}})
			}
			s := &flv.Sink{W: &muxtest.Discard{}}
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
		})
	}
}

// TestSinkLifecycle: Close without Open, twice, and Write after Close.
func TestSinkLifecycle(t *testing.T) {
	if err := (&flv.Sink{}).Close(); err != nil {
		t.Errorf("Close before Open: %v", err)
	}
	desc, units := muxtest.Cases[0].Units(t)
	s := &flv.Sink{W: &muxtest.Discard{}}
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
}
