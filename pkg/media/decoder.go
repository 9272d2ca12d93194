package media

import (
	"errors"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// Decoder turns undecoded units (RTP packets) into access units, lazily,
// for sinks that need them. One Decoder serves one stream; it is not safe
// for concurrent use.
type Decoder struct {
	depkts map[format.Format]*Depacketizer
	failed map[format.Format]bool
}

// Decode returns u itself when it is decoded already, a new decoded unit
// when u's packets complete an access unit, or nil when more packets are
// needed (or the format cannot be decoded).
func (d *Decoder) Decode(u *Unit) (*Unit, error) {
	if u.Decoded() {
		return u, nil
	}
	if d.depkts == nil {
		d.depkts = make(map[format.Format]*Depacketizer)
		d.failed = make(map[format.Format]bool)
	}
	dp := d.depkts[u.Format]
	if dp == nil {
		if d.failed[u.Format] {
			return nil, nil
		}
		var err error
		dp, err = NewDepacketizer(u.Format)
		if err != nil || dp == nil {
			d.failed[u.Format] = true
			return nil, err
		}
		d.depkts[u.Format] = dp
	}
	var au [][]byte
	for _, p := range u.Packets {
		out, err := dp.Decode(p)
		if err != nil {
			if errors.Is(err, ErrNeedMore) {
				continue
			}
			return nil, err
		}
		au = append(au, out...)
	}
	if au == nil {
		return nil, nil
	}
	return &Unit{
		Media: u.Media, Format: u.Format, PTS: u.PTS, DTS: u.DTS, NoDTS: u.NoDTS, NTP: u.NTP, Received: u.Received,
		Payload: au, Key: IsRandomAccess(u.Format, au),
	}, nil
}
