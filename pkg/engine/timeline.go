package engine

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// Policy says where a Timeline puts a new iteration.
type Policy int

// Policies.
const (
	// AfterEnd moves every track of a replay by the same time, so that it
	// starts one frame after the longest track of the previous iteration
	// ended (Loop).
	AfterEnd Policy = iota
	// AfterGap starts each track of a new connection after that track's
	// last unit, by the wall time that passed (RetrySource).
	AfterGap
)

// Timeline maps the units of successive iterations of a source (a loop's
// replays, a reconnecting source's connections) onto one reference set of
// tracks, matched by index, with PTS, DTS and forwarded RTP sequence
// numbers and timestamps that keep going forward. Units of the first
// iteration whose formats are the reference's pass untouched, uncopied.
type Timeline struct {
	policy  Policy
	formats []format.Format
	medias  []*description.Media
	tracks  []timelineTrack

	iteration int                   // of the current or last Play; -1 before
	index     map[format.Format]int // this iteration's formats → reference index
	same      bool                  // this iteration's formats are the reference
	begun     time.Time

	// The end of the timeline so far: endTicks in the clock endRate.
	endTicks, endRate int64
	advanced          bool
}

// timelineTrack is one reference track's state. mapUnit touches it only from
// the goroutine emitting that track's units.
type timelineTrack struct {
	rate     int64
	shift    int64 // added to this iteration's PTS and DTS
	based    bool  // shift is fixed for this iteration
	floor    int64 // units of later iterations land after it
	hasFloor bool
	seen     bool      // a unit was sent in this iteration
	ever     bool      // a unit was ever sent
	last     int64     // the largest PTS sent
	step     int64     // the last forward step of last
	received time.Time // when the unit at last arrived

	// RTP continuity.
	tsBase   int64 // RTP timestamp minus PTS, from the first packet
	haveBase bool
	lastSeq  uint16
	seqOff   uint16
	seqSet   bool // seqOff is fixed for this iteration
}

// NewTimeline returns a timeline whose reference tracks are ref's formats.
func NewTimeline(ref *description.Session, p Policy) *Timeline {
	t := &Timeline{policy: p, iteration: -1}
	for _, m := range ref.Medias {
		for _, f := range m.Formats {
			t.formats = append(t.formats, f)
			t.medias = append(t.medias, m)
			t.tracks = append(t.tracks, timelineTrack{rate: int64(f.ClockRate())})
		}
	}
	return t
}

// Fits reports why desc's tracks cannot be mapped onto the reference: a
// different number of tracks, or another codec at the same index.
func (t *Timeline) Fits(desc *description.Session) error {
	fs := formatsOf(desc)
	if len(fs) != len(t.formats) {
		return fmt.Errorf("%d tracks instead of %d", len(fs), len(t.formats))
	}
	for i, f := range fs {
		if reflect.TypeOf(f) != reflect.TypeOf(t.formats[i]) {
			return fmt.Errorf("track %d is %s instead of %s", i+1, f.Codec(), t.formats[i].Codec())
		}
	}
	return nil
}

// Play runs one iteration: src, opened with the description desc, runs
// with its units mapped onto the reference timeline and handed to emit.
func (t *Timeline) Play(ctx context.Context, src Source, desc *description.Session, emit func(*media.Unit)) error {
	if err := t.begin(desc); err != nil {
		return err
	}
	err := src.Run(ctx, func(u *media.Unit) {
		if out := t.mapUnit(u); out != nil {
			emit(out)
		}
	})
	t.finish()
	return err
}

// Advanced reports whether the last iteration moved the timeline forward
// (an empty input, looped, would not).
func (t *Timeline) Advanced() bool { return t.advanced }

func (t *Timeline) begin(desc *description.Session) error {
	if err := t.Fits(desc); err != nil {
		return err
	}
	t.iteration++
	t.begun = time.Now()
	t.index = make(map[format.Format]int, len(t.formats))
	t.same = true
	j := 0
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			t.index[f] = j
			t.same = t.same && f == t.formats[j] && m == t.medias[j]
			j++
		}
	}
	for j := range t.tracks {
		tr := &t.tracks[j]
		tr.seen, tr.seqSet = false, false
		tr.based = t.iteration == 0 || t.policy == AfterEnd
		tr.hasFloor, tr.floor = t.iteration > 0 && tr.ever, tr.last
		tr.shift = 0
		if t.iteration > 0 && t.policy == AfterEnd && t.endRate > 0 {
			// The same time on every track, in its own clock.
			tr.shift = (t.endTicks*tr.rate + t.endRate/2) / t.endRate
		}
	}
	return nil
}

