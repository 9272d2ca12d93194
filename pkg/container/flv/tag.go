package flv

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// FLV tag types; they are the RTMP message types of the same payloads.
const (
	tagAudio  = 8
	tagVideo  = 9
	tagScript = 18
)

const (
	tagHeaderSize = 11
	// maxTagBody is the largest tag body decoded; gortmplib refuses bigger
	// messages. Bigger tags are skipped.
	maxTagBody = 10 << 20
	// MaxScriptTag bounds the script tags decoded (and RTMP's AMF command
	// and data messages): onMetaData is small, and gortmplib's AMF0
	// decoder recurses once per nesting level.
	MaxScriptTag = 64 << 10
)

// tag is one FLV tag. body is only valid until the next read.
type tag struct {
	typ       uint8
	encrypted bool
	timestamp uint32 // ms, with the extended byte as the top 8 bits
	body      []byte
	offset    int64 // input offset of the tag header
}

// tagReader reads FLV tags from a stream. The body buffer grows with the
// data actually read, so a lying DataSize cannot make it allocate more
// than the input holds.
type tagReader struct {
	br     *bufio.Reader
	body   bytes.Buffer
	offset int64
}

// next reads the next tag and the PreviousTagSize after it. A tag cut by
// the end of the input reads as io.EOF.
func (r *tagReader) next() (*tag, error) {
	var h [tagHeaderSize]byte
	n, err := io.ReadFull(r.br, h[:])
	r.offset += int64(n)
	if err != nil {
		return nil, eofOr(err)
	}
	t := &tag{
		typ:       h[0] & 0x1F,
		encrypted: h[0]&0x20 != 0,
		timestamp: uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]),
		offset:    r.offset - tagHeaderSize,
	}
	size := int64(h[1])<<16 | int64(h[2])<<8 | int64(h[3])
	r.body.Reset()
	skip := t.encrypted || size > maxTagBody || (t.typ == tagScript && size > MaxScriptTag) ||
		(t.typ != tagAudio && t.typ != tagVideo && t.typ != tagScript)
	if skip {
		m, err := r.br.Discard(int(size))
		r.offset += int64(m)
		if err != nil {
			return nil, eofOr(err)
		}
	} else {
		m, err := io.CopyN(&r.body, r.br, size)
		r.offset += m
		if err != nil {
			return nil, eofOr(err)
		}
		t.body = r.body.Bytes()
	}
	// PreviousTagSize: many muxers get it wrong, so it is not checked.
	m, _ := r.br.Discard(4)
	r.offset += int64(m)
	if skip {
		t.typ = 0
	}
	return t, nil
}

// decoder turns FLV tag bodies into gortmplib messages. gortmplib has no
// exported per-message unmarshal: message.Reader only reads RTMP chunk
// streams. An FLV tag and an RTMP message share type, timestamp and body,
// so each tag is re-framed as one type-0 chunk (after a Set Chunk Size
// that lets any tag fit one chunk) and handed to message.Reader, which
// decodes legacy and enhanced-RTMP audio/video and AMF0 data.
type decoder struct {
	feed feeder
	mr   *message.Reader
}

func newDecoder() *decoder {
	d := &decoder{}
	d.reset()
	return d
}

func (d *decoder) reset() {
	d.feed = feeder{}
	d.mr = message.NewReader(&d.feed, bytecounter.NewReader(&d.feed), nil)
	// Set Chunk Size on the control chunk stream.
	v := uint32(maxTagBody)
	body := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	d.feed.set(2, uint8(message.TypeSetChunkSize), 0, body)
	_, _ = d.mr.Read()
}

// decode decodes one tag body. Errors mean the tag is malformed or its
// codec is unknown to gortmplib; the reader stays usable.
func (d *decoder) decode(t *tag) (message.Message, error) {
	csid := byte(message.AudioChunkStreamID)
	switch t.typ {
	case tagVideo:
		csid = message.VideoChunkStreamID
	case tagScript:
		csid = 5
	}
	d.feed.set(csid, t.typ, t.timestamp, t.body)
	msg, err := d.mr.Read()
	if !d.feed.drained() {
		d.reset() // cannot happen with well-formed chunks; stay in sync anyway
		if err == nil {
			err = errors.New("chunk not consumed")
		}
	}
	return msg, err
}

// feeder serves one RTMP chunk: a type-0 header, then the body.
type feeder struct {
	hdr  [16]byte
	hlen int
	hpos int
	body []byte
	bpos int
}

func (f *feeder) set(csid byte, typ uint8, ts uint32, body []byte) {
	f.hdr[0] = csid // fmt 0
	ets := ts >= 0xFFFFFF
	if ets {
		f.hdr[1], f.hdr[2], f.hdr[3] = 0xFF, 0xFF, 0xFF
	} else {
		f.hdr[1], f.hdr[2], f.hdr[3] = byte(ts>>16), byte(ts>>8), byte(ts)
	}
	l := len(body)
	f.hdr[4], f.hdr[5], f.hdr[6] = byte(l>>16), byte(l>>8), byte(l)
	f.hdr[7] = typ
	f.hdr[8], f.hdr[9], f.hdr[10], f.hdr[11] = 0, 0, 0, 1 // message stream 1
	f.hlen = 12
	if ets {
		f.hdr[12], f.hdr[13], f.hdr[14], f.hdr[15] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		f.hlen = 16
	}
	f.hpos = 0
	f.body, f.bpos = body, 0
}

func (f *feeder) drained() bool { return f.hpos == f.hlen && f.bpos == len(f.body) }

func (f *feeder) Read(p []byte) (int, error) {
	n := 0
	if f.hpos < f.hlen {
		c := copy(p, f.hdr[f.hpos:f.hlen])
		f.hpos += c
		n += c
	}
	if n < len(p) && f.bpos < len(f.body) {
		c := copy(p[n:], f.body[f.bpos:])
		f.bpos += c
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// eofOr maps a short read at the end of the input to io.EOF.
func eofOr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}
