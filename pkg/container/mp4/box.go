package mp4

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	gomp4 "github.com/abema/go-mp4"
)

// maxMoovSize bounds the moov box read into memory. Real moov boxes are a
// few bytes per sample: 256 MiB is far beyond any day-long recording.
const maxMoovSize = 256 << 20

// box is one child box of an in-memory parent.
type box struct {
	typ     gomp4.BoxType
	payload []byte
}

// children splits the payload of a container into its boxes, with go-mp4
// reading each header (small, large and to-the-end sizes). The walk is
// tolerant: a child that claims to run past its parent is cut at the
// parent's end, and the walk stops at the first header it cannot read.
func children(b []byte) []box {
	var out []box
	r := bytes.NewReader(b)
	for {
		off := len(b) - r.Len()
		if len(b)-off < gomp4.SmallHeaderSize {
			return out
		}
		bi, err := gomp4.ReadBoxInfo(r)
		if err != nil || bi.Size < bi.HeaderSize {
			return out
		}
		end := len(b)
		if bi.Size <= uint64(len(b)-off) {
			end = off + int(bi.Size)
		}
		start := off + int(bi.HeaderSize)
		if start > end {
			return out
		}
		out = append(out, box{typ: bi.Type, payload: b[start:end]})
		if _, err := r.Seek(int64(end), io.SeekStart); err != nil {
			return out
		}
	}
}

// index maps each child box type of a container to the payload of its
// first box of that type, so that a container is walked once.
type index map[gomp4.BoxType][]byte

func indexOf(b []byte) index {
	ix := index{}
	for _, c := range children(b) {
		if _, ok := ix[c.typ]; !ok {
			ix[c.typ] = c.payload
		}
	}
	return ix
}

func (ix index) get(typ string) ([]byte, bool) {
	b, ok := ix[gomp4.StrToBoxType(typ)]
	return b, ok
}

// child returns the payload of the first child of type typ.
func child(b []byte, typ string) ([]byte, bool) {
	t := gomp4.StrToBoxType(typ)
	for _, c := range children(b) {
		if c.typ == t {
			return c.payload, true
		}
	}
	return nil, false
}

// plausibleBoxes reports whether b is empty or starts with a box header
// that fits in b. It tells sample entry layouts apart (QuickTime sound
// descriptions v1/v2 carry extra fields before their child boxes).
func plausibleBoxes(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if len(b) < 8 {
		return false
	}
	size := binary.BigEndian.Uint32(b)
	return size >= 8 && uint64(size) <= uint64(len(b)) && printable(b[4:8])
}

// printable reports whether a four-character code is plain ASCII, as
// every top-level box type is.
func printable(t []byte) bool {
	for _, c := range t {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// fourCC renders a box type for messages.
func fourCC(t gomp4.BoxType) string {
	if printable(t[:]) {
		return string(t[:])
	}
	return fmt.Sprintf("%q", string(t[:]))
}

// unmarshal decodes a box payload with go-mp4. go-mp4 decodes by
// reflection; a panic inside it on a malformed box becomes an error, so
// one bad box costs a track, never the process.
func unmarshal(payload []byte, dst gomp4.IBox) (n uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("malformed %s box", fourCC(dst.GetType()))
		}
	}()
	n, err = gomp4.Unmarshal(bytes.NewReader(payload), uint64(len(payload)), dst, gomp4.Context{})
	if err != nil {
		return 0, fmt.Errorf("malformed %s box: %w", fourCC(dst.GetType()), err)
	}
	return n, nil
}

// clampCount returns payload with the 32-bit entry count at countAt
// lowered to the number of entrySize-byte entries that follow it (from
// entriesAt). A table whose count lies then decodes to the entries that
// are really there, and no table is ever larger than its box.
func clampCount(payload []byte, countAt, entriesAt, entrySize int) []byte {
	if len(payload) < entriesAt || countAt+4 > entriesAt {
		return payload
	}
	avail := uint32((len(payload) - entriesAt) / entrySize)
	if binary.BigEndian.Uint32(payload[countAt:]) <= avail {
		return payload
	}
	c := bytes.Clone(payload)
	binary.BigEndian.PutUint32(c[countAt:], avail)
	return c
}
