// Package sdpfile writes a stream's description as an SDP file (.sdp):
// the "only the SDP" output of avcat pull.
package sdpfile

import (
	"io"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Sink writes the description (gortsplib's description.Session.Marshal)
// on Open and ignores the units. It implements engine.Sink.
type Sink struct {
	// Path is the file to create, unless W is set (Path then only names
	// the output in messages).
	Path string
	// W receives the SDP when set; the caller keeps ownership of it.
	W io.Writer

	mu     sync.Mutex
	out    *mux.Output
	closed bool
}

// Needs is 0: the sink wants no units at all.
func (s *Sink) Needs() engine.Needs { return 0 }

// Lossless is false: units are discarded anyway.
func (s *Sink) Lossless() bool { return false }

// Open writes the SDP.
func (s *Sink) Open(desc *description.Session) error {
	if desc == nil || len(desc.Medias) == 0 {
		return fault.New(fault.Unsupported, "SDP: the stream has no media")
	}
	b, err := desc.Marshal()
	if err != nil {
		return fault.New(fault.Unsupported, "SDP: %w", err)
	}
	out, err := mux.Open(s.Path, s.W)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = out
	if _, err := out.Write(b); err != nil {
		return err
	}
	return out.Flush()
}

// Write discards the unit.
func (s *Sink) Write(*media.Unit) error { return nil }

// Close closes the file; it returns the write error, if any. It is safe
// after a failed Open and more than once.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.out == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	return s.out.Close()
}
