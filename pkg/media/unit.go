// Package media holds the unit that flows through the engine and helpers
// around gortsplib's codec model (description.Session, format.Format).
package media

import (
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// Unit is one access unit of one format, or, when the source did not
// depacketize, one RTP packet of it.
type Unit struct {
	Media  *description.Media
	Format format.Format

	// PTS and DTS are in the format's clock rate.
	PTS int64
	DTS int64
	// NoDTS reports that DTS is unknown and was set to PTS (RTP carries
	// no decode time); a Processor derives it for muxers that need it.
	NoDTS bool
	// NTP is the wall time of the unit, when known (RTCP sender reports).
	NTP time.Time
	// Received is when the unit reached avcat.
	Received time.Time

	// Packets are the RTP packets the unit arrived in, when it came from RTP.
	Packets []*rtp.Packet
	// Payload is the decoded access unit: NALUs for H.264/H.265, AUs for
	// AAC, one packet or frame for other codecs. Nil when not decoded.
	Payload [][]byte
	// Key reports a random access point; meaningful only when decoded.
	Key bool

	// RTCP is one RTCP packet of Media, as received. Such a unit carries
	// no media and reaches only sinks that record RTCP.
	RTCP []byte
}

// Decoded reports whether the unit carries an access unit.
func (u *Unit) Decoded() bool { return u.Payload != nil }

// Size is the number of bytes the unit carries on the wire.
func (u *Unit) Size() int {
	if len(u.Packets) > 0 {
		n := 0
		for _, p := range u.Packets {
			n += p.MarshalSize()
		}
		return n
	}
	n := 0
	for _, b := range u.Payload {
		n += len(b)
	}
	return n
}
