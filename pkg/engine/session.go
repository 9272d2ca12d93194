package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/media"
)

// DefaultStartWait is the least wall time a session with MediaDuration
// waits for its first usable unit.
const DefaultStartWait = 10 * time.Second

// DefaultQueueSize is the per-sink queue length, in units.
const DefaultQueueSize = 1024

// StopReason says why a session ended.
type StopReason int

// Stop reasons.
const (
	StopNone     StopReason = iota
	StopEOF                 // the source ended
	StopDuration            // Duration elapsed
	StopCanceled            // the context was canceled (signal)
	StopError               // the source or a sink failed
	StopFrames              // MaxFrames reached
	StopGap                 // nothing arrived for Gap
)

func (r StopReason) String() string {
	switch r {
	case StopEOF:
		return "end of stream"
	case StopDuration:
		return "duration reached"
	case StopCanceled:
		return "interrupted"
	case StopError:
		return "error"
	case StopFrames:
		return "frame limit reached"
	case StopGap:
		return "no data for the gap limit"
	}
	return "running"
}

// Session moves units from one source to N sinks. Each sink has its own
// bounded queue: a slow sink drops and counts, and never stalls the source
// or the other sinks, unless it is Lossless.
type Session struct {
	Source Source
	Sinks  []Sink
	// QueueSize bounds each sink's queue; 0 means DefaultQueueSize.
	QueueSize int
	// Duration stops the session after this long of wall time; 0 means no
	// limit. probe --play measures over it.
	Duration time.Duration
	// MediaDuration stops the session once this much media was delivered,
	// as ffmpeg's -t: it is counted on the first video track (the first
	// track without video) from its first usable unit (a keyframe, when
	// decoded), so a server's GOP burst or a slow start does not lengthen
	// the output. Units at or past it are not delivered. 0 means no limit.
	MediaDuration time.Duration
	// StartWait bounds, in wall time, the wait for that first usable unit
	// when MediaDuration is set; 0 means MediaDuration, but at least
	// DefaultStartWait (a camera's first keyframe can be a GOP away).
	StartWait time.Duration
	// MaxFrames stops after this many video frames (any frames when there
	// is no video); 0 means no limit.
	MaxFrames uint64
	// Gap stops the session when nothing arrives for this long; 0 disables.
	Gap time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	desc     *description.Session
	stats    atomic.Pointer[Stats]
	queuesMu sync.Mutex
	queues   []*sinkQueue
	reason   StopReason
	opened   bool
	needs    Needs
	clock    *mediaClock
}

// sinkQueue runs a sink on its queue of the session's fan-out.
type sinkQueue struct {
	sink Sink
	rtcp RTCPWriter
	q    *Queue[*media.Unit]
	done chan struct{}
}

// Open opens the source and every sink.
func (s *Session) Open(ctx context.Context) (*description.Session, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.QueueSize <= 0 {
		s.QueueSize = DefaultQueueSize
	}
	for _, sk := range s.Sinks {
		if nr, ok := sk.(NeedsReporter); ok {
			s.needs |= nr.Needs()
		} else {
			s.needs |= NeedAccessUnits
		}
		if _, ok := sk.(RTCPWriter); ok {
			s.needs |= NeedRTCP
		}
	}
	desc, err := s.Source.Open(WithNeeds(ctx, s.needs))
	if err != nil {
		return nil, err
	}
	s.desc = desc
	s.opened = true

	for i, sk := range s.Sinks {
		if err := sk.Open(desc); err != nil {
			for _, prev := range s.Sinks[:i] {
				prev.Close()
			}
			s.Sinks = nil
			return nil, err
		}
	}
	return desc, nil
}

// Description is the stream description after Open.
func (s *Session) Description() *description.Session { return s.desc }

// Stats are the per-track figures; valid after Run starts.
func (s *Session) Stats() *Stats { return s.stats.Load() }

// Reason says why Run returned.
func (s *Session) Reason() StopReason { return s.reason }

// WroteMedia reports, after Run, whether a sink wrote media: a Starter
// says so itself; any other sink got media if a unit was delivered.
func (s *Session) WroteMedia() bool {
	delivered := false
	if st := s.Stats(); st != nil {
		for _, t := range st.Snapshot() {
			if t.Packets > 0 || t.Frames > 0 {
				delivered = true
			}
		}
	}
	if !delivered {
		return false
	}
	for _, sk := range s.Sinks {
		if st, ok := sk.(Starter); !ok || st.Started() {
			return true
		}
	}
	return false
}

