package mpegts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
)

var errGarbage = errors.New("not MPEG-TS data")

const (
	packetSize = 188
	syncByte   = 0x47
	// maxPES bounds the bytes of one PES being assembled on one PID; the
	// rest of an oversized PES is dropped up to the next unit start.
	// mediacommon refuses access units over 8 MB anyway.
	maxPES = 10 << 20
	// maxGarbage is how many bytes without sync the filter skips before it
	// gives up.
	maxGarbage = 1 << 20
)

// packetFilter sits between the input and mediacommon's reader. It hands
// out whole, aligned 188-byte packets (resyncing after garbage, dropping a
// partial packet at the end), and once tracks are known it passes only
// their PIDs, with a size cap per PES. go-astits accumulates a PES until
// the next unit start on its PID with no limit, so without the cap an
// endless PES would grow memory forever.
type packetFilter struct {
	br      *bufio.Reader
	pkts    [packetSize * 7]byte
	pos, n  int
	allowed map[uint16]bool // nil: pass everything
	pesSize map[uint16]int
	drop    map[uint16]bool
	read    int64 // input bytes consumed
	ctx     context.Context
}

func newPacketFilter(br *bufio.Reader) *packetFilter {
	return &packetFilter{br: br, ctx: context.Background()}
}

// only restricts the packets passed to the given PIDs.
func (f *packetFilter) only(pids []uint16) {
	f.allowed = make(map[uint16]bool, len(pids))
	f.pesSize = make(map[uint16]int, len(pids))
	f.drop = make(map[uint16]bool, len(pids))
	for _, p := range pids {
		f.allowed[p] = true
	}
}

func (f *packetFilter) Read(p []byte) (int, error) {
	if f.pos == f.n {
		f.pos, f.n = 0, 0
		for f.n+packetSize <= len(f.pkts) {
			err := f.next(f.pkts[f.n : f.n+packetSize])
			if err != nil {
				if f.n > 0 {
					break
				}
				return 0, err
			}
			f.n += packetSize
			if f.br.Buffered() < packetSize {
				break // do not block for more than one packet
			}
		}
	}
	c := copy(p, f.pkts[f.pos:f.n])
	f.pos += c
	return c, nil
}

// next reads the next packet that passes the filter into dst.
func (f *packetFilter) next(dst []byte) error {
	for i := 0; ; i++ {
		if i%1024 == 1023 && f.ctx.Err() != nil {
			return f.ctx.Err()
		}
		b, err := f.br.Peek(packetSize)
		if len(b) < packetSize {
			if err == nil || errors.Is(err, io.EOF) {
				return io.EOF
			}
			return err
		}
		if b[0] != syncByte {
			if err := f.resync(); err != nil {
				return err
			}
			continue
		}
		copy(dst, b)
		_, _ = f.br.Discard(packetSize)
		f.read += packetSize
		if f.keep(dst) {
			return nil
		}
	}
}

// resync skips to the next sync byte that is followed by another one a
// packet later (or by the end of the input).
func (f *packetFilter) resync() error {
	for skipped := 0; ; skipped += packetSize {
		if skipped > maxGarbage {
			return fmt.Errorf("%w: no sync byte in %d bytes", errGarbage, skipped)
		}
		b, err := f.br.Peek(2 * packetSize)
		if len(b) < packetSize {
			if err == nil || errors.Is(err, io.EOF) {
				return io.EOF
			}
			return err
		}
		for i := 1; i < packetSize; i++ {
			if b[i] == syncByte && (i+packetSize >= len(b) || b[i+packetSize] == syncByte) {
				_, _ = f.br.Discard(i)
				f.read += int64(i)
				return nil
			}
		}
		_, _ = f.br.Discard(packetSize)
		f.read += packetSize
	}
}

func (f *packetFilter) keep(pkt []byte) bool {
	if f.allowed == nil {
		return true
	}
	pid := uint16(pkt[1]&0x1F)<<8 | uint16(pkt[2])
	if !f.allowed[pid] {
		return false
	}
	if pkt[1]&0x40 != 0 { // payload_unit_start_indicator
		f.pesSize[pid] = 0
		f.drop[pid] = false
	}
	if f.drop[pid] {
		return false
	}
	f.pesSize[pid] += packetSize
	if f.pesSize[pid] > maxPES {
		f.drop[pid] = true
		return false
	}
	return true
}
