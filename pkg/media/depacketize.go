package media

import (
	"errors"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpac3"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpav1"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpfragmented"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpklv"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmjpeg"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg1audio"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg1video"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpvp8"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpvp9"
	"github.com/pion/rtp"
)

// ErrNeedMore means the packet was consumed but the access unit is not
// complete yet (or decoding waits for a starting packet).
var ErrNeedMore = errors.New("more packets needed")

// Depacketizer turns RTP packets of one format into access units.
type Depacketizer struct {
	decode func(*rtp.Packet) ([][]byte, error)
}

// NewDepacketizer builds a depacketizer for f, or returns nil when
// gortsplib has none for the format (units then stay undecoded).
func NewDepacketizer(f format.Format) (*Depacketizer, error) {
	var fn func(*rtp.Packet) ([][]byte, error)
	var err error
	switch f := f.(type) {
	case *format.H264:
		fn, err = many(f.CreateDecoder())
	case *format.H265:
		fn, err = many(f.CreateDecoder())
	case *format.MPEG4Audio:
		fn, err = many(f.CreateDecoder())
	case *format.AV1:
		fn, err = many(f.CreateDecoder())
	case *format.AC3:
		fn, err = many(f.CreateDecoder())
	case *format.MPEG1Audio:
		fn, err = many(f.CreateDecoder())
	case *format.MPEG4AudioLATM:
		fn, err = one(f.CreateDecoder())
	case *format.MPEG4Video:
		fn, err = one(f.CreateDecoder())
	case *format.Opus:
		fn, err = one(f.CreateDecoder())
	case *format.G722:
		fn, err = one(f.CreateDecoder())
	case *format.G711:
		fn, err = one(f.CreateDecoder())
	case *format.LPCM:
		fn, err = one(f.CreateDecoder())
	case *format.VP8:
		fn, err = one(f.CreateDecoder())
	case *format.VP9:
		fn, err = one(f.CreateDecoder())
	case *format.MJPEG:
		fn, err = one(f.CreateDecoder())
	case *format.MPEG1Video:
		fn, err = one(f.CreateDecoder())
	case *format.KLV:
		fn, err = one(f.CreateDecoder())
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Depacketizer{decode: fn}, nil
}

// Decode consumes one packet. It returns ErrNeedMore until a unit is done.
func (d *Depacketizer) Decode(p *rtp.Packet) ([][]byte, error) {
	au, err := d.decode(p)
	if err != nil {
		if isPartial(err) {
			return nil, ErrNeedMore
		}
		return nil, err
	}
	if len(au) == 0 {
		return nil, ErrNeedMore
	}
	return au, nil
}

type manyDecoder interface {
	Decode(*rtp.Packet) ([][]byte, error)
}

type oneDecoder interface {
	Decode(*rtp.Packet) ([]byte, error)
}

func many[D manyDecoder](d D, err error) (func(*rtp.Packet) ([][]byte, error), error) {
	if err != nil {
		return nil, err
	}
	return d.Decode, nil
}

func one[D oneDecoder](d D, err error) (func(*rtp.Packet) ([][]byte, error), error) {
	if err != nil {
		return nil, err
	}
	return func(p *rtp.Packet) ([][]byte, error) {
		b, err := d.Decode(p)
		if err != nil || b == nil {
			return nil, err
		}
		return [][]byte{b}, nil
	}, nil
}

var partialErrs = []error{
	rtph264.ErrMorePacketsNeeded, rtph264.ErrNonStartingPacketAndNoPrevious,
	rtph265.ErrMorePacketsNeeded, rtph265.ErrNonStartingPacketAndNoPrevious,
	rtpmpeg4audio.ErrMorePacketsNeeded,
	rtpav1.ErrMorePacketsNeeded, rtpav1.ErrNonStartingPacketAndNoPrevious,
	rtpac3.ErrMorePacketsNeeded, rtpac3.ErrNonStartingPacketAndNoPrevious,
	rtpmpeg1audio.ErrMorePacketsNeeded, rtpmpeg1audio.ErrNonStartingPacketAndNoPrevious,
	rtpmpeg1video.ErrMorePacketsNeeded, rtpmpeg1video.ErrNonStartingPacketAndNoPrevious,
	rtpfragmented.ErrMorePacketsNeeded,
	rtpvp8.ErrMorePacketsNeeded, rtpvp8.ErrNonStartingPacketAndNoPrevious,
	rtpvp9.ErrMorePacketsNeeded, rtpvp9.ErrNonStartingPacketAndNoPrevious,
	rtpmjpeg.ErrMorePacketsNeeded, rtpmjpeg.ErrNonStartingPacketAndNoPrevious,
	rtpklv.ErrMorePacketsNeeded, rtpklv.ErrNonStartingPacketAndNoPrevious,
}

func isPartial(err error) bool {
	for _, e := range partialErrs {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
