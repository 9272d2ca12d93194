package flv

import (
	"encoding/binary"
	"io"
	"math"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// SinkSupported lists the codecs the FLV sink writes, for messages. H.265,
// Opus and AC-3 use enhanced FLV (FourCC hvc1, Opus, ac-3), which
// ffmpeg reads from 6.1 on.
const SinkSupported = "H.264, H.265, AAC, MP3, Opus, AC-3, G.711 (8 kHz)"

// Sink writes an FLV file or stream: the header, an onMetaData script tag
// (codecs, width, height, frame rate, audio sample rate, stereo), the
// sequence headers, then one tag per frame. Tag bodies are built by
// gortmplib's Writer (see tagConn), so FLV carries the same codecs as
// RTMP publishing. One video and one audio track at most; others are
// skipped.
//
// Video starts at its first keyframe, with the parameter sets before
// every IDR; DTS is derived for RTP units; timestamps are milliseconds on
// a timeline shared by all tracks that starts at 0, strictly increasing
// per track. The header is written once the video's parameter sets are
// known (from the SDP, or in-band at the first keyframe); units before
// that are dropped. Output is flushed every second and on Close, so a
// kill -9 loses at most about a second. It implements engine.Sink.
type Sink struct {
	// Path is the file to create, unless W is set (Path then only names
	// the output in messages).
	Path string
	// W receives the stream when set; the caller keeps ownership of it.
	W io.Writer
	// Create makes the file at Path; nil means os.Create.
	Create mux.CreateFunc

	mu      sync.Mutex
	out     *mux.Output
	clock   mux.Clock
	tracks  []*flvTrack
	byFmt   map[format.Format]*flvTrack
	skipped []string
	conn    *tagConn
	w       *gortmplib.Writer
	ready   bool
	flusher *mux.Flusher
	closed  bool
}

type flvTrack struct {
	prep   *mux.Track
	rt     *gortmplib.Track
	lastMS int64
	hasMS  bool
	step   int64 // ms between the last two frames
}

// Needs asks for access units.
func (s *Sink) Needs() engine.Needs { return engine.NeedAccessUnits }

// Lossless makes the session wait for the sink instead of dropping.
func (s *Sink) Lossless() bool { return true }

// Skipped names the tracks Open left out and why ("track 2: VP8").
func (s *Sink) Skipped() []string { return s.skipped }

// Open creates the output and maps the tracks; formats FLV cannot hold
// are skipped, and none left is a fault.Unsupported.
func (s *Sink) Open(desc *description.Session) error {
	var video, audio bool
	picks, skipped, err := mux.Select(desc, "FLV", SinkSupported, func(f format.Format) (bool, string) {
		switch f := f.(type) {
		case *format.H264, *format.H265:
			if video {
				return false, "FLV holds one video track"
			}
			video = true
			return true, ""
		case *format.MPEG4Audio, *format.Opus, *format.MPEG1Audio, *format.AC3, *format.G711:
			if audio {
				return false, "FLV holds one audio track"
			}
			if m, ok := f.(*format.MPEG4Audio); ok && m.Config == nil {
				return false, "no config"
			}
			if g, ok := f.(*format.G711); ok && g.SampleRate != 8000 {
				return false, "FLV holds G.711 at 8 kHz only"
			}
			audio = true
			return true, ""
		}
		return false, ""
	})
	s.skipped = skipped
	if err != nil {
		return err
	}
	out, err := mux.OpenWith(s.Path, s.W, s.Create)
	if err != nil {
		return err
	}
	s.out = out
	s.byFmt = make(map[format.Format]*flvTrack)
	for _, p := range picks {
		t := &flvTrack{prep: mux.NewTrack(p.Format, &s.clock)}
		s.tracks = append(s.tracks, t)
		s.byFmt[p.Format] = t
	}
	s.flusher = mux.StartFlusher(s.flush)
	return nil
}

// codecOf describes a track for gortmplib; ok is false while the
// parameter sets of the video are unknown.
func codecOf(t *mux.Track) (codecs.Codec, bool) {
	vps, sps, pps := t.Params()
	switch f := t.Format.(type) {
	case *format.H264:
		return &codecs.H264{SPS: sps, PPS: pps}, sps != nil && pps != nil
	case *format.H265:
		return &codecs.H265{VPS: vps, SPS: sps, PPS: pps}, vps != nil && sps != nil && pps != nil
	case *format.MPEG4Audio:
		return &codecs.MPEG4Audio{Config: f.Config}, true
	case *format.Opus:
		return &codecs.Opus{IDHeader: &opus.IDHeader{
			Version: 1, ChannelCount: uint8(max(f.ChannelCount, 1)), PreSkip: 3840, InputSampleRate: 48000,
		}}, true
	case *format.MPEG1Audio:
		return &codecs.MPEG1Audio{}, true
	case *format.AC3:
		return &codecs.AC3{SampleRate: f.SampleRate, ChannelCount: f.ChannelCount}, true
	case *format.G711:
		return &codecs.G711{MULaw: f.MULaw, ChannelCount: max(f.ChannelCount, 1)}, true
	}
	return nil, false
}

// writeHeader writes the FLV header, onMetaData and the sequence headers
// once every track can be described.
func (s *Sink) writeHeader() error {
	var list []*gortmplib.Track
	var flags byte
	for _, t := range s.tracks {
		c, ok := codecOf(t.prep)
		if !ok {
			return nil
		}
		t.rt = &gortmplib.Track{Codec: c}
		list = append(list, t.rt)
		if t.prep.IsVideo() {
			flags |= flagVideo
		} else {
			flags |= flagAudio
		}
	}
	hdr := []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, headerSize, 0, 0, 0, 0}
	if _, err := s.out.Write(hdr); err != nil {
		return err
	}
	s.conn = newTagConn(s.out, s.metadata)
	s.w = &gortmplib.Writer{Conn: s.conn, Tracks: list}
	if err := s.w.Initialize(); err != nil {
		return s.fail("FLV header", err)
	}
	s.ready = true
	return nil
}

