package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Backoff doubles a delay from Min up to Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the delay to wait now and grows the next one.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	}
	d := b.cur
	b.cur = min(2*b.cur, b.Max)
	return d
}

// Reset starts over from Min.
func (b *Backoff) Reset() { b.cur = 0 }

// EndpointState is what a status line shows for one destination.
type EndpointState int

// Endpoint states.
const (
	StateConnecting EndpointState = iota
	StateUp
	StateDown
)

func (s EndpointState) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	}
	return "connecting"
}

// Checker is implemented by sinks that can tell, without connecting,
// whether they can carry a stream.
type Checker interface {
	Check(desc *description.Session) error
}

// RetrySink keeps a destination alive: when it cannot open or fails, it
// drops units and reopens with backoff, restarting video at a keyframe.
// It never blocks the session on a dead destination: its queue drops.
type RetrySink struct {
	Name    string
	New     func() Sink
	Backoff Backoff
	// OnEvent, when set, hears about state changes.
	OnEvent func(name string, state EndpointState, err error)

	desc       *description.Session
	cur        Sink
	first      bool // the first connection is yet to be tried
	failed     bool // the destination cannot take this stream at all
	retryAt    time.Time
	waitKey    bool
	hasVideo   bool
	state      atomic.Int32
	reconnects atomic.Uint64
	written    atomic.Uint64
}

// State is the destination's current state.
func (r *RetrySink) State() EndpointState { return EndpointState(r.state.Load()) }

// Reconnects counts successful reopenings after the first.
func (r *RetrySink) Reconnects() uint64 { return r.reconnects.Load() }

// Written counts units delivered.
func (r *RetrySink) Written() uint64 { return r.written.Load() }

// Needs asks for what the wrapped sink kind needs.
func (r *RetrySink) Needs() Needs {
	if nr, ok := r.New().(NeedsReporter); ok {
		return nr.Needs()
	}
	return NeedAccessUnits
}

// Open only prepares: the destination connects from its own goroutine, on
// the first unit, so a dead or slow destination never holds up the others.
func (r *RetrySink) Open(desc *description.Session) error {
	// A stream the destination cannot carry fails now, not on every retry.
	if c, ok := r.New().(Checker); ok {
		if err := c.Check(desc); err != nil {
			return err
		}
	}
	r.desc = desc
	for _, m := range desc.Medias {
		if m.Type == description.MediaTypeVideo {
			r.hasVideo = true
		}
	}
	r.first = true
	return nil
}

func (r *RetrySink) open(again bool) error {
	r.setState(StateConnecting, nil)
	s := r.New()
	if err := s.Open(r.desc); err != nil {
		s.Close()
		r.retryAt = time.Now().Add(r.Backoff.Next())
		r.setState(StateDown, err)
		return err
	}
	r.cur, r.waitKey = s, r.hasVideo
	r.Backoff.Reset()
	if again {
		r.reconnects.Add(1)
	}
	r.setState(StateUp, nil)
	return nil
}

func (r *RetrySink) setState(s EndpointState, err error) {
	if EndpointState(r.state.Swap(int32(s))) != s || err != nil {
		if r.OnEvent != nil {
			r.OnEvent(r.Name, s, err)
		}
	}
}

// Write delivers u, or drops it while the destination is down.
func (r *RetrySink) Write(u *media.Unit) error {
	if r.failed {
		return nil
	}
	if r.cur == nil {
		if time.Now().Before(r.retryAt) {
			return nil
		}
		again := !r.first
		r.first = false
		if err := r.open(again); err != nil {
			// A stream the destination cannot carry will not get better.
			if k, _ := fault.KindOf(err); k == fault.Unsupported || k == fault.Usage {
				r.failed = true
			}
			return nil //nolint:nilerr // retried later; the session goes on
		}
	}
	if r.waitKey {
		if !media.IsVideo(u.Format) || !isKey(u) {
			return nil
		}
		r.waitKey = false
	}
	if err := r.cur.Write(u); err != nil {
		r.cur.Close()
		r.cur = nil
		r.retryAt = time.Now().Add(r.Backoff.Next())
		r.setState(StateDown, err)
		return nil
	}
	r.written.Add(1)
	return nil
}

