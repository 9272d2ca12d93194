// Package flv reads FLV files and streams.
//
// The file header and tag headers are parsed here; tag bodies are decoded
// by gortmplib's message package (see decoder), which covers legacy FLV
// codecs and enhanced RTMP. Supported: H.264 and H.265 (legacy codec IDs 7
// and 12, enhanced avc1/hvc1), AAC (legacy and mp4a), MP3, G.711, and
// enhanced Opus and AC-3. onMetaData is exposed by Metadata.
//
// Tracks are known only once their sequence headers have been read, so
// Open reads ahead (bounded by readAheadSpan of timestamps and
// readAheadBytes of input) until every kind the header flags announce has
// a configured track that delivered a frame; Run replays what was read.
//
// Timestamps: video PTS = DTS + composition time, in the 90 kHz clock.
// Audio is in the sample-rate clock; since FLV stores milliseconds, an
// audio timestamp within 2 ms of the end of the previous frame is snapped
// to it, so AAC frames are exactly 1024 samples apart. All tracks are
// shifted so that the earliest PTS read ahead is 0.
package flv

import (
	"github.com/avcat/avcat/pkg/container/input"

	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const (
	headerSize     = 9
	flagVideo      = 0x01
	flagAudio      = 0x04
	maxHeaderSize  = 1 << 20
	readAheadSpan  = 5000     // ms
	readAheadBytes = 16 << 20 // bytes
	bufSize        = 64 << 10
	maxFound       = 8
)

// Probe reports whether head starts with the FLV signature "FLV\x01".
func Probe(head []byte) bool {
	return len(head) >= 4 && string(head[:4]) == "FLV\x01"
}

// Source reads an FLV file or stream.
type Source struct {
	// Path is the file to read; with Reader set it only names the input.
	Path string
	// Reader is read instead of Path when set (stdin). It need not seek.
	Reader io.Reader

	name   string
	file   *os.File
	in     io.Reader
	flags  byte
	tr     *tagReader
	dec    *decoder
	desc   *description.Session
	tracks map[trackKey]*track
	order  []*track
	ahead  []frame
	eof    bool

	offset    int64 // ms subtracted from every timestamp
	offsetSet bool

	mediaTags   int
	unsupported []string
	seenCodecs  []string

	metaMu   sync.Mutex
	metadata map[string]any
}

// Metadata is the onMetaData object of the file, if any.
func (s *Source) Metadata() map[string]any {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	return s.metadata
}

// Open reads the header and reads ahead until the tracks are known.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	var err error
	s.in, s.file, s.name, err = input.Open("flv", s.Path, s.Reader)
	if err != nil {
		return nil, err
	}
	stop := input.UnblockOnDone(ctx, s.in)
	defer stop()
	br := bufio.NewReaderSize(s.in, bufSize)

	h, err := br.Peek(headerSize)
	switch {
	case len(h) == 0 && (err == nil || errors.Is(err, io.EOF)):
		return nil, fault.New(fault.Unsupported, "%s: empty file", s.name)
	case len(h) < headerSize && err != nil && !errors.Is(err, io.EOF):
		return nil, s.readError(ctx, err)
	case len(h) < 3 || string(h[:3]) != "FLV":
		return nil, fault.New(fault.Unsupported, "%s: not an FLV file", s.name)
	case len(h) < headerSize:
		return nil, fault.New(fault.Unsupported, "%s: truncated FLV header", s.name)
	case h[3] != 1:
		return nil, fault.New(fault.Unsupported, "%s: unsupported FLV version %d", s.name, h[3])
	}
	s.flags = h[4]
	size := int64(h[5])<<24 | int64(h[6])<<16 | int64(h[7])<<8 | int64(h[8])
	if size < headerSize || size > maxHeaderSize {
		return nil, fault.New(fault.Unsupported, "%s: not an FLV file (header size %d)", s.name, size)
	}
	n, err := br.Discard(int(size) + 4) // header, PreviousTagSize0
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, s.readError(ctx, err)
	}
	s.tr = &tagReader{br: br, offset: int64(n)}
	s.dec = newDecoder()
	s.tracks = make(map[trackKey]*track)

	var firstDTS, lastDTS int64
	framesSeen := false
	for {
		t, err := s.tr.next()
		if errors.Is(err, io.EOF) {
			s.eof = true
			break
		}
		if err != nil {
			return nil, s.readError(ctx, err)
		}
		if msg := s.decode(t); msg != nil {
			s.configure(topKey(t), msg)
			before := len(s.ahead)
			s.ahead = s.frames(topKey(t), msg, s.ahead)
			for _, f := range s.ahead[before:] {
				f.t.seen = true
				if !framesSeen {
					firstDTS, framesSeen = f.dts, true
				}
				lastDTS = max(lastDTS, f.dts)
			}
		}
		if s.tr.offset > readAheadBytes || (framesSeen && lastDTS-firstDTS >= readAheadSpan) || s.announcedReady() {
			break
		}
	}

	if len(s.order) == 0 {
		switch {
		case len(s.unsupported) > 0:
			return nil, fault.New(fault.Unsupported, "%s: no supported track (found %s)", s.name, strings.Join(s.unsupported, ", "))
		case s.mediaTags == 0:
			return nil, fault.New(fault.Unsupported, "%s: no audio or video tags", s.name)
		default:
			return nil, fault.New(fault.Unsupported, "%s: no sequence header for %s", s.name, strings.Join(s.seenCodecs, ", "))
		}
	}

	for _, f := range s.ahead {
		if !s.offsetSet || f.pts < s.offset {
			s.offset, s.offsetSet = f.pts, true
		}
	}

	sort.SliceStable(s.order, func(i, j int) bool {
		a, b := s.order[i], s.order[j]
		if a.isVideo() != b.isVideo() {
			return a.isVideo()
		}
		return a.key.id < b.key.id
	})
	s.desc = &description.Session{}
	for i, t := range s.order {
		t.media.Control = fmt.Sprintf("trackID=%d", i)
		s.desc.Medias = append(s.desc.Medias, t.media)
	}
	media.NumberPayloadTypes(s.desc)
	return s.desc, nil
}

