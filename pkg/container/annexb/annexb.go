// Package annexb reads raw H.264 and H.265 elementary streams in Annex-B
// byte stream format (.h264, .264, .h265, .265, .hevc).
//
// The stream is split into NAL units as it is read (it need not seek and
// may be endless) and the units are grouped into access units: a new one
// starts at an access unit delimiter, at a parameter set or SEI that
// follows a slice, or at the first slice of a picture. Delimiters are
// dropped; everything else is kept in the payload, parameter sets
// included.
//
// Annex-B carries no timestamps. Access units are assumed to be in
// presentation order, with no B-frame reordering: the n-th access unit
// gets PTS = DTS = n*90000/FPS. FPS is Source.FPS when set, else the frame
// rate in the SPS VUI timing info when it lies in (0, 300], else 25.
package annexb

import (
	"github.com/avcat/avcat/pkg/container/input"

	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	// DefaultFPS is the frame rate used when neither Source.FPS nor the
	// SPS gives one.
	DefaultFPS = 25
	// maxSPSFPS is the largest SPS frame rate believed.
	maxSPSFPS = 300
	// readAhead bounds how much input Open reads to find the codec and
	// its parameter sets.
	readAhead = 16 << 20
)

// Probe reports whether head looks like the start of an Annex-B stream: a
// 3- or 4-byte start code followed by a plausible H.264 or H.265 NAL unit
// header (parameter set, delimiter, SEI or IDR/CRA slice).
func Probe(head []byte) bool {
	i := 0
	for i < len(head) && head[i] == 0 {
		i++
	}
	if i < 2 || i > 3 || i+2 >= len(head) || head[i] != 1 {
		return false
	}
	h := head[i+1:]
	if sniff(h) != "" {
		return true
	}
	if h[0]&0x80 != 0 {
		return false
	}
	if typ := h[0] & 0x1F; typ == 5 && h[0]&0x60 != 0 { // H.264 IDR
		return true
	}
	typ := (h[0] >> 1) & 0x3F
	layer := (h[0]&1)<<5 | h[1]>>3
	return layer == 0 && h[1]&7 != 0 && typ >= 16 && typ <= 21 // H.265 IRAP
}

// sniff tells the codec from NAL unit types that only one codec can have
// at that header value: H.265 VPS/SPS/PPS/AUD/prefix SEI with layer 0 and
// a valid temporal id, or H.264 SPS/PPS (nal_ref_idc != 0) and AUD/SEI
// (nal_ref_idc == 0). It returns "" when the unit does not tell.
func sniff(n []byte) string {
	if len(n) == 0 || n[0]&0x80 != 0 {
		return ""
	}
	if len(n) >= 2 {
		typ := h265.NALUType((n[0] >> 1) & 0x3F)
		layer := (n[0]&1)<<5 | n[1]>>3
		if layer == 0 && n[1]&7 != 0 {
			switch typ {
			case h265.NALUType_VPS_NUT, h265.NALUType_SPS_NUT, h265.NALUType_PPS_NUT,
				h265.NALUType_AUD_NUT, h265.NALUType_PREFIX_SEI_NUT:
				return CodecH265
			}
		}
	}
	ref := (n[0] >> 5) & 0x03
	switch h264.NALUType(n[0] & 0x1F) {
	case h264.NALUTypeSPS, h264.NALUTypePPS:
		if ref != 0 {
			return CodecH264
		}
	case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeSEI:
		if ref == 0 {
			return CodecH264
		}
	}
	return ""
}

// codecByName maps a Codec field value or a file extension to a codec.
func codecByName(s string) string {
	switch strings.ToLower(strings.TrimPrefix(s, ".")) {
	case "h264", "264", "avc", "h.264":
		return CodecH264
	case "h265", "265", "hevc", "h.265":
		return CodecH265
	}
	return ""
}

