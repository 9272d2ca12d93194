package check

import (
	"math"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// maxReorder is how far back an RTP timestamp may step without being a
// fault: B-frames are sent in decode order, so their timestamps go back by
// a few frames.
const maxReorder = 500 * time.Millisecond

type srSample struct {
	ntp uint64
	rtp uint32
	at  time.Time
	// lastRTP is the RTP timestamp of the newest packet before the SR.
	lastRTP  uint32
	havePrev bool
}

// trackStat accumulates what one track's RTP and RTCP looked like.
type trackStat struct {
	forma format.Format
	clock int
	video bool

	packets, bytes  uint64
	first, firstKey time.Time
	lastAt          time.Time
	srcAddr         string

	ssrcs       map[uint32]int
	haveSeq     bool
	lastSeq     uint16
	seqBackward int
	lost        int
	seqMax      uint16

	lastTS       uint32
	tsBackward   int     // steps back further than maxReorder
	reordered    int     // steps back within maxReorder (B-frames)
	worstBack    float64 // seconds
	markers      int
	tsChanges    int
	jitter       float64 // in clock units
	lastTransit  float64
	haveTransit  bool
	inbandSPS    []byte
	srs          []srSample // the first and the latest
	srCount      int
	rtcpPackets  int
	resumeAt     time.Time // packets after this are "after resume"
	resumeSeq    *uint16
	resumeTS     uint32
	h264         *rtph264.Decoder
	h265         *rtph265.Decoder
	decodeErrors int
}

// collector receives every RTP and RTCP packet of a session.
type collector struct {
	mu     sync.Mutex
	start  time.Time
	tracks []*trackStat
	total  uint64
}

func newCollector(formats []format.Format) *collector {
	c := &collector{start: time.Now()}
	for _, f := range formats {
		t := &trackStat{forma: f, clock: f.ClockRate(), ssrcs: map[uint32]int{}}
		switch ff := f.(type) {
		case *format.H264:
			t.video = true
			t.h264, _ = ff.CreateDecoder()
		case *format.H265:
			t.video = true
			t.h265, _ = ff.CreateDecoder()
		default:
			t.video = isVideoCodec(f)
		}
		c.tracks = append(c.tracks, t)
	}
	return c
}

func isVideoCodec(f format.Format) bool {
	switch f.(type) {
	case *format.AV1, *format.VP8, *format.VP9, *format.MJPEG, *format.MPEG4Video, *format.MPEG1Video:
		return true
	}
	return false
}

func (c *collector) count() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// markResume makes the next packet of each track its "first after resume".
func (c *collector) markResume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, t := range c.tracks {
		t.resumeAt, t.resumeSeq = now, nil
	}
}

func (c *collector) rtp(track int, b []byte, at time.Time, src string) {
	var pkt rtp.Packet
	if err := pkt.Unmarshal(b); err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if track < 0 || track >= len(c.tracks) {
		return
	}
	t := c.tracks[track]
	c.total++
	t.packets++
	t.bytes += uint64(len(b))
	if t.first.IsZero() {
		t.first = at
		t.srcAddr = src
	}
	t.lastAt = at
	t.ssrcs[pkt.SSRC]++
	if !t.resumeAt.IsZero() && t.resumeSeq == nil && at.After(t.resumeAt) {
		seq := pkt.SequenceNumber
		t.resumeSeq, t.resumeTS = &seq, pkt.Timestamp
	}
	if t.haveSeq {
		switch d := int16(pkt.SequenceNumber - t.lastSeq); {
		case d > 1:
			t.lost += int(d) - 1
		case d <= 0:
			t.seqBackward++
		}
		if d := int32(pkt.Timestamp - t.lastTS); d != 0 {
			t.tsChanges++
			if d < 0 && t.clock > 0 {
				back := float64(-int64(d)) / float64(t.clock)
				if back > maxReorder.Seconds() {
					t.tsBackward++
					t.worstBack = math.Max(t.worstBack, back)
				} else {
					t.reordered++
				}
			}
		}
	}
	if d := int16(pkt.SequenceNumber - t.lastSeq); !t.haveSeq || d > 0 {
		t.lastSeq = pkt.SequenceNumber
	}
	t.haveSeq = true
	t.lastTS = pkt.Timestamp
	if pkt.Marker {
		t.markers++
	}
	if t.clock > 0 {
		arrival := at.Sub(c.start).Seconds() * float64(t.clock)
		transit := arrival - float64(pkt.Timestamp)
		if t.haveTransit {
			d := math.Abs(transit - t.lastTransit)
			if d < float64(t.clock)/2 { // timestamp jumps are graded elsewhere
				t.jitter += (d - t.jitter) / 16
			}
		}
		t.lastTransit, t.haveTransit = transit, true
	}
	c.decode(t, &pkt, at)
}

func (c *collector) decode(t *trackStat, pkt *rtp.Packet, at time.Time) {
	var nalus [][]byte
	var err error
	switch {
	case t.h264 != nil:
		nalus, err = t.h264.Decode(pkt)
	case t.h265 != nil:
		nalus, err = t.h265.Decode(pkt)
	default:
		if t.firstKey.IsZero() {
			t.firstKey = at
		}
		return
	}
	if err != nil {
		return
	}
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if t.h264 != nil {
			switch n[0] & 0x1f {
			case 5:
				if t.firstKey.IsZero() {
					t.firstKey = at
				}
			case 7:
				if t.inbandSPS == nil {
					t.inbandSPS = append([]byte(nil), n...)
				}
			}
		} else {
			switch typ := (n[0] >> 1) & 0x3f; {
			case typ >= 16 && typ <= 21:
				if t.firstKey.IsZero() {
					t.firstKey = at
				}
			case typ == 33:
				if t.inbandSPS == nil {
					t.inbandSPS = append([]byte(nil), n...)
				}
			}
		}
	}
}

func (c *collector) rtcp(track int, b []byte, at time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if track < 0 || track >= len(c.tracks) {
		return
	}
	t := c.tracks[track]
	t.rtcpPackets++
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			// The first and the latest are enough, and bound memory.
			smp := srSample{ntp: sr.NTPTime, rtp: sr.RTPTime, at: at, lastRTP: t.lastTS, havePrev: t.haveSeq}
			if len(t.srs) < 2 {
				t.srs = append(t.srs, smp)
			} else {
				t.srs[1] = smp
			}
			t.srCount++
		}
	}
}

// snapshot copies the stats of every track.
func (c *collector) snapshot() []trackStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]trackStat, len(c.tracks))
	for i, t := range c.tracks {
		out[i] = *t
		out[i].srs = append([]srSample(nil), t.srs...)
		out[i].ssrcs = make(map[uint32]int, len(t.ssrcs))
		for k, v := range t.ssrcs {
			out[i].ssrcs[k] = v
		}
	}
	return out
}
