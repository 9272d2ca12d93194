// Package fault classifies errors by what a script can do about them.
package fault

import (
	"errors"
	"fmt"
)

// Kind is the class of a failure; each kind has its own exit code.
type Kind int

// Kinds of failure.
const (
	Runtime     Kind = iota // 1: anything else
	Usage                   // 2: bad flags, arguments or URL
	Network                 // 3: connect, read or protocol failure, timeout
	Auth                    // 4: credentials missing or refused
	NotFound                // 5: no such stream or file
	Unsupported             // 6: codec or format not supported
	CheckFailed             // 7: avcat check graded a step as failed
)

func (k Kind) String() string {
	switch k {
	case Usage:
		return "usage"
	case Network:
		return "network"
	case Auth:
		return "auth"
	case NotFound:
		return "not found"
	case Unsupported:
		return "unsupported"
	case CheckFailed:
		return "check failed"
	}
	return "runtime"
}

// ExitCode is the documented process exit code of the kind.
func (k Kind) ExitCode() int {
	switch k {
	case Usage:
		return 2
	case Network:
		return 3
	case Auth:
		return 4
	case NotFound:
		return 5
	case Unsupported:
		return 6
	case CheckFailed:
		return 7
	}
	return 1
}

// Error is an error with a kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// New makes an error of the given kind.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// Wrap attaches a kind to err; nil stays nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns the kind of the outermost classified error in err's chain.
func KindOf(err error) (Kind, bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind, true
	}
	return Runtime, false
}
