package annexb_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

func ext(c muxtest.Case) string {
	if c.Video == "hevc" {
		return ".h265"
	}
	return ".h264"
}

// TestSinkClips writes the video of every test clip, as demuxed and as
// RTP-derived units, and checks it with ffprobe and ffmpeg (codec,
// 640x480, 100 frames, no decode error) and with the project's Annex-B
// demuxer: every keyframe carries its parameter sets (the MP4 clips keep
// them out of band, in avcC/hvcC), and the audio track is skipped.
func TestSinkClips(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	for _, c := range muxtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			out := filepath.Join(t.TempDir(), "out"+ext(c))
			s := &annexb.Sink{Path: out}
			muxtest.Feed(t, s, desc, units)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if len(s.Skipped()) != 1 || !strings.Contains(s.Skipped()[0], "AAC") {
				t.Errorf("skipped %q, want the AAC track", s.Skipped())
			}
			r := muxtest.Check(t, out, muxtest.Want{Video: c.Video, Frames: 100})
			if e := muxtest.DecodeErrors(t, out); e != "" {
				t.Errorf("ffmpeg -v error: %s", e)
			}
			keys, withParams, n := readBack(t, out)
			if n != 100 || keys == 0 || keys != withParams {
				t.Errorf("read back %d units, %d keyframes, %d with parameter sets", n, keys, withParams)
			}
			t.Logf("%s: %d frames, %d keyframes each with parameter sets", c.Name, r.Video().NbReadFrames, keys)
		})
	}
}

// readBack counts units, keyframes, and keyframes holding SPS and PPS
// (and VPS for H.265).
func readBack(t *testing.T, path string) (keys, withParams, n int) {
	t.Helper()
	src := &annexb.Source{Path: path}
	defer src.Close()
	if _, err := src.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := src.Run(t.Context(), func(u *media.Unit) {
		n++
		if !u.Key {
			return
		}
		keys++
		var have int
		for _, nalu := range u.Payload {
			switch u.Format.(type) {
			case *format.H264:
				switch h264.NALUType(nalu[0] & 0x1f) {
				case h264.NALUTypeSPS, h264.NALUTypePPS:
					have++
				}
			case *format.H265:
				switch h265.NALUType((nalu[0] >> 1) & 0x3f) {
				case h265.NALUType_VPS_NUT, h265.NALUType_SPS_NUT, h265.NALUType_PPS_NUT:
					have++
				}
			}
		}
		want := 2
		if _, ok := u.Format.(*format.H265); ok {
			want = 3
		}
		if have >= want {
			withParams++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, withParams, n
}

// TestSinkAUD: with AUD set, every access unit starts with a delimiter.
func TestSinkAUD(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	for _, c := range []muxtest.Case{muxtest.Cases[1], muxtest.Cases[3]} {
		t.Run(c.Name, func(t *testing.T) {
			desc, units := c.Units(t)
			out := filepath.Join(t.TempDir(), "aud"+ext(c))
			s := &annexb.Sink{Path: out, AUD: true}
			muxtest.Feed(t, s, desc, units)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			aud := []byte{0, 0, 0, 1, 9, 0xf0}
			if c.Video == "hevc" {
				aud = []byte{0, 0, 0, 1, 35 << 1, 1, 0x50}
			}
			if n := bytes.Count(b, aud); !bytes.HasPrefix(b, aud) || n != 100 {
				t.Errorf("%d delimiters, first bytes % x", n, b[:8])
			}
			muxtest.Check(t, out, muxtest.Want{Video: c.Video, Frames: 100})
		})
	}
}

// TestSinkKilled writes half of the units and never calls Close, like a
// kill -9: within about a second the flusher has written them.
func TestSinkKilled(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	for _, c := range []muxtest.Case{muxtest.Cases[0], muxtest.Cases[4]} {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			desc, units := c.Units(t)
			half := units[:len(units)/2]
			want := muxtest.VideoUnits(half)
			out := filepath.Join(t.TempDir(), "killed"+ext(c))
			s := &annexb.Sink{Path: out}
			defer s.Close()
			muxtest.Feed(t, s, desc, half)
			_, r := muxtest.WaitFrames(t, out, "video", want-1, 5*time.Second)
			if n := r.Video().NbReadFrames; n > want {
				t.Errorf("%d frames from %d written", n, want)
			}
			t.Logf("%s: %d of %d frames", c.Name, r.Video().NbReadFrames, want)
		})
	}
}

// TestSinkWriteError makes the output fail like a full disk.
func TestSinkWriteError(t *testing.T) {
	desc, units := muxtest.Cases[0].Units(t)
	for _, c := range []struct {
		name string
		sink *annexb.Sink
		want string
	}{
		{"writer", &annexb.Sink{W: &muxtest.FullWriter{Limit: 20 << 10}}, "write output: no space left on device"},
		{"file", &annexb.Sink{Path: "/dev/full"}, "write /dev/full: no space left on device"},
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
			if werr == nil || werr.Error() != c.want {
				t.Fatalf("error %v, want %q", werr, c.want)
			}
			if k, _ := fault.KindOf(werr); k != fault.Runtime || !muxtest.IsNoSpace(werr) {
				t.Errorf("kind %v, ENOSPC %v", k, muxtest.IsNoSpace(werr))
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
	h264f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	h265f := &format.H265{PayloadTyp: 97}
	aac := &format.Opus{PayloadTyp: 98, ChannelCount: 2}
	for _, c := range []struct {
		name    string
		formats []format.Format
		err     string
		skipped []string
	}{
		{"opus and two videos", []format.Format{aac, h265f, h264f}, "", []string{"track 0: Opus", "track 2: H.264 (Annex-B holds one video track)"}},
		{"opus only", []format.Format{aac}, "Annex-B cannot hold Opus (supported: H.264, H.265 (one video track))", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			desc := &description.Session{}
			for _, f := range c.formats {
				desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}})
			}
			s := &annexb.Sink{W: &muxtest.Discard{}}
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
