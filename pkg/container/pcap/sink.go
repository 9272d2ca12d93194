package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Headers of the frames the sink writes.
const (
	ethHeaderSize  = 14
	ipv4HeaderSize = 20
	udpHeaderSize  = 8
	frameOverhead  = ethHeaderSize + ipv4HeaderSize + udpHeaderSize
	// maxUDPPayload is the largest datagram an IPv4 packet carries.
	maxUDPPayload = 0xffff - ipv4HeaderSize - udpHeaderSize
	// srcPortOffset puts the sender's ports 1000 above the receiver's.
	srcPortOffset = 1000
)

var (
	macSender   = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	macReceiver = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	ipLoopback  = [4]byte{127, 0, 0, 1}
)

// Sink records the RTP packets of each track, as received, as UDP
// datagrams in a pcap file with their arrival times, and writes NAME.sdp
// beside it. Track i goes to 127.0.0.1:5000+2i (see the package doc).
// Buffers are flushed every second and on Close, so a kill -9 loses at
// most about a second.
type Sink struct {
	// Path is the pcap file; the SDP goes to NAME.sdp beside it.
	Path string

	mu      sync.Mutex
	tracks  *rtpcap.Tracks
	f       *os.File
	w       *bufio.Writer
	ipID    uint16
	buf     []byte
	err     error
	flusher *mux.Flusher
	closed  bool
}

// Needs asks for the RTP packets.
func (s *Sink) Needs() engine.Needs { return engine.NeedPackets }

// Lossless makes the session wait for the sink instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Open creates the pcap file with its header, and writes NAME.sdp.
func (s *Sink) Open(desc *description.Session) error {
	if s.Path == "" {
		return fault.New(fault.Usage, "pcap: no output path")
	}
	if err := rtpcap.CheckDesc(desc); err != nil {
		return err
	}
	f, err := rtpcap.Create(s.Path)
	if err != nil {
		return err
	}
	s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
	if err := rtpcap.WriteSDP(rtpcap.SidecarPath(s.Path), desc); err != nil {
		s.f.Close()
		s.f = nil
		return err
	}
	s.tracks = rtpcap.NewTracks(desc)
	var h [fileHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], magicMicro)
	binary.LittleEndian.PutUint16(h[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snapLen)
	binary.LittleEndian.PutUint32(h[20:], linkEthernet)
	if _, err := s.w.Write(h[:]); err != nil {
		return s.fail(err)
	}
	// The header reaches the disk at once: the file is valid from now on.
	if err := s.w.Flush(); err != nil {
		return s.fail(err)
	}
	s.flusher = mux.StartFlusher(s.flush)
	return nil
}

// Write records the RTP packets of u.
func (s *Sink) Write(u *media.Unit) error {
	if s.tracks == nil {
		return nil
	}
	i, ok := s.tracks.Index(u)
	if !ok {
		return nil
	}
	if len(u.Packets) == 0 {
		return rtpcap.ErrNoPackets("pcap", u)
	}
	recv := rtpcap.Received(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	port := uint16(rtpcap.Port(i))
	for _, p := range u.Packets {
		n := p.MarshalSize()
		if n > maxUDPPayload {
			return fault.New(fault.Unsupported, "pcap: an RTP packet of %d bytes does not fit in a UDP datagram (at most %d)", n, maxUDPPayload)
		}
		buf := s.frame(n)
		if _, err := p.MarshalTo(buf[frameOverhead:]); err != nil {
			return fmt.Errorf("pcap: marshal RTP packet: %w", err)
		}
		if err := s.record(buf, port, recv); err != nil {
			return err
		}
	}
	return nil
}

// WriteRTCP records an RTCP packet of the track of medi, to its RTCP port.
// The engine's units carry no RTCP today; this is for sources that
// forward it.
func (s *Sink) WriteRTCP(medi *description.Media, pkt []byte, received time.Time) error {
	if s.tracks == nil {
		return nil
	}
	i, ok := s.tracks.Index(&media.Unit{Media: medi})
	if !ok {
		return nil
	}
	if len(pkt) > maxUDPPayload {
		return fault.New(fault.Unsupported, "pcap: an RTCP packet of %d bytes does not fit in a UDP datagram", len(pkt))
	}
	if received.IsZero() {
		received = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	buf := s.frame(len(pkt))
	copy(buf[frameOverhead:], pkt)
	return s.record(buf, uint16(rtpcap.Port(i)+1), received)
}

func (s *Sink) ready() error {
	if s.err != nil {
		return s.err
	}
	if s.closed || s.f == nil {
		return fault.New(fault.Runtime, "pcap: write after Close")
	}
	return nil
}

// frame returns the reused buffer sized for a frame of an n-byte payload.
func (s *Sink) frame(n int) []byte {
	size := frameOverhead + n
	if cap(s.buf) < size {
		s.buf = make([]byte, size)
	}
	return s.buf[:size]
}

// record fills in the Ethernet, IPv4 and UDP headers of frame, whose
// payload is in place, and writes it with its record header.
func (s *Sink) record(frame []byte, dstPort uint16, t time.Time) error {
	n := len(frame) - frameOverhead
	eth := frame[:ethHeaderSize]
	copy(eth[0:], macReceiver[:])
	copy(eth[6:], macSender[:])
	binary.BigEndian.PutUint16(eth[12:], 0x0800)

	ip := frame[ethHeaderSize : ethHeaderSize+ipv4HeaderSize]
	ip[0] = 0x45 // version 4, 5 words
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipv4HeaderSize+udpHeaderSize+n))
	binary.BigEndian.PutUint16(ip[4:], s.ipID)
	s.ipID++
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64                                 // TTL
	ip[9] = protoUDP
	ip[10], ip[11] = 0, 0
	copy(ip[12:], ipLoopback[:])
	copy(ip[16:], ipLoopback[:])
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))

	udp := frame[ethHeaderSize+ipv4HeaderSize : frameOverhead]
	binary.BigEndian.PutUint16(udp[0:], dstPort+srcPortOffset)
	binary.BigEndian.PutUint16(udp[2:], dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpHeaderSize+n))
	binary.BigEndian.PutUint16(udp[6:], 0) // no checksum (allowed over IPv4)

	var rh [recordHeaderSize]byte
	binary.LittleEndian.PutUint32(rh[0:], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(rh[4:], uint32(t.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(rh[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rh[12:], uint32(len(frame)))
	if _, err := s.w.Write(rh[:]); err != nil {
		return s.fail(err)
	}
	if _, err := s.w.Write(frame); err != nil {
		return s.fail(err)
	}
	return nil
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// fail keeps the first write error.
func (s *Sink) fail(err error) error {
	if s.err == nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		s.err = fault.New(fault.Runtime, "write %s: %v", s.Path, err)
	}
	return s.err
}

func (s *Sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil || s.w == nil {
		return
	}
	if err := s.w.Flush(); err != nil {
		s.fail(err)
	}
}

// Close writes what is buffered and closes the file.
func (s *Sink) Close() error {
	s.flusher.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return s.err
	}
	if s.err == nil {
		if err := s.w.Flush(); err != nil {
			s.fail(err)
		}
	}
	if err := s.f.Close(); err != nil && s.err == nil {
		s.fail(err)
	}
	s.f = nil
	return s.err
}
