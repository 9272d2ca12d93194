package record_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/media"
)

// TestRecordDurationIsMediaTime: record --duration is media time from
// the first keyframe, as ffmpeg's -t, over RTMP too (it was wall time
// from before the connection, plus the server's burst).
func TestRecordDurationIsMediaTime(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--file", "clip="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	for _, url := range []string{srv.RTSP("clip"), srv.RTMP("clip")} {
		t.Run(url[:4], func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.ts")
			r := clitest.Run(t, 30*time.Second, "record", "--duration", "2s", "-o", out, url)
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			src := &mpegts.Source{Path: out}
			if _, err := src.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			frames := 0
			_ = src.Run(context.Background(), func(u *media.Unit) {
				if media.IsVideo(u.Format) {
					frames++
				}
			})
			if frames != 50 {
				t.Fatalf("%d video frames, want 50 (2 s at 25 fps)", frames)
			}
		})
	}
}
