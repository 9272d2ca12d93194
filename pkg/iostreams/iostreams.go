// Package iostreams owns standard streams, TTY detection and color.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"sync"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// ColorMode is the --color setting.
type ColorMode string

// Color modes.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// IOStreams holds the process streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	noColor   bool
	colorMode ColorMode
}

// lockedWriter serializes writes, so that logs, status lines and banners
// written from several goroutines never interleave mid-line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// System returns the streams of the running process.
func System() *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    &lockedWriter{w: os.Stderr},
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		noColor:   os.Getenv("NO_COLOR") != "",
		colorMode: ColorAuto,
	}
}

// Test returns streams backed by buffers, all non-TTY.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: &lockedWriter{w: errOut}, colorMode: ColorAuto}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// SetStdinTTY overrides TTY detection, for tests.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides TTY detection, for tests.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides TTY detection, for tests.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetNoColor mimics NO_COLOR, for tests.
func (s *IOStreams) SetNoColor(v bool) { s.noColor = v }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetColorMode applies --color.
func (s *IOStreams) SetColorMode(m ColorMode) { s.colorMode = m }

// colorFor decides color for a stream with the given TTY-ness.
func (s *IOStreams) colorFor(tty bool) bool {
	switch s.colorMode {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	return tty && !s.noColor
}

// ColorStderr reports whether human text on stderr is colored.
func (s *IOStreams) ColorStderr() bool { return s.colorFor(s.stderrTTY) }

// ColorStdout reports whether human text on stdout is colored.
func (s *IOStreams) ColorStdout() bool { return s.colorFor(s.stdoutTTY) }

// Paint returns a color painter for stderr text.
func (s *IOStreams) Paint(attrs ...color.Attribute) *color.Color {
	c := color.New(attrs...)
	if s.ColorStderr() {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c
}
