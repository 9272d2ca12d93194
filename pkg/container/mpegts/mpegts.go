// Package mpegts reads MPEG transport streams (.ts files and pipes) with
// mediacommon's mpegts.Reader.
//
// Supported tracks: H.264, H.265, AAC (ADTS), Opus, MPEG-1/2 audio and
// AC-3. Other streams (MPEG-1/2/4 video, LATM, E-AC-3, KLV, subtitles) are
// skipped. TS has no out-of-band parameter sets, so Open reads ahead
// (bounded by readAheadSpan of timestamps and readAheadBytes of input)
// until each H.264/H.265 track has shown its parameter sets and every
// track a frame; Run replays what was read.
//
// Timestamps: the 33-bit PES timestamps are unwrapped with mediacommon's
// TimeDecoder (shared by all tracks, so they stay aligned) and shifted so
// that the earliest PTS read ahead is 0. Video stays in the 90 kHz clock;
// audio is converted to its sample-rate clock (MPEG audio stays at
// 90 kHz), one unit per frame, and a frame within 2 ms of the end of the
// previous one is snapped to it so the spacing is exact.
package mpegts

import (
	"github.com/avcat/avcat/pkg/container/input"

	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/ac3"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	readAheadSpan  = 5 * 90000 // 90 kHz ticks
	readAheadBytes = 16 << 20
	bufSize        = 64 << 10
)

// Probe reports whether head starts with MPEG-TS packets: sync bytes at 0
// and 188, and at 376 when head is that long.
func Probe(head []byte) bool {
	if len(head) <= packetSize || head[0] != syncByte || head[packetSize] != syncByte {
		return false
	}
	return len(head) <= 2*packetSize || head[2*packetSize] == syncByte
}

// Source reads an MPEG-TS file or stream.
type Source struct {
	// Path is the file to read; with Reader set it only names the input.
	Path string
	// Reader is read instead of Path when set (stdin). It need not seek.
	Reader io.Reader

	name   string
	file   *os.File
	in     io.Reader
	filter *packetFilter
	rd     *mpegts.Reader
	td     mpegts.TimeDecoder
	tracks []*track
	desc   *description.Session
	eof    bool

	// during Open, frames go to ahead; during Run, to emit
	ahead []frame
	emit  func(*media.Unit)

	firstDTS, lastDTS int64
	framesSeen        bool
	offset            int64 // 90 kHz ticks subtracted from every timestamp
	offsetSet         bool
}

// track is a supported track.
type track struct {
	ts     *mpegts.Track
	media  *description.Media
	format format.Format
	clock  audioClock
	seen   bool
}

// frame is one access unit with unwrapped 90 kHz timestamps; add is the
// position of an audio frame inside its PES, in the track clock.
type frame struct {
	t        *track
	pts, dts int64
	add      int64
	dur      int64
	payload  [][]byte
}

