package media

import (
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/fault"
)

// Packetizer turns access units of one format into RTP packets, with
// timestamps taken from the unit's PTS. Sequence numbers continue across
// calls, so one packetizer per output stream keeps them continuous.
type Packetizer struct {
	format format.Format
	params *Params
	encode func([][]byte) ([]*rtp.Packet, error)
}

// NewPacketizer builds a packetizer for f; the error is a fault.Unsupported
// when gortsplib has no encoder for the format.
func NewPacketizer(f format.Format) (*Packetizer, error) {
	var fn func([][]byte) ([]*rtp.Packet, error)
	var err error
	switch f := f.(type) {
	case *format.H264:
		fn, err = encMany(f.CreateEncoder())
	case *format.H265:
		fn, err = encMany(f.CreateEncoder())
	case *format.MPEG4Audio:
		fn, err = encMany(f.CreateEncoder())
	case *format.AV1:
		fn, err = encMany(f.CreateEncoder())
	case *format.AC3:
		fn, err = encMany(f.CreateEncoder())
	case *format.MPEG1Audio:
		fn, err = encMany(f.CreateEncoder())
	case *format.G711:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.LPCM:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.VP8:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.VP9:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.MJPEG:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.MPEG4Video:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.MPEG4AudioLATM:
		fn, err = encOneMany(f.CreateEncoder())
	case *format.Opus:
		enc, e := f.CreateEncoder()
		if e != nil {
			return nil, e
		}
		fn = func(au [][]byte) ([]*rtp.Packet, error) {
			out := make([]*rtp.Packet, 0, len(au))
			for i, b := range au {
				p, err := enc.Encode(b)
				if err != nil {
					return nil, err
				}
				p.Timestamp += uint32(i * 960)
				out = append(out, p)
			}
			return out, nil
		}
	default:
		return nil, fault.New(fault.Unsupported, "cannot packetize %s into RTP", f.Codec())
	}
	if err != nil {
		return nil, fmt.Errorf("%s packetizer: %w", f.Codec(), err)
	}
	return &Packetizer{format: f, params: NewParams(f), encode: fn}, nil
}

// Packetize returns the RTP packets of a decoded unit. Before an H.264 or
// H.265 random access point that lacks them, the last parameter sets
// (in band, or the format's) are inserted, so readers that join at a
// keyframe can decode.
func (p *Packetizer) Packetize(u *Unit) ([]*rtp.Packet, error) {
	au := u.Payload
	p.params.Learn(au)
	if u.Key {
		au = p.params.Insert(au)
	}
	pkts, err := p.encode(au)
	if err != nil {
		return nil, err
	}
	ts := uint32(u.PTS)
	for _, pk := range pkts {
		pk.Timestamp += ts
	}
	return pkts, nil
}

type manyEncoder interface {
	Encode([][]byte) ([]*rtp.Packet, error)
}

type oneManyEncoder interface {
	Encode([]byte) ([]*rtp.Packet, error)
}

func encMany[E manyEncoder](e E, err error) (func([][]byte) ([]*rtp.Packet, error), error) {
	if err != nil {
		return nil, err
	}
	return e.Encode, nil
}

// encOneMany adapts encoders of one frame; a unit carries one frame.
func encOneMany[E oneManyEncoder](e E, err error) (func([][]byte) ([]*rtp.Packet, error), error) {
	if err != nil {
		return nil, err
	}
	return func(au [][]byte) ([]*rtp.Packet, error) {
		var out []*rtp.Packet
		for _, b := range au {
			p, err := e.Encode(b)
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}, nil
}
