package mp4

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/media"
)

// ffPacket is one packet as ffprobe's mov demuxer reports it, in the
// stream time base (the MP4 media time scale).
type ffPacket struct {
	pts, dts, dur, size int64
	key                 bool
}

type ffStream struct {
	audio   bool
	tb      int64 // time base denominator
	packets []ffPacket
}

// ffprobePackets runs ffprobe on a file, keyed by MP4 track ID (ffmpeg
// numbers streams in track order).
func ffprobePackets(t *testing.T, path string) map[int]*ffStream {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error",
		"-show_entries", "stream=index,codec_type,time_base",
		"-show_entries", "packet=stream_index,pts,dts,duration,size,flags",
		"-of", "csv", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	streams := map[int]*ffStream{}
	get := func(i int) *ffStream {
		if streams[i+1] == nil {
			streams[i+1] = &ffStream{}
		}
		return streams[i+1]
	}
	num := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ffprobe: %q: %v", s, err)
		}
		return v
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		switch {
		case f[0] == "stream" && len(f) >= 4:
			s := get(int(num(f[1])))
			s.audio = f[2] == "audio"
			s.tb = num(strings.TrimPrefix(f[3], "1/"))
		case f[0] == "packet" && len(f) >= 7:
			s := get(int(num(f[1])))
			s.packets = append(s.packets, ffPacket{
				pts: num(f[2]), dts: num(f[3]), dur: num(f[4]), size: num(f[5]), key: strings.HasPrefix(f[6], "K"),
			})
		}
	}
	return streams
}

// TestMatchesFFprobe compares every unit with the packet ffprobe reads
// from the same file: timestamps (ffmpeg applies the same edit list
// shift and negative-ctts DTS shift), sizes and keyframe flags. The
// audio packets ffmpeg marks as entirely before the edit (AAC priming)
// are the ones the demuxer leaves out.
func TestMatchesFFprobe(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	files := []string{
		filepath.Join(mediaDir, "h264_baseline_aac.mp4"),
		filepath.Join(mediaDir, "h264_high_bframes_aac.mp4"),
		filepath.Join(mediaDir, "h264_high_bframes_aac_nofaststart.mp4"),
		filepath.Join(mediaDir, "h265_aac.mp4"),
		filepath.Join("testdata", "h264_negcts.mp4"),
		filepath.Join("testdata", "opus.mp4"),
		filepath.Join("testdata", "ulaw.mov"),
		filepath.Join("testdata", "alaw_stereo.mov"),
		filepath.Join("testdata", "mpeg4_aac.mp4"),
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ff := ffprobePackets(t, path)

			s := &Source{Path: path}
			defer s.Close()
			if _, err := s.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := map[int][]*media.Unit{}
			if err := s.Run(context.Background(), func(u *media.Unit) {
				var id int
				fmt.Sscanf(u.Media.Control, "trackID=%d", &id)
				got[id] = append(got[id], u)
			}); err != nil {
				t.Fatal(err)
			}

			// The packets the demuxer emits, and the earliest PTS among them.
			var firstPTS, firstTB int64 = 0, 0
			for _, tr := range s.tracks {
				st := ff[int(tr.id)]
				var kept []ffPacket
				for _, p := range st.packets {
					if st.audio && p.pts+p.dur <= 0 {
						continue
					}
					kept = append(kept, p)
					if firstTB == 0 || p.pts*firstTB < firstPTS*st.tb {
						firstPTS, firstTB = p.pts, st.tb
					}
				}
				st.packets = kept
			}

			for _, tr := range s.tracks {
				st, units := ff[int(tr.id)], got[int(tr.id)]
				if len(units) != len(st.packets) {
					t.Errorf("track %d: %d units, ffprobe has %d packets", tr.id, len(units), len(st.packets))
					continue
				}
				clock := uint64(tr.clock)
				offset := rescale(firstPTS, uint64(firstTB), clock)
				for i, p := range st.packets {
					u := units[i]
					size := int64(u.Size())
					if tr.lengthSize > 0 {
						size += int64(tr.lengthSize * len(u.Payload))
					}
					want := fmt.Sprintf("pts %d dts %d size %d key %v",
						rescale(p.pts, uint64(st.tb), clock)-offset, rescale(p.dts, uint64(st.tb), clock)-offset,
						p.size, p.key || st.audio)
					have := fmt.Sprintf("pts %d dts %d size %d key %v", u.PTS, u.DTS, size, u.Key)
					if have != want {
						t.Fatalf("track %d unit %d: %s, ffprobe: %s", tr.id, i, have, want)
					}
				}
				t.Logf("track %d (%s): %d units match ffprobe", tr.id, tr.fourcc, len(units))
			}
		})
	}
}
