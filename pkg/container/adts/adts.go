// Package adts reads AAC elementary streams in ADTS framing (.aac files).
//
// Frames are parsed one at a time with mediacommon's mpeg4audio.ADTSPackets,
// so memory stays bounded whatever the input. ADTS carries no timestamps:
// the n-th access unit gets PTS = DTS = n*1024 in the sample-rate clock.
// A stream whose object type, sample rate or channel configuration changes
// midway is rejected, since one format describes the whole stream.
package adts

import (
	"github.com/avcat/avcat/pkg/container/input"

	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	// samplesPerFrame is the length of an AAC frame in samples.
	samplesPerFrame = 1024
	// maxResync bounds how far Run scans for the next sync word after
	// corrupt data before giving up.
	maxResync = 1 << 20
	bufSize   = 64 << 10
)

// Probe reports whether head looks like the start of an ADTS stream: the
// 12-bit 0xFFF sync word, layer 0 (which tells it apart from MPEG audio)
// and a valid sample rate index.
func Probe(head []byte) bool {
	return len(head) >= 7 && validHeader(head)
}

// validHeader checks the fixed part of a 7-byte ADTS header.
func validHeader(h []byte) bool {
	if h[0] != 0xFF || h[1]&0xF6 != 0xF0 { // sync, layer == 0
		return false
	}
	if (h[2]>>2)&0x0F > 12 { // sampling_frequency_index
		return false
	}
	return frameLength(h) > headerLength(h)
}

func headerLength(h []byte) int {
	if h[1]&0x01 == 0 { // protection_absent == 0: a CRC follows
		return 9
	}
	return 7
}

func frameLength(h []byte) int {
	return int(h[3]&0x03)<<11 | int(h[4])<<3 | int(h[5])>>5
}

// Source reads an ADTS stream from a file or a reader.
type Source struct {
	// Path is the file to read; with Reader set it only names the input.
	Path string
	// Reader is read instead of Path when set (stdin). It need not seek.
	Reader io.Reader

	name    string
	file    *os.File
	in      io.Reader
	br      *bufio.Reader
	desc    *description.Session
	media   *description.Media
	format  *format.MPEG4Audio
	config  mpeg4audio.AudioSpecificConfig
	first   []byte // AU read by Open, delivered by Run
	count   int64  // AUs read so far
	offset  int64  // input bytes consumed
	started bool
}

// Open reads the first frame and describes the stream.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	var err error
	s.in, s.file, s.name, err = input.Open("adts", s.Path, s.Reader)
	if err != nil {
		return nil, err
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()
	s.br = bufio.NewReaderSize(s.in, bufSize)

	head, err := s.br.Peek(10)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, s.readError(ctx, err)
		}
		return nil, fault.New(fault.Unsupported, "%s: empty file", s.name)
	}
	if err := s.skipID3(head); err != nil {
		return nil, s.readError(ctx, err)
	}
	if h, _ := s.br.Peek(7); len(h) < 7 || !validHeader(h) {
		if len(h) == 0 && s.offset > 0 {
			return nil, fault.New(fault.Unsupported, "%s: ID3 tag but no ADTS frame", s.name)
		}
		return nil, fault.New(fault.Unsupported, "%s: not an ADTS (AAC) stream", s.name)
	}
	pkt, err := s.readFrame()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fault.New(fault.Unsupported, "%s: truncated: no complete ADTS frame", s.name)
	case err != nil:
		return nil, s.readError(ctx, err)
	}

	s.config = mpeg4audio.AudioSpecificConfig{
		Type:          pkt.Type,
		SampleRate:    pkt.SampleRate,
		ChannelConfig: pkt.ChannelConfig,
		ChannelCount:  pkt.ChannelCount, //nolint:staticcheck // read by Marshal
	}
	// The config ends up in SDP and MP4 headers: make sure it survives a
	// round trip through mediacommon, which is what peers built on it parse.
	enc, err := s.config.Marshal()
	if err == nil {
		var back mpeg4audio.AudioSpecificConfig
		err = back.Unmarshal(enc)
	}
	if err != nil {
		return nil, fault.New(fault.Unsupported, "%s: unsupported AAC configuration (%s): %v", s.name, describe(pkt), err)
	}
	s.first = pkt.AU
	conf := s.config
	s.format = &format.MPEG4Audio{
		PayloadTyp:       96,
		Config:           &conf,
		SizeLength:       13,
		IndexLength:      3,
		IndexDeltaLength: 3,
	}
	s.media = &description.Media{
		Type:    description.MediaTypeAudio,
		Control: "trackID=0",
		Formats: []format.Format{s.format},
	}
	s.desc = &description.Session{Medias: []*description.Media{s.media}}
	return s.desc, nil
}

