package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

func testDesc() (*description.Session, *format.H264) {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	return &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{f}}}}, f
}

// fakeSource emits n units, one per tick, then ends (or blocks if hold).
type fakeSource struct {
	desc  *description.Session
	units []*media.Unit
	hold  bool
	tick  time.Duration

	closed atomic.Bool
}

func (s *fakeSource) Open(context.Context) (*description.Session, error) { return s.desc, nil }

func (s *fakeSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	for _, u := range s.units {
		if s.tick > 0 {
			select {
			case <-time.After(s.tick):
			case <-ctx.Done():
				return nil
			}
		}
		emit(u)
	}
	if s.hold {
		<-ctx.Done()
	}
	return nil
}

func (s *fakeSource) Close() error { s.closed.Store(true); return nil }

type recordSink struct {
	mu       sync.Mutex
	got      int
	block    chan struct{}
	lossless bool
	closed   atomic.Bool
	failAt   int
}

func (s *recordSink) Open(*description.Session) error { return nil }

func (s *recordSink) Write(*media.Unit) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got++
	if s.failAt > 0 && s.got == s.failAt {
		return errors.New("disk full")
	}
	return nil
}

func (s *recordSink) Close() error   { s.closed.Store(true); return nil }
func (s *recordSink) Lossless() bool { return s.lossless }
func (s *recordSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func units(f format.Format, n int) []*media.Unit {
	out := make([]*media.Unit, n)
	for i := range out {
		out[i] = &media.Unit{Format: f, Received: time.Now(), Payload: [][]byte{{0x41}}, Key: i%5 == 0}
	}
	return out
}

func TestSessionSlowSinkDropsButOthersGetAll(t *testing.T) {
	desc, f := testDesc()
	slow := &recordSink{block: make(chan struct{})}
	fast := &recordSink{}
	file := &recordSink{lossless: true}
	src := &fakeSource{desc: desc, units: units(f, 200), tick: time.Millisecond}
	s := &Session{Source: src, Sinks: []Sink{slow, fast, file}, QueueSize: 16}

	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()
	// The slow sink blocks until the source is done; EOF then closes queues.
	deadline := time.After(10 * time.Second)
	for fast.count() < 200 {
		select {
		case <-deadline:
			t.Fatalf("fast sink got %d/200 units while another sink stalled", fast.count())
		case <-time.After(5 * time.Millisecond):
		}
	}
	close(slow.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Reason() != StopEOF {
		t.Fatalf("reason = %v", s.Reason())
	}
	if file.count() != 200 {
		t.Fatalf("lossless sink got %d/200", file.count())
	}
	dropped := s.Dropped()
	if dropped[0] == 0 || uint64(slow.count())+dropped[0] != 200 {
		t.Fatalf("slow sink: got %d, dropped %d; want drops that add up to 200", slow.count(), dropped[0])
	}
	if dropped[1] != 0 || dropped[2] != 0 {
		t.Fatalf("unexpected drops %v", dropped)
	}
	for i, sk := range []*recordSink{slow, fast, file} {
		if !sk.closed.Load() {
			t.Fatalf("sink %d not closed", i)
		}
	}
	if !src.closed.Load() {
		t.Fatal("source not closed")
	}
	st := s.Stats().Snapshot()
	if st[0].Frames != 200 || st[0].Keyframes != 40 || st[0].MeanGOP() != 5 {
		t.Fatalf("stats frames=%d keys=%d gop=%v", st[0].Frames, st[0].Keyframes, st[0].MeanGOP())
	}
}

func TestSessionDurationAndCancel(t *testing.T) {
	desc, f := testDesc()
	sink := &recordSink{}
	s := &Session{Source: &fakeSource{desc: desc, units: units(f, 3), hold: true}, Sinks: []Sink{sink}, Duration: 50 * time.Millisecond}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Reason() != StopDuration || sink.count() != 3 || !sink.closed.Load() {
		t.Fatalf("reason=%v got=%d closed=%v", s.Reason(), sink.count(), sink.closed.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	sink2 := &recordSink{}
	s2 := &Session{Source: &fakeSource{desc: desc, hold: true}, Sinks: []Sink{sink2}}
	go func() {
		for s2.Stats() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := s2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if s2.Reason() != StopCanceled || !sink2.closed.Load() {
		t.Fatalf("reason=%v closed=%v", s2.Reason(), sink2.closed.Load())
	}
}

func TestSessionSinkErrorStops(t *testing.T) {
	desc, f := testDesc()
	sink := &recordSink{failAt: 2, lossless: true}
	other := &recordSink{}
	s := &Session{Source: &fakeSource{desc: desc, units: units(f, 10), hold: true}, Sinks: []Sink{sink, other}}
	err := s.Run(context.Background())
	if err == nil || s.Reason() != StopError {
		t.Fatalf("err=%v reason=%v", err, s.Reason())
	}
	if !sink.closed.Load() || !other.closed.Load() {
		t.Fatal("sinks not closed after a sink error")
	}
}

// salvageSink fails a write, then its Close repeats that error with what
// it did to the file.
type salvageSink struct{ recordSink }

var errFull = errors.New("write x.mp4: no space left on device")

func (s *salvageSink) Write(*media.Unit) error { return errFull }
func (s *salvageSink) Close() error {
	return fmt.Errorf("%w; kept x.mp4 up to its last complete fragment", errFull)
}

// TestSessionSinkErrorSaidOnce: a Close error that repeats the write
// error (and says what became of the file) replaces it, so the message
// names the cause once.
func TestSessionSinkErrorSaidOnce(t *testing.T) {
	desc, f := testDesc()
	s := &Session{Source: &fakeSource{desc: desc, units: units(f, 3), hold: true}, Sinks: []Sink{&salvageSink{}}}
	err := s.Run(context.Background())
	if want := "write x.mp4: no space left on device; kept x.mp4 up to its last complete fragment"; err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if !errors.Is(err, errFull) {
		t.Error("the write error is not in the chain")
	}
}

func pkt(seq uint16, ts uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: []byte{1, 2, 3}}
}

func TestStatsLossJitterAndWrap(t *testing.T) {
	_, f := testDesc()
	start := time.Unix(1000, 0)
	s := newStats(start, []format.Format{f})
	seq := uint16(65530)
	// 20 packets at a steady 40 ms / 3600 ticks, skipping two of them and
	// crossing the 16-bit wrap.
	for i := 0; i < 20; i++ {
		if i == 7 || i == 8 {
			seq++
			continue
		}
		arr := start.Add(time.Duration(i) * 40 * time.Millisecond)
		s.observe(&media.Unit{Format: f, Received: arr, Packets: []*rtp.Packet{pkt(seq, uint32(i*3600))}})
		seq++
	}
	tr := s.Snapshot()[0]
	if tr.Packets != 18 {
		t.Fatalf("packets = %d", tr.Packets)
	}
	if tr.ExpectedPackets() != 20 || tr.PacketsLost != 2 {
		t.Fatalf("expected=%d lost=%d, want 20 and 2", tr.ExpectedPackets(), tr.PacketsLost)
	}
	if tr.JitterDuration() > time.Millisecond {
		t.Fatalf("jitter %v for perfectly paced packets", tr.JitterDuration())
	}

	// Irregular arrival raises jitter.
	s2 := newStats(start, []format.Format{f})
	for i := 0; i < 50; i++ {
		skew := time.Duration(i%2) * 20 * time.Millisecond
		arr := start.Add(time.Duration(i)*40*time.Millisecond + skew)
		s2.observe(&media.Unit{Format: f, Received: arr, Packets: []*rtp.Packet{pkt(uint16(i), uint32(i*3600))}})
	}
	j := s2.Snapshot()[0].JitterDuration()
	if j < 10*time.Millisecond || j > 21*time.Millisecond {
		t.Fatalf("jitter = %v, want about 20ms", j)
	}
}

func BenchmarkSessionEmit(b *testing.B) {
	desc, f := testDesc()
	u := &media.Unit{Format: f, Received: time.Now(), Packets: []*rtp.Packet{pkt(1, 0)}}
	s := &Session{Source: &fakeSource{desc: desc}, Sinks: []Sink{&recordSink{}}}
	st := newStats(time.Now(), []format.Format{f})
	_ = s
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		u.Packets[0].SequenceNumber = uint16(i)
		st.observe(u)
	}
}

func TestSessionFramesAndGap(t *testing.T) {
	desc, f := testDesc()
	sink := &recordSink{lossless: true}
	s := &Session{Source: &fakeSource{desc: desc, units: units(f, 50), hold: true}, Sinks: []Sink{sink}, MaxFrames: 20}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Reason() != StopFrames || sink.count() != 20 {
		t.Fatalf("reason %v, %d units; want frame limit at 20", s.Reason(), sink.count())
	}

	sink2 := &recordSink{}
	s2 := &Session{Source: &fakeSource{desc: desc, units: units(f, 3), hold: true}, Sinks: []Sink{sink2}, Gap: 200 * time.Millisecond}
	start := time.Now()
	if err := s2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s2.Reason() != StopGap || time.Since(start) > 5*time.Second {
		t.Fatalf("reason %v after %v; want a gap stop", s2.Reason(), time.Since(start))
	}
}

// rtcpSink records RTCP besides units.
type rtcpSink struct {
	recordSink
	rtcp [][]byte
}

func (s *rtcpSink) WriteRTCP(_ *description.Media, pkt []byte, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rtcp = append(s.rtcp, pkt)
	return nil
}

// rtcpSource emits RTCP units only when its context asks for them.
type rtcpSource struct {
	fakeSource
	on bool
}

func (s *rtcpSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	s.on = NeedsFrom(ctx)&NeedRTCP != 0
	m := s.desc.Medias[0]
	for i, u := range s.units {
		emit(u)
		if s.on && i%10 == 0 {
			emit(&media.Unit{Media: m, Format: m.Formats[0], Received: time.Now(), RTCP: []byte{0x80, 200, 0, 6}})
		}
	}
	return nil
}

func TestSessionRTCPReachesOnlyRTCPSinks(t *testing.T) {
	desc, f := testDesc()
	plain, dump := &recordSink{lossless: true}, &rtcpSink{recordSink: recordSink{lossless: true}}
	src := &rtcpSource{fakeSource: fakeSource{desc: desc, units: units(f, 30)}}
	s := &Session{Source: src, Sinks: []Sink{plain, dump}, MaxFrames: 100}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !src.on {
		t.Fatal("the session did not ask the source for RTCP, though a sink records it")
	}
	if plain.count() != 30 || dump.count() != 30 || len(dump.rtcp) != 3 {
		t.Fatalf("plain sink %d units, dump sink %d units and %d RTCP; want 30, 30 and 3", plain.count(), dump.count(), len(dump.rtcp))
	}
	var frames uint64
	for _, ts := range s.Stats().Snapshot() {
		frames += ts.Frames
	}
	if frames != 30 {
		t.Fatalf("stats count %d frames; RTCP must not count", frames)
	}

	src2 := &rtcpSource{fakeSource: fakeSource{desc: desc, units: units(f, 5)}}
	if err := (&Session{Source: src2, Sinks: []Sink{&recordSink{lossless: true}}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if src2.on {
		t.Fatal("the session asked for RTCP that no sink records")
	}
}

// TestSessionRTCPThroughWrappers: the RTCP need reaches the source through
// every wrapper (relay SRC x.pcap wrapped it in a RetrySource, which
// dropped it, so the dump had no RTCP while pull's had).
func TestSessionRTCPThroughWrappers(t *testing.T) {
	desc, f := testDesc()
	newSrc := func() *rtcpSource { return &rtcpSource{fakeSource: fakeSource{desc: desc, units: units(f, 30)}} }
	cases := map[string]func(*rtcpSource) Source{
		"Loop":   func(s *rtcpSource) Source { return &Loop{New: func() Source { return s }, Count: 1} },
		"Paced":  func(s *rtcpSource) Source { return &Paced{Source: s, Speed: 1000} },
		"Select": func(s *rtcpSource) Source { return &Select{Source: s, Selection: Selection{VideoOnly: true}} },
		"RetrySource": func(s *rtcpSource) Source {
			return &RetrySource{New: func() Source { return s }, Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond}}
		},
	}
	for name, wrap := range cases {
		t.Run(name, func(t *testing.T) {
			src := newSrc()
			dump := &rtcpSink{recordSink: recordSink{lossless: true}}
			s := &Session{Source: wrap(src), Sinks: []Sink{dump}, MaxFrames: 30}
			if err := s.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			dump.mu.Lock()
			n := len(dump.rtcp)
			dump.mu.Unlock()
			if !src.on || n == 0 {
				t.Fatalf("the source was not asked for RTCP through %s (%d RTCP packets recorded)", name, n)
			}
		})
	}
}

// onDemandSource is a fakeSource that reads on demand (as a paced file),
// and counts what it emitted.
type onDemandSource struct {
	fakeSource
	emitted atomic.Int64
}

func (s *onDemandSource) OnDemand() bool { return true }

func (s *onDemandSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	return s.fakeSource.Run(ctx, func(u *media.Unit) { s.emitted.Add(1); emit(u) })
}

// syncSink checks that each unit is written before the source goes on.
type syncSink struct {
	recordSink
	src   *onDemandSource
	async atomic.Int64
}

func (s *syncSink) Write(u *media.Unit) error {
	if s.src.emitted.Load() != int64(s.count()+1) {
		s.async.Add(1)
	}
	return s.recordSink.Write(u)
}

// TestSessionInlineSink: one lossless sink of an on-demand source is
// written from the source's goroutine, every unit in order; a write error
// stops the session with that error, and nothing more is written.
func TestSessionInlineSink(t *testing.T) {
	desc, f := testDesc()
	src := &onDemandSource{fakeSource: fakeSource{desc: desc, units: units(f, 200), hold: true}}
	sink := &syncSink{recordSink: recordSink{lossless: true}, src: src}
	s := &Session{Source: src, Sinks: []Sink{sink}, MaxFrames: 200}
	if err := s.Run(context.Background()); err != nil || s.Reason() != StopFrames {
		t.Fatalf("err=%v reason=%v", err, s.Reason())
	}
	if sink.count() != 200 || sink.async.Load() != 0 {
		t.Fatalf("sink got %d units, %d of them after the source went on; want 200, 0", sink.count(), sink.async.Load())
	}
	if d := s.Dropped(); len(d) != 1 || d[0] != 0 {
		t.Fatalf("dropped %v", d)
	}

	src = &onDemandSource{fakeSource: fakeSource{desc: desc, units: units(f, 50), hold: true}}
	sink = &syncSink{recordSink: recordSink{lossless: true, failAt: 10}, src: src}
	s = &Session{Source: src, Sinks: []Sink{sink}}
	err := s.Run(context.Background())
	if err == nil || err.Error() != "disk full" || s.Reason() != StopError {
		t.Fatalf("err=%v reason=%v, want the sink's error", err, s.Reason())
	}
	if sink.count() != 10 || !sink.closed.Load() || !src.closed.Load() {
		t.Fatalf("sink got %d units (want 10, none after its error), closed %v, source closed %v",
			sink.count(), sink.closed.Load(), src.closed.Load())
	}
}