// finish notes where the iteration ended: one frame after the last unit
// of the track that ends last.
func (t *Timeline) finish() {
	t.advanced = false
	for j := range t.tracks {
		tr := &t.tracks[j]
		if !tr.seen || tr.rate <= 0 {
			continue
		}
		end := tr.last + tr.step
		if end > tr.shift {
			t.advanced = true
		}
		if t.endRate == 0 || end*t.endRate > t.endTicks*tr.rate {
			t.endTicks, t.endRate = end, tr.rate
		}
	}
}

// mapUnit returns u on the reference timeline, or nil when it is not on a
// reference track or would not land after the previous iteration. It
// returns u itself when nothing changes.
func (t *Timeline) mapUnit(u *media.Unit) *media.Unit {
	j, ok := t.index[u.Format]
	if !ok {
		return nil
	}
	if u.RTCP != nil { // no media: only its track changes
		return t.onto(u, j)
	}
	tr := &t.tracks[j]
	if !tr.based {
		tr.shift = tr.last + max(tr.gap(u, t.begun), 1) - u.PTS
		tr.based = true
	}
	pts := u.PTS + tr.shift
	if tr.hasFloor && pts <= tr.floor {
		return nil
	}
	if tr.seen && pts > tr.last {
		tr.step = pts - tr.last
	}
	if !tr.seen || pts > tr.last {
		tr.last, tr.received = pts, u.Received
	}
	tr.seen, tr.ever = true, true
	if t.iteration == 0 {
		// The reference iteration's packets pass untouched.
		if len(u.Packets) > 0 {
			tr.noteRTP(u.Packets, pts)
		}
		return t.onto(u, j)
	}
	out := *u
	out.Format, out.Media = t.formats[j], t.medias[j]
	out.PTS, out.DTS = pts, u.DTS+tr.shift
	if len(u.Packets) > 0 {
		out.Packets = tr.rewriteRTP(u.Packets, pts)
	}
	return &out
}

// onto returns u on reference track j, copied only when its format is
// not that track's.
func (t *Timeline) onto(u *media.Unit, j int) *media.Unit {
	if t.same {
		return u
	}
	out := *u
	out.Format, out.Media = t.formats[j], t.medias[j]
	return &out
}

// gap is the wall time between the track's last unit and u, in its clock;
// without arrival times, the time since the iteration began.
func (tr *timelineTrack) gap(u *media.Unit, begun time.Time) int64 {
	d := time.Since(begun)
	if !u.Received.IsZero() && !tr.received.IsZero() && u.Received.After(tr.received) {
		d = u.Received.Sub(tr.received)
	}
	return int64(d.Seconds() * float64(tr.rate))
}

func (tr *timelineTrack) noteRTP(pkts []*rtp.Packet, pts int64) {
	if !tr.haveBase {
		tr.tsBase, tr.haveBase = int64(pkts[0].Timestamp)-pts, true
	}
	tr.lastSeq = pkts[len(pkts)-1].SequenceNumber
}

// rewriteRTP copies the headers of a later iteration's packets: sequence
// numbers go on from the last ones sent, RTP timestamps follow the
// shifted PTS. Payloads are shared.
func (tr *timelineTrack) rewriteRTP(pkts []*rtp.Packet, pts int64) []*rtp.Packet {
	if !tr.haveBase {
		tr.tsBase, tr.haveBase = int64(pkts[0].Timestamp)-pts, true
	}
	if !tr.seqSet {
		tr.seqOff, tr.seqSet = tr.lastSeq+1-pkts[0].SequenceNumber, true
	}
	out := make([]*rtp.Packet, len(pkts))
	for k, p := range pkts {
		np := *p
		np.SequenceNumber = p.SequenceNumber + tr.seqOff
		np.Timestamp = uint32(tr.tsBase + pts + int64(p.Timestamp) - int64(pkts[0].Timestamp))
		out[k] = &np
		tr.lastSeq = np.SequenceNumber
	}
	return out
}
