package pull_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/media"
)

// countFLV returns the video frames of an FLV file and their PTS span.
func countFLV(t *testing.T, path string) (frames int, span time.Duration) {
	t.Helper()
	src := &flv.Source{Path: path}
	if _, err := src.Open(context.Background()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer src.Close()
	var first, last int64
	_ = src.Run(context.Background(), func(u *media.Unit) {
		if !media.IsVideo(u.Format) {
			return
		}
		if frames == 0 {
			first = u.PTS
		}
		frames++
		last = u.PTS
	})
	return frames, time.Duration(last-first) * time.Second / 90000
}

// TestPullDurationIsMediaTime: --duration counts media from the first
// keyframe, as ffmpeg's -t, over RTSP and RTMP alike. The wall clock used
// to start after track discovery (and, over RTMP, after the server's GOP
// burst), so 5 s gave 6.5-7.9 s of media.
func TestPullDurationIsMediaTime(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--file", "clip="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	for _, c := range []struct{ verb, url string }{
		{"pull", srv.RTSP("clip")},
		{"rtmp-pull", srv.RTMP("clip")},
	} {
		t.Run(c.verb, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.flv")
			r := clitest.Run(t, 30*time.Second, c.verb, "--duration", "2s", "-o", out, c.url)
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			frames, span := countFLV(t, out)
			// 2 s at 25 fps: 50 frames, PTS 0..1.96 s.
			if frames != 50 || span != 1960*time.Millisecond {
				t.Fatalf("%d video frames spanning %v, want 50 spanning 1.96s", frames, span)
			}
		})
	}
}
