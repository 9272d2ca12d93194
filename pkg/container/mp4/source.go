// Package mp4 reads MP4 and QuickTime (MOV) files.
//
// The demuxer is built on go-mp4 (box headers and the stbl tables);
// mediacommon's pmp4 only reads files shaped like its own output. It is
// tolerant: the moov box may come before or after the media, unknown
// boxes are skipped, tables whose counts disagree are cut to what they
// agree on, and a file whose media data was cut short plays up to the
// cut. Sample data is read in windows of up to 512 KiB per track, never
// the whole file.
//
// Timing follows the sample tables: stts gives decode times, ctts the
// composition offsets (version 0 or 1, negative ones included, which
// lower DTS as ffmpeg does), and the start of the edit list moves the
// track on the presentation timeline. ffmpeg writes such edits to hide
// the AAC encoder's priming frame and the decode delay of B-frames; with
// them applied the first displayed video frame and the first audible
// audio frame both start at 0. Audio frames that end before their edit
// starts (the priming: 1024 samples for ffmpeg's AAC) are not emitted, so
// ffmpeg's 4 s clips give 188 AAC units, not the 189 packets stored.
// Finally the earliest PTS of the file becomes 0, so DTS may be slightly
// negative when there are B-frames.
//
// Units: H.264 and H.265 samples become their NALUs without length
// prefixes (Key when media.IsRandomAccess says so, or stss lists the
// sample); AAC and Opus samples one access unit or packet each; G.711 in
// QuickTime, stored as one sample per audio frame, goes out in units of up
// to 1024 frames from one chunk, as ffmpeg reads it.
package mp4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Supported lists the codecs the demuxer emits, for messages.
const Supported = "H.264, H.265, AAC, Opus, G.711"

// Source reads an MP4/MOV file and emits access units. It implements
// engine.Source.
type Source struct {
	// Path is the file to read.
	Path string
	// Reader is read instead of Path when set; Path then only names the
	// input in messages. The caller keeps ownership of it.
	Reader io.ReadSeeker
	// Tracks restricts the tracks that are emitted to these MP4 track
	// IDs (tkhd); nil means every supported track.
	Tracks []int

	name     string
	file     *os.File
	fr       *fileReader
	tracks   []*track
	skipped  []string
	duration time.Duration
}

// Probe reports whether r looks like an MP4 or MOV file: an ftyp box, or
// a box that starts QuickTime files (moov, mdat, free, skip, wide, pnot),
// at the current position. The position is restored.
func Probe(r io.ReadSeeker) bool {
	pos, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return false
	}
	defer r.Seek(pos, io.SeekStart) //nolint:errcheck // best effort
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false
	}
	switch string(h[4:8]) {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot":
		return true
	}
	return false
}

// Skipped names the tracks left out by Open and why, e.g. "track 3: mp4v".
func (s *Source) Skipped() []string { return s.skipped }

// Duration is the length of the longest emitted track, after Open.
func (s *Source) Duration() time.Duration { return s.duration }

// Close releases the file opened from Path; it is safe after a failed
// Open and more than once.
func (s *Source) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

func (s *Source) displayName() string {
	if s.Path != "" {
		return filepath.Base(s.Path)
	}
	return "input"
}

// Open finds and parses the moov box and describes the supported tracks.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.name = s.displayName()
	s.tracks, s.skipped, s.duration, s.fr = nil, nil, 0, nil

	rs := s.Reader
	if rs == nil {
		if s.file != nil { // reopened: start afresh
			s.file.Close() //nolint:errcheck // read-only
			s.file = nil
		}
		f, err := os.Open(s.Path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fault.New(fault.NotFound, "%s: no such file", s.name)
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fault.New(fault.Runtime, "%s: %v", s.name, err)
		}
		s.file, rs = f, f
	}
	size, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fault.New(fault.Runtime, "%s: %v", s.name, err)
	}
	if size == 0 {
		return nil, fault.New(fault.Unsupported, "%s: empty file", s.name)
	}
	fr := &fileReader{rs: rs, size: size}
	if ra, ok := rs.(io.ReaderAt); ok {
		fr.ra = ra
	}

	top, err := scanTop(fr)
	if err != nil {
		return nil, fault.New(fault.Runtime, "%s: %v", s.name, err)
	}
	switch {
	case top.moov == nil && !top.known:
		return nil, fault.New(fault.Unsupported, "%s: not an MP4/MOV file", s.name)
	case top.moov == nil:
		return nil, fault.New(fault.Unsupported, "%s: no moov box (truncated or unfinished recording?)", s.name)
	case top.moov.size > maxMoovSize:
		return nil, fault.New(fault.Unsupported, "%s: moov box too large (%d bytes)", s.name, top.moov.size)
	}
	moov := make([]byte, top.moov.size)
	if err := fr.readAt(moov, top.moov.off); err != nil {
		return nil, fault.New(fault.Runtime, "%s: reading the moov box: %v", s.name, err)
	}

	var frags map[uint32]*fragTables
	if top.moof {
		frags = readFragments(fr, trexDefaults(moov))
	}
	tracks, found, err := s.parseMoov(moov, size, frags)
	if err != nil {
		return nil, err
	}
	if len(tracks) == 0 {
		if top.moof {
			return nil, fault.New(fault.Unsupported, "%s: fragmented MP4 (moof) is not supported", s.name)
		}
		what := "no track"
		if len(found) > 0 {
			what = "found " + strings.Join(found, ", ")
		}
		return nil, fault.New(fault.Unsupported, "%s: no supported track (%s); supported: %s", s.name, what, Supported)
	}

	desc := s.describe(tracks)
	s.fr, s.tracks = fr, tracks
	return desc, nil
}