// metadata completes gortmplib's onMetaData with what players show.
func (s *Sink) metadata(obj amf0.Object) amf0.Object {
	out := amf0.Object{{Key: "duration", Value: float64(0)}}
	for _, t := range s.tracks {
		switch f := t.prep.Format.(type) {
		case *format.H264:
			_, sps, _ := t.prep.Params()
			var p h264.SPS
			if p.Unmarshal(sps) == nil {
				out = append(out, amf0.ObjectEntry{Key: "width", Value: float64(p.Width())},
					amf0.ObjectEntry{Key: "height", Value: float64(p.Height())})
				if fps := p.FPS(); fps > 0 {
					out = append(out, amf0.ObjectEntry{Key: "framerate", Value: fps})
				}
			}
		case *format.H265:
			_, sps, _ := t.prep.Params()
			var p h265.SPS
			if p.Unmarshal(sps) == nil {
				out = append(out, amf0.ObjectEntry{Key: "width", Value: float64(p.Width())},
					amf0.ObjectEntry{Key: "height", Value: float64(p.Height())})
				if fps := p.FPS(); fps > 0 {
					out = append(out, amf0.ObjectEntry{Key: "framerate", Value: fps})
				}
			}
		case *format.MPEG4Audio:
			out = append(out, amf0.ObjectEntry{Key: "audiosamplerate", Value: float64(f.Config.SampleRate)},
				amf0.ObjectEntry{Key: "audiosamplesize", Value: float64(16)},
				amf0.ObjectEntry{Key: "stereo", Value: f.Config.ChannelCount >= 2 || f.Config.ChannelConfig >= 2}) //nolint:staticcheck // older configs fill ChannelCount
		case *format.Opus:
			out = append(out, amf0.ObjectEntry{Key: "audiosamplerate", Value: float64(48000)},
				amf0.ObjectEntry{Key: "stereo", Value: f.ChannelCount >= 2})
		case *format.AC3:
			out = append(out, amf0.ObjectEntry{Key: "audiosamplerate", Value: float64(f.SampleRate)},
				amf0.ObjectEntry{Key: "stereo", Value: f.ChannelCount >= 2})
		case *format.G711:
			out = append(out, amf0.ObjectEntry{Key: "audiosamplerate", Value: float64(f.SampleRate)},
				amf0.ObjectEntry{Key: "audiosamplesize", Value: float64(8)},
				amf0.ObjectEntry{Key: "stereo", Value: f.ChannelCount >= 2})
		}
	}
	out = append(out, obj...)
	return append(out, amf0.ObjectEntry{Key: "encoder", Value: "avcat"})
}

// Write muxes one unit; units of skipped tracks are ignored.
func (s *Sink) Write(u *media.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.New(fault.Runtime, "FLV: write after Close")
	}
	if s.out == nil {
		return fault.New(fault.Runtime, "FLV: write before Open")
	}
	if err := s.out.Err(); err != nil {
		return err
	}
	t := s.byFmt[u.Format]
	if t == nil {
		return nil
	}
	if !s.ready && !t.prep.IsVideo() {
		if err := s.writeHeader(); err != nil || !s.ready {
			return err // audio waits for the video's parameter sets
		}
	}
	fr, ok := t.prep.Prepare(u)
	if !ok {
		return nil
	}
	if !s.ready {
		if err := s.writeHeader(); err != nil {
			return err
		}
	}
	if err := s.write(t, fr); err != nil {
		return s.fail(mux.CodecName(u.Format), err)
	}
	return nil
}

