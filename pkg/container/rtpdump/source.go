package rtpdump

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Source replays an rtpdump capture: one unit per RTP packet, with the
// packet as recorded.
//
// The tracks come from the SDP (SDP, or NAME.sdp beside Path). Track i is
// read from its own file, NAME.i.rtpdump, when there is one; the other
// tracks, track 0 among them, are read from Path and told apart by payload
// type. The files are merged by arrival time (header start + record
// offset).
//
// Units carry Received (the arrival time), PTS = DTS from the RTP
// timestamps (see rtpcap.Timeline) with NoDTS set. The source does not
// pace: engine.Paced does, by these timestamps, which reproduces the
// original timing. RTCP records, records truncated by `rtpdump -F header`
// or `-x`, non-RTP and unknown payload types are skipped. A file cut short
// (a capture killed mid-write) ends at its last complete record.
type Source struct {
	// Path is the capture (the file of track 0).
	Path string
	// SDP is the session description; default NAME.sdp beside Path.
	SDP string

	name   string
	desc   *description.Session
	inputs []*input
	tl     rtpcap.Timeline
}

// input is one rtpdump file and the tracks read from it.
type input struct {
	name  string
	f     *os.File
	r     *bufio.Reader
	hdr   fileHeader
	byPT  map[uint8]binding
	pos   int64 // bytes read, for messages
	last  uint32
	epoch int64 // added to offsets, to unwrap them
	next  *packet
	done  bool
	buf   []byte

	rtcp, truncated, invalid int
	unknownPT                map[uint8]bool
}

type binding struct {
	medi  *description.Media
	forma format.Format
}

type packet struct {
	pkt  *rtp.Packet
	recv time.Time
	b    binding
}

// Probe reports whether head starts like an rtpdump file.
func (s *Source) Probe(head []byte) bool { return Probe(head) }

// Open reads the SDP and the file headers, and the first packet of each
// file.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	if s.Path == "" {
		return nil, fault.New(fault.Usage, "rtpdump: no input path")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.name = filepath.Base(s.Path)
	// The capture must exist before its SDP is looked for.
	f0, err := rtpcap.Open(s.Path)
	if err != nil {
		return nil, err
	}
	first := &input{name: s.name, f: f0}
	s.inputs = []*input{first}
	if err := first.readHeader(); err != nil {
		return nil, err
	}
	desc, _, err := rtpcap.LoadSDP(s.Path, s.SDP)
	if err != nil {
		return nil, err
	}

	// Track i has its own file when NAME.i.rtpdump exists.
	shared := make(map[int]bool)
	for i, m := range desc.Medias {
		if i > 0 {
			p := TrackPath(s.Path, i)
			f, err := os.Open(p)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fault.New(fault.Runtime, "%s: %v", p, unwrap(err))
			}
			if err == nil {
				in := &input{name: filepath.Base(p), f: f, byPT: make(map[uint8]binding)}
				s.inputs = append(s.inputs, in)
				for _, fo := range m.Formats {
					in.byPT[fo.PayloadType()] = binding{m, fo}
				}
				continue
			}
		}
		shared[i] = true
	}
	first.byPT = make(map[uint8]binding)
	owner := make(map[uint8]int)
	for i, m := range desc.Medias {
		if !shared[i] {
			continue
		}
		for _, fo := range m.Formats {
			pt := fo.PayloadType()
			if j, dup := owner[pt]; dup {
				return nil, fault.New(fault.Unsupported,
					"%s: tracks %d and %d both use payload type %d, so their packets cannot be told apart in one file (give track %d its own file, %s)",
					s.name, j, i, pt, i, filepath.Base(TrackPath(s.Path, i)))
			}
			owner[pt] = i
			first.byPT[pt] = binding{m, fo}
		}
	}

	found := false
	for i, in := range s.inputs {
		if i > 0 {
			// An empty track file (a recording killed before its first
			// flush) has nothing to replay; other damage is an error.
			if st, err := in.f.Stat(); err == nil && st.Size() == 0 {
				in.done = true
				continue
			}
			if err := in.readHeader(); err != nil {
				return nil, err
			}
		}
		if err := in.advance(); err != nil {
			return nil, err
		}
		found = found || in.next != nil
	}
	if !found {
		return nil, s.noPackets()
	}
	s.desc = desc
	return desc, nil
}

