package mux_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/mp4w"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/engine"
)

// TestMidGOPJoin feeds every file sink a stream joined mid-GOP (starting
// with frames that cannot be decoded), with the parameter sets only in
// band at the keyframes (RTP, none in the description) or only in the
// description: each output must start at the keyframe with its
// parameter sets before it, and decode without error. The RTMP writer's
// case is in pkg/rtmp.
func TestMidGOPJoin(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	sinks := []struct {
		ext  string
		sink func(path string) engine.Sink
	}{
		{".mp4", func(p string) engine.Sink { return &mp4w.MP4Sink{Path: p} }},
		{".fmp4.mp4", func(p string) engine.Sink { return &mp4w.FMP4Sink{Path: p} }},
		{".ts", func(p string) engine.Sink { return &mpegts.Sink{Path: p} }},
		{".flv", func(p string) engine.Sink { return &flv.Sink{Path: p} }},
		{".es", func(p string) engine.Sink { return &annexb.Sink{Path: p} }},
	}
	for _, clip := range []struct{ file, codec string }{
		{"h264_high_bframes_aac.mp4", "h264"},
		{"h265_aac.mp4", "hevc"},
	} {
		for _, inBand := range []bool{true, false} {
			where := "sdp-only"
			if inBand {
				where = "in-band-only"
			}
			for _, s := range sinks {
				if s.ext == ".flv" && clip.codec == "hevc" {
					continue // ffmpeg 5.1 cannot read H.265 in FLV
				}
				t.Run(clip.codec+"/"+where+"/"+s.ext[1:], func(t *testing.T) {
					t.Parallel()
					desc, units, frames := muxtest.MidGOP(t, clip.file, inBand)
					ext := s.ext
					if ext == ".es" {
						ext = "." + map[string]string{"h264": "h264", "hevc": "h265"}[clip.codec]
					}
					out := filepath.Join(t.TempDir(), "out"+ext)
					sink := s.sink(out)
					muxtest.Feed(t, sink, desc, units)
					if err := sink.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
					pics := muxtest.ParamsBeforeFirstIDR(t, out, clip.codec)
					muxtest.Check(t, out, muxtest.Want{Video: clip.codec, Frames: frames})
					if e := muxtest.DecodeErrors(t, out); e != "" {
						t.Errorf("ffmpeg -v error: %s", e)
					}
					if pics < frames {
						t.Errorf("%d pictures, want %d", pics, frames)
					}
					t.Logf("%s: %d pictures from the first IDR, parameter sets before it", filepath.Base(out), pics)
				})
			}
		}
	}
}
