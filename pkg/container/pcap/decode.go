package pcap

import (
	"encoding/binary"
	"net/netip"
)

// skip says why a captured packet is not a UDP datagram the source can use.
type skip int

const (
	skipNone      skip = iota
	skipNotIP          // ARP, LLC, unknown ethertype or family …
	skipTCP            // TCP (RTSP, interleaved RTP)
	skipProto          // another IP protocol (ICMP, SCTP …)
	skipFragment       // a fragment of a larger datagram
	skipTruncated      // cut by the snapshot length, or malformed
	numSkips
)

// datagram is a UDP datagram found in a captured packet.
type datagram struct {
	src, dst netip.AddrPort
	payload  []byte
}

// decodeLink strips the link layer of a captured packet and decodes the
// IP and UDP layers under it.
func decodeLink(lt uint32, b []byte) (datagram, skip) {
	switch lt {
	case linkEthernet:
		if len(b) < 14 {
			return datagram{}, skipTruncated
		}
		et := binary.BigEndian.Uint16(b[12:])
		b = b[14:]
		// 802.1Q, 802.1ad and old QinQ tags, stacked.
		for i := 0; i < 4 && (et == 0x8100 || et == 0x88a8 || et == 0x9100); i++ {
			if len(b) < 4 {
				return datagram{}, skipTruncated
			}
			et = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
		}
		return decodeEtherType(et, b)
	case linkSLL:
		if len(b) < 16 {
			return datagram{}, skipTruncated
		}
		return decodeEtherType(binary.BigEndian.Uint16(b[14:]), b[16:])
	case linkSLL2:
		if len(b) < 20 {
			return datagram{}, skipTruncated
		}
		return decodeEtherType(binary.BigEndian.Uint16(b[0:]), b[20:])
	case linkNull, linkLoop:
		// A 4-byte address family, in the capturing host's byte order
		// (NULL) or network order (LOOP); the IP version says the same.
		if len(b) < 4 {
			return datagram{}, skipTruncated
		}
		return decodeIP(b[4:])
	case linkRaw12, linkRaw14, linkRaw, linkIPv4, linkIPv6:
		return decodeIP(b)
	}
	return datagram{}, skipNotIP
}

func decodeEtherType(et uint16, b []byte) (datagram, skip) {
	switch et {
	case 0x0800:
		return decodeIPv4(b)
	case 0x86dd:
		return decodeIPv6(b)
	}
	return datagram{}, skipNotIP
}

func decodeIP(b []byte) (datagram, skip) {
	if len(b) == 0 {
		return datagram{}, skipTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(b)
	case 6:
		return decodeIPv6(b)
	}
	return datagram{}, skipNotIP
}

const (
	protoTCP = 6
	protoUDP = 17
)

func decodeIPv4(b []byte) (datagram, skip) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return datagram{}, skipTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl {
		return datagram{}, skipTruncated
	}
	if total > len(b) {
		return datagram{}, skipTruncated
	}
	b = b[:total] // without link-layer padding
	// More fragments, or a fragment offset.
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
		return datagram{}, skipFragment
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return decodeTransport(b[9], src, dst, b[ihl:])
}

func decodeIPv6(b []byte) (datagram, skip) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return datagram{}, skipTruncated
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	next := b[6]
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	b = b[40:]
	if plen > len(b) || plen == 0 { // 0: a jumbogram
		return datagram{}, skipTruncated
	}
	b = b[:plen]
	// Extension headers; each iteration consumes at least 8 bytes.
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return datagram{}, skipTruncated
			}
			n := (int(b[1]) + 1) * 8
			if n > len(b) {
				return datagram{}, skipTruncated
			}
			next, b = b[0], b[n:]
		case 44: // fragment
			if len(b) < 8 {
				return datagram{}, skipTruncated
			}
			if binary.BigEndian.Uint16(b[2:])&0xfff9 != 0 { // offset or M
				return datagram{}, skipFragment
			}
			next, b = b[0], b[8:]
		case 51: // authentication header
			if len(b) < 8 {
				return datagram{}, skipTruncated
			}
			n := (int(b[1]) + 2) * 4
			if n > len(b) {
				return datagram{}, skipTruncated
			}
			next, b = b[0], b[n:]
		default:
			return decodeTransport(next, src, dst, b)
		}
	}
}

func decodeTransport(proto byte, src, dst netip.Addr, b []byte) (datagram, skip) {
	switch proto {
	case protoUDP:
	case protoTCP:
		return datagram{}, skipTCP
	default:
		return datagram{}, skipProto
	}
	if len(b) < 8 {
		return datagram{}, skipTruncated
	}
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	if ulen < 8 || ulen > len(b) {
		return datagram{}, skipTruncated
	}
	return datagram{
		src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:])),
		dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:])),
		payload: b[8:ulen],
	}, skipNone
}