// noPackets explains why nothing in the capture can be replayed.
func (s *Source) noPackets() error {
	var rtcp, truncated, invalid int
	var pts []int
	for _, in := range s.inputs {
		rtcp += in.rtcp
		truncated += in.truncated
		invalid += in.invalid
		for pt := range in.unknownPT {
			pts = append(pts, int(pt))
		}
	}
	var why []string
	if truncated > 0 {
		why = append(why, fmt.Sprintf("%d RTP packets without their payload (a header-only dump: rtpdump -F header or -x)", truncated))
	}
	if len(pts) > 0 {
		slices.Sort(pts)
		why = append(why, fmt.Sprintf("payload types %v that the SDP does not declare", pts))
	}
	if rtcp > 0 {
		why = append(why, fmt.Sprintf("%d RTCP packets", rtcp))
	}
	if invalid > 0 {
		why = append(why, fmt.Sprintf("%d packets that are not RTP", invalid))
	}
	if len(why) == 0 {
		return fault.New(fault.Unsupported, "%s: no packets in the capture", s.name)
	}
	return fault.New(fault.Unsupported, "%s: no RTP packet to replay: only %s", s.name, strings.Join(why, ", "))
}

func (in *input) readHeader() error {
	in.r = bufio.NewReaderSize(in.f, 64<<10)
	in.unknownPT = make(map[uint8]bool)
	h, n, err := readFileHeader(in.r, in.name)
	if err != nil {
		return err
	}
	in.hdr, in.pos = h, int64(n)
	return nil
}

// advance reads the next packet of a track of in into in.next; nil at the
// end of the file, including a record cut short at the end.
func (in *input) advance() error {
	in.next = nil
	for !in.done {
		var hb [recordHeaderSize]byte
		n, err := io.ReadFull(in.r, hb[:])
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				in.done = true
				return nil
			}
			return fault.New(fault.Runtime, "%s: %v", in.name, err)
		}
		at := in.pos
		in.pos += int64(n)
		length := binary.BigEndian.Uint16(hb[0:])
		plen := binary.BigEndian.Uint16(hb[2:])
		offset := binary.BigEndian.Uint32(hb[4:])
		if length < recordHeaderSize {
			return fault.New(fault.Unsupported, "%s: corrupt rtpdump record at byte %d: length %d is shorter than the record header", in.name, at, length)
		}
		size := int(length) - recordHeaderSize
		if cap(in.buf) < size {
			in.buf = make([]byte, size)
		}
		body := in.buf[:size]
		n, err = io.ReadFull(in.r, body)
		in.pos += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				in.done = true
				return nil
			}
			return fault.New(fault.Runtime, "%s: %v", in.name, err)
		}
		if offset < in.last && in.last-offset > 1<<31 {
			in.epoch += 1 << 32
		}
		in.last = offset
		switch {
		case plen == 0:
			in.rtcp++
			continue
		case int(plen) > size:
			in.truncated++
			continue
		}
		pkt, ok := rtpcap.ParseRTP(body)
		if !ok {
			in.invalid++
			continue
		}
		b, ok := in.byPT[pkt.PayloadType]
		if !ok {
			in.unknownPT[pkt.PayloadType] = true
			continue
		}
		ms := in.epoch + int64(offset)
		in.next = &packet{pkt: pkt, recv: in.hdr.start.Add(time.Duration(ms) * time.Millisecond), b: b}
		return nil
	}
	return nil
}

// Run emits the packets of all files in arrival order until the end
// (nil), a corrupt record (an error), or ctx is done (nil).
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.desc == nil {
		return fault.New(fault.Runtime, "rtpdump: Run before a successful Open")
	}
	for ctx.Err() == nil {
		var in *input
		for _, c := range s.inputs {
			if c.next != nil && (in == nil || c.next.recv.Before(in.next.recv)) {
				in = c
			}
		}
		if in == nil {
			return nil
		}
		p := in.next
		pts := s.tl.PTS(p.b.forma, p.pkt, p.recv)
		emit(&media.Unit{
			Media: p.b.medi, Format: p.b.forma,
			PTS: pts, DTS: pts, NoDTS: true,
			Received: p.recv,
			Packets:  []*rtp.Packet{p.pkt},
		})
		if err := in.advance(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the files. It is safe after a failed Open.
func (s *Source) Close() error {
	var errs []error
	for _, in := range s.inputs {
		if err := in.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.inputs = nil
	return errors.Join(errs...)
}