// parseMoov builds the supported tracks. found says what the tracks left
// out are (their codec, and why when it is not the codec), for the error
// when none is left.
//
// The tracks of a fragmented MP4, whose moov lists no sample, take their
// tables from frags (by track ID).
func (s *Source) parseMoov(moov []byte, fileSize int64, frags map[uint32]*fragTables) ([]*track, []string, error) {
	var movieTimescale uint32
	if b, ok := child(moov, "mvhd"); ok {
		var mvhd gomp4.Mvhd
		if _, err := unmarshal(b, &mvhd); err == nil {
			movieTimescale = mvhd.Timescale
		}
	}

	var tracks []*track
	var found []string
	var ids []int
	n := 0
	for _, c := range children(moov) {
		if c.typ != gomp4.BoxTypeTrak() {
			continue
		}
		n++
		t, err := parseTrack(c.payload, movieTimescale, fileSize, frags)
		id := n // for a trak without a readable tkhd
		if t != nil && t.id != 0 {
			id = int(t.id)
		}
		ids = append(ids, id)
		if s.Tracks != nil && !slices.Contains(s.Tracks, id) {
			continue
		}
		if err == nil {
			t.measure()
			if t.units == 0 {
				err = skipf("%s (no samples)", t.fourcc)
			}
		}
		if err != nil {
			var why string
			var sk *errSkip
			switch {
			case errors.As(err, &sk):
				why = sk.why
			case t != nil && t.fourcc != "":
				why = fmt.Sprintf("%s (%v)", t.fourcc, err)
			default:
				why = err.Error()
			}
			s.skipped = append(s.skipped, fmt.Sprintf("track %d: %s", id, why))
			if !slices.Contains(found, why) {
				found = append(found, why)
			}
			continue
		}
		tracks = append(tracks, t)
	}
	for _, want := range s.Tracks {
		if !slices.Contains(ids, want) {
			return nil, nil, fault.New(fault.NotFound, "%s: no track %d (tracks: %s)", s.name, want, joinInts(ids))
		}
	}
	return tracks, found, nil
}

// describe assigns payload types and medias, and places every track on
// the common timeline: the earliest PTS of the file becomes 0.
func (s *Source) describe(tracks []*track) *description.Session {
	desc := &description.Session{}
	for _, t := range tracks {
		typ := description.MediaTypeAudio
		switch f := t.format.(type) {
		case *format.H264:
			f.PayloadTyp, typ = 96, description.MediaTypeVideo // numbered below
		case *format.H265:
			f.PayloadTyp, typ = 96, description.MediaTypeVideo
		case *format.MPEG4Audio:
			f.PayloadTyp = 96
		case *format.Opus:
			f.PayloadTyp = 96
		case *format.G711:
			switch {
			case f.SampleRate != 8000 || f.ChannelCount != 1:
				f.PayloadTyp = 96
			case f.MULaw:
				f.PayloadTyp = 0
			default:
				f.PayloadTyp = 8
			}
		}
		t.clock = t.format.ClockRate()
		t.media = &description.Media{
			Type:    typ,
			Control: fmt.Sprintf("trackID=%d", t.id),
			Formats: []format.Format{t.format},
		}
		desc.Medias = append(desc.Medias, t.media)
	}
	media.NumberPayloadTypes(desc)

	const ns = uint64(time.Second)
	first, firstNs := tracks[0], int64(math.MaxInt64)
	for _, t := range tracks {
		if v := rescale(t.minPTS, uint64(t.timescale), ns); v < firstNs {
			first, firstNs = t, v
		}
	}
	var end int64
	for _, t := range tracks {
		t.offset = rescale(first.minPTS, uint64(first.timescale), uint64(t.clock))
		end = max(end, rescale(t.maxEnd, uint64(t.timescale), ns)-firstNs)
	}
	s.duration = time.Duration(end)
	return desc
}

