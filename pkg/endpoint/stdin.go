package endpoint

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
)

// deadlineReader keeps the pipe's SetReadDeadline visible through the
// buffering, so a source can stop a blocked read when it is canceled.
type deadlineReader struct {
	*bufio.Reader
	deadline interface{ SetReadDeadline(time.Time) error }
}

// SetReadDeadline forwards to the pipe.
func (d deadlineReader) SetReadDeadline(t time.Time) error {
	return d.deadline.SetReadDeadline(t)
}

// sniffSize is how much of stdin is looked at to guess its format.
const sniffSize = 4096

// StdinSource reads a stream from r (stdin): MPEG-TS, FLV, raw H.264/H.265
// or ADTS, from --format or sniffed. It can be opened only once.
func StdinSource(r io.Reader, format string, fps float64) (engine.Source, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	var in io.Reader = br
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		in = deadlineReader{Reader: br, deadline: d}
	}
	if format == "" {
		head, err := br.Peek(sniffSize)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fault.New(fault.Runtime, "stdin: %v", err)
		}
		if len(head) == 0 {
			return nil, fault.New(fault.Unsupported, "stdin: empty input")
		}
		switch {
		case mpegts.Probe(head):
			format = FormatMPEGTS
		case flv.Probe(head):
			format = FormatFLV
		case annexb.Probe(head):
			format = FormatH264 // the Annex-B reader tells H.264 from H.265
		case adts.Probe(head):
			format = FormatAAC
		default:
			return nil, fault.New(fault.Unsupported, "stdin: unrecognized format (want MPEG-TS, FLV, Annex-B H.264/H.265 or ADTS; or give --format)")
		}
	} else {
		f, err := FileFormat("", format)
		if err != nil {
			return nil, err
		}
		format = f
	}
	switch format {
	case FormatMPEGTS:
		return &mpegts.Source{Path: "stdin", Reader: in}, nil
	case FormatFLV:
		return &flv.Source{Path: "stdin", Reader: in}, nil
	case FormatH264, FormatH265:
		codec := ""
		if format == FormatH265 {
			codec = "h265"
		}
		return &annexb.Source{Path: "stdin", Reader: in, Codec: codec, FPS: fps}, nil
	case FormatAAC:
		return &adts.Source{Path: "stdin", Reader: in}, nil
	}
	return nil, fault.New(fault.Unsupported, "stdin: %s cannot be read from a pipe (it needs seeking): use a file", format)
}
