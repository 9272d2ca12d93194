package pcap

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Source replays the RTP of a pcap capture: one unit per RTP packet, with
// the packet as captured.
//
// The tracks come from the SDP (SDP, or NAME.sdp beside Path). When every
// m= line has its own non-zero port (an SDP written by avcat, or by
// ffmpeg's -sdp_file), a datagram belongs to the track whose port is its
// destination port. Otherwise (an SDP from DESCRIBE, with port 0), or when
// no datagram goes to those ports, each UDP flow is bound to the track
// whose formats have the payload type of its first RTP packet.
//
// Units carry Received (the capture time), PTS = DTS from the RTP
// timestamps (see rtpcap.Timeline) with NoDTS set. The source does not
// pace: engine.Paced does, by these timestamps, which reproduces the
// original timing. A file cut short ends at its last complete packet.
type Source struct {
	// Path is the pcap file.
	Path string
	// SDP is the session description; default NAME.sdp beside Path.
	SDP string

	name  string
	f     *os.File
	r     *bufio.Reader
	order binary.ByteOrder
	nano  bool
	link  uint32
	pos   int64
	buf   []byte
	done  bool

	desc     *description.Session
	byPT     []map[uint8]format.Format // per media
	byPort   map[uint16]int
	portMode bool
	flows    map[[2]netip.AddrPort]int
	bound    []bool

	pending *packet
	tl      rtpcap.Timeline
	stats   stats
}

type packet struct {
	pkt   *rtp.Packet
	recv  time.Time
	medi  *description.Media
	forma format.Format
}

// stats counts what was skipped, to explain a capture with nothing to
// replay.
type stats struct {
	records   int
	skips     [numSkips]int
	rtcp      int
	notRTP    int
	otherPort int
	unknownPT map[uint8]bool
}

// Probe reports whether head starts like a classic pcap file.
func (s *Source) Probe(head []byte) bool { return Probe(head) }

// Open reads the file header and the SDP, and reads ahead to the first
// RTP packet of a track.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	if s.Path == "" {
		return nil, fault.New(fault.Usage, "pcap: no input path")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.name = filepath.Base(s.Path)
	f, err := rtpcap.Open(s.Path)
	if err != nil {
		return nil, err
	}
	s.f = f
	s.r = bufio.NewReaderSize(f, 64<<10)
	if err := s.readHeader(); err != nil {
		return nil, err
	}
	desc, ports, err := rtpcap.LoadSDP(s.Path, s.SDP)
	if err != nil {
		return nil, err
	}
	s.desc = desc
	s.byPT = make([]map[uint8]format.Format, len(desc.Medias))
	for i, m := range desc.Medias {
		s.byPT[i] = make(map[uint8]format.Format)
		for _, fo := range m.Formats {
			s.byPT[i][fo.PayloadType()] = fo
		}
	}
	s.byPort = make(map[uint16]int)
	for i, p := range ports {
		if p > 0 && p <= 0xffff {
			s.byPort[uint16(p)] = i
		}
	}
	s.portMode = len(s.byPort) == len(desc.Medias)
	s.reset()

	p, err := s.next(ctx)
	if err != nil {
		return nil, err
	}
	if p == nil && s.portMode && ctx.Err() == nil {
		// The SDP's ports are not those of the capture: try payload types.
		if _, err := s.f.Seek(fileHeaderSize, io.SeekStart); err != nil {
			return nil, fault.New(fault.Runtime, "%s: %v", s.name, err)
		}
		s.r.Reset(s.f)
		s.pos, s.done, s.portMode = fileHeaderSize, false, false
		s.reset()
		if p, err = s.next(ctx); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, s.noPackets()
	}
	s.pending = p
	return desc, nil
}

func (s *Source) reset() {
	s.stats = stats{unknownPT: make(map[uint8]bool)}
	s.flows = make(map[[2]netip.AddrPort]int)
	s.bound = make([]bool, len(s.desc.Medias))
}

func (s *Source) readHeader() error {
	var h [fileHeaderSize]byte
	n, err := io.ReadFull(s.r, h[:])
	switch {
	case n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return fault.New(fault.Unsupported, "%s: empty file", s.name)
	case n >= 4 && binary.LittleEndian.Uint32(h[:]) == magicPcapng:
		return fault.New(fault.Unsupported, "%s: a pcapng file; convert it to pcap first: editcap -F pcap %s out.pcap", s.name, s.name)
	case n >= 4 && !Probe(h[:n]):
		return fault.New(fault.Unsupported, "%s: not a pcap file (magic %#08x)", s.name, binary.BigEndian.Uint32(h[:]))
	case n < 4 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return fault.New(fault.Unsupported, "%s: not a pcap file (%d bytes)", s.name, n)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fault.New(fault.Unsupported, "%s: truncated pcap header (%d of %d bytes)", s.name, n, fileHeaderSize)
	case err != nil:
		return fault.New(fault.Runtime, "%s: %v", s.name, err)
	}
	s.order, s.nano, _ = parseMagic(h[:])
	if major := s.order.Uint16(h[4:]); major != 2 {
		return fault.New(fault.Unsupported, "%s: unsupported pcap version %d.%d (want 2.x)", s.name, major, s.order.Uint16(h[6:]))
	}
	// The low 16 bits are the link type; the high ones may say how many
	// FCS bytes end each frame, which the IP lengths make irrelevant.
	s.link = s.order.Uint32(h[20:]) & 0xffff
	switch s.link {
	case linkNull, linkEthernet, linkRaw12, linkRaw14, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
	default:
		return fault.New(fault.Unsupported,
			"%s: link type %s is not supported (want Ethernet, Linux cooked SLL/SLL2, raw IP or BSD loopback)", s.name, linkName(s.link))
	}
	s.pos = fileHeaderSize
	return nil
}

