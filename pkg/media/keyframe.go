package media

import (
	"encoding/binary"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// StartsKeyframe reports whether the RTP packets of an undecoded unit
// start a random access point, without depacketizing: for H.264 an IDR
// or SPS NALU, alone, in a STAP-A or starting an FU-A; for H.265 an IRAP
// picture, VPS or SPS, alone, in an AP or starting an FU. Packets of
// other formats always count.
func StartsKeyframe(u *Unit) bool {
	for _, p := range u.Packets {
		if len(p.Payload) == 0 {
			continue
		}
		switch u.Format.(type) {
		case *format.H264:
			if key264(p.Payload) {
				return true
			}
		case *format.H265:
			if key265(p.Payload) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func isKey264(t byte) bool { return t == 5 || t == 7 }

func key264(b []byte) bool {
	switch t := b[0] & 0x1f; t {
	case 24: // STAP-A
		return aggregated(b[1:], func(n []byte) bool { return isKey264(n[0] & 0x1f) })
	case 28: // FU-A
		return len(b) > 1 && b[1]&0x80 != 0 && isKey264(b[1]&0x1f)
	default:
		return isKey264(t)
	}
}

func isKey265(t byte) bool { return (t >= 16 && t <= 21) || t == 32 || t == 33 }

func key265(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	switch t := (b[0] >> 1) & 0x3f; t {
	case 48: // AP
		return aggregated(b[2:], func(n []byte) bool { return isKey265((n[0] >> 1) & 0x3f) })
	case 49: // FU
		return len(b) > 2 && b[2]&0x80 != 0 && isKey265(b[2]&0x3f)
	default:
		return isKey265(t)
	}
}

// aggregated calls key on each NALU of an aggregation payload (16-bit
// size, NALU, ...) until it reports true.
func aggregated(b []byte, key func([]byte) bool) bool {
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n == 0 || n > len(b) {
			return false
		}
		if key(b[:n]) {
			return true
		}
		b = b[n:]
	}
	return false
}