// Open reads the program tables and reads ahead until the tracks are
// described.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	var err error
	s.in, s.file, s.name, err = input.Open("mpegts", s.Path, s.Reader)
	if err != nil {
		return nil, err
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()
	br := bufio.NewReaderSize(s.in, bufSize)

	head, err := br.Peek(3 * packetSize)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, s.readError(ctx, err)
		}
		return nil, fault.New(fault.Unsupported, "%s: empty file", s.name)
	}
	if !looksLikeTS(head) {
		return nil, fault.New(fault.Unsupported, "%s: not an MPEG-TS stream", s.name)
	}

	s.filter = newPacketFilter(br)
	s.filter.ctx = ctx
	s.rd = &mpegts.Reader{R: s.filter}
	if err := s.rd.Initialize(); err != nil {
		if ctx.Err() != nil {
			return nil, s.readError(ctx, err)
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fault.New(fault.Unsupported, "%s: no complete program (PAT/PMT, and a first frame of each audio track) in the stream", s.name)
		case strings.Contains(err.Error(), "max recorded size"):
			return nil, fault.New(fault.Unsupported, "%s: no complete program (PAT/PMT, and a first frame of each audio track) in the first 1 MB", s.name)
		case errors.Is(err, errGarbage):
			return nil, fault.New(fault.Unsupported, "%s: %v", s.name, err)
		case s.filter.read == 0:
			return nil, s.readError(ctx, err)
		}
		return nil, fault.New(fault.Unsupported, "%s: %v", s.name, err)
	}
	s.rd.OnDecodeError(func(error) {}) // damaged PES are skipped silently

	var skipped []string
	var pids []uint16
	for _, tt := range s.rd.Tracks() {
		t := s.setup(tt)
		if t == nil {
			skipped = append(skipped, codecName(tt.Codec))
			continue
		}
		s.tracks = append(s.tracks, t)
		pids = append(pids, tt.PID)
	}
	if len(s.tracks) == 0 {
		if len(skipped) == 0 {
			return nil, fault.New(fault.Unsupported, "%s: no supported track (the program is empty)", s.name)
		}
		return nil, fault.New(fault.Unsupported, "%s: no supported track (found %s)", s.name, strings.Join(skipped, ", "))
	}
	s.filter.only(pids)

	for !s.ready() {
		if err := s.rd.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				s.eof = true
				break
			}
			return nil, s.readError(ctx, err)
		}
	}
	for _, f := range s.ahead {
		if !s.offsetSet || f.pts < s.offset {
			s.offset, s.offsetSet = f.pts, true
		}
	}

	s.desc = &description.Session{}
	for i, t := range s.tracks {
		t.media.Control = fmt.Sprintf("trackID=%d", i)
		s.desc.Medias = append(s.desc.Medias, t.media)
	}
	media.NumberPayloadTypes(s.desc)
	return s.desc, nil
}

// ready reports whether the read-ahead can stop.
func (s *Source) ready() bool {
	if s.filter.read > readAheadBytes || (s.framesSeen && s.lastDTS-s.firstDTS >= readAheadSpan) {
		return true
	}
	for _, t := range s.tracks {
		if !t.seen {
			return false
		}
		switch f := t.format.(type) {
		case *format.H264:
			if f.SPS == nil || f.PPS == nil {
				return false
			}
		case *format.H265:
			if f.VPS == nil || f.SPS == nil || f.PPS == nil {
				return false
			}
		}
	}
	return true
}

// Run delivers units until EOF (nil), an error, or ctx is done (nil). A
// truncated last packet is dropped silently.
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.desc == nil {
		return fault.New(fault.Runtime, "%s: Run before a successful Open", s.name)
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()

	for len(s.ahead) > 0 {
		if ctx.Err() != nil {
			return nil
		}
		s.deliver(emit, s.ahead[0])
		s.ahead[0] = frame{}
		s.ahead = s.ahead[1:]
	}
	s.ahead = nil
	s.emit = emit
	s.filter.ctx = ctx
	defer func() { s.emit = nil }()
	for !s.eof && ctx.Err() == nil {
		if err := s.rd.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				s.eof = true
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			return s.readError(ctx, err)
		}
	}
	return nil
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