// Run delivers one unit per AAC frame until EOF (nil), an error, or ctx is
// done (nil). A frame cut by the end of the input is dropped silently.
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.desc == nil {
		return fault.New(fault.Runtime, "%s: Run before a successful Open", s.name)
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()

	if !s.started {
		s.started = true
		s.emit(emit, s.first, 0)
		s.first = nil
	}
	for ctx.Err() == nil {
		pkt, err := s.readFrame()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.readError(ctx, err)
		}
		if pkt.Type != s.config.Type || pkt.SampleRate != s.config.SampleRate ||
			pkt.ChannelConfig != s.config.ChannelConfig {
			return fault.New(fault.Unsupported,
				"%s: frame %d: AAC configuration changed midway from %s to %s; split the stream",
				s.name, s.count-1, describeConfig(s.config), describe(pkt))
		}
		s.emit(emit, pkt.AU, s.count-1)
	}
	return nil
}

func (s *Source) emit(emit func(*media.Unit), au []byte, index int64) {
	ts := index * samplesPerFrame
	emit(&media.Unit{
		Media:    s.media,
		Format:   s.format,
		PTS:      ts,
		DTS:      ts,
		Received: time.Now(),
		Payload:  [][]byte{au},
		Key:      true,
	})
}

// Close releases the input file. It is safe after a failed Open.
func (s *Source) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// skipID3 skips an ID3v2 tag at the start, which some encoders write.
func (s *Source) skipID3(head []byte) error {
	if len(head) < 10 || string(head[:3]) != "ID3" {
		return nil
	}
	size := int(head[6]&0x7F)<<21 | int(head[7]&0x7F)<<14 | int(head[8]&0x7F)<<7 | int(head[9]&0x7F)
	size += 10
	if head[5]&0x10 != 0 { // footer present
		size += 10
	}
	n, err := s.br.Discard(size)
	s.offset += int64(n)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// readFrame reads and decodes the next frame. At the end of the input, or
// when the last frame is cut short, it returns io.EOF.
func (s *Source) readFrame() (*mpeg4audio.ADTSPacket, error) {
	h, err := s.br.Peek(7)
	if len(h) < 7 {
		return nil, eofOr(err)
	}
	if !validHeader(h) {
		if err := s.resync(); err != nil {
			return nil, err
		}
		h, err = s.br.Peek(7)
		if len(h) < 7 {
			return nil, eofOr(err)
		}
	}
	n := frameLength(h)
	frame, err := s.br.Peek(n)
	if len(frame) < n {
		return nil, eofOr(err)
	}
	var buf []byte
	if headerLength(frame) == 9 {
		// mediacommon rejects frames with a CRC: drop the CRC and rewrite
		// the header as protection_absent.
		buf = make([]byte, n-2)
		copy(buf, frame[:7])
		copy(buf[7:], frame[9:])
		buf[1] |= 0x01
		l := n - 2
		buf[3] = buf[3]&^0x03 | byte(l>>11)
		buf[4] = byte(l >> 3)
		buf[5] = buf[5]&0x1F | byte(l<<5)
	} else {
		buf = make([]byte, n) // units are queued: never alias the read buffer
		copy(buf, frame)
	}
	if _, err := s.br.Discard(n); err != nil {
		return nil, err
	}
	at := s.offset
	s.offset += int64(n)
	s.count++

	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(buf); err != nil {
		return nil, fault.New(fault.Unsupported, "%s: frame %d at byte %d: %v", s.name, s.count-1, at, err)
	}
	if len(pkts) != 1 {
		return nil, fault.New(fault.Unsupported, "%s: frame %d at byte %d: bad frame length", s.name, s.count-1, at)
	}
	return pkts[0], nil
}

// resync skips corrupt bytes up to the next header that is followed by
// another header (or by the end of the input).
func (s *Source) resync() error {
	start := s.offset
	for s.offset-start < maxResync {
		if _, err := s.br.Discard(1); err != nil {
			return eofOr(err)
		}
		s.offset++
		h, err := s.br.Peek(7)
		if len(h) < 7 {
			return eofOr(err)
		}
		if !validHeader(h) {
			continue
		}
		n := frameLength(h)
		next, _ := s.br.Peek(n + 7)
		if len(next) < n+7 || validHeader(next[n:]) {
			return nil
		}
	}
	return fault.New(fault.Unsupported, "%s: lost ADTS sync at byte %d", s.name, start)
}

func (s *Source) readError(ctx context.Context, err error) error {
	if _, ok := fault.KindOf(err); ok {
		return err
	}
	if ctx.Err() != nil {
		return fault.Wrap(fault.Runtime, fmt.Errorf("%s: %w", s.name, ctx.Err()))
	}
	return fault.New(fault.Runtime, "%s: read: %v", s.name, err)
}

// eofOr maps a short read at the end of the input to io.EOF.
func eofOr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

func describe(p *mpeg4audio.ADTSPacket) string {
	return describeConfig(mpeg4audio.AudioSpecificConfig{
		Type: p.Type, SampleRate: p.SampleRate, ChannelConfig: p.ChannelConfig,
	})
}

func describeConfig(c mpeg4audio.AudioSpecificConfig) string {
	return fmt.Sprintf("object type %d, %d Hz, channel config %d", c.Type, c.SampleRate, c.ChannelConfig)
}
