// Package cmdutil holds what every verb shares: the factory of
// dependencies, global options and the mapping of errors to exit codes.
package cmdutil

import (
	"os"
	"time"

	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
)

// DefaultTimeout bounds connects and reads unless --timeout says otherwise.
const DefaultTimeout = 10 * time.Second

// GlobalOptions are the root's persistent flags.
type GlobalOptions struct {
	Verbose bool
	Color   string
	Timeout time.Duration
}

// Factory hands dependencies to commands. Tests replace single fields.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Global    *GlobalOptions
	Now       func() time.Time

	// Endpoints resolves URLs and paths; nil means endpoint.NewResolver.
	Endpoints func() *endpoint.Resolver

	// Runtime tunes the Go runtime for a verb that measured a reason to
	// (docs/decisions.md); its zero value, as in tests, leaves it alone.
	Runtime Runtime

	logger *logging.Logger
}

// NewFactory builds the default factory around the given streams.
func NewFactory(ios *iostreams.IOStreams) *Factory {
	f := &Factory{
		IOStreams: ios,
		Global:    &GlobalOptions{Color: string(iostreams.ColorAuto), Timeout: DefaultTimeout},
		Now:       time.Now,
	}
	f.Endpoints = func() *endpoint.Resolver {
		return endpoint.NewResolver(endpoint.Config{
			Timeout: f.Global.Timeout,
			Logger:  f.Logger(),
		})
	}
	return f
}

// Logger returns the stderr logger configured by the global flags.
func (f *Factory) Logger() *logging.Logger {
	if f.logger == nil {
		f.logger = &logging.Logger{
			Out:     f.IOStreams.ErrOut,
			Verbose: f.Global.Verbose,
			Color:   f.IOStreams.ColorStderr(),
		}
	}
	return f.logger
}

// Runtime sets runtime knobs: runtime.GOMAXPROCS and
// debug.SetGCPercent in avcat, recorders in tests, nil to leave them.
type Runtime struct {
	MaxProcs  func(int) int
	GCPercent func(int) int
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// OneStreamGC is the GOGC of a verb moving one stream (OneStream).
const OneStreamGC = 200

// OneStream tunes the runtime for a verb moving one stream, each knob
// unless the user set its variable:
//   - GOMAXPROCS 1: the pipeline sleeps nearly all the time, and with a
//     second P each goroutine hand-off wakes another thread that finds
//     nothing to do;
//   - GOGC 200: the heap is a few MB, so GC ran every few seconds; this
//     halves that for ~4 MB more RSS.
//
// Measured for a paced RTSP push, a relay to one destination and a record
// of one source (docs/decisions.md, "Push CPU" and "Raw socket calls").
func (r Runtime) OneStream() {
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if r.MaxProcs != nil && getenv("GOMAXPROCS") == "" {
		r.MaxProcs(1)
	}
	if r.GCPercent != nil && getenv("GOGC") == "" {
		r.GCPercent(OneStreamGC)
	}
}
