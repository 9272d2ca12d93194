// Package pcap writes and reads RTP captures in the classic libpcap file
// format (what tcpdump -w and dumpcap -P write, and Wireshark opens).
//
// The format is written by hand: a 24-byte file header and a 16-byte
// header per packet (https://www.tcpdump.org/manpages/pcap-savefile.5.html).
// gopacket's pcapgo would do, but it is not in go.mod, and the part of it
// needed here is about as long as this package's framing code.
//
// # Writing
//
// The Sink writes Ethernet frames (link type 1, locally administered MACs
// 02:00:00:00:00:01 → 02:00:00:00:00:02) carrying IPv4/UDP from
// 127.0.0.1:6000+2i to 127.0.0.1:5000+2i for track i (RTCP from and to the
// next port), stamped with the packets' arrival times in microseconds,
// and NAME.sdp beside the capture with those ports (see rtpcap). Wireshark
// decodes it with `-d udp.port==5000,rtp` (one -d per track).
//
// # Reading
//
// The Source reads pcap files in both byte orders, with microsecond
// (0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps, of link types
// Ethernet (1, with VLAN tags), Linux cooked SLL (113) and SLL2 (276),
// raw IP (12, 14, 101, 228, 229) and BSD loopback (0, 108); IPv4 and IPv6;
// UDP only. Fragments, TCP (so RTSP-interleaved RTP), RTCP and non-RTP
// datagrams are skipped. pcapng files are refused with the editcap command
// that converts them.
package pcap

import (
	"encoding/binary"
	"fmt"
)

// File format constants.
const (
	magicMicro  = 0xa1b2c3d4
	magicNano   = 0xa1b23c4d
	magicPcapng = 0x0a0d0d0a

	fileHeaderSize   = 24
	recordHeaderSize = 16

	// snapLen is the snapshot length written; it is also the largest
	// record read (libpcap's MAXIMUM_SNAPLEN).
	snapLen = 262144
)

// Link types (https://www.tcpdump.org/linktypes.html).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw12    = 12 // DLT_RAW on most systems
	linkRaw14    = 14 // DLT_RAW on OpenBSD
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

var linkNames = map[uint32]string{
	6: "Token Ring", 9: "PPP", 10: "FDDI", 50: "PPP over HDLC", 104: "Cisco HDLC", 105: "IEEE 802.11",
	127: "IEEE 802.11 radiotap", 147: "user-defined (DLT_USER0)", 187: "Bluetooth HCI",
	195: "IEEE 802.15.4", 201: "Bluetooth", 220: "USB", 252: "Wireshark upper PDU",
}

func linkName(lt uint32) string {
	if n, ok := linkNames[lt]; ok {
		return fmt.Sprintf("%d (%s)", lt, n)
	}
	return fmt.Sprint(lt)
}

// Probe reports whether head starts like a classic pcap file, in either
// byte order and timestamp resolution.
func Probe(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	_, _, ok := parseMagic(head)
	return ok
}

// parseMagic returns the byte order and timestamp resolution of a file.
func parseMagic(b []byte) (order binary.ByteOrder, nano bool, ok bool) {
	switch binary.LittleEndian.Uint32(b) {
	case magicMicro:
		return binary.LittleEndian, false, true
	case magicNano:
		return binary.LittleEndian, true, true
	}
	switch binary.BigEndian.Uint32(b) {
	case magicMicro:
		return binary.BigEndian, false, true
	case magicNano:
		return binary.BigEndian, true, true
	}
	return nil, false, false
}
