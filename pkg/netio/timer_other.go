//go:build !linux

package netio

import (
	"context"
	"errors"
	"time"
)

// Timer is a timerfd on Linux; elsewhere NewTimer fails and callers use
// time.Timer.
type Timer struct{}

// NewTimer fails: no timerfd here.
func NewTimer() (*Timer, error) { return nil, errors.New("no timerfd on this system") }

// Sleep is never called on a Timer NewTimer did not make.
func (*Timer) Sleep(context.Context, time.Duration) bool { return false }

// Close does nothing.
func (*Timer) Close() error { return nil }
