package root_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// ndjson parses --stats-json output: every line is an object with
// "event" and "time".
func ndjson(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("--stats-json line %q: %v", sc.Text(), err)
		}
		if _, ok := ev["event"].(string); !ok {
			t.Fatalf("--stats-json line without event: %q", sc.Text())
		}
		if ts, _ := ev["time"].(string); ts == "" {
			t.Fatalf("--stats-json line without time: %q", sc.Text())
		}
		out = append(out, ev)
	}
	if len(out) == 0 {
		t.Fatal("--stats-json wrote nothing")
	}
	return out
}

func lastEvent(evs []map[string]any, name string) map[string]any {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i]["event"] == name {
			return evs[i]
		}
	}
	return nil
}

// checkEnd: the final figures count video apart from audio, under the
// same names in every verb.
func checkEnd(t *testing.T, evs []map[string]any) {
	t.Helper()
	end := lastEvent(evs, "end")
	if end == nil {
		t.Fatalf("no end event in %v", evs)
	}
	for _, k := range []string{"elapsed_seconds", "bytes", "frames", "video_frames", "audio_frames", "packets", "dropped", "reason"} {
		if _, ok := end[k]; !ok {
			t.Errorf("end event has no %q: %v", k, end)
		}
	}
	v, _ := end["video_frames"].(float64)
	a, _ := end["audio_frames"].(float64)
	f, _ := end["frames"].(float64)
	if v <= 0 || a <= 0 || v+a != f {
		t.Errorf("end event: video_frames %v + audio_frames %v should be frames %v, both > 0", v, a, f)
	}
}

// TestStatsJSONEveryVerb: one NDJSON writer for every verb. record used to
// ignore --stats-json; pull --stats-json - wrote a file named "-".
func TestStatsJSONEveryVerb(t *testing.T) {
	t.Parallel()
	clip := testpeer.MediaFile(t, "h264_baseline_aac.mp4")
	srv := clitest.StartServe(t, "--file", "clip="+clip)
	dir := t.TempDir()

	t.Run("pull to stdout", func(t *testing.T) {
		t.Parallel()
		wd, _ := os.Getwd()
		r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "2s", "--stats-json", "-", "-o", filepath.Join(dir, "p.ts"), srv.RTSP("clip"))
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		if _, err := os.Stat(filepath.Join(wd, "-")); err == nil {
			os.Remove(filepath.Join(wd, "-"))
			t.Fatal(`--stats-json - created a file named "-"`)
		}
		checkEnd(t, ndjson(t, r.Stdout))
	})
	t.Run("record", func(t *testing.T) {
		t.Parallel()
		stats := filepath.Join(dir, "record.ndjson")
		r := clitest.Run(t, 30*time.Second, "record", "--transport", "tcp", "--duration", "2s", "--stats-json", stats, "-o", filepath.Join(dir, "r.ts"), srv.RTSP("clip"))
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		b, err := os.ReadFile(stats)
		if err != nil {
			t.Fatalf("record --stats-json wrote no file: %v", err)
		}
		evs := ndjson(t, string(b))
		seg := lastEvent(evs, "segment")
		if seg == nil || seg["path"] != filepath.Join(dir, "r.ts") {
			t.Fatalf("no segment event for r.ts: %v", evs)
		}
		if lastEvent(evs, "connection_end") == nil || evs[len(evs)-1]["event"] != "end" {
			t.Fatalf("want connection_end and a final end event: %v", evs)
		}
	})
	t.Run("push", func(t *testing.T) {
		t.Parallel()
		stats := filepath.Join(dir, "push.ndjson")
		r := clitest.Run(t, 30*time.Second, "push", "--speed", "4", "--stats-json", stats, clip, srv.RTSP("pushed"))
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		b, _ := os.ReadFile(stats)
		checkEnd(t, ndjson(t, string(b)))
	})
	t.Run("relay", func(t *testing.T) {
		t.Parallel()
		r := clitest.Run(t, 30*time.Second, "relay", "--duration", "2s", "--stats-json", "-", srv.RTSP("clip"), filepath.Join(dir, "relay.ts"))
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		checkEnd(t, ndjson(t, r.Stdout))
	})
}

// TestStatsJSONStdoutConflict: stdout cannot carry both media and stats.
func TestStatsJSONStdoutConflict(t *testing.T) {
	for _, args := range [][]string{
		{"pull", "--stats-json", "-", "rtsp://127.0.0.1:1/x"},
		{"rtmp-pull", "--stats-json", "-", "-o", "-", "rtmp://127.0.0.1:1/x"},
		{"relay", "--stats-json", "-", "rtsp://127.0.0.1:1/x", "-"},
	} {
		r := clitest.Run(t, 10*time.Second, args...)
		if r.Code != 2 || !strings.Contains(r.ErrLine(), "both write to stdout") {
			t.Errorf("%v: want a usage error naming stdout\n%s", args, r)
		}
	}
}
