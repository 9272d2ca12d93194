// Package engine moves units from one Source to N Sinks.
package engine

import (
	"context"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/media"
)

// Source produces units.
type Source interface {
	// Open connects or opens the input and returns its description.
	Open(ctx context.Context) (*description.Session, error)
	// Run delivers units until EOF (nil), an error, or ctx is done.
	// emit may be called from several goroutines.
	Run(ctx context.Context, emit func(*media.Unit)) error
	// Close releases the source; it is safe after a failed Open.
	Close() error
}

// Needs says what a sink wants in units.
type Needs int

// Needs flags.
const (
	NeedPackets     Needs = 1 << iota // RTP packets
	NeedAccessUnits                   // decoded access units
	NeedRTCP                          // the RTCP packets received (packet dumps)
)

type needsKey struct{}

// WithNeeds returns ctx carrying what a session's sinks need. The session
// gives it to Source.Open and Source.Run, and a source that can skip work
// (depacketizing, forwarding RTCP) reads it with NeedsFrom. Wrappers pass
// their context on, so none can drop the need.
func WithNeeds(ctx context.Context, n Needs) context.Context {
	return context.WithValue(ctx, needsKey{}, n)
}

// NeedsFrom returns the needs ctx carries; 0 outside a session.
func NeedsFrom(ctx context.Context) Needs {
	n, _ := ctx.Value(needsKey{}).(Needs)
	return n
}

// Sink consumes units.
type Sink interface {
	// Open accepts the stream, or rejects it with an error naming the
	// codecs it supports.
	Open(desc *description.Session) error
	// Write consumes one unit. Units are shared: do not modify them.
	Write(u *media.Unit) error
	// Close finalizes the output. It is called on every exit path.
	Close() error
}

// NeedsReporter is implemented by sinks that say what they need.
// Sinks that do not implement it get access units.
type NeedsReporter interface {
	Needs() Needs
}

// OnDemand is implemented by sources that read only when asked (a file):
// holding one while its sink writes costs nothing, so a session writes to
// a single lossless sink from the source's goroutine (Session.inlineSink).
type OnDemand interface {
	OnDemand() bool
}

// Lossless is implemented by sinks that must never drop units (files):
// the session waits for them instead of dropping.
type Lossless interface {
	Lossless() bool
}

// Starter is implemented by sinks that drop units until they can start
// (files wait for a keyframe and its parameter sets): Started reports
// whether any media was written.
type Starter interface {
	Started() bool
}

// RTCPWriter is implemented by sinks that record RTCP (packet dumps): the
// session then asks the source for NeedRTCP.
type RTCPWriter interface {
	WriteRTCP(medi *description.Media, pkt []byte, received time.Time) error
}
