package engine

import (
	"context"
	"time"

	"github.com/avcat/avcat/pkg/media"
)

// PaceGroup is how early the pacer lets a unit go when it is about to be
// due anyway: the units due within it of a wake-up leave in that wake-up
// instead of one timer each. A 25 fps + AAC push then wakes ~50 times a
// second instead of ~72, and each wake-up also wakes the sink and
// gortsplib's writer: the push's CPU drops by about a third (measured,
// docs/decisions.md). It stays below a frame interval at 60 fps (16.7 ms).
const PaceGroup = 10 * time.Millisecond

// Pacer holds units back until their decode time, so a file plays in real
// time (or at Speed times real time). It follows media timestamps, not a
// running sum of sleeps, so it does not drift. It keeps one timer for its
// whole life and re-arms it, and everything due when it wakes (within
// PaceGroup) goes at once, in order. Units never leave late because of
// this, and at most PaceGroup early.
type Pacer struct {
	// Speed multiplies real time; 0 means 1.
	Speed float64
	// Now defaults to the real clock; tests replace it.
	Now func() time.Time

	start   time.Time
	base    time.Duration
	started bool
	timer   *time.Timer
	waits   int // timer waits, for tests
}

// unitTime is the decode time of u as a duration.
func unitTime(u *media.Unit) time.Duration {
	cr := u.Format.ClockRate()
	if cr <= 0 {
		return 0
	}
	return time.Duration(u.DTS) * time.Second / time.Duration(cr)
}

// Wait blocks until u is due. It returns false when ctx ends first.
func (p *Pacer) Wait(ctx context.Context, u *media.Unit) bool {
	if p.Now == nil {
		p.Now = time.Now
	}
	t := unitTime(u)
	if !p.started {
		p.start, p.base, p.started = p.Now(), t, true
		return ctx.Err() == nil
	}
	d := p.WallTime(t).Sub(p.Now())
	if d <= PaceGroup {
		return ctx.Err() == nil
	}
	// Go 1.23 timers: Reset on a fired or stopped timer needs no drain.
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	p.waits++
	select {
	case <-p.timer.C:
		return true
	case <-ctx.Done():
		p.timer.Stop()
		return false
	}
}

// WallTime is the wall clock time at which media time t plays, on the
// timeline of the units already waited for; zero before the first.
func (p *Pacer) WallTime(t time.Duration) time.Time {
	if !p.started {
		return time.Time{}
	}
	speed := p.Speed
	if speed <= 0 {
		speed = 1
	}
	return p.start.Add(time.Duration(float64(t-p.base) / speed))
}

// Paced wraps a source so that it emits in real time.
type Paced struct {
	Source
	Speed float64
}

// Run paces the wrapped source's units.
func (p *Paced) Run(ctx context.Context, emit func(*media.Unit)) error {
	pacer := &Pacer{Speed: p.Speed}
	defer pacer.Stop()
	return p.Source.Run(ctx, func(u *media.Unit) {
		if pacer.Wait(ctx, u) {
			emit(u)
		}
	})
}

// Stop releases the pacer's timer.
func (p *Pacer) Stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