// Run emits the units of every track in decode order, interleaved by
// decode time, as fast as emit takes them. It returns nil at the end of
// the file or when ctx is done. When the file ends before a sample the
// tables point to, the other tracks still play out, and Run then returns
// a Runtime error naming the first missing sample.
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.fr == nil {
		return fault.New(fault.Runtime, "%s: Run before a successful Open", s.displayName())
	}
	type head struct {
		t   *track
		c   *cursor
		s   sample
		ok  bool
		key int64 // DTS in nanoseconds
		win window
	}
	advance := func(h *head) {
		h.s, h.ok = h.c.nextUnit()
		if h.ok {
			h.key = rescale(h.t.dtsOut(h.s), uint64(h.t.clock), uint64(time.Second))
		}
	}
	heads := make([]*head, len(s.tracks))
	wins := make([]*window, len(s.tracks))
	for i, t := range s.tracks {
		heads[i] = &head{t: t, c: newCursor(t)}
		wins[i] = &heads[i].win
		advance(heads[i])
	}

	size := uint64(s.fr.size)
	var truncated error
	for {
		if ctx.Err() != nil {
			return nil
		}
		var h *head
		for _, x := range heads {
			if x.ok && (h == nil || x.key < h.key) {
				h = x
			}
		}
		if h == nil {
			return truncated
		}
		smp, t := h.s, h.t
		advance(h)

		if smp.off > size || smp.size > size-smp.off {
			if truncated == nil {
				truncated = fault.New(fault.Runtime,
					"%s: truncated: sample %d of track %d lies beyond the end of the file", s.name, smp.num, t.id)
			}
			h.ok = false // the rest of this track is past the cut too
			continue
		}
		buf := make([]byte, smp.size) // units are queued: one buffer each
		if err := s.fr.readSample(buf, int64(smp.off), &h.win, wins); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fault.New(fault.Runtime,
					"%s: truncated: sample %d of track %d lies beyond the end of the file", s.name, smp.num, t.id)
			}
			return fault.New(fault.Runtime, "%s: reading sample %d of track %d: %v", s.name, smp.num, t.id, err)
		}
		payload := t.payload(buf)
		if payload == nil {
			continue
		}
		key := true
		if t.codec == codecH264 || t.codec == codecH265 {
			key = media.IsRandomAccess(t.format, payload) || (t.stss != nil && smp.sync)
		}
		emit(&media.Unit{
			Media:    t.media,
			Format:   t.format,
			PTS:      t.ptsOut(smp),
			DTS:      t.dtsOut(smp),
			Received: time.Now(),
			Payload:  payload,
			Key:      key,
		})
	}
}

// ptsOut and dtsOut give a sample's timestamps in the format's clock.
func (t *track) ptsOut(s sample) int64 {
	return rescale(t.pts(s), uint64(t.timescale), uint64(t.clock)) - t.offset
}

func (t *track) dtsOut(s sample) int64 {
	return min(rescale(t.dts(s), uint64(t.timescale), uint64(t.clock))-t.offset, t.ptsOut(s))
}

// payload turns sample data into the unit payload: the NALUs of an
// AVCC/HVCC sample without their length prefixes, or the sample itself.
// It returns nil when nothing is left to emit.
func (t *track) payload(b []byte) [][]byte {
	if t.codec != codecH264 && t.codec != codecH265 {
		return [][]byte{b}
	}
	var au [][]byte
	n := t.lengthSize
	for len(b) >= n {
		var l uint64
		for _, c := range b[:n] {
			l = l<<8 | uint64(c)
		}
		b = b[n:]
		if l > uint64(len(b)) {
			break // a length past the sample: drop the broken tail
		}
		if l > 0 {
			au = append(au, b[:l:l])
		}
		b = b[l:]
	}
	return au
}

// readAhead is the most sample data a track reads at once: samples are
// copied out of this window, so a file costs one read per window instead
// of one per sample, and memory stays at tracks × readAhead whatever the
// file size.
var readAhead = 512 << 10 // a variable for tests