// Run delivers units until EOF (nil), an error, or ctx is done (nil). A
// tag cut by the end of the input is dropped silently.
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
		s.emit(emit, s.ahead[0])
		s.ahead[0] = frame{}
		s.ahead = s.ahead[1:]
	}
	s.ahead = nil
	var frames []frame
	for !s.eof && ctx.Err() == nil {
		t, err := s.tr.next()
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.readError(ctx, err)
		}
		msg := s.decode(t)
		if msg == nil {
			continue
		}
		frames = s.frames(topKey(t), msg, frames[:0])
		for _, f := range frames {
			s.emit(emit, f)
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

func topKey(t *tag) trackKey { return trackKey{video: t.typ == tagVideo} }

// decode turns a tag into a message; nil for tags that carry no media.
func (s *Source) decode(t *tag) message.Message {
	if t.typ == 0 || len(t.body) == 0 {
		return nil
	}
	name := "" // for the "no supported track" error of Open
	if s.desc == nil {
		switch t.typ {
		case tagVideo:
			s.mediaTags++
			name = videoCodecName(t.body)
		case tagAudio:
			s.mediaTags++
			name = audioCodecName(t.body)
		}
		if name != "" {
			s.seenCodecs = addName(s.seenCodecs, name)
		}
	}
	msg, err := s.dec.decode(t)
	if err != nil {
		if name != "" && !supportedNames[name] {
			s.unsupported = addName(s.unsupported, name)
		}
		return nil
	}
	if d, ok := msg.(*message.DataAMF0); ok {
		s.onData(d.Payload)
		return nil
	}
	return msg
}

// configure creates the track a configuring message describes, unless the
// track exists.
func (s *Source) configure(key trackKey, msg message.Message) {
	switch m := msg.(type) {
	case *message.VideoExMultitrack:
		s.configure(trackKey{video: true, id: m.TrackID}, m.Wrapped)
		return
	case *message.AudioExMultitrack:
		s.configure(trackKey{video: false, id: m.TrackID}, m.Wrapped)
		return
	}
	if s.tracks[key] != nil {
		return
	}
	t, unsupported := newTrack(key, msg)
	if unsupported != "" {
		s.unsupported = addName(s.unsupported, unsupported)
	}
	if t == nil {
		return
	}
	s.tracks[key] = t
	s.order = append(s.order, t)
}

// announcedReady reports whether every kind of track the header flags
// announce is configured and every configured track delivered a frame.
func (s *Source) announcedReady() bool {
	wantV, wantA := s.flags&flagVideo != 0, s.flags&flagAudio != 0
	if !wantV && !wantA {
		return false // flags not set: rely on the read-ahead window
	}
	haveV, haveA := false, false
	for _, t := range s.order {
		if !t.seen {
			return false
		}
		if t.isVideo() {
			haveV = true
		} else {
			haveA = true
		}
	}
	return (!wantV || haveV) && (!wantA || haveA)
}

func (s *Source) emit(emit func(*media.Unit), f frame) {
	if !s.offsetSet {
		s.offset, s.offsetSet = f.pts, true
	}
	t := f.t
	var pts, dts int64
	if t.isVideo() {
		pts, dts = (f.pts-s.offset)*90, (f.dts-s.offset)*90
	} else {
		pts = t.clock.place(scale(f.pts-s.offset, t.clock.rate, 1000), f.dur)
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

func (s *Source) onData(d amf0.Data) {
	if len(d) == 0 {
		return
	}
	name, _ := d[0].(string)
	if name == "@setDataFrame" && len(d) > 1 {
		d = d[1:]
		name, _ = d[0].(string)
	}
	if name != "onMetaData" || len(d) < 2 {
		return
	}
	if m := amfToMap(d[1], 0); m != nil {
		s.metaMu.Lock()
		s.metadata = m
		s.metaMu.Unlock()
	}
}

func amfToMap(v any, depth int) map[string]any {
	var entries []amf0.ObjectEntry
	switch o := v.(type) {
	case amf0.Object:
		entries = o
	case amf0.ECMAArray:
		entries = o
	default:
		return nil
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		switch val := e.Value.(type) {
		case float64, string, bool:
			out[e.Key] = val
		case amf0.Object, amf0.ECMAArray:
			if depth < 4 {
				out[e.Key] = amfToMap(val, depth+1)
			}
		}
	}
	return out
}

func (s *Source) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fault.Wrap(fault.Runtime, fmt.Errorf("%s: %w", s.name, ctx.Err()))
	}
	return fault.New(fault.Runtime, "%s: read: %v", s.name, err)
}

// supportedNames are codec names of tags that decode when well formed: a
// failure there means a damaged tag, not an unsupported codec.
var supportedNames = map[string]bool{
	"H.264 video": true, "H.265 video": true, "avc1 video": true, "hvc1 video": true,
	"AAC audio": true, "mp4a audio": true, "MP3 audio": true, ".mp3 audio": true,
	"G.711 audio": true, "Opus audio": true, "ac-3 audio": true,
}

func addName(list []string, name string) []string {
	if len(list) >= maxFound {
		return list
	}
	for _, n := range list {
		if n == name {
			return list
		}
	}
	return append(list, name)
}

// audioClock places audio units on a continuous sample clock: a unit
// whose container time is within 2 ms of the end of the previous unit
// starts exactly there, which hides the rounding of millisecond (or
// 90 kHz) timestamps. Larger gaps are kept.
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
