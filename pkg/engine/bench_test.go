package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// benchSource emits n packet-mode units (one RTP packet each, as an RTSP
// source forwarding RTP does), keeping at most window of them in flight.
type benchSource struct {
	desc    *description.Session
	n       int
	window  uint64
	written *atomic.Uint64
	units   []*media.Unit
}

func (s *benchSource) Open(context.Context) (*description.Session, error) { return s.desc, nil }

func (s *benchSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	for i := range s.n {
		for uint64(i) >= s.written.Load()+s.window {
			if ctx.Err() != nil {
				return nil
			}
			time.Sleep(10 * time.Microsecond)
		}
		u := s.units[i%len(s.units)]
		u.Received = time.Now()
		u.Packets[0].SequenceNumber = uint16(i)
		u.Packets[0].Timestamp = uint32(i * 3600)
		emit(u)
	}
	return nil
}

func (s *benchSource) Close() error { return nil }

// countSink counts units and asks for RTP packets, like the RTSP sink.
type countSink struct{ n *atomic.Uint64 }

func (s countSink) Open(*description.Session) error { return nil }
func (s countSink) Write(*media.Unit) error         { s.n.Add(1); return nil }
func (s countSink) Close() error                    { return nil }
func (s countSink) Needs() Needs                    { return NeedPackets }

// BenchmarkSessionForward measures the engine's part of forwarding one RTP
// packet: emit, stats, the per-sink queue and the sink goroutine. "relay"
// adds the RetrySource and RetrySink wrappers `avcat relay` uses. The
// source reuses its units, so allocs/op counts the engine alone.
func BenchmarkSessionForward(b *testing.B) {
	for _, relay := range []bool{false, true} {
		name := "plain"
		if relay {
			name = "relay"
		}
		b.Run(name, func(b *testing.B) {
			desc, f := testDesc()
			var written atomic.Uint64
			units := make([]*media.Unit, 2*DefaultQueueSize)
			for i := range units {
				payload := make([]byte, 1200)
				payload[0] = 0x65 // an IDR slice, for RetrySink's wait for a keyframe
				units[i] = &media.Unit{
					Media: desc.Medias[0], Format: f, NoDTS: true,
					Packets: []*rtp.Packet{{Header: rtp.Header{Version: 2, PayloadType: 96}, Payload: payload}},
				}
			}
			var src Source = &benchSource{desc: desc, n: b.N, window: DefaultQueueSize / 2, written: &written, units: units}
			var sink Sink = countSink{&written}
			if relay {
				inner := src
				src = &RetrySource{New: func() Source { return inner }, Backoff: Backoff{Min: time.Second, Max: time.Second}}
				sink = &RetrySink{Name: "bench", New: func() Sink { return countSink{&written} }, Backoff: Backoff{Min: time.Second, Max: time.Second}}
			}
			s := &Session{Source: src, Sinks: []Sink{sink}}
			if _, err := s.Open(context.Background()); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			go func() { done <- s.Run(ctx) }()
			for written.Load() < uint64(b.N) {
				time.Sleep(50 * time.Microsecond)
			}
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