// window is data read ahead from the file: buf holds the bytes at off.
type window struct {
	buf []byte
	off int64
}

func (w *window) has(off, n int64) bool {
	return w.buf != nil && off >= w.off && off+n <= w.off+int64(len(w.buf))
}

// readSample fills p with the sample data at off: from any track's window
// when one holds it (tracks are interleaved in the file, so one track's
// window often holds the next samples of the others), otherwise by
// reading own ahead from off. A sample bigger than readAhead is read on
// its own.
func (f *fileReader) readSample(p []byte, off int64, own *window, all []*window) error {
	n := int64(len(p))
	for _, w := range all {
		if w.has(off, n) {
			copy(p, w.buf[off-w.off:])
			return nil
		}
	}
	want := min(int64(readAhead), f.size-off)
	if n > want {
		return f.readAt(p, off)
	}
	if int64(cap(own.buf)) < want {
		own.buf = make([]byte, want)
	}
	own.buf = own.buf[:want]
	got, err := f.readSome(own.buf, off)
	own.buf, own.off = own.buf[:got], off
	if got < len(p) {
		own.buf = own.buf[:0]
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	copy(p, own.buf)
	return nil
}

// readSome reads up to len(p) bytes at off; a short read is not an error.
func (f *fileReader) readSome(p []byte, off int64) (int, error) {
	if f.ra != nil {
		n, err := f.ra.ReadAt(p, off)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return n, err
	}
	if _, err := f.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(f.rs, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return n, err
}

// fileReader reads at offsets, with ReadAt when the input has it.
type fileReader struct {
	ra   io.ReaderAt
	rs   io.ReadSeeker
	size int64
}

func (f *fileReader) readAt(p []byte, off int64) error {
	if f.ra != nil {
		n, err := f.ra.ReadAt(p, off)
		if n == len(p) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if _, err := f.rs.Seek(off, io.SeekStart); err != nil {
		return err
	}
	_, err := io.ReadFull(f.rs, p)
	return err
}

// topLevel is what a walk over the top-level boxes found.
type topLevel struct {
	moov  *span
	known bool // saw a box type that starts or fills MP4/MOV files
	moof  bool
}

type span struct{ off, size int64 }

// scanTop walks the top-level boxes with go-mp4 until the end of the file
// or the first header that cannot be right (a non-ASCII type, a size
// smaller than its header, a box past the end). It reads headers only.
// A moov box that claims to run past the end of the file is cut there:
// what remains may still hold every track.
func scanTop(fr *fileReader) (topLevel, error) {
	var top topLevel
	var pos int64
	for pos+gomp4.SmallHeaderSize <= fr.size {
		var hdr [16]byte
		n := min(int64(len(hdr)), fr.size-pos)
		if err := fr.readAt(hdr[:n], pos); err != nil {
			return top, err
		}
		bi, err := gomp4.ReadBoxInfo(&headerReader{b: hdr[:n], off: pos, size: fr.size})
		if err != nil || !printable(bi.Type[:]) || bi.Size < bi.HeaderSize {
			return top, nil
		}
		switch string(bi.Type[:]) {
		case "ftyp", "styp", "moov", "mdat", "free", "skip", "wide", "pnot", "moof", "mfra", "sidx", "uuid":
			top.known = true
		}
		left := uint64(fr.size - pos)
		switch {
		case bi.Type == gomp4.BoxTypeMoov() && top.moov == nil:
			size := min(bi.Size, left)
			top.moov = &span{off: pos + int64(bi.HeaderSize), size: int64(size - bi.HeaderSize)}
		case bi.Type == gomp4.BoxTypeMoof():
			top.moof = true
		}
		if bi.Size > left {
			return top, nil // mdat cut short, or a wrong size: nothing after it can be found
		}
		pos += int64(bi.Size)
	}
	return top, nil
}

// headerReader presents the first bytes of a box at offset off of a file
// of the given size to go-mp4's ReadBoxInfo, which seeks to learn where
// it is and, for a size of 0 (to the end of the file), how big the file
// is.
type headerReader struct {
	b    []byte
	off  int64 // file offset of b[0]
	pos  int64 // relative to off
	size int64
}

func (r *headerReader) Read(p []byte) (int, error) {
	if r.pos < 0 || r.pos >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.pos:])
	r.pos += int64(n)
	return n, nil
}

func (r *headerReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	}
	r.pos = abs - r.off
	return abs, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
