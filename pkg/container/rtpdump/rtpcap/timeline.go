package rtpcap

import (
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// maxSkew is how far the RTP clock of a track may move away from the
// arrival clock between two of its packets before the timeline treats it
// as a discontinuity (a restarted sender, a timestamp jump) and follows
// the arrival time instead.
const maxSkew = 10 * time.Second

// Timeline turns captured RTP packets into unit timestamps (PTS, in the
// format's clock), the way gortsplib does for live RTSP:
//
//   - a track starts at the arrival time of its first packet, relative to
//     the first packet of the capture, so the tracks stay in sync;
//   - from there it follows the packets' RTP timestamps, unwrapped (the
//     difference of two 32-bit timestamps is read as a signed 32-bit
//     number, which also keeps B-frames, whose timestamps go back, right);
//   - when the SSRC changes, or the RTP clock jumps more than 10 s away
//     from the arrival clock between two packets, it follows the arrival
//     time across the gap.
//
// Pacing these timestamps replays the capture with its original timing.
// It is not safe for concurrent use.
type Timeline struct {
	first   time.Time
	started bool
	tracks  map[format.Format]*trackClock
}

type trackClock struct {
	rate     int64
	ssrc     uint32
	lastTS   uint32
	lastPTS  int64
	lastRecv time.Time
}

// ticks converts d to a clock of rate Hz without overflowing for any
// duration a capture can span.
func ticks(d time.Duration, rate int64) int64 {
	sec := int64(d / time.Second)
	rem := int64(d % time.Second)
	return sec*rate + rem*rate/int64(time.Second)
}

// PTS is the timestamp of pkt, of format f, received at recv.
func (tl *Timeline) PTS(f format.Format, pkt *rtp.Packet, recv time.Time) int64 {
	if !tl.started {
		tl.first, tl.started = recv, true
		tl.tracks = make(map[format.Format]*trackClock)
	}
	tc := tl.tracks[f]
	if tc == nil {
		rate := int64(f.ClockRate())
		if rate <= 0 {
			rate = 90000
		}
		tc = &trackClock{rate: rate}
		tl.tracks[f] = tc
		tc.lastPTS = ticks(recv.Sub(tl.first), rate)
	} else {
		arrival := ticks(recv.Sub(tc.lastRecv), tc.rate)
		d := int64(int32(pkt.Timestamp - tc.lastTS))
		if pkt.SSRC != tc.ssrc || absDiff(d, arrival) > ticks(maxSkew, tc.rate) {
			d = arrival
		}
		tc.lastPTS += d
	}
	tc.ssrc, tc.lastTS, tc.lastRecv = pkt.SSRC, pkt.Timestamp, recv
	return tc.lastPTS
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// ParseRTP parses b as an RTP packet, in a copy (units are shared, so the
// packet must not alias a reused buffer). It refuses what is not RTP
// version 2, what RFC 5761 reserves for RTCP (second byte 192–223), and
// packets that would not marshal back (padding that counts zero bytes).
func ParseRTP(b []byte) (*rtp.Packet, bool) {
	if len(b) < 12 || b[0]>>6 != 2 || IsRTCP(b) {
		return nil, false
	}
	c := make([]byte, len(b))
	copy(c, b)
	var p rtp.Packet
	if err := p.Unmarshal(c); err != nil {
		return nil, false
	}
	if p.Padding && p.PaddingSize == 0 {
		return nil, false
	}
	return &p, true
}

// IsRTCP reports whether b looks like an RTCP packet: version 2 and a
// packet type in 192–223 (RFC 5761 section 4; SR, RR, SDES, BYE and APP
// are 200–204).
func IsRTCP(b []byte) bool {
	return len(b) >= 4 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}
