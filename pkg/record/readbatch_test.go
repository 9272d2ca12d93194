package record

import (
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/rtmp"
	"github.com/avcat/avcat/pkg/rtsp"
)

// --read-batch reaches the RTSP and RTMP sources record builds.
func TestReadBatchReachesSources(t *testing.T) {
	o := &Options{ReadBatch: 150 * time.Millisecond}
	o.Transport = "tcp"
	so := o.sourceOptions()
	if so.ReadBatch != 150*time.Millisecond || so.Transport != "tcp" {
		t.Fatalf("source options %+v", so)
	}
	r := endpoint.NewResolver(endpoint.Config{})
	for _, u := range []string{"rtsp://cam/live", "rtmp://cam/live/key"} {
		newSrc, _, err := r.SourceFactory(u, so)
		if err != nil {
			t.Fatal(err)
		}
		var got time.Duration
		switch s := newSrc().(type) {
		case *rtsp.Source:
			got = s.ReadBatch
		case *rtmp.Source:
			got = s.ReadBatch
		default:
			t.Fatalf("%s: source %T", u, s)
		}
		if got != 150*time.Millisecond {
			t.Fatalf("%s: ReadBatch %v, want 150ms", u, got)
		}
	}
}
