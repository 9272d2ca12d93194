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

	// MaxProcs sets GOMAXPROCS for a verb that measured a reason to
	// (docs/decisions.md); nil, as in tests, leaves the process alone.
	MaxProcs func(int) int

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

// OneProc runs the process on one P (GOMAXPROCS 1) unless the user set
// GOMAXPROCS, for a verb moving one stream: its pipeline sleeps nearly all
// the time, and with a second P each goroutine hand-off wakes another
// thread that finds nothing to do. Measured for a paced RTSP push, a relay
// to one destination and a record of one source (docs/decisions.md,
// "Push CPU" and "Raw socket calls"). maxProcs nil (tests) does nothing;
// getenv nil means os.Getenv.
func OneProc(maxProcs func(int) int, getenv func(string) string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if maxProcs == nil || getenv("GOMAXPROCS") != "" {
		return
	}
	maxProcs(1)
}
