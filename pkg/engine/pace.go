package engine

import (
	"context"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/netio"
)

// PaceGroup bounds how early the pacer lets a unit go when it is about
// to be due anyway, before it knows the frame interval, and the least it
// lets one go once it does: the units due within the group window of a
// wake-up leave in that wake-up instead of one timer each.
//
// The window is 3/4 of the video frame interval (of the shortest one of
// any track when there is no video), at least PaceGroup (or the whole
// interval, if shorter) and at most PaceGroupMax. At 25 fps + AAC the
// pacer then wakes ~26 times a second instead of ~50 (10 ms) or ~72 (no
// grouping); each wake-up also wakes gortsplib's writer, and wake-ups
// are most of what a paced push costs (docs/decisions.md, "Raw socket
// calls"). No unit leaves late because of it, and no video frame more
// than 3/4 of a frame interval early.
const (
	PaceGroup    = 10 * time.Millisecond
	PaceGroupMax = 50 * time.Millisecond
)

// Pacer holds units back until their decode time, so a file plays in real
// time (or at Speed times real time). It follows media timestamps, not a
// running sum of sleeps, so it does not drift. It keeps one timer for its
// whole life and re-arms it, and everything due when it wakes (within the
// group window, see PaceGroup) goes at once, in order.
type Pacer struct {
	// Speed multiplies real time; 0 means 1.
	Speed float64
	// Now defaults to the real clock; tests replace it.
	Now func() time.Time

	start   time.Time
	base    time.Duration
	started bool
	fd      *netio.Timer
	timer   *time.Timer // without a timerfd
	waits   int         // timer waits, for tests

	last     map[format.Format]time.Duration // last decode time per track
	gapVideo time.Duration                   // shortest DTS step of a video track
	gapAny   time.Duration                   // shortest DTS step of any track
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
	p.learn(u, t)
	if !p.started {
		p.start, p.base, p.started = p.Now(), t, true
		return ctx.Err() == nil
	}
	d := p.WallTime(t).Sub(p.Now())
	if d <= p.Window() {
		return ctx.Err() == nil
	}
	p.waits++
	return p.sleep(ctx, d)
}

// sleep waits d on the pacer's one timer: a timerfd where there is one
// (netio.Timer: no runtime timer, so sysmon stays asleep), else a
// time.Timer, re-armed.
func (p *Pacer) sleep(ctx context.Context, d time.Duration) bool {
	if p.fd == nil && p.timer == nil {
		if t, err := netio.NewTimer(); err == nil {
			p.fd = t
		}
	}
	if p.fd != nil {
		return p.fd.Sleep(ctx, d)
	}
	// Go 1.23 timers: Reset on a fired or stopped timer needs no drain.
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return true
	case <-ctx.Done():
		p.timer.Stop()
		return false
	}
}

// learn notes the DTS step of u's track.
func (p *Pacer) learn(u *media.Unit, t time.Duration) {
	if p.last == nil {
		p.last = make(map[format.Format]time.Duration)
	}
	prev, seen := p.last[u.Format]
	p.last[u.Format] = t
	step := t - prev
	if !seen || step <= 0 {
		return
	}
	if p.gapAny == 0 || step < p.gapAny {
		p.gapAny = step
	}
	if media.IsVideo(u.Format) && (p.gapVideo == 0 || step < p.gapVideo) {
		p.gapVideo = step
	}
}

// Window is how early a unit may leave with the wake-up before it (see
// PaceGroup), in wall time.
func (p *Pacer) Window() time.Duration {
	gap := p.gapVideo
	if gap == 0 {
		gap = p.gapAny
	}
	if gap == 0 {
		return PaceGroup
	}
	if p.Speed > 0 {
		gap = time.Duration(float64(gap) / p.Speed)
	}
	return min(max(gap*3/4, min(PaceGroup, gap)), PaceGroupMax)
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

// OnDemand: a paced source is a file or a pipe, read as its units fall due.
func (p *Paced) OnDemand() bool { return true }

// Stop releases the pacer's timer.
func (p *Pacer) Stop() {
	if p.fd != nil {
		p.fd.Close()
		p.fd = nil
	}
	if p.timer != nil {
		p.timer.Stop()
	}
}
