package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestJSONWriterSource(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONWriter(&buf)
	j.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	j.Event("stats", map[string]int{"bytes": 1})
	cam := j.WithSource("rtsp://cam/2")
	cam.Event("segment", struct {
		Path string `json:"path"`
	}{"a.mp4"})
	cam.WithSource("x").Event("end", nil)
	_ = cam.Close()
	var nilJ *JSONWriter
	nilJ.WithSource("y").Event("end", nil)
	want := `{"event":"stats","time":"2026-01-02T03:04:05Z","bytes":1}
{"event":"segment","time":"2026-01-02T03:04:05Z","source":"rtsp://cam/2","path":"a.mp4"}
{"event":"end","time":"2026-01-02T03:04:05Z","source":"x"}
`
	if got := buf.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Count(buf.String(), "\n") != 3 {
		t.Fatal("lines")
	}
}
