// Package logging writes human diagnostics to stderr.
package logging

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fatih/color"
)

// Logger prints leveled lines. Debug lines appear only when verbose.
type Logger struct {
	Out     io.Writer
	Verbose bool
	Color   bool

	mu      sync.Mutex
	limits  map[string]*limit
	timeNow func() time.Time
}

type limit struct {
	windowStart time.Time
	count       int
	suppressed  int
}

// maxPerWindow bounds repeated messages per key per second.
const maxPerWindow = 5

func (l *Logger) paint(attr color.Attribute, s string) string {
	if !l.Color {
		return s
	}
	c := color.New(attr)
	c.EnableColor()
	return c.Sprint(s)
}

func (l *Logger) write(prefix string, format string, args ...any) {
	if l == nil || l.Out == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.Out, prefix+format+"\n", args...)
}

// Debugf prints when verbose.
func (l *Logger) Debugf(format string, args ...any) {
	if l == nil || !l.Verbose {
		return
	}
	l.write("", format, args...)
}

// Infof prints always.
func (l *Logger) Infof(format string, args ...any) {
	l.write("", format, args...)
}

// Warnf prints a warning.
func (l *Logger) Warnf(format string, args ...any) {
	if l == nil {
		return
	}
	l.write(l.paint(color.FgYellow, "warning: "), format, args...)
}

// Limited prints a warning at most a few times per second per key, so a
// stream of library callbacks cannot flood stderr.
func (l *Logger) Limited(key string, format string, args ...any) {
	if l == nil {
		return
	}
	now := time.Now()
	if l.timeNow != nil {
		now = l.timeNow()
	}
	l.mu.Lock()
	if l.limits == nil {
		l.limits = make(map[string]*limit)
	}
	lim := l.limits[key]
	if lim == nil {
		lim = &limit{windowStart: now}
		l.limits[key] = lim
	}
	if now.Sub(lim.windowStart) >= time.Second {
		if lim.suppressed > 0 && l.Out != nil {
			fmt.Fprintf(l.Out, "%s%d similar messages suppressed (%s)\n", l.paint(color.FgYellow, "warning: "), lim.suppressed, key)
		}
		lim.windowStart, lim.count, lim.suppressed = now, 0, 0
	}
	lim.count++
	if lim.count > maxPerWindow {
		lim.suppressed++
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.Warnf(format, args...)
}