// Dropped returns, per sink, how many units its queue dropped.
func (s *Session) Dropped() []uint64 {
	s.queuesMu.Lock()
	defer s.queuesMu.Unlock()
	out := make([]uint64, len(s.queues))
	for i, q := range s.queues {
		if q.q != nil { // nil: written inline, never dropped
			out[i] = q.q.Dropped()
		}
	}
	return out
}

func formatsOf(desc *description.Session) []format.Format {
	var out []format.Format
	for _, m := range desc.Medias {
		out = append(out, m.Formats...)
	}
	return out
}

// Run delivers units until a stop condition, then closes the sinks and the
// source. A stop by duration, EOF or cancellation returns nil.
func (s *Session) Run(ctx context.Context) error {
	if !s.opened {
		if _, err := s.Open(ctx); err != nil {
			return err
		}
	}
	stats := newStats(s.Now(), formatsOf(s.desc))
	s.stats.Store(stats)

	runCtx, cancel := context.WithCancel(WithNeeds(ctx, s.needs))
	defer cancel()

	sinkFailed := make(chan error, len(s.Sinks))
	fan := &Fanout[*media.Unit]{Done: runCtx.Done()}
	inline := s.inlineSink()
	var inlineErr error // under emitMu
	if inline != nil {
		q := &sinkQueue{sink: inline, done: make(chan struct{})}
		q.rtcp, _ = inline.(RTCPWriter)
		close(q.done)
		s.queuesMu.Lock()
		s.queues = append(s.queues, q)
		s.queuesMu.Unlock()
	}
	for _, sk := range s.Sinks {
		if sk == inline {
			continue
		}
		opt := QueueOptions[*media.Unit]{Size: s.QueueSize}
		if l, ok := sk.(Lossless); ok {
			opt.Lossless = l.Lossless()
		}
		q := &sinkQueue{sink: sk, done: make(chan struct{})}
		q.rtcp, _ = sk.(RTCPWriter)
		if q.rtcp == nil {
			opt.Accept = isMedia
		}
		q.q = fan.Add(opt)
		s.queuesMu.Lock()
		s.queues = append(s.queues, q)
		s.queuesMu.Unlock()
		go q.run(sinkFailed)
	}

	hasVideo := false
	for _, f := range formatsOf(s.desc) {
		if media.IsVideo(f) {
			hasVideo = true
		}
	}
	limit := make(chan StopReason, 1)
	var clk *mediaClock
	if s.MediaDuration > 0 {
		clk = newMediaClock(s.MediaDuration, formatsOf(s.desc))
		s.clock = clk
	}
	var frames atomic.Uint64
	var lastUnit atomic.Int64
	lastUnit.Store(time.Now().UnixNano())

	var closing atomic.Bool
	var emitMu sync.Mutex
	// deliver hands u to the sinks; emitMu is held.
	deliver := func(u *media.Unit) {
		if inline == nil {
			fan.Write(u)
			return
		}
		if inlineErr != nil {
			return
		}
		if u.RTCP != nil {
			if rw := s.queues[0].rtcp; rw != nil {
				inlineErr = rw.WriteRTCP(u.Media, u.RTCP, u.Received)
			}
		} else {
			inlineErr = inline.Write(u)
		}
		if inlineErr != nil {
			sinkFailed <- inlineErr
		}
	}
	emit := func(u *media.Unit) {
		if closing.Load() {
			return
		}
		if u.RTCP != nil {
			emitMu.Lock()
			defer emitMu.Unlock()
			deliver(u) // to the sinks that accept RTCP
			return
		}
		lastUnit.Store(time.Now().UnixNano())
		if s.MaxFrames > 0 && u.Decoded() && (!hasVideo || media.IsVideo(u.Format)) {
			n := frames.Add(1)
			if n > s.MaxFrames {
				return
			}
			if n == s.MaxFrames {
				defer func() {
					select {
					case limit <- StopFrames:
					default:
					}
				}()
			}
		}
		emitMu.Lock()
		defer emitMu.Unlock()
		if closing.Load() {
			return
		}
		if clk != nil {
			deliver, reached := clk.admit(u)
			if reached {
				select {
				case limit <- StopDuration:
				default:
				}
			}
			if !deliver {
				return
			}
		}
		// Count only what the sinks are given: a unit racing the stop is
		// neither written nor reported.
		stats.observe(u)
		deliver(u)
	}

	srcDone := make(chan error, 1)
	go func() { srcDone <- s.Source.Run(runCtx, emit) }()

	var timer <-chan time.Time
	if s.Duration > 0 {
		t := time.NewTimer(s.Duration)
		defer t.Stop()
		timer = t.C
	}
	if s.Gap > 0 {
		go watchGap(runCtx, s.Gap, &lastUnit, limit)
	}

	var startWait <-chan time.Time
	if clk != nil {
		wait := s.StartWait
		if wait <= 0 {
			wait = max(s.MediaDuration, DefaultStartWait)
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		startWait = t.C
	}

	var runErr error
	for waiting := true; waiting; {
		waiting = false
		select {
		case <-startWait:
			if clk.started.Load() {
				startWait, waiting = nil, true
				continue
			}
			s.reason = StopDuration // nothing usable arrived in time
		case err := <-srcDone:
			srcDone = nil
			if err != nil && ctx.Err() == nil {
				s.reason, runErr = StopError, err
			} else if ctx.Err() != nil {
				s.reason = StopCanceled
			} else {
				s.reason = StopEOF
			}
		case <-timer:
			s.reason = StopDuration
		case r := <-limit:
			s.reason = r
		case <-ctx.Done():
			s.reason = StopCanceled
		case err := <-sinkFailed:
			s.reason, runErr = StopError, err
		}
	}

	cancel()
	if srcDone != nil {
		<-srcDone
	}
	emitMu.Lock()
	closing.Store(true)
	fan.Close()
	emitMu.Unlock()

	var errs []error
	if runErr != nil {
		errs = append(errs, runErr)
	}
	for _, q := range s.queues {
		<-q.done
		if err := q.sink.Close(); err != nil {
			if runErr != nil && errors.Is(err, runErr) {
				// Close repeats the write error and says what became of
				// the output (cut back, finalized, removed): say it once.
				errs[0] = err
				continue
			}
			errs = append(errs, fmt.Errorf("finalize output: %w", err))
		}
	}
	if err := s.Source.Close(); err != nil && runErr == nil && s.reason != StopCanceled {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// MediaTime is how much media the session delivered, on the track that
// MediaDuration counts (0 without MediaDuration).
func (s *Session) MediaTime() time.Duration {
	if s.clock == nil {
		return 0
	}
	return time.Duration(s.clock.elapsed.Load())
}

// watchGap reports StopGap when no unit arrived for gap.
func watchGap(ctx context.Context, gap time.Duration, last *atomic.Int64, out chan<- StopReason) {
	tick := time.NewTicker(min(gap/4, 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if time.Since(time.Unix(0, last.Load())) >= gap {
				select {
				case out <- StopGap:
				default:
				}
				return
			}
		}
	}
}

// inlineSink is the sink the source's goroutine writes to itself, with
// no queue and no hand-off to a sink goroutine: the only sink, when it is
// lossless (the source would wait for it anyway) and the source reads on
// demand (waiting costs it nothing). A paced push then wakes one goroutine
// fewer per unit (docs/decisions.md, "Raw socket calls").
func (s *Session) inlineSink() Sink {
	if len(s.Sinks) != 1 {
		return nil
	}
	od, ok := s.Source.(OnDemand)
	if !ok || !od.OnDemand() {
		return nil
	}
	if l, ok := s.Sinks[0].(Lossless); !ok || !l.Lossless() {
		return nil
	}
	return s.Sinks[0]
}

// isMedia accepts what is not RTCP.
func isMedia(u *media.Unit) bool { return u.RTCP == nil }

func (q *sinkQueue) run(failed chan<- error) {
	defer close(q.done)
	var err error
	for u := range q.q.C() {
		if err != nil {
			continue // drain, so a lossless queue never holds the source
		}
		if u.RTCP != nil {
			err = q.rtcp.WriteRTCP(u.Media, u.RTCP, u.Received)
		} else {
			err = q.sink.Write(u)
		}
		if err != nil {
			failed <- err
		}
	}
}
