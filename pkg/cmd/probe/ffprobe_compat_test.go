package probe_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestProbeJSONIsFFprobeDropIn: the keys an ffprobe script reads
// (.streams[] | codec_type, r_frame_rate, sample_rate, level, pix_fmt...,
// and .format) have ffprobe's names, types and values, over RTSP and RTMP.
func TestProbeJSONIsFFprobeDropIn(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFprobe)
	srv := clitest.StartServe(t, "--file", "clip="+mediaFile(t, "h264_baseline_aac.mp4"))
	for _, url := range []string{srv.RTSP("clip"), srv.RTMP("clip")} {
		t.Run(url[:4], func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, "probe", "-o", "json", url)
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			var ours map[string]any
			if err := json.Unmarshal([]byte(r.Stdout), &ours); err != nil {
				t.Fatal(err)
			}
			ff := testpeer.RunClient(t, 30*time.Second, "ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", url)
			if ff.Code != 0 {
				t.Fatalf("ffprobe: %s", ff)
			}
			var theirs map[string]any
			if err := json.Unmarshal([]byte(ff.Stdout), &theirs); err != nil {
				t.Fatal(err)
			}
			byType := func(doc map[string]any, typ string) map[string]any {
				ss, _ := doc["streams"].([]any)
				for _, s := range ss {
					if m, _ := s.(map[string]any); m["codec_type"] == typ {
						return m
					}
				}
				return nil
			}
			keys := map[string][]string{
				"video": {"codec_name", "profile", "width", "height", "pix_fmt", "level", "r_frame_rate", "avg_frame_rate"},
				"audio": {"codec_name", "profile", "sample_rate", "channels", "channel_layout"},
			}
			for typ, ks := range keys {
				o, f := byType(ours, typ), byType(theirs, typ)
				if o == nil || f == nil {
					t.Fatalf("no %s stream with codec_type (avcat %v, ffprobe %v)", typ, o != nil, f != nil)
				}
				for _, k := range ks {
					if fmt.Sprintf("%T %v", o[k], o[k]) != fmt.Sprintf("%T %v", f[k], f[k]) {
						t.Errorf("%s %s: avcat %T %v, ffprobe %T %v", typ, k, o[k], o[k], f[k], f[k])
					}
				}
				if tb, _ := o["time_base"].(string); tb == "" {
					t.Errorf("%s: no time_base", typ)
				}
			}
			fo, _ := ours["format"].(map[string]any)
			ffo, _ := theirs["format"].(map[string]any)
			if fo == nil || fo["nb_streams"] != ffo["nb_streams"] || fo["format_name"] != ffo["format_name"] {
				t.Errorf("format: avcat %v, ffprobe %v", fo, ffo)
			}
		})
	}
}
