package engine

import (
	"context"
	"time"

	"github.com/avcat/avcat/pkg/media"
)

// Pacer holds units back until their decode time, so a file plays in real
// time (or at Speed times real time). It follows media timestamps, not a
// running sum of sleeps, so it does not drift.
type Pacer struct {
	// Speed multiplies real time; 0 means 1.
	Speed float64
	// Now and Sleep default to the real clock; tests replace them.
	Now func() time.Time

	start   time.Time
	base    time.Duration
	started bool
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
	speed := p.Speed
	if speed <= 0 {
		speed = 1
	}
	t := unitTime(u)
	if !p.started {
		p.start, p.base, p.started = p.Now(), t, true
		return ctx.Err() == nil
	}
	due := p.start.Add(time.Duration(float64(t-p.base) / speed))
	d := due.Sub(p.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
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
	return p.Source.Run(ctx, func(u *media.Unit) {
		if pacer.Wait(ctx, u) {
			emit(u)
		}
	})
}
