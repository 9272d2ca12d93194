package testpeer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// MediaTimeout bounds DecodeErrors and ProbeVideoFrames.
const MediaTimeout = 60 * time.Second

// DecodeErrors decodes every stream of file with
// `ffmpeg -v error [inputArgs] -i FILE -f null -` (bounded by MediaTimeout)
// and returns what ffmpeg printed, trimmed, plus its exit status when it
// failed: "" means the file decodes cleanly.
func DecodeErrors(t testing.TB, file string, inputArgs ...string) string {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-v", "error"}
	args = append(args, inputArgs...)
	args = append(args, "-i", file, "-f", "null", "-")
	r := RunClient(t, MediaTimeout, PeerFFmpeg, args...)
	out := strings.TrimSpace(r.Stderr)
	if r.Code != 0 {
		out = strings.TrimSpace(fmt.Sprintf("%s\n(ffmpeg exit %d)", out, r.Code))
	}
	return out
}

// CheckMonotonic reads the packets of file with ffprobe -show_packets
// (bounded by MediaTimeout) and fails the test unless the DTS of every
// stream strictly increases (and PTS >= DTS where both are known). It
// returns the number of packets per stream index.
func CheckMonotonic(t testing.TB, file string) map[int]int {
	t.Helper()
	r := RunClient(t, MediaTimeout, PeerFFprobe, "-hide_banner", "-v", "error", "-show_packets",
		"-show_entries", "packet=stream_index,pts,dts", "-print_format", "json", file)
	if r.Code != 0 {
		t.Fatalf("testpeer: ffprobe -show_packets %s:\n%s", file, r)
	}
	var out struct {
		Packets []struct {
			Stream int    `json:"stream_index"`
			PTS    *int64 `json:"pts"`
			DTS    *int64 `json:"dts"`
		} `json:"packets"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("testpeer: ffprobe -show_packets %s: parse JSON: %v", file, err)
	}
	last := map[int]int64{}
	counts := map[int]int{}
	bad := 0
	for i, p := range out.Packets {
		counts[p.Stream]++
		if p.DTS == nil {
			continue
		}
		if prev, ok := last[p.Stream]; ok && *p.DTS <= prev {
			if bad < 5 {
				t.Errorf("%s: packet %d of stream %d: DTS %d after %d", filepath.Base(file), i, p.Stream, *p.DTS, prev)
			}
			bad++
		}
		if p.PTS != nil && *p.PTS < *p.DTS {
			if bad < 5 {
				t.Errorf("%s: packet %d of stream %d: PTS %d before DTS %d", filepath.Base(file), i, p.Stream, *p.PTS, *p.DTS)
			}
			bad++
		}
		last[p.Stream] = *p.DTS
	}
	if bad > 0 {
		t.Errorf("%s: %d timestamp errors in %d packets", filepath.Base(file), bad, len(out.Packets))
	}
	return counts
}

// ProbeFrame is one decoded frame as `ffprobe -show_frames` reports it.
type ProbeFrame struct {
	KeyFrame  int    `json:"key_frame"`
	PictType  string `json:"pict_type"`
	Timestamp string `json:"best_effort_timestamp_time"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

// ProbeVideoFrames decodes the first video stream of file with ffprobe
// -show_frames (bounded by MediaTimeout) and returns its frames in order.
func ProbeVideoFrames(t testing.TB, file string) []ProbeFrame {
	t.Helper()
	r := RunClient(t, MediaTimeout, PeerFFprobe, "-hide_banner", "-v", "error", "-select_streams", "v:0",
		"-show_frames", "-show_entries", "frame=key_frame,pict_type,best_effort_timestamp_time,width,height",
		"-print_format", "json", file)
	if r.Code != 0 {
		t.Fatalf("testpeer: ffprobe -show_frames %s:\n%s", file, r)
	}
	var out struct {
		Frames []ProbeFrame `json:"frames"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("testpeer: ffprobe -show_frames %s: parse JSON: %v", file, err)
	}
	return out.Frames
}

// MediaFile returns the absolute path of a clip in the repository's
// testdata/media, and fails the test if it is missing.
func MediaFile(t testing.TB, name string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "media", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testpeer: test media: %v", err)
	}
	return p
}
