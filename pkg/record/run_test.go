package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/progress"
)

// liveSource is one connection: it emits units keyframes every 10, one
// tick of 90 kHz clock apart, then ends as a dropped stream does.
type liveSource struct {
	desc  *description.Session
	f     format.Format
	units int
	open  error
}

func (s *liveSource) Open(context.Context) (*description.Session, error) {
	return s.desc, s.open
}

func (s *liveSource) Run(_ context.Context, emit func(*media.Unit)) error {
	for i := range s.units {
		pts := int64(i) * 3600
		emit(&media.Unit{Format: s.f, PTS: pts, DTS: pts, Key: i%10 == 0, Payload: [][]byte{{1}}, Received: time.Now()})
	}
	return nil
}

func (s *liveSource) Close() error { return nil }

type recordRun struct {
	rec    *Recorder
	files  map[string]int // units per file
	events map[string]int
	conns  []uint64 // frames of each connection_end
	stderr string
	err    error
}

// runRecorder records connections that deliver units[i] units each; the
// connection after them fails with last.
func runRecorder(t *testing.T, units []int, last error, configure func(*Recorder)) recordRun {
	t.Helper()
	v := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{v}}}}
	var mu sync.Mutex
	out := recordRun{files: map[string]int{}, events: map[string]int{}}
	conn := 0
	var stderr, js bytes.Buffer
	ios, _, _, _ := iostreams.Test()
	r := &Recorder{
		Source:    Source{URL: "rtsp://cam/x", Index: 1},
		Template:  filepath.Join(t.TempDir(), "out.ts"),
		Reconnect: true,
		Backoff:   engine.Backoff{Min: time.Millisecond, Max: time.Millisecond},
		IO:        ios,
		Log:       &logging.Logger{Out: &stderr},
		JSON:      progress.NewJSONWriter(&js),
		New: func() engine.Source {
			mu.Lock()
			defer mu.Unlock()
			conn++
			if conn > len(units) {
				return &liveSource{desc: desc, f: v, open: last}
			}
			return &liveSource{desc: desc, f: v, units: units[conn-1]}
		},
		NewFile: func(path string) (engine.Sink, error) {
			return &countSink{path: path, files: out.files, mu: &mu}, nil
		},
	}
	if configure != nil {
		configure(r)
	}
	out.rec = r
	out.err = r.Run(context.Background())
	out.stderr = stderr.String()
	for _, line := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var ev struct {
			Event  string
			Frames uint64
		}
		if err := json.Unmarshal([]byte(line), &ev); err == nil {
			out.events[ev.Event]++
			if ev.Event == "connection_end" {
				out.conns = append(out.conns, ev.Frames)
			}
		}
	}
	return out
}

type countSink struct {
	path  string
	files map[string]int
	mu    *sync.Mutex
	n     int
}

func (s *countSink) Open(*description.Session) error { return os.WriteFile(s.path, nil, 0o644) }
func (s *countSink) Write(*media.Unit) error         { s.n++; return nil }
func (s *countSink) Started() bool                   { return s.n > 0 }
func (s *countSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 {
		s.files[filepath.Base(s.path)] = s.n
	}
	return nil
}

// Each connection of a reconnecting source gets its own file, finished
// when the connection is lost; each loss is a "reconnect" event and each
// connection a "connection_end"; a loss that cannot be retried ends the
// run with its error.
func TestRecorderReconnects(t *testing.T) {
	denied := fault.New(fault.Auth, "401 unauthorized")
	got := runRecorder(t, []int{30, 20, 25}, denied, nil)
	if !errors.Is(got.err, denied) {
		t.Fatalf("Run: %v, want the auth error", got.err)
	}
	want := map[string]int{"out.ts": 30, "out_00001.ts": 20, "out_00002.ts": 25}
	if len(got.files) != len(want) {
		t.Fatalf("files %v, want %v", got.files, want)
	}
	for name, n := range want {
		if got.files[name] != n {
			t.Fatalf("files %v, want %v", got.files, want)
		}
	}
	if got.rec.FileCount() != 3 || got.events["segment"] != 3 || got.events["connection_end"] != 3 || got.events["reconnect"] != 3 {
		t.Fatalf("%d files, events %v: want 3 segment, 3 connection_end, 3 reconnect", got.rec.FileCount(), got.events)
	}
	if fmt.Sprint(got.conns) != "[30 20 25]" {
		t.Fatalf("frames per connection_end %v, want [30 20 25]", got.conns)
	}
	if strings.Count(got.stderr, "source lost (the source ended the stream); reconnecting in 1ms") != 3 {
		t.Fatalf("stderr:\n%s", got.stderr)
	}
}

// Without --reconnect the first loss ends the run, as a network error; a
// source that never delivered media is not retried either.
func TestRecorderDoesNotRetry(t *testing.T) {
	got := runRecorder(t, []int{30, 30}, nil, func(r *Recorder) { r.Reconnect = false })
	if k, _ := fault.KindOf(got.err); k != fault.Network || got.err.Error() != "the source ended the stream" {
		t.Fatalf("Run: %v (%v), want the network error", got.err, k)
	}
	if len(got.files) != 1 || got.events["reconnect"] != 0 || got.events["connection_end"] != 1 {
		t.Fatalf("files %v, events %v", got.files, got.events)
	}

	got = runRecorder(t, []int{0, 30}, nil, nil)
	if got.err == nil || len(got.files) != 0 || got.events["reconnect"] != 0 {
		t.Fatalf("no media: Run %v, files %v, events %v", got.err, got.files, got.events)
	}
}
