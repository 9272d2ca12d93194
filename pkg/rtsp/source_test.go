package rtsp_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/rtsp"
)

// countSink counts what reaches it, per codec.
type countSink struct {
	needs  engine.Needs
	mu     sync.Mutex
	units  map[string]int
	keys   int
	pkts   int
	closed bool
}

func (s *countSink) Open(*description.Session) error { return nil }

func (s *countSink) Needs() engine.Needs { return s.needs }

func (s *countSink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.units == nil {
		s.units = make(map[string]int)
	}
	s.units[u.Format.Codec()]++
	s.pkts += len(u.Packets)
	if u.Key && media.IsVideo(u.Format) {
		s.keys++
	}
	return nil
}

func (s *countSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func TestSourceAgainstGstreamer(t *testing.T) {
	srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")}})
	for _, tc := range []struct {
		transport string
		needs     engine.Needs
	}{
		{"udp", engine.NeedAccessUnits},
		{"tcp", engine.NeedAccessUnits},
		{"tcp", engine.NeedPackets},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			u, _ := url.Parse(srv.URL("/live"))
			var log strings.Builder
			src := &rtsp.Source{Config: rtsp.Config{URL: u, Transport: tc.transport, Timeout: 5 * time.Second, Logger: &logging.Logger{Out: &log}}}
			sink := &countSink{needs: tc.needs}
			sess := &engine.Session{Source: src, Sinks: []engine.Sink{sink}, Duration: 2 * time.Second}
			if err := sess.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if src.ActiveTransport() != tc.transport {
				t.Errorf("transport %q", src.ActiveTransport())
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if !sink.closed {
				t.Error("sink not closed")
			}
			st := sess.Stats().Snapshot()
			if tc.needs == engine.NeedAccessUnits {
				// Up to 2 s of 25 fps (the live pipeline may take a moment
				// to start under load), with keyframes and timestamps 40 ms apart.
				if n := sink.units["H264"]; n < 15 || n > 60 || sink.keys < 1 {
					t.Errorf("H264 units %d keys %d (%v)", n, sink.keys, sink.units)
				}
				if fps := st[0].MediaFPS(); fps < 24 || fps > 26 {
					t.Errorf("fps from timestamps %.2f, want 25", fps)
				}
			} else if n := sink.units["H264"]; n < 15 || sink.pkts != n+sink.units["MPEG-4 Audio"] {
				t.Errorf("packet mode: units %v, packets %d", sink.units, sink.pkts)
			}
			if sink.units["MPEG-4 Audio"] == 0 {
				t.Errorf("no audio units: %v", sink.units)
			}
			for _, tr := range st {
				if _, ok := tr.Format.(*format.H264); ok && tr.PacketsLost != 0 {
					t.Errorf("lost %d packets on loopback", tr.PacketsLost)
				}
			}
		})
	}
}