// ms converts a track timestamp to milliseconds, rounded.
func ms(v, rate int64) int64 {
	return (mux.Rescale(v, rate, 1000*1000) + 500) / 1000
}

// stamp returns the tag time of a frame (ms, strictly increasing per
// track) and its composition offset.
func (t *flvTrack) stamp(pts, dts int64) (time.Duration, time.Duration) {
	rate := t.prep.ClockRate()
	d := ms(dts, rate)
	if t.hasMS && d <= t.lastMS {
		d = t.lastMS + 1
	}
	if t.hasMS {
		t.step = d - t.lastMS
	}
	t.lastMS, t.hasMS = d, true
	c := max(ms(pts, rate)-ms(dts, rate), 0)
	return time.Duration(d) * time.Millisecond, time.Duration(d+c) * time.Millisecond
}

func (s *Sink) write(t *flvTrack, fr mux.Frame) error {
	switch f := t.prep.Format.(type) {
	case *format.H264:
		dts, pts := t.stamp(fr.PTS, fr.DTS)
		return s.w.WriteH264(t.rt, pts, dts, fr.AU)
	case *format.H265:
		dts, pts := t.stamp(fr.PTS, fr.DTS)
		return s.w.WriteH265(t.rt, pts, dts, fr.AU)
	case *format.MPEG4Audio:
		n := aacFrameLen(f)
		for i, au := range fr.AU {
			ts, _ := t.stamp(fr.PTS+int64(i)*n, fr.PTS+int64(i)*n)
			if err := s.w.WriteMPEG4Audio(t.rt, ts, au); err != nil {
				return err
			}
		}
	case *format.Opus:
		p := fr.PTS
		for _, pkt := range fr.AU {
			ts, _ := t.stamp(p, p)
			if err := s.w.WriteOpus(t.rt, ts, pkt); err != nil {
				return err
			}
			p += opus.PacketDuration2(pkt)
		}
	case *format.MPEG1Audio:
		p := fr.PTS
		for _, frame := range fr.AU {
			ts, _ := t.stamp(p, p)
			if err := s.w.WriteMPEG1Audio(t.rt, ts, frame); err != nil {
				return err
			}
			var h mpeg1audio.FrameHeader
			if h.Unmarshal(frame) == nil && h.SampleRate > 0 {
				p += int64(h.SampleCount()) * t.prep.ClockRate() / int64(h.SampleRate)
			}
		}
	case *format.AC3:
		for i, frame := range fr.AU {
			ts, _ := t.stamp(fr.PTS+int64(i)*1536, fr.PTS+int64(i)*1536)
			if err := s.w.WriteAC3(t.rt, ts, frame); err != nil {
				return err
			}
		}
	case *format.G711:
		ts, _ := t.stamp(fr.PTS, fr.PTS)
		var b []byte
		for _, p := range fr.AU {
			b = append(b, p...)
		}
		return s.w.WriteG711(t.rt, ts, b)
	}
	return nil
}

// fail returns the output's write error when there is one, else err
// classified as a runtime fault.
func (s *Sink) fail(what string, err error) error {
	if e := s.out.Err(); e != nil {
		return e
	}
	return fault.New(fault.Runtime, "FLV: %s: %w", what, err)
}

func (s *Sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.out != nil {
		s.out.Flush() //nolint:errcheck // kept in out.Err, returned by Write
	}
}

// Flush writes the buffered tags out, as the flusher does every second.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		return nil
	}
	return s.out.Flush()
}

// Started reports whether media reached the file: units before the first
// keyframe (or audio start) are dropped.
func (s *Sink) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Started()
}

// Close flushes and closes the file. It is safe after a failed Open or
// write, and more than once; it returns the write error, if any. After a
// write error the file is cut back to its last flush, or removed when
// nothing was flushed, and the error says so.
func (s *Sink) Close() error {
	s.flusher.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	if s.ready && s.out.File() != nil && s.out.Flush() == nil {
		s.patchDuration()
	}
	return s.out.CloseSalvaged()
}

// durationAt is where the value of onMetaData's first entry, "duration",
// lies in the file: FLV header and PreviousTagSize0 (13), tag header
// (11), the string "onMetaData" (13), the ECMA array marker and count (5),
// the key (10) and the number marker (1).
const durationAt = 13 + tagHeaderSize + 13 + 5 + 10 + 1

// patchDuration writes the real duration into onMetaData when the output
// is a file; on pipes it stays 0, which players ignore.
func (s *Sink) patchDuration() {
	var end int64
	for _, t := range s.tracks {
		if t.hasMS {
			end = max(end, t.lastMS+t.step)
		}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(end)/1000))
	if _, err := s.out.File().WriteAt(b[:], durationAt); err != nil {
		s.out.Fail(err)
	}
}
