package engine

import (
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/media"
)

// mediaClock measures delivered media for Session.MediaDuration. It is
// used under the session's emit lock.
type mediaClock struct {
	limit   time.Duration
	ref     format.Format // the track that is counted
	start   map[format.Format]int64
	started atomic.Bool
	elapsed atomic.Int64 // on ref, in ns
	reached bool
}

func newMediaClock(limit time.Duration, formats []format.Format) *mediaClock {
	c := &mediaClock{limit: limit, start: make(map[format.Format]int64)}
	for _, f := range formats {
		if media.IsVideo(f) {
			c.ref = f
			break
		}
	}
	if c.ref == nil && len(formats) > 0 {
		c.ref = formats[0]
	}
	return c
}

// admit says whether u is delivered, and whether the limit was reached.
func (c *mediaClock) admit(u *media.Unit) (deliver, reached bool) {
	if c.reached {
		return false, false
	}
	if !c.started.Load() {
		if u.Format != c.ref || !usableStart(u) {
			return true, false // sinks keep or drop what comes before
		}
		c.started.Store(true)
	}
	first, ok := c.start[u.Format]
	if !ok {
		first = u.PTS
		c.start[u.Format] = first
	}
	rate := int64(u.Format.ClockRate())
	if rate <= 0 {
		return true, false
	}
	t := time.Duration((u.PTS - first) * int64(time.Second) / rate)
	if t >= c.limit {
		if u.Format == c.ref {
			c.reached = true
			return false, true
		}
		return false, false
	}
	if u.Format == c.ref && int64(t) > c.elapsed.Load() {
		c.elapsed.Store(int64(t))
	}
	return true, false
}

// usableStart: a file starts at a video keyframe; undecoded packets and
// audio start anywhere.
func usableStart(u *media.Unit) bool {
	if !u.Decoded() || !media.IsVideo(u.Format) {
		return true
	}
	return u.Key
}
