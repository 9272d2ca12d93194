package interop_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestH265BFramesDTS pushes the H.265 clip with B-frames (reorder depth
// up to 4) to avcat serve over RTSP and over RTMP, reads each stream back
// into files over RTSP (RTP: no DTS, avcat derives it) and over RTMP,
// and requires ffprobe -show_packets to see strictly increasing DTS (PTS
// >= DTS) in each file and ffmpeg 5.1 to decode it without error.
//
// ffprobe reading the RTSP URL itself is not checked: its DTS are its own
// guess, and with two tracks ffmpeg's rtpdec re-bases the timestamps at
// the first RTCP sender report (a step back of about 1 ms, seen in 1 run
// of 6).
func TestH265BFramesDTS(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerFFmpeg)
	srv := clitest.StartServe(t)
	for _, c := range []struct{ name, verb, in string }{
		{"rtsp", "push", srv.RTSP("h265_rtsp")},
		{"rtmp", "rtmp-push", srv.RTMP("h265_rtmp")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := strings.TrimPrefix(c.in[strings.LastIndex(c.in, "/"):], "/")
			b := background(t, c.verb, "--loop=3", media("h265_aac.mp4"), c.in)
			if c.verb == "push" {
				testpeer.WaitRTSPDescribe(t, c.in, nil, 20*time.Second)
			}
			dir := t.TempDir()
			reads := []struct{ label, out, src string }{
				{"rtmp-pull", "rtmp.mp4", srv.RTMP(path)},
				{"pull", "rtsp.mp4", srv.RTSP(path)},
				{"pull", "rtsp.ts", srv.RTSP(path)},
			}
			for _, r := range reads {
				out := filepath.Join(dir, r.out)
				label := fmt.Sprintf("%s push, %s %s -o %s", c.name, r.label, r.src, r.out)
				// the first read also waits for the stream (rtmp-push has no DESCRIBE to poll)
				testpeer.Poll(t, 20*time.Second, func() error {
					res := clitest.Run(t, 30*time.Second, r.label, "--duration", "2s", "-o", out, r.src)
					if res.Code != 0 {
						return fmt.Errorf("%s: exit %d: %s", r.label, res.Code, res.ErrLine())
					}
					return nil
				})
				counts := testpeer.CheckMonotonic(t, out)
				check(t, label, out, want{video: "hevc", audio: true, minFrames: 2*fps - 12, maxFrames: 2*fps + 12})
				if e := testpeer.DecodeErrors(t, out); e != "" {
					t.Errorf("%s: ffmpeg -v error: %s", label, e)
				}
				t.Logf("%s: packets per stream %v, DTS strictly increasing", label, counts)
			}
			b.waitExit(t, 30*time.Second)
		})
	}
}
