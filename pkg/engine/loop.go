package engine

import (
	"context"
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// Loop plays a source again and again, with timestamps that continue
// across iterations. Each iteration opens a fresh source from New; its
// tracks must match the first one's.
type Loop struct {
	New func() Source
	// Count is how many times to play; 0 means forever.
	Count int
	// OnLoop, when set, is told each time a new iteration starts.
	OnLoop func(iteration int)

	first Source
	desc  *description.Session
	ran   bool
}

// Open opens the first iteration.
func (l *Loop) Open(ctx context.Context) (*description.Session, error) {
	l.first = l.New()
	desc, err := l.first.Open(ctx)
	if err != nil {
		return nil, err
	}
	l.desc = desc
	return desc, nil
}

func formatList(desc *description.Session) []format.Format {
	var out []format.Format
	for _, m := range desc.Medias {
		out = append(out, m.Formats...)
	}
	return out
}

// Run plays the iterations back to back.
func (l *Loop) Run(ctx context.Context, emit func(*media.Unit)) error {
	l.ran = true
	formats := formatList(l.desc)
	medias := make(map[format.Format]*description.Media)
	for _, m := range l.desc.Medias {
		for _, f := range m.Formats {
			medias[f] = m
		}
	}
	var offset float64 // seconds added to this iteration's timestamps
	cont := newRTPContinuity(len(formats))
	src, cur := l.first, l.desc
	for i := 0; l.Count == 0 || i < l.Count; i++ {
		if i > 0 {
			src = l.New()
			desc, err := src.Open(ctx)
			if err != nil {
				return err
			}
			if len(formatList(desc)) != len(formats) {
				src.Close()
				return fmt.Errorf("loop: the input changed its tracks")
			}
			if l.OnLoop != nil {
				l.OnLoop(i)
			}
			cur = desc
		}
		index := make(map[format.Format]int)
		for j, f := range formatList(cur) {
			index[f] = j
		}
		cont.newIteration(i)
		lastPTS := make([]int64, len(formats))
		lastDelta := make([]int64, len(formats))
		seen := make([]bool, len(formats))
		var end float64
		err := src.Run(ctx, func(u *media.Unit) {
			j, ok := index[u.Format]
			if !ok {
				return
			}
			f := formats[j]
			cr := float64(f.ClockRate())
			shift := int64(offset * cr)
			out := *u
			out.Format, out.Media = f, medias[f]
			out.PTS += shift
			out.DTS += shift
			if len(u.Packets) > 0 {
				out.Packets = cont.rewrite(j, u.Packets, out.PTS)
			}
			if seen[j] && u.PTS > lastPTS[j] {
				lastDelta[j] = u.PTS - lastPTS[j]
			}
			if !seen[j] || u.PTS > lastPTS[j] {
				lastPTS[j], seen[j] = u.PTS, true
			}
			emit(&out)
		})
		src.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
		// The next iteration starts where the longest track ends: its
		// last timestamp plus one frame.
		for j, f := range formats {
			if !seen[j] {
				continue
			}
			cr := float64(f.ClockRate())
			if t := float64(lastPTS[j]+lastDelta[j]) / cr; t > end {
				end = t
			}
		}
		if end <= 0 {
			return nil // an empty input would loop forever
		}
		offset += end
	}
	return nil
}

// Close closes the first source if Run never took it over; otherwise each
// iteration has closed its own.
func (l *Loop) Close() error {
	if !l.ran && l.first != nil {
		return l.first.Close()
	}
	return nil
}

// rtpContinuity keeps forwarded RTP packets continuous across loops: the
// sequence numbers go on from the last iteration's, and RTP timestamps
// follow the shifted PTS. The first iteration passes packets untouched.
type rtpContinuity struct {
	iteration int
	tsBase    []int64
	haveBase  []bool
	lastSeq   []uint16
	seqOff    []uint16
	started   []bool
}

func newRTPContinuity(n int) *rtpContinuity {
	return &rtpContinuity{
		tsBase: make([]int64, n), haveBase: make([]bool, n),
		lastSeq: make([]uint16, n), seqOff: make([]uint16, n), started: make([]bool, n),
	}
}

func (c *rtpContinuity) newIteration(i int) {
	c.iteration = i
	for j := range c.started {
		c.started[j] = false
	}
}

// note records the reference iteration's packets, which pass untouched.
func (c *rtpContinuity) note(j int, pkts []*rtp.Packet, pts int64) {
	if !c.haveBase[j] {
		c.tsBase[j] = int64(pkts[0].Timestamp) - pts
		c.haveBase[j] = true
	}
	c.lastSeq[j] = pkts[len(pkts)-1].SequenceNumber
}

func (c *rtpContinuity) rewrite(j int, pkts []*rtp.Packet, pts int64) []*rtp.Packet {
	if c.iteration == 0 {
		c.note(j, pkts, pts)
		return pkts
	}
	if !c.haveBase[j] {
		c.tsBase[j] = int64(pkts[0].Timestamp) - pts
		c.haveBase[j] = true
	}
	if !c.started[j] {
		c.seqOff[j] = c.lastSeq[j] + 1 - pkts[0].SequenceNumber
		c.started[j] = true
	}
	out := make([]*rtp.Packet, len(pkts))
	for k, p := range pkts {
		np := *p // the payload is shared; the header is this iteration's
		np.SequenceNumber = p.SequenceNumber + c.seqOff[j]
		np.Timestamp = uint32(c.tsBase[j] + pts + int64(p.Timestamp) - int64(pkts[0].Timestamp))
		out[k] = &np
		c.lastSeq[j] = np.SequenceNumber
	}
	return out
}
