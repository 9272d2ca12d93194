package muxtest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/media"
)

// Case is one input for the sink tests: a committed clip, as demuxed or
// as an RTSP source would deliver it.
type Case struct {
	Name string
	Clip string
	// RTP makes the units RTP-derived (AsRTP): no DTS, shifted PTS.
	RTP bool
	// Video is ffprobe's codec_name of the clip's video.
	Video string
}

// Cases are the clips every sink is fed with: baseline H.264, H.264 with
// B-frames, H.265 with B-frames (each from the MP4 demuxer) and baseline
// H.264 from the MPEG-TS demuxer, each also as RTP-derived units, which
// proves DTS derivation with B-frames.
var Cases = []Case{
	{Name: "h264-baseline", Clip: "h264_baseline_aac.mp4", Video: "h264"},
	{Name: "h264-bframes", Clip: "h264_high_bframes_aac.mp4", Video: "h264"},
	{Name: "h264-bframes-rtp", Clip: "h264_high_bframes_aac.mp4", RTP: true, Video: "h264"},
	{Name: "h265", Clip: "h265_aac.mp4", Video: "hevc"},
	{Name: "h265-rtp", Clip: "h265_aac.mp4", RTP: true, Video: "hevc"},
	{Name: "ts", Clip: "h264_aac.ts", Video: "h264"},
	{Name: "ts-rtp", Clip: "h264_aac.ts", RTP: true, Video: "h264"},
}

var rtpCache = map[string][]*media.Unit{}

// Units returns the case's description and units.
func (c Case) Units(t testing.TB) (*description.Session, []*media.Unit) {
	t.Helper()
	desc, units := Load(t, c.Clip)
	if !c.RTP {
		return desc, units
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if u := rtpCache[c.Clip]; u != nil {
		return desc, u
	}
	u := AsRTP(t, units)
	rtpCache[c.Clip] = u
	return desc, u
}

// VideoUnits counts the video units among units.
func VideoUnits(units []*media.Unit) int {
	n := 0
	for _, u := range units {
		if media.IsVideo(u.Format) {
			n++
		}
	}
	return n
}

// StartTimes returns ffprobe's start_time of the first video and audio
// streams (-1 when absent or unknown).
func StartTimes(t testing.TB, path string, inputArgs ...string) (video, audio float64) {
	t.Helper()
	testpeer.Require(t, testpeer.PeerFFprobe)
	args := append([]string{"-v", "error"}, inputArgs...)
	args = append(args, "-show_entries", "stream=codec_type,start_time", "-of", "csv=p=0", path)
	out, err := exec.Command("ffprobe", args...).Output()
	if err != nil {
		t.Fatalf("ffprobe start_time %s: %v", path, err)
	}
	video, audio = -1, -1
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		typ, v, _ := strings.Cut(line, ",")
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
		if err != nil {
			continue
		}
		switch {
		case typ == "video" && video < 0:
			video = f
		case typ == "audio" && audio < 0:
			audio = f
		}
	}
	return video, audio
}

// WaitFrames polls, without calling into the sink, until a copy of the
// file at path (what a kill -9 would leave) shows at least want decoded
// frames of codecType ("video" or "audio"), and returns that copy and
// its probe. It fails after timeout: the sink's flusher should have
// flushed within about a second.
func WaitFrames(t testing.TB, path, codecType string, want int, timeout time.Duration) (string, *testpeer.ProbeResult) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			snap := Snapshot(t, path)
			r, err := testpeer.FFprobe(testpeer.FFprobeTimeout, "-count_frames", snap)
			if err == nil {
				if s := r.Stream(codecType); s != nil && s.NbReadFrames >= want {
					return snap, r
				} else if s != nil {
					last = fmt.Sprintf("%d %s frames", s.NbReadFrames, codecType)
				}
			} else {
				last = err.Error()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %v, still not %d %s frames (last: %s)", path, timeout, want, codecType, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