// setup maps a TS track to a gortsplib format and registers its callback;
// nil when the codec is not supported.
func (s *Source) setup(tt *mpegts.Track) *track {
	t := &track{ts: tt}
	switch c := tt.Codec.(type) {
	case *tscodecs.H264:
		t.format = &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		s.rd.OnDataH264(tt, func(pts, dts int64, au [][]byte) error {
			s.video(t, pts, dts, au)
			return nil
		})
	case *tscodecs.H265:
		t.format = &format.H265{PayloadTyp: 96}
		s.rd.OnDataH265(tt, func(pts, dts int64, au [][]byte) error {
			s.video(t, pts, dts, au)
			return nil
		})
	case *tscodecs.MPEG4Audio:
		conf := c.Config
		t.format = &format.MPEG4Audio{PayloadTyp: 96, Config: &conf, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
		dur := int64(1024)
		if conf.FrameLengthFlag {
			dur = 960
		}
		s.rd.OnDataMPEG4Audio(tt, func(pts int64, aus [][]byte) error {
			s.audio(t, pts, aus, func([]byte) int64 { return dur })
			return nil
		})
	case *tscodecs.Opus:
		ch := c.ChannelCount //nolint:staticcheck // set by the reader alongside Desc
		if c.Desc != nil {
			ch = c.Desc.ChannelCount()
		}
		if ch <= 0 {
			ch = 2
		}
		t.format = &format.Opus{PayloadTyp: 96, ChannelCount: ch}
		s.rd.OnDataOpus(tt, func(pts int64, packets [][]byte) error {
			s.audio(t, pts, packets, opus.PacketDuration2)
			return nil
		})
	case *tscodecs.MPEG1Audio:
		t.format = &format.MPEG1Audio{}
		s.rd.OnDataMPEG1Audio(tt, func(pts int64, frames [][]byte) error {
			s.audio(t, pts, frames, mp3Duration)
			return nil
		})
	case *tscodecs.AC3:
		t.format = &format.AC3{PayloadTyp: 96, SampleRate: c.SampleRate, ChannelCount: c.ChannelCount}
		// OnDataAC3 drops every PES that holds more than one frame, and
		// ffmpeg packs several: take the raw PES through a callback that
		// does not look at the codec, and split the frames here.
		s.rd.OnDataMPEG4Video(tt, func(pts int64, data []byte) error {
			s.audio(t, pts, splitAC3(data), func([]byte) int64 { return 1536 })
			return nil
		})
	default:
		return nil
	}
	mt := description.MediaTypeAudio
	if media.IsVideo(t.format) {
		mt = description.MediaTypeVideo
	}
	t.media = &description.Media{Type: mt, Formats: []format.Format{t.format}}
	t.clock.rate = int64(t.format.ClockRate())
	return t
}

func (s *Source) video(t *track, pts, dts int64, au [][]byte) {
	dts = s.td.Decode(dts)
	pts = s.td.Decode(pts)
	if s.desc == nil {
		learnParams(t.format, au)
	}
	s.push(frame{t: t, pts: pts, dts: dts, payload: au})
}

func (s *Source) audio(t *track, pts int64, aus [][]byte, duration func([]byte) int64) {
	pts = s.td.Decode(pts)
	var add int64
	for _, au := range aus {
		if len(au) == 0 {
			continue
		}
		d := duration(au)
		s.push(frame{t: t, pts: pts, dts: pts, add: add, dur: d, payload: [][]byte{au}})
		add += d
	}
}

func (s *Source) push(f frame) {
	if s.emit != nil {
		s.deliver(s.emit, f)
		return
	}
	f.t.seen = true
	if !s.framesSeen {
		s.firstDTS, s.framesSeen = f.dts, true
	}
	s.lastDTS = max(s.lastDTS, f.dts)
	s.ahead = append(s.ahead, f)
}

func (s *Source) deliver(emit func(*media.Unit), f frame) {
	if !s.offsetSet {
		s.offset, s.offsetSet = f.pts, true
	}
	t := f.t
	pts, dts := f.pts-s.offset, f.dts-s.offset
	if !media.IsVideo(t.format) {
		pts = t.clock.place(scale(pts, t.clock.rate, 90000)+f.add, f.dur)
		dts = pts
	}
	if dts > pts {
		dts = pts
	}
	emit(&media.Unit{
		Media:    t.media,
		Format:   t.format,
		PTS:      pts,
		DTS:      dts,
		Received: time.Now(),
		Payload:  f.payload,
		Key:      media.IsRandomAccess(t.format, f.payload),
	})
}

// learnParams fills the format's parameter sets from the first access
// unit that carries them.
func learnParams(f format.Format, au [][]byte) {
	switch f := f.(type) {
	case *format.H264:
		for _, n := range au {
			switch h264.NALUType(n[0] & 0x1F) {
			case h264.NALUTypeSPS:
				var sps h264.SPS
				if f.SPS == nil && sps.Unmarshal(n) == nil {
					f.SPS = n
				}
			case h264.NALUTypePPS:
				if f.PPS == nil && len(n) > 1 {
					f.PPS = n
				}
			}
		}
	case *format.H265:
		for _, n := range au {
			if len(n) < 3 {
				continue
			}
			switch h265.NALUType((n[0] >> 1) & 0x3F) {
			case h265.NALUType_VPS_NUT:
				if f.VPS == nil {
					f.VPS = n
				}
			case h265.NALUType_SPS_NUT:
				var sps h265.SPS
				if f.SPS == nil && sps.Unmarshal(n) == nil {
					f.SPS = n
				}
			case h265.NALUType_PPS_NUT:
				if f.PPS == nil {
					f.PPS = n
				}
			}
		}
	}
}

// looksLikeTS finds three sync bytes a packet apart (or as many as head
// holds) at an offset below one packet, so a capture cut mid-packet is
// still accepted.
func looksLikeTS(head []byte) bool {
	if len(head) < packetSize {
		return false
	}
	for k := 0; k < packetSize; k++ {
		ok := true
		for i := k; i < len(head) && i < k+3*packetSize; i += packetSize {
			if head[i] != syncByte {
				ok = false
				break
			}
		}
		if ok && (k == 0 || k+packetSize < len(head)) {
			return true
		}
	}
	return false
}

func codecName(c tscodecs.Codec) string {
	switch c.(type) {
	case *tscodecs.MPEG1Video:
		return "MPEG-1/2 video"
	case *tscodecs.MPEG4Video:
		return "MPEG-4 video"
	case *tscodecs.MPEG4AudioLATM:
		return "AAC-LATM audio"
	case *tscodecs.EAC3:
		return "E-AC-3 audio"
	case *tscodecs.KLV:
		return "KLV data"
	case *tscodecs.DVBSubtitle:
		return "DVB subtitles"
	}
	return "unknown stream"
}

// splitAC3 cuts a PES payload into AC-3 frames; a damaged tail is dropped.
func splitAC3(data []byte) [][]byte {
	var frames [][]byte
	for len(data) > 0 {
		var si ac3.SyncInfo
		if si.Unmarshal(data) != nil {
			break
		}
		n := si.FrameSize()
		if n <= 0 || n > len(data) {
			break
		}
		frames = append(frames, data[:n])
		data = data[n:]
	}
	return frames
}

// mp3Duration is the duration of an MPEG audio frame in the 90 kHz clock
// of format.MPEG1Audio.
func mp3Duration(b []byte) int64 {
	var h mpeg1audio.FrameHeader
	if h.Unmarshal(b) != nil || h.SampleRate == 0 {
		return 0
	}
	return int64(h.SampleCount()) * 90000 / int64(h.SampleRate)
}

func (s *Source) readError(ctx context.Context, err error) error {
	if errors.Is(err, errGarbage) {
		return fault.New(fault.Runtime, "%s: %v", s.name, err)
	}
	if ctx.Err() != nil {
		return fault.Wrap(fault.Runtime, fmt.Errorf("%s: %w", s.name, ctx.Err()))
	}
	return fault.New(fault.Runtime, "%s: read: %v", s.name, err)
}

// audioClock places audio units on a continuous sample clock: a unit
// whose container time is within 2 ms of the end of the previous unit
// starts exactly there, which hides the rounding of 90 kHz timestamps.
// Larger gaps are kept.
type audioClock struct {
	rate int64
	next int64
	ok   bool
}

func (c *audioClock) place(ts, dur int64) int64 {
	if tol := c.rate / 500; c.ok && ts-c.next >= -tol && ts-c.next <= tol {
		ts = c.next
	}
	c.next, c.ok = ts+dur, dur > 0
	return ts
}

// scale returns v*num/den rounded to the nearest integer.
func scale(v, num, den int64) int64 {
	if v < 0 {
		return -((-v*num + den/2) / den)
	}
	return (v*num + den/2) / den
}
