package annexb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	// maxNALUSize bounds one NAL unit, like mediacommon's MaxAccessUnitSize.
	maxNALUSize = 8 << 20
	readSize    = 64 << 10
)

var (
	errNoStartCode = errors.New("no start code at the beginning")
	startCode      = []byte{0, 0, 1}
)

// splitter cuts an Annex-B byte stream read from r into NAL units. It keeps
// only the unit being scanned in memory, so it works on pipes of any
// length. mediacommon's h264.AnnexB.Unmarshal needs the whole buffer,
// which is why this exists.
type splitter struct {
	r       io.Reader
	buf     []byte
	start   int // start of the current NALU payload in buf
	n       int // bytes of buf in use
	scan    int // where to resume the start code search
	started bool
	eof     bool
	readErr error
	pos     int64 // input offset of buf[0]
	read    int64 // input bytes read
}

func newSplitter(r io.Reader) *splitter {
	return &splitter{r: r, buf: make([]byte, readSize)}
}

// next returns the next NAL unit, without start code and trailing zero
// bytes, in a buffer of its own. At the end of the input it returns
// io.EOF; the last unit is returned even when the input was cut inside it.
func (s *splitter) next() ([]byte, error) {
	for {
		if !s.started {
			if err := s.findFirst(); err != nil {
				return nil, err
			}
			continue
		}
		if i := bytes.Index(s.buf[s.scan:s.n], startCode); i >= 0 {
			end := s.scan + i
			nalu := s.take(end)
			s.start = end + 3
			s.scan = s.start
			if nalu != nil {
				return nalu, nil
			}
			continue
		}
		if s.eof {
			if s.readErr != nil {
				return nil, s.readErr
			}
			nalu := s.take(s.n)
			s.start, s.scan = s.n, s.n
			if nalu != nil {
				return nalu, nil
			}
			return nil, io.EOF
		}
		if s.n-s.start > maxNALUSize {
			return nil, fmt.Errorf("NAL unit at byte %d is larger than %d MB", s.pos+int64(s.start), maxNALUSize>>20)
		}
		s.scan = max(s.start, s.n-2)
		s.fill()
	}
}

// findFirst skips the zero bytes before the first start code.
func (s *splitter) findFirst() error {
	for {
		i := s.start
		for i < s.n && s.buf[i] == 0 {
			i++
		}
		if i < s.n {
			if s.buf[i] != 1 || i-s.start < 2 {
				return errNoStartCode
			}
			s.started = true
			s.start = i + 1
			s.scan = s.start
			return nil
		}
		if s.eof {
			if s.readErr != nil {
				return s.readErr
			}
			if s.read == 0 {
				return io.EOF
			}
			return errNoStartCode
		}
		if i-s.start > maxNALUSize {
			return errNoStartCode
		}
		s.start = max(s.start, i-3) // keep a few zeros, drop the rest
		s.scan = s.start
		s.fill()
	}
}

// take copies buf[s.start:end] without trailing zeros; nil when empty.
func (s *splitter) take(end int) []byte {
	for end > s.start && s.buf[end-1] == 0 {
		end--
	}
	if end <= s.start {
		return nil
	}
	out := make([]byte, end-s.start)
	copy(out, s.buf[s.start:end])
	return out
}

// fill reads more input, first moving the current unit to the front of
// the buffer and growing the buffer when the unit fills it.
func (s *splitter) fill() {
	if s.start > 0 {
		copy(s.buf, s.buf[s.start:s.n])
		s.n -= s.start
		s.scan -= s.start
		s.pos += int64(s.start)
		s.start = 0
	}
	if len(s.buf)-s.n < readSize/2 {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.n])
		s.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		m, err := s.r.Read(s.buf[s.n:])
		s.n += m
		s.read += int64(m)
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.readErr = err
			}
			return
		}
		if m > 0 {
			return
		}
	}
	s.eof, s.readErr = true, io.ErrNoProgress
}
