package rtpdump

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// TrackPath is the file of track i of the capture at path: path itself
// for track 0, NAME.i.rtpdump (NAME.i.EXT) for the others.
func TrackPath(path string, track int) string {
	if track == 0 {
		return path
	}
	return rtpcap.Stem(path) + "." + strconv.Itoa(track) + filepath.Ext(path)
}

// Sink records the RTP packets of each track, as received, in rtpdump
// files (one per track, see TrackPath) with the SDP beside them.
//
// The file headers are written with the first packet, whose arrival time
// becomes the start of the recording, so each record's offset is its
// arrival time since then, in milliseconds. A sink that receives nothing
// writes the headers on Close. Buffers are flushed every second and on
// Close, so a kill -9 loses at most about a second.
type Sink struct {
	// Path is the file of track 0; the SDP goes to NAME.sdp beside it.
	Path string

	mu      sync.Mutex
	tracks  *rtpcap.Tracks
	files   []*trackFile
	opened  time.Time
	start   time.Time
	started bool
	buf     []byte
	err     error // sticky write error
	flusher *mux.Flusher
	closed  bool
}

type trackFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// Needs asks for the RTP packets.
func (s *Sink) Needs() engine.Needs { return engine.NeedPackets }

// Lossless makes the session wait for the sink instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Open creates the files of every track and writes NAME.sdp.
func (s *Sink) Open(desc *description.Session) error {
	if s.Path == "" {
		return fault.New(fault.Usage, "rtpdump: no output path")
	}
	if err := rtpcap.CheckDesc(desc); err != nil {
		return err
	}
	s.tracks = rtpcap.NewTracks(desc)
	s.opened = time.Now()
	for i := range desc.Medias {
		p := TrackPath(s.Path, i)
		f, err := rtpcap.Create(p)
		if err != nil {
			s.closeFiles()
			return err
		}
		s.files = append(s.files, &trackFile{path: p, f: f, w: bufio.NewWriterSize(f, 64<<10)})
	}
	if err := rtpcap.WriteSDP(rtpcap.SidecarPath(s.Path), desc); err != nil {
		s.closeFiles()
		return err
	}
	s.flusher = mux.StartFlusher(s.flush)
	return nil
}

// Write records the RTP packets of u.
func (s *Sink) Write(u *media.Unit) error {
	i, ok := s.lookup(u)
	if !ok {
		return nil
	}
	if len(u.Packets) == 0 {
		return rtpcap.ErrNoPackets("rtpdump", u)
	}
	recv := rtpcap.Received(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(recv); err != nil {
		return err
	}
	for _, p := range u.Packets {
		n := p.MarshalSize()
		if n > maxPacket {
			return fault.New(fault.Unsupported, "rtpdump: an RTP packet of %d bytes does not fit in a record (at most %d)", n, maxPacket)
		}
		s.buf = s.grow(n)
		n, err := p.MarshalTo(s.buf)
		if err != nil {
			return fmt.Errorf("rtpdump: marshal RTP packet: %w", err)
		}
		if err := s.record(s.files[i], s.buf[:n], uint16(n), recv); err != nil {
			return err
		}
	}
	return nil
}

// WriteRTCP records an RTCP packet of the track of medi (plen 0, as
// rtptools does). The engine's units carry no RTCP today; this is for
// sources that forward it.
func (s *Sink) WriteRTCP(medi *description.Media, pkt []byte, received time.Time) error {
	i, ok := s.lookup(&media.Unit{Media: medi})
	if !ok {
		return nil
	}
	if len(pkt) > maxPacket {
		return fault.New(fault.Unsupported, "rtpdump: an RTCP packet of %d bytes does not fit in a record", len(pkt))
	}
	if received.IsZero() {
		received = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(received); err != nil {
		return err
	}
	return s.record(s.files[i], pkt, 0, received)
}

func (s *Sink) lookup(u *media.Unit) (int, bool) {
	if s.tracks == nil {
		return 0, false
	}
	return s.tracks.Index(u)
}

func (s *Sink) grow(n int) []byte {
	if cap(s.buf) < n {
		return make([]byte, n)
	}
	return s.buf[:n]
}

// ready checks for an earlier failure and writes the headers before the
// first record. Called with mu held.
func (s *Sink) ready(first time.Time) error {
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return fault.New(fault.Runtime, "rtpdump: write after Close")
	}
	if !s.started {
		s.writeHeaders(first)
	}
	return s.err
}

func (s *Sink) writeHeaders(start time.Time) {
	s.started = true
	s.start = start.Truncate(time.Microsecond)
	for i, tf := range s.files {
		if _, err := tf.w.Write(appendFileHeader(nil, defaultHeader(s.start, i))); err != nil {
			s.fail(tf, err)
			return
		}
	}
}

func (s *Sink) record(tf *trackFile, pkt []byte, plen uint16, t time.Time) error {
	var hdr [recordHeaderSize]byte
	appendRecordHeader(hdr[:0], recordHeader{
		length: uint16(recordHeaderSize + len(pkt)),
		plen:   plen,
		offset: offsetMS(s.start, t),
	})
	if _, err := tf.w.Write(hdr[:]); err != nil {
		return s.fail(tf, err)
	}
	if _, err := tf.w.Write(pkt); err != nil {
		return s.fail(tf, err)
	}
	return nil
}

// fail keeps the first write error. Called with mu held.
func (s *Sink) fail(tf *trackFile, err error) error {
	if s.err == nil {
		s.err = fault.New(fault.Runtime, "write %s: %v", tf.path, unwrap(err))
	}
	return s.err
}

func (s *Sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return
	}
	for _, tf := range s.files {
		if err := tf.w.Flush(); err != nil {
			s.fail(tf, err)
			return
		}
	}
}

// Close writes what is buffered and closes the files. A sink that got no
// packet still gets valid, empty files.
func (s *Sink) Close() error {
	s.flusher.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.files != nil && !s.started && s.err == nil {
		s.writeHeaders(s.opened)
	}
	for _, tf := range s.files {
		if s.err == nil {
			if err := tf.w.Flush(); err != nil {
				s.fail(tf, err)
			}
		}
	}
	s.closeFiles()
	s.closed = true
	return s.err
}

func (s *Sink) closeFiles() {
	for _, tf := range s.files {
		if err := tf.f.Close(); err != nil && s.err == nil {
			s.err = fault.New(fault.Runtime, "close %s: %v", tf.path, unwrap(err))
		}
	}
	s.files = nil
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
