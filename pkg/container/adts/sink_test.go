package adts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// TestSinkClips writes the audio of every test clip, as demuxed and as
// RTP-derived units, and checks it with ffprobe and ffmpeg (AAC, 48 kHz,
// every frame, about 4 s, no decode error) and with the project's ADTS
// demuxer.
func TestSinkClips(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	for _, c := range muxtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			var want int
			for _, u := range units {
				if !media.IsVideo(u.Format) {
					want += len(u.Payload)
				}
			}
			out := filepath.Join(t.TempDir(), "out.aac")
			s := &adts.Sink{Path: out}
			muxtest.Feed(t, s, desc, units)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if len(s.Skipped()) != 1 || !strings.Contains(s.Skipped()[0], "H.26") {
				t.Errorf("skipped %q, want the video track", s.Skipped())
			}
			r := muxtest.Check(t, out, muxtest.Want{Audio: "aac", SampleRate: 48000, Duration: 4})
			if n := r.Audio().NbReadFrames; n != want {
				t.Errorf("%d frames, want %d", n, want)
			}
			if r.Audio().Channels != 2 {
				t.Errorf("%d channels", r.Audio().Channels)
			}
			if e := muxtest.DecodeErrors(t, out); e != "" {
				t.Errorf("ffmpeg -v error: %s", e)
			}
			if n := readBack(t, out); n != want {
				t.Errorf("our demuxer read %d frames, want %d", n, want)
			}
			t.Logf("%s: %d frames, %.3f s", c.Name, r.Audio().NbReadFrames, r.Format.Duration)
		})
	}
}

func readBack(t *testing.T, path string) int {
	t.Helper()
	src := &adts.Source{Path: path}
	defer src.Close()
	if _, err := src.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := src.Run(t.Context(), func(u *media.Unit) { n += len(u.Payload) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSinkKilled writes half of the units and never calls Close, like a
// kill -9: within about a second the flusher has written them.
func TestSinkKilled(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	desc, units := muxtest.Cases[0].Units(t)
	half := units[:len(units)/2]
	want := len(half) - muxtest.VideoUnits(half)
	out := filepath.Join(t.TempDir(), "killed.aac")
	s := &adts.Sink{Path: out}
	defer s.Close()
	muxtest.Feed(t, s, desc, half)
	_, r := muxtest.WaitFrames(t, out, "audio", want, 5*time.Second)
	if n := r.Audio().NbReadFrames; n != want {
		t.Errorf("%d frames from %d written", n, want)
	}
	t.Logf("%d of %d frames, %.3f s", r.Audio().NbReadFrames, want, r.Format.Duration)
}

// TestSinkWriteError makes the output fail like a full disk.
func TestSinkWriteError(t *testing.T) {
	desc, units := muxtest.Cases[0].Units(t)
	for _, c := range []struct {
		name string
		sink *adts.Sink
		want string
	}{
		{"writer", &adts.Sink{W: &muxtest.FullWriter{Limit: 10 << 10}}, "write output: no space left on device"},
		{"file", &adts.Sink{Path: "/dev/full"}, "write /dev/full: no space left on device"},
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
				werr = s.Flush() // the clip fits in the buffer: the flusher meets the error
			}
			if werr == nil || werr.Error() != c.want {
				t.Fatalf("error %v, want %q", werr, c.want)
			}
			if k, _ := fault.KindOf(werr); k != fault.Runtime || !muxtest.IsNoSpace(werr) {
				t.Errorf("kind %v, ENOSPC %v", k, muxtest.IsNoSpace(werr))
			}
			if err := s.Write(units[1]); err == nil || err.Error() != c.want {
				t.Errorf("Write after the failure: %v", err)
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
	lc := &format.MPEG4Audio{PayloadTyp: 96, Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2, ChannelCount: 2}}
	he := &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeSBR, SampleRate: 24000, ChannelConfig: 2, ChannelCount: 2}}
	opus := &format.Opus{PayloadTyp: 98, ChannelCount: 2}
	for _, c := range []struct {
		name    string
		formats []format.Format
		err     string
		skipped []string
	}{
		{"opus and two aac", []format.Format{opus, lc, lc}, "", []string{"track 0: Opus", "track 2: AAC (ADTS holds one track)"}},
		{"sbr", []format.Format{he}, "ADTS cannot hold AAC (ADTS holds AAC Main, LC, SSR and LTP) (supported: AAC (one track))", nil},
		{"opus only", []format.Format{opus}, "ADTS cannot hold Opus (supported: AAC (one track))", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			desc := &description.Session{}
			for _, f := range c.formats {
				desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{f}})
			}
			s := &adts.Sink{W: &muxtest.Discard{}}
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