// Source reads an Annex-B elementary stream from a file or a reader.
type Source struct {
	// Path is the file to read; with Reader set it only names the input
	// (its extension still hints the codec).
	Path string
	// Reader is read instead of Path when set (stdin). It need not seek.
	Reader io.Reader
	// Codec is "h264" or "h265" ("avc" and "hevc" work too). Empty means:
	// sniff it from the NAL unit types, falling back to the extension.
	Codec string
	// FPS sets the frame rate. Zero means: the SPS VUI timing info when
	// plausible, else DefaultFPS.
	FPS float64

	name    string
	file    *os.File
	in      io.Reader
	sp      *splitter
	asm     *assembler
	codec   string
	fps     float64
	desc    *description.Session
	media   *description.Media
	format  format.Format
	pending [][][]byte // AUs read by Open, delivered first by Run
	eof     bool
	frames  int64
}

// FrameRate is the frame rate the timestamps are computed from, known
// after Open.
func (s *Source) FrameRate() float64 { return s.fps }

// Open reads ahead until the codec and its parameter sets are known.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	codec := ""
	if s.Codec != "" {
		if codec = codecByName(s.Codec); codec == "" {
			return nil, fault.New(fault.Usage, "annexb: unknown codec %q (want h264 or h265)", s.Codec)
		}
	}
	var err error
	s.in, s.file, s.name, err = input.Open("annexb", s.Path, s.Reader)
	if err != nil {
		return nil, err
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()
	s.sp = newSplitter(s.in)

	// 1. the codec
	var nalus [][]byte
	for codec == "" && s.sp.read <= readAhead {
		nalu, err := s.sp.next()
		if errors.Is(err, io.EOF) {
			s.eof = true
			break
		}
		if err != nil {
			return nil, s.openError(ctx, err)
		}
		nalus = append(nalus, nalu)
		codec = sniff(nalu)
	}
	if s.sp.read == 0 && s.eof {
		return nil, fault.New(fault.Unsupported, "%s: empty file", s.name)
	}
	if codec == "" && len(nalus) > 0 {
		codec = codecByName(filepath.Ext(s.Path))
	}
	if codec == "" {
		if len(nalus) == 0 {
			return nil, fault.New(fault.Unsupported, "%s: no NAL units", s.name)
		}
		return nil, fault.New(fault.Unsupported,
			"%s: cannot tell H.264 from H.265 (no parameter sets); name the file .h264 or .h265", s.name)
	}
	s.codec = codec

	// 2. the parameter sets
	var ps paramSets
	s.asm = newAssembler(codec)
	feed := func(nalu []byte) {
		ps.observe(codec, nalu)
		if au := s.asm.push(nalu); au != nil {
			s.pending = append(s.pending, au)
		}
	}
	for _, nalu := range nalus {
		feed(nalu)
	}
	for !s.eof && !ps.complete(codec) && s.sp.read <= readAhead {
		nalu, err := s.sp.next()
		if errors.Is(err, io.EOF) {
			s.eof = true
			break
		}
		if err != nil {
			return nil, s.openError(ctx, err)
		}
		feed(nalu)
	}
	if s.eof {
		if au := s.asm.flush(); au != nil {
			s.pending = append(s.pending, au)
		}
	}
	if s.sp.read == 0 {
		return nil, fault.New(fault.Unsupported, "%s: empty file", s.name)
	}
	if !ps.complete(codec) {
		where := "in the stream"
		if !s.eof {
			where = fmt.Sprintf("in the first %d MB", readAhead>>20)
		}
		return nil, fault.New(fault.Unsupported, "%s: no %s %s", s.name, ps.missing(codec), where)
	}

	// 3. the frame rate
	s.fps = DefaultFPS
	switch {
	case s.FPS > 0 && !math.IsInf(s.FPS, 0):
		s.fps = s.FPS
	case ps.fps > 0 && ps.fps <= maxSPSFPS:
		s.fps = ps.fps
	}

	if codec == CodecH264 {
		s.format = &format.H264{PayloadTyp: 96, SPS: ps.sps, PPS: ps.pps, PacketizationMode: 1}
	} else {
		s.format = &format.H265{PayloadTyp: 96, VPS: ps.vps, SPS: ps.sps, PPS: ps.pps}
	}
	s.media = &description.Media{
		Type:    description.MediaTypeVideo,
		Control: "trackID=0",
		Formats: []format.Format{s.format},
	}
	s.desc = &description.Session{Medias: []*description.Media{s.media}}
	return s.desc, nil
}

