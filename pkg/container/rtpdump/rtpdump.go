// Package rtpdump writes and reads captures in the rtpdump format of
// rtptools (rtpdump -F dump, rtpplay): RTP "as received", for debugging
// cameras and replaying them.
//
// # Format (rtptools rtpdump.h, all fields big endian)
//
//	"#!rtpplay1.0 ADDRESS/PORT\n"
//	RD_hdr_t    start.tv_sec u32, start.tv_usec u32, source u32 (IPv4), port u16, padding u16
//	RD_packet_t length u16 (8 + bytes stored), plen u16 (RTP packet length; 0 for RTCP),
//	            offset u32 (ms since start), then the packet
//	RD_packet_t …
//
// One rtpdump file holds one RTP session (one UDP port pair), as rtptools
// records it. avcat writes one file per track (per m= line): track 0 in
// the path given (NAME.rtpdump), track i in NAME.i.rtpdump, and the SDP in
// NAME.sdp. Track i's file header names 127.0.0.1/5000+2i, the port the
// sidecar SDP gives it, so `rtpplay -T -f NAME.i.rtpdump` (no address:
// rtpplay takes it from the header) replays each track where
// `ffplay -protocol_whitelist file,udp,rtp NAME.sdp` listens. See
// docs/rtp-dumps.md.
//
// Reading, a track without its own file is looked up in NAME.rtpdump by
// payload type, so single-file dumps from other tools replay too.
package rtpdump

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/fault"
)

const (
	magic            = "#!rtpplay"
	version          = "1.0"
	fileHeaderSize   = 16
	recordHeaderSize = 8
	// maxLine bounds the text line; rtptools reads it with an 80-byte fgets.
	maxLine = 256
	// maxPacket is the largest packet a record can hold.
	maxPacket = 0xffff - recordHeaderSize
)

// Probe reports whether head starts like an rtpdump file.
func Probe(head []byte) bool { return bytes.HasPrefix(head, []byte(magic)) }

// fileHeader is the text line and RD_hdr_t.
type fileHeader struct {
	start time.Time
	addr  netip.Addr
	port  uint16
}

// appendFileHeader appends the text line and RD_hdr_t of h.
func appendFileHeader(b []byte, h fileHeader) []byte {
	b = fmt.Appendf(b, "%s%s %s/%d\n", magic, version, h.addr, h.port)
	usec := h.start.Nanosecond() / 1000
	b = binary.BigEndian.AppendUint32(b, uint32(h.start.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(usec))
	a4 := h.addr.As4()
	b = append(b, a4[:]...)
	b = binary.BigEndian.AppendUint16(b, h.port)
	return binary.BigEndian.AppendUint16(b, 0) // padding
}

// readFileHeader reads the text line and RD_hdr_t; size is their length.
func readFileHeader(r *bufio.Reader, name string) (h fileHeader, size int, err error) {
	head, err := r.Peek(maxLine)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return h, 0, fault.New(fault.Runtime, "%s: %v", name, err)
		}
		return h, 0, fault.New(fault.Unsupported, "%s: empty file", name)
	}
	if !Probe(head) {
		return h, 0, fault.New(fault.Unsupported, "%s: not an rtpdump file (it does not start with %q)", name, magic+version)
	}
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 {
		if len(head) < maxLine {
			return h, 0, fault.New(fault.Unsupported, "%s: truncated rtpdump header (no end of the %q line)", name, magic)
		}
		return h, 0, fault.New(fault.Unsupported, "%s: not an rtpdump file (the %q line is longer than %d bytes)", name, magic, maxLine)
	}
	line := strings.TrimSuffix(string(head[len(magic):nl]), "\r")
	ver, where, _ := strings.Cut(line, " ")
	if ver != version {
		return h, 0, fault.New(fault.Unsupported, "%s: unsupported rtpdump version %q (want %s)", name, ver, version)
	}
	if _, err := r.Discard(nl + 1); err != nil {
		return h, 0, fault.New(fault.Runtime, "%s: %v", name, err)
	}
	var raw [fileHeaderSize]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return h, 0, fault.New(fault.Unsupported, "%s: truncated rtpdump header (%d-byte RD_hdr_t missing)", name, fileHeaderSize)
		}
		return h, 0, fault.New(fault.Runtime, "%s: %v", name, err)
	}
	sec := binary.BigEndian.Uint32(raw[0:])
	usec := binary.BigEndian.Uint32(raw[4:])
	h.start = time.Unix(int64(sec), int64(usec)*1000)
	h.addr = netip.AddrFrom4([4]byte(raw[8:12]))
	h.port = binary.BigEndian.Uint16(raw[12:])
	// The text line is what rtpplay prints; the binary header wins, but a
	// line naming a port fills in a zero one.
	if h.port == 0 {
		if i := strings.LastIndexByte(where, '/'); i >= 0 {
			if p, err := strconv.ParseUint(where[i+1:], 10, 16); err == nil {
				h.port = uint16(p)
			}
		}
	}
	return h, nl + 1 + fileHeaderSize, nil
}

// recordHeader is RD_packet_t.
type recordHeader struct {
	length uint16 // 8 + the bytes stored
	plen   uint16 // original packet length; 0 for RTCP
	offset uint32 // ms since the start
}

func appendRecordHeader(b []byte, h recordHeader) []byte {
	b = binary.BigEndian.AppendUint16(b, h.length)
	b = binary.BigEndian.AppendUint16(b, h.plen)
	return binary.BigEndian.AppendUint32(b, h.offset)
}

// offsetMS is the record offset of t: milliseconds since start, truncated
// like rtpdump does, zero before start, and modulo 2^32 (rtptools' field
// wraps after 49.7 days; the reader unwraps it).
func offsetMS(start, t time.Time) uint32 {
	d := t.Sub(start)
	if d < 0 {
		return 0
	}
	return uint32(uint64(d / time.Millisecond))
}

// defaultHeader is the header of track i's file.
func defaultHeader(start time.Time, track int) fileHeader {
	return fileHeader{
		start: start.Truncate(time.Microsecond),
		addr:  netip.MustParseAddr(rtpcap.Address),
		port:  uint16(rtpcap.Port(track)),
	}
}
