package mp4

import (
	"math"
	"math/bits"
)

// sample is one unit to emit: one sample, or a group of PCM samples.
type sample struct {
	num  uint32 // 1-based number of the (first) sample
	off  uint64 // file offset
	size uint64
	dts  int64 // media units, from stts alone
	cto  int64 // composition offset (ctts)
	dur  int64 // media units
	sync bool  // stss
}

// cursor walks a track's sample tables in decode order, one run-length
// entry at a time, without materializing a per-sample index.
type cursor struct {
	t *track
	n uint32 // samples consumed

	dts      int64
	sttsI    int
	sttsLeft uint32

	cttsI    int
	cttsLeft uint32

	chunkI    int
	stscI     int
	chunkLeft uint32
	pos       uint64

	stssI int
}

func newCursor(t *track) *cursor {
	c := &cursor{t: t, chunkI: -1}
	if len(t.stts) > 0 {
		c.sttsLeft = t.stts[0].SampleCount
	}
	if len(t.ctts) > 0 {
		c.cttsLeft = t.ctts[0].count
	}
	return c
}

// next returns the next sample (or PCM group) in decode order.
func (c *cursor) next() (sample, bool) {
	t := c.t
	if c.n >= t.count || c.dts > maxTime {
		return sample{}, false
	}
	for c.chunkLeft == 0 {
		c.chunkI++
		if c.chunkI >= len(t.chunks) || len(t.stsc) == 0 {
			return sample{}, false
		}
		for c.stscI+1 < len(t.stsc) && uint64(t.stsc[c.stscI+1].FirstChunk) <= uint64(c.chunkI)+1 {
			c.stscI++
		}
		c.chunkLeft = t.stsc[c.stscI].SamplesPerChunk
		c.pos = t.chunks[c.chunkI]
	}
	for c.sttsLeft == 0 {
		c.sttsI++
		if c.sttsI >= len(t.stts) {
			return sample{}, false
		}
		c.sttsLeft = t.stts[c.sttsI].SampleCount
	}

	k := uint32(1)
	if t.group {
		k = min(groupMax, c.chunkLeft, c.sttsLeft, t.count-c.n)
	}
	s := sample{num: c.n + 1, off: c.pos, dts: c.dts, sync: true}
	s.dur = int64(k) * int64(t.stts[c.sttsI].SampleDelta)
	if t.sizes != nil {
		s.size = uint64(t.sizes[c.n])
	} else {
		s.size = uint64(k) * uint64(t.constSize)
	}
	if len(t.ctts) > 0 {
		for c.cttsLeft == 0 && c.cttsI+1 < len(t.ctts) {
			c.cttsI++
			c.cttsLeft = t.ctts[c.cttsI].count
		}
		if c.cttsLeft > 0 {
			s.cto = int64(t.ctts[c.cttsI].offset)
		}
		// Consume k samples of ctts.
		for left := k; left > 0 && c.cttsLeft > 0; {
			d := min(left, c.cttsLeft)
			c.cttsLeft -= d
			left -= d
			for c.cttsLeft == 0 && left > 0 && c.cttsI+1 < len(t.ctts) {
				c.cttsI++
				c.cttsLeft = t.ctts[c.cttsI].count
			}
		}
	}
	if t.stss != nil {
		for c.stssI < len(t.stss) && t.stss[c.stssI] < s.num {
			c.stssI++
		}
		s.sync = c.stssI < len(t.stss) && t.stss[c.stssI] == s.num
	}

	c.n += k
	c.chunkLeft -= k
	c.sttsLeft -= k
	c.dts += s.dur
	if c.pos+s.size < c.pos { // offset overflow: nothing past it is readable
		c.pos = math.MaxUint64
	} else {
		c.pos += s.size
	}
	return s, true
}

// pts and dts place a sample on the presentation timeline (media units).
func (t *track) pts(s sample) int64 { return s.dts + s.cto + t.shift }
func (t *track) dts(s sample) int64 { return s.dts + t.shift + t.dtsShift }

// skip reports samples that are not emitted: empty ones, and audio that
// ends before the edit list starts the presentation (encoder priming).
func (t *track) skip(s sample) bool {
	if s.size == 0 {
		return true
	}
	return t.edited && t.codec != codecH264 && t.codec != codecH265 && t.pts(s)+s.dur <= 0
}

// nextUnit returns the next sample that is emitted.
func (c *cursor) nextUnit() (sample, bool) {
	for {
		s, ok := c.next()
		if !ok || !c.t.skip(s) {
			return s, ok
		}
	}
}

// measure walks every unit once, without reading media, to find the
// track's first and last presentation times and the DTS shift needed by
// negative composition offsets.
func (t *track) measure() {
	t.units, t.minPTS, t.maxEnd, t.dtsShift = 0, math.MaxInt64, math.MinInt64, 0
	c := newCursor(t)
	for {
		s, ok := c.nextUnit()
		if !ok {
			break
		}
		t.units++
		p := t.pts(s)
		t.minPTS = min(t.minPTS, p)
		t.maxEnd = max(t.maxEnd, p+s.dur)
		t.dtsShift = min(t.dtsShift, s.cto)
	}
}

// rescale converts v from time base 1/from to 1/to, rounding to the
// nearest; it saturates instead of overflowing.
func rescale(v int64, from, to uint64) int64 {
	if from == 0 {
		return 0
	}
	neg := v < 0
	a := uint64(v)
	if neg {
		a = -a
	}
	hi, lo := bits.Mul64(a, to)
	lo, carry := bits.Add64(lo, from/2, 0)
	hi += carry
	if hi >= from {
		if neg {
			return math.MinInt64 / 2
		}
		return math.MaxInt64 / 2
	}
	q, _ := bits.Div64(hi, lo, from)
	if q > math.MaxInt64/2 {
		q = math.MaxInt64 / 2
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}