// isKey reports a keyframe; undecoded RTP counts when it starts an IDR.
func isKey(u *media.Unit) bool {
	if u.Decoded() {
		return u.Key
	}
	return u.Key || media.StartsKeyframe(u)
}

// Close closes the current connection.
func (r *RetrySink) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}

// RetrySource reconnects a network source with backoff when it drops.
// Later connections are mapped onto the first one's tracks, with
// timestamps (and forwarded RTP) that keep going forward (a Timeline with
// the AfterGap policy), so destinations see one continuous stream.
type RetrySource struct {
	New     func() Source
	Backoff Backoff
	// OnEvent, when set, hears about state changes. It is called from Run:
	// StateUp comes after the last unit of the lost connection and before
	// the first unit of the new one, so a caller can start a new file there.
	OnEvent func(state EndpointState, err error)
	// Retry, when set, is told why the source was lost (or the last try
	// failed: ErrStreamEnded when it just ended) and the wait before the
	// next try; an error ends Run with it instead.
	Retry func(err error, wait time.Duration) error

	first      Source
	desc       *description.Session
	ran        bool
	reconnects atomic.Uint64
}

// ErrStreamEnded is why a source that ended by itself was lost.
var ErrStreamEnded = errors.New("the stream ended")

// Reconnects counts reconnections.
func (r *RetrySource) Reconnects() uint64 { return r.reconnects.Load() }

// Open opens the first connection; failing here fails the session.
func (r *RetrySource) Open(ctx context.Context) (*description.Session, error) {
	r.first = r.New()
	desc, err := r.first.Open(ctx)
	if err != nil {
		return nil, err
	}
	r.desc = desc
	return desc, nil
}

// Run runs connections until ctx ends, or Retry refuses to go on.
func (r *RetrySource) Run(ctx context.Context, emit func(*media.Unit)) error {
	r.ran = true
	tl := NewTimeline(r.desc, AfterGap)
	src, cur := r.first, r.desc
	var lost error // why the last connection ended
	for conn := 0; ; conn++ {
		if conn > 0 {
			var err error
			src, cur, err = r.reconnect(ctx, tl, lost)
			if err != nil {
				if ctx.Err() != nil {
					return nil // ctx ended while reconnecting
				}
				return err
			}
			r.reconnects.Add(1)
		}
		err := tl.Play(ctx, src, cur, emit)
		src.Close()
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = ErrStreamEnded
		}
		lost = err
		if r.OnEvent != nil {
			r.OnEvent(StateDown, err)
		}
	}
}

// reconnect opens a new connection with backoff until one fits the
// first one's tracks.
func (r *RetrySource) reconnect(ctx context.Context, tl *Timeline, lost error) (Source, *description.Session, error) {
	r.Backoff.Reset()
	for {
		wait := r.Backoff.Next()
		if r.Retry != nil {
			if err := r.Retry(lost, wait); err != nil {
				return nil, nil, err
			}
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if r.OnEvent != nil {
			r.OnEvent(StateConnecting, nil)
		}
		src := r.New()
		desc, err := src.Open(ctx)
		if err == nil {
			if err = tl.Fits(desc); err != nil {
				err = fault.New(fault.Network, "the source came back with %w", err)
			}
		}
		if err != nil {
			src.Close()
			lost = err
			if r.OnEvent != nil {
				r.OnEvent(StateDown, err)
			}
			continue
		}
		media.UpdateParams(r.desc, desc)
		if r.OnEvent != nil {
			r.OnEvent(StateUp, nil)
		}
		return src, desc, nil
	}
}

// Close closes the first connection if Run never took it over.
func (r *RetrySource) Close() error {
	if !r.ran && r.first != nil {
		return r.first.Close()
	}
	return nil
}
