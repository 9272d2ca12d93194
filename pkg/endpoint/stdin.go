package endpoint

import (
	"bufio"
	"context"
	"errors"
	"io"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/input"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// deadlineReader keeps the input's SetReadDeadline visible through the
// buffering, so a source can stop a blocked read when it is canceled.
type deadlineReader struct {
	*bufio.Reader
	deadline interface{ SetReadDeadline(time.Time) error }
}

// SetReadDeadline forwards to the input.
func (d deadlineReader) SetReadDeadline(t time.Time) error {
	return d.deadline.SetReadDeadline(t)
}

// sniffSize is how much of stdin is looked at to guess its format.
const sniffSize = 4096

// StdinSource reads a stream from r (stdin): MPEG-TS, FLV, raw H.264/H.265
// or ADTS, from --format or sniffed when the source opens. It can be
// opened only once. Every read, the sniffing included, stops when the
// context is done, even on a stdin that never sends anything.
func StdinSource(r io.Reader, format string, fps float64) (engine.Source, error) {
	if format != "" {
		f, err := FileFormat("", format)
		if err != nil {
			return nil, err
		}
		if err := stdinFormat(f); err != nil {
			return nil, err
		}
		format = f
	}
	r = input.Cancelable(r)
	br := bufio.NewReaderSize(r, 64*1024)
	return &stdinSource{br: br, in: deadlineReader{Reader: br, deadline: r.(interface{ SetReadDeadline(time.Time) error })}, format: format, fps: fps}, nil
}

func stdinFormat(format string) error {
	switch format {
	case FormatMPEGTS, FormatFLV, FormatH264, FormatH265, FormatAAC:
		return nil
	}
	return fault.New(fault.Unsupported, "stdin: %s cannot be read from a pipe (it needs seeking): use a file", format)
}

// stdinSource sniffs the format in Open, then delegates to its demuxer.
type stdinSource struct {
	br     *bufio.Reader
	in     deadlineReader
	format string
	fps    float64
	engine.Source
}

func (s *stdinSource) Open(ctx context.Context) (*description.Session, error) {
	if s.Source == nil {
		if s.format == "" {
			f, err := s.sniff(ctx)
			if err != nil {
				return nil, err
			}
			s.format = f
		}
		s.Source = s.demuxer()
	}
	return s.Source.Open(ctx)
}

func (s *stdinSource) sniff(ctx context.Context) (string, error) {
	stop := input.UnblockOnDone(ctx, s.in)
	head, err := s.br.Peek(sniffSize)
	stop()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", fault.New(fault.Runtime, "stdin: %v", err)
	}
	if len(head) == 0 {
		return "", fault.New(fault.Unsupported, "stdin: empty input")
	}
	switch {
	case mpegts.Probe(head):
		return FormatMPEGTS, nil
	case flv.Probe(head):
		return FormatFLV, nil
	case annexb.Probe(head):
		return FormatH264, nil // the Annex-B reader tells H.264 from H.265
	case adts.Probe(head):
		return FormatAAC, nil
	}
	return "", fault.New(fault.Unsupported, "stdin: unrecognized format (want MPEG-TS, FLV, Annex-B H.264/H.265 or ADTS; or give --format)")
}

func (s *stdinSource) demuxer() engine.Source {
	switch s.format {
	case FormatMPEGTS:
		return &mpegts.Source{Path: "stdin", Reader: s.in}
	case FormatFLV:
		return &flv.Source{Path: "stdin", Reader: s.in}
	case FormatH264, FormatH265:
		codec := ""
		if s.format == FormatH265 {
			codec = "h265"
		}
		return &annexb.Source{Path: "stdin", Reader: s.in, Codec: codec, FPS: s.fps}
	}
	return &adts.Source{Path: "stdin", Reader: s.in}
}

func (s *stdinSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.Source == nil {
		return fault.New(fault.Runtime, "stdin: Run before Open")
	}
	return s.Source.Run(ctx, emit)
}

func (s *stdinSource) Close() error {
	if s.Source == nil {
		return nil
	}
	return s.Source.Close()
}
