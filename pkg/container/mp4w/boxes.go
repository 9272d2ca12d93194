package mp4w

import (
	"bytes"
	"encoding/binary"
	"fmt"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// boxes builds nested boxes in memory; payloads are marshaled by go-mp4.
type boxes struct {
	b     []byte
	stack []int
	tmp   bytes.Buffer
	err   error
}

func (bb *boxes) start(typ string) {
	bb.stack = append(bb.stack, len(bb.b))
	bb.b = append(bb.b, 0, 0, 0, 0)
	bb.b = append(bb.b, typ...)
}

func (bb *boxes) end() {
	i := bb.stack[len(bb.stack)-1]
	bb.stack = bb.stack[:len(bb.stack)-1]
	binary.BigEndian.PutUint32(bb.b[i:], uint32(len(bb.b)-i))
}

// box appends a leaf box.
func (bb *boxes) box(box gomp4.IImmutableBox) {
	if bb.err != nil {
		return
	}
	bb.start(box.GetType().String())
	bb.tmp.Reset()
	if _, err := gomp4.Marshal(&bb.tmp, box, gomp4.Context{}); err != nil {
		bb.err = fmt.Errorf("%s: %w", box.GetType(), err)
	}
	bb.b = append(bb.b, bb.tmp.Bytes()...)
	bb.end()
}

// raw appends bytes that are whole boxes already.
func (bb *boxes) raw(p []byte) { bb.b = append(bb.b, p...) }

// sampleDescription returns the stsd box mediacommon's fMP4 init writer
// makes for codec (avc1+avcC, hvc1+hvcC, mp4a+esds, Opus+dOps).
func sampleDescription(codec fmp4.Codec, timescale uint32) ([]byte, error) {
	var buf seekablebuffer.Buffer
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: timescale, Codec: codec}}}
	if err := init.Marshal(&buf); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	for _, typ := range []string{"moov", "trak", "mdia", "minf", "stbl", "stsd"} {
		var ok bool
		b, ok = findBox(b, typ)
		if !ok {
			return nil, fmt.Errorf("no %s in the fMP4 init segment", typ)
		}
		if typ != "stsd" {
			b = b[8:] // into the container
		}
	}
	return b, nil
}

// findBox returns the first box of type typ among the boxes in b, header
// included.
func findBox(b []byte, typ string) ([]byte, bool) {
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			return nil, false
		}
		if string(b[4:8]) == typ {
			return b[:size], true
		}
		b = b[size:]
	}
	return nil, false
}
