package media

import (
	"errors"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// Processor readies the units of one format for a muxer or writer, in
// one place: it depacketizes RTP units (on demand: decoded units pass),
// and for H.264 and H.265 it learns parameter sets in band (starting from
// the format's), inserts them before random access units that lack them
// (after a leading access unit delimiter) and derives the DTS of units
// with NoDTS. Keyframes are detected on the access unit; StartsKeyframe
// does it on packets. One Processor serves one stream of one format; it
// is not safe for concurrent use.
type Processor struct {
	// Format is the processor's format.
	Format format.Format

	params  *Params // nil unless H.264/H.265
	depkt   *Depacketizer
	noDepkt bool
	dts     dtsDeriver
}

// NewProcessor builds the processor of f.
func NewProcessor(f format.Format) *Processor {
	p := &Processor{Format: f, params: NewParams(f)}
	_, p.dts.h265 = f.(*format.H265)
	return p
}

// Params returns the parameter sets known so far (vps is nil for H.264;
// all nil for other formats).
func (p *Processor) Params() (vps, sps, pps []byte) { return p.params.Get() }

// HasParams reports whether the stream can be described: for H.264 and
// H.265 its parameter sets are known; other formats always can.
func (p *Processor) HasParams() bool { return p.params.Complete() }

// Process returns the access unit u carries, ready to mux: u itself when
// nothing changes, else a new unit (u is never modified, as other sinks
// may share it). It returns nil when u's packets do not complete an
// access unit yet, or the format cannot be depacketized. For H.264 and
// H.265 units with NoDTS, the DTS is derived; NoDTS stays set (DTS=PTS)
// while it cannot be yet (H.264 before its first IDR). Key is set on
// random access units.
func (p *Processor) Process(u *Unit) (*Unit, error) {
	out := u
	if !u.Decoded() {
		au, err := p.depacketize(u)
		if au == nil {
			return nil, err
		}
		out = &Unit{
			Media: u.Media, Format: u.Format, PTS: u.PTS, DTS: u.DTS, NoDTS: u.NoDTS, NTP: u.NTP, Received: u.Received,
			Payload: au, Key: IsRandomAccess(u.Format, au),
		}
	}
	if p.params == nil {
		return out, nil
	}
	au := nonEmpty(out.Payload)
	if len(au) == 0 {
		return nil, nil
	}
	p.params.Learn(au)
	key := out.Key || IsRandomAccess(p.Format, au)
	if key {
		au = p.params.Insert(au)
	}
	dts, noDTS := out.DTS, out.NoDTS
	if noDTS {
		_, sps, _ := p.params.Get()
		var ok bool
		dts, ok = p.dts.next(au, out.PTS, sps)
		noDTS = !ok
	}
	if out == u {
		if len(au) == len(u.Payload) && key == u.Key && dts == u.DTS && noDTS == u.NoDTS {
			return u, nil
		}
		c := *u
		out = &c
	}
	out.Payload, out.Key, out.DTS, out.NoDTS = au, key, dts, noDTS
	return out, nil
}

// depacketize turns u's packets into an access unit; nil when more
// packets are needed.
func (p *Processor) depacketize(u *Unit) ([][]byte, error) {
	if p.depkt == nil {
		if p.noDepkt {
			return nil, nil
		}
		d, err := NewDepacketizer(p.Format)
		if err != nil || d == nil {
			p.noDepkt = true
			return nil, err
		}
		p.depkt = d
	}
	var au [][]byte
	for _, pk := range u.Packets {
		out, err := p.depkt.Decode(pk)
		if err != nil {
			if errors.Is(err, ErrNeedMore) {
				continue
			}
			return nil, err
		}
		au = append(au, out...)
	}
	return au, nil
}

// nonEmpty drops empty NALUs.
func nonEmpty(au [][]byte) [][]byte {
	for _, n := range au {
		if len(n) == 0 {
			out := make([][]byte, 0, len(au))
			for _, n := range au {
				if len(n) > 0 {
					out = append(out, n)
				}
			}
			return out
		}
	}
	return au
}
