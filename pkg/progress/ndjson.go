package progress

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"

	"github.com/avcat/avcat/pkg/fault"
)

// JSONWriter writes the --stats-json events of every verb: one JSON object
// per line, each starting with "event" (its name) and "time" (RFC 3339,
// UTC), followed by the event's fields. The schema is docs/stats-json.md.
// It is safe for concurrent use; methods on a nil writer do nothing.
type JSONWriter struct {
	mu  sync.Mutex
	w   io.Writer
	c   io.Closer
	now func() time.Time

	parent *JSONWriter // set on a WithSource view
	source string
}

// WithSource returns a view of j whose events carry "source": name right
// after "time" (record with several sources). Nil stays nil.
func (j *JSONWriter) WithSource(name string) *JSONWriter {
	if j == nil {
		return nil
	}
	if j.parent != nil {
		j = j.parent
	}
	return &JSONWriter{parent: j, source: name}
}

// OpenJSON opens --stats-json's target: "" means none (nil), "-" means
// stdout, anything else is a file created (or truncated) now.
func OpenJSON(path string, stdout io.Writer) (*JSONWriter, error) {
	switch path {
	case "":
		return nil, nil
	case "-":
		return &JSONWriter{w: stdout, now: time.Now}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fault.New(fault.Runtime, "--stats-json: %v", err)
	}
	return &JSONWriter{w: f, c: f, now: time.Now}, nil
}

// NewJSONWriter writes events to w (tests, or a caller-owned stream).
func NewJSONWriter(w io.Writer) *JSONWriter { return &JSONWriter{w: w, now: time.Now} }

// Event writes one line: "event" and "time", then the fields of v (a
// struct or map that marshals to a JSON object; nil for none).
func (j *JSONWriter) Event(name string, v any) {
	if j == nil {
		return
	}
	source := j.source
	if j.parent != nil {
		j = j.parent
	}
	head, _ := json.Marshal(struct {
		Event  string `json:"event"`
		Time   string `json:"time"`
		Source string `json:"source,omitempty"`
	}{name, j.now().UTC().Format(time.RFC3339Nano), source})
	line := head
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		if len(b) > 2 && b[0] == '{' {
			line = append(append(bytes.TrimSuffix(head, []byte("}")), ','), b[1:]...)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.w.Write(append(line, '\n'))
}

// Close closes the file, if one was opened.
func (j *JSONWriter) Close() error {
	if j == nil || j.c == nil || j.parent != nil {
		return nil
	}
	return j.c.Close()
}
