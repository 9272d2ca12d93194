package engine

import (
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// TrackStats are the figures measured on one format.
type TrackStats struct {
	Format format.Format

	Packets   uint64
	Bytes     uint64
	Frames    uint64
	Keyframes uint64
	// FramesBetweenKeys sums frame counts of complete GOPs; GOPs counts them.
	FramesBetweenKeys uint64
	GOPs              uint64

	// RTP sequence accounting (RFC 3550 A.1, A.8).
	PacketsLost uint64
	Jitter      float64 // in clock units

	FirstPacket   time.Duration // since session start; -1 when none
	FirstKeyframe time.Duration // since session start; -1 when none
	// LastSPS is the newest in-band SPS seen (H.264/H.265).
	LastSPS []byte

	minPTS, maxPTS int64
	havePTS        bool
	rtpStarted     bool
	baseSeq        uint16
	maxSeq         uint16
	cycles         uint32
	received       uint64
	lastTransit    int64
	haveTransit    bool
	framesSinceKey uint64
	sawKey         bool
}

// ExpectedPackets is the number of RTP packets the sender sent, per sequence
// numbers, or 0 when the track had no RTP.
func (t *TrackStats) ExpectedPackets() uint64 {
	if !t.rtpStarted {
		return 0
	}
	return uint64(t.cycles) + uint64(t.maxSeq) - uint64(t.baseSeq) + 1
}

// JitterDuration converts jitter to time using the clock rate.
func (t *TrackStats) JitterDuration() time.Duration {
	cr := t.Format.ClockRate()
	if cr <= 0 {
		return 0
	}
	return time.Duration(t.Jitter / float64(cr) * float64(time.Second))
}

// MeanGOP is the mean number of frames from one keyframe to the next.
func (t *TrackStats) MeanGOP() float64 {
	if t.GOPs == 0 {
		return 0
	}
	return float64(t.FramesBetweenKeys) / float64(t.GOPs)
}

func (t *TrackStats) observePacket(p *rtp.Packet, arrival time.Time, start time.Time) {
	t.Packets++
	t.Bytes += uint64(p.MarshalSize())
	seq := p.SequenceNumber
	if !t.rtpStarted {
		t.rtpStarted = true
		t.baseSeq, t.maxSeq = seq, seq
	} else {
		delta := seq - t.maxSeq
		switch {
		case delta == 0:
		case delta < 0x8000:
			if seq < t.maxSeq {
				t.cycles += 1 << 16
			}
			t.maxSeq = seq
		}
	}
	t.received++
	if exp := t.ExpectedPackets(); exp > t.received {
		t.PacketsLost = exp - t.received
	} else {
		t.PacketsLost = 0
	}

	cr := t.Format.ClockRate()
	if cr > 0 {
		arrivalUnits := int64(arrival.Sub(start).Seconds() * float64(cr))
		transit := arrivalUnits - int64(p.Timestamp)
		if t.haveTransit {
			d := transit - t.lastTransit
			if d < 0 {
				d = -d
			}
			t.Jitter += (float64(d) - t.Jitter) / 16
		}
		t.lastTransit, t.haveTransit = transit, true
	}
}

// MediaFPS is the frame rate measured on media timestamps: frames over the
// span of their PTS. It ignores bursts and stalls of the network.
func (t *TrackStats) MediaFPS() float64 {
	cr := t.Format.ClockRate()
	if !t.havePTS || t.Frames < 2 || cr <= 0 || t.maxPTS <= t.minPTS {
		return 0
	}
	span := float64(t.maxPTS-t.minPTS) / float64(cr)
	return float64(t.Frames-1) / span
}

func (t *TrackStats) observeUnit(u *media.Unit, sinceStart time.Duration) {
	n := media.AccessUnits(u)
	if n == 0 {
		return
	}
	t.Frames += uint64(n)
	last := media.LastPTS(u)
	if !t.havePTS {
		t.minPTS, t.maxPTS, t.havePTS = u.PTS, last, true
	} else {
		t.minPTS = min(t.minPTS, u.PTS)
		t.maxPTS = max(t.maxPTS, last)
	}
	if sps := media.FindSPS(u.Format, u.Payload); sps != nil {
		t.LastSPS = append(t.LastSPS[:0], sps...)
	}
	if !u.Key {
		t.framesSinceKey++
		return
	}
	t.Keyframes++
	if t.FirstKeyframe < 0 {
		t.FirstKeyframe = sinceStart
	}
	if t.sawKey {
		t.FramesBetweenKeys += t.framesSinceKey + 1
		t.GOPs++
	}
	t.sawKey = true
	t.framesSinceKey = 0
}

// Stats collects per-track figures. It is safe for concurrent use.
type Stats struct {
	mu     sync.Mutex
	start  time.Time
	tracks map[format.Format]*TrackStats
	order  []format.Format
}

func newStats(start time.Time, formats []format.Format) *Stats {
	s := &Stats{start: start, tracks: make(map[format.Format]*TrackStats)}
	for _, f := range formats {
		s.tracks[f] = &TrackStats{Format: f, FirstPacket: -1, FirstKeyframe: -1}
		s.order = append(s.order, f)
	}
	return s
}

func (s *Stats) observe(u *media.Unit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tracks[u.Format]
	if t == nil {
		t = &TrackStats{Format: u.Format, FirstPacket: -1, FirstKeyframe: -1}
		s.tracks[u.Format] = t
		s.order = append(s.order, u.Format)
	}
	arrival := u.Received
	since := arrival.Sub(s.start)
	if t.FirstPacket < 0 {
		t.FirstPacket = since
	}
	if len(u.Packets) > 0 {
		for _, p := range u.Packets {
			t.observePacket(p, arrival, s.start)
		}
	} else {
		t.Packets++
		t.Bytes += uint64(u.Size())
	}
	t.observeUnit(u, since)
}

// Start is when the session began receiving.
func (s *Stats) Start() time.Time { return s.start }

// Snapshot copies the per-track figures, in description order.
func (s *Stats) Snapshot() []TrackStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TrackStats, 0, len(s.order))
	for _, f := range s.order {
		t := *s.tracks[f]
		t.LastSPS = append([]byte(nil), t.LastSPS...)
		out = append(out, t)
	}
	return out
}