// next returns the next RTP packet of a track; nil at the end of the
// file (including a record cut short) or when ctx is done.
func (s *Source) next(ctx context.Context) (*packet, error) {
	for !s.done {
		if s.stats.records%1024 == 0 && ctx.Err() != nil {
			return nil, nil
		}
		var rh [recordHeaderSize]byte
		if _, err := io.ReadFull(s.r, rh[:]); err != nil {
			return nil, s.end(err)
		}
		at := s.pos
		s.pos += recordHeaderSize
		sec := s.order.Uint32(rh[0:])
		frac := s.order.Uint32(rh[4:])
		incl := s.order.Uint32(rh[8:])
		if incl > snapLen {
			return nil, fault.New(fault.Unsupported, "%s: corrupt pcap record at byte %d: it claims %d bytes (at most %d)", s.name, at, incl, snapLen)
		}
		if cap(s.buf) < int(incl) {
			s.buf = make([]byte, incl)
		}
		data := s.buf[:incl]
		if _, err := io.ReadFull(s.r, data); err != nil {
			return nil, s.end(err)
		}
		s.pos += int64(incl)
		s.stats.records++

		dg, why := decodeLink(s.link, data)
		if why != skipNone {
			s.stats.skips[why]++
			continue
		}
		if rtpcap.IsRTCP(dg.payload) {
			s.stats.rtcp++
			continue
		}
		pkt, ok := rtpcap.ParseRTP(dg.payload)
		if !ok {
			s.stats.notRTP++
			continue
		}
		i, fo := s.track(dg, pkt.PayloadType)
		if fo == nil {
			continue
		}
		var recv time.Time
		if s.nano {
			recv = time.Unix(int64(sec), int64(frac))
		} else {
			recv = time.Unix(int64(sec), int64(frac)*1000)
		}
		return &packet{pkt: pkt, recv: recv, medi: s.desc.Medias[i], forma: fo}, nil
	}
	return nil, nil
}

// end turns a read error into the end of the capture (a file cut short)
// or an error.
func (s *Source) end(err error) error {
	s.done = true
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return fault.New(fault.Runtime, "%s: %v", s.name, err)
}

// track finds the track and format of an RTP datagram; a nil format when
// it belongs to none.
func (s *Source) track(dg datagram, pt uint8) (int, format.Format) {
	if s.portMode {
		i, ok := s.byPort[dg.dst.Port()]
		if !ok {
			s.stats.otherPort++
			return 0, nil
		}
		fo := s.byPT[i][pt]
		if fo == nil {
			s.stats.unknownPT[pt] = true
		}
		return i, fo
	}
	key := [2]netip.AddrPort{dg.src, dg.dst}
	if i, ok := s.flows[key]; ok {
		fo := s.byPT[i][pt]
		if fo == nil {
			s.stats.unknownPT[pt] = true
		}
		return i, fo
	}
	// A new flow: the first track with this payload type that has no
	// flow yet, else the first with it.
	pick := -1
	for i, m := range s.byPT {
		if m[pt] == nil {
			continue
		}
		if !s.bound[i] {
			pick = i
			break
		}
		if pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		s.stats.unknownPT[pt] = true
		return 0, nil
	}
	s.flows[key] = pick
	s.bound[pick] = true
	return pick, s.byPT[pick][pt]
}

// noPackets explains why nothing in the capture can be replayed.
func (s *Source) noPackets() error {
	st := s.stats
	if st.records == 0 {
		return fault.New(fault.Unsupported, "%s: no packets in the capture", s.name)
	}
	var why []string
	add := func(n int, what string) {
		if n > 0 {
			why = append(why, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(st.skips[skipTCP], "TCP (RTP interleaved in RTSP over TCP is not supported: capture RTSP over UDP)")
	add(st.skips[skipNotIP], "not IP")
	add(st.skips[skipProto], "neither UDP nor TCP")
	add(st.skips[skipFragment], "IP fragments")
	add(st.skips[skipTruncated], "truncated or malformed (snapshot length too small?)")
	add(st.rtcp, "RTCP")
	add(st.notRTP, "UDP but not RTP")
	add(st.otherPort, "RTP to ports the SDP does not name")
	if len(st.unknownPT) > 0 {
		var pts []int
		for pt := range st.unknownPT {
			pts = append(pts, int(pt))
		}
		slices.Sort(pts)
		why = append(why, fmt.Sprintf("RTP with payload types %v that the SDP does not declare", pts))
	}
	return fault.New(fault.Unsupported, "%s: no RTP over UDP for the tracks of the SDP in %d packets: %s",
		s.name, st.records, strings.Join(why, ", "))
}

// Run emits the RTP packets in capture order until the end (nil), a
// corrupt record (an error), or ctx is done (nil).
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.desc == nil {
		return fault.New(fault.Runtime, "pcap: Run before a successful Open")
	}
	for ctx.Err() == nil {
		p := s.pending
		if p == nil {
			var err error
			if p, err = s.next(ctx); err != nil || p == nil {
				return err
			}
		}
		s.pending = nil
		pts := s.tl.PTS(p.forma, p.pkt, p.recv)
		emit(&media.Unit{
			Media: p.medi, Format: p.forma,
			PTS: pts, DTS: pts, NoDTS: true,
			Received: p.recv,
			Packets:  []*rtp.Packet{p.pkt},
		})
	}
	return nil
}

// Close closes the file. It is safe after a failed Open.
func (s *Source) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