// Run delivers access units until EOF (nil), an error, or ctx is done
// (nil). The last access unit is delivered even when the input was cut.
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.desc == nil {
		return fault.New(fault.Runtime, "%s: Run before a successful Open", s.name)
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()

	for len(s.pending) > 0 {
		if ctx.Err() != nil {
			return nil
		}
		s.emit(emit, s.pending[0])
		s.pending[0] = nil
		s.pending = s.pending[1:]
	}
	s.pending = nil
	for !s.eof && ctx.Err() == nil {
		nalu, err := s.sp.next()
		if errors.Is(err, io.EOF) {
			s.eof = true
			if au := s.asm.flush(); au != nil {
				s.emit(emit, au)
			}
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.runError(err)
		}
		if au := s.asm.push(nalu); au != nil {
			s.emit(emit, au)
		}
	}
	return nil
}

func (s *Source) emit(emit func(*media.Unit), au [][]byte) {
	ts := int64(math.Round(float64(s.frames) * 90000 / s.fps))
	s.frames++
	emit(&media.Unit{
		Media:    s.media,
		Format:   s.format,
		PTS:      ts,
		DTS:      ts,
		Received: time.Now(),
		Payload:  au,
		Key:      media.IsRandomAccess(s.format, au),
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

func (s *Source) openError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, errNoStartCode):
		if s.sp.read == 0 {
			return fault.New(fault.Unsupported, "%s: empty file", s.name)
		}
		return fault.New(fault.Unsupported, "%s: not an H.264/H.265 Annex-B stream (%v)", s.name, err)
	case ctx.Err() != nil:
		return fault.Wrap(fault.Runtime, fmt.Errorf("%s: %w", s.name, ctx.Err()))
	}
	return s.runError(err)
}

func (s *Source) runError(err error) error {
	if errors.Is(err, errNoStartCode) {
		return fault.New(fault.Unsupported, "%s: not an H.264/H.265 Annex-B stream (%v)", s.name, err)
	}
	if s.sp.readErr != nil {
		return fault.New(fault.Runtime, "%s: read: %v", s.name, err)
	}
	return fault.New(fault.Runtime, "%s: corrupt stream: %v", s.name, err)
}

// paramSets collects the first valid parameter sets of the stream.
type paramSets struct {
	vps, sps, pps []byte
	fps           float64
}

func (p *paramSets) observe(codec string, nalu []byte) {
	if codec == CodecH264 {
		switch h264.NALUType(nalu[0] & 0x1F) {
		case h264.NALUTypeSPS:
			var sps h264.SPS
			if p.sps == nil && sps.Unmarshal(nalu) == nil {
				p.sps, p.fps = nalu, sps.FPS()
			}
		case h264.NALUTypePPS:
			if p.pps == nil && len(nalu) > 1 {
				p.pps = nalu
			}
		}
		return
	}
	if len(nalu) < 3 {
		return
	}
	switch h265.NALUType((nalu[0] >> 1) & 0x3F) {
	case h265.NALUType_VPS_NUT:
		if p.vps == nil {
			p.vps = nalu
		}
	case h265.NALUType_SPS_NUT:
		var sps h265.SPS
		if p.sps == nil && sps.Unmarshal(nalu) == nil {
			p.sps, p.fps = nalu, sps.FPS()
		}
	case h265.NALUType_PPS_NUT:
		if p.pps == nil {
			p.pps = nalu
		}
	}
}

func (p *paramSets) complete(codec string) bool {
	return p.sps != nil && p.pps != nil && (codec == CodecH264 || p.vps != nil)
}

func (p *paramSets) missing(codec string) string {
	var m []string
	if codec == CodecH265 && p.vps == nil {
		m = append(m, "VPS")
	}
	if p.sps == nil {
		m = append(m, "SPS")
	}
	if p.pps == nil {
		m = append(m, "PPS")
	}
	name := "H.264"
	if codec == CodecH265 {
		name = "H.265"
	}
	return name + " " + strings.Join(m, "/")
}
