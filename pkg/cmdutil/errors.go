package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/rtmp"
)

// FlagError is a usage error: bad flags or arguments.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }

func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf makes a usage error.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// FlagErrorFunc turns cobra's flag parsing errors into usage errors.
func FlagErrorFunc(_ *cobra.Command, err error) error {
	return &FlagError{Err: err}
}

// ExitCode maps an error to the documented exit code (docs/exit-codes.md).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return Classify(err).ExitCode()
}

// Classify finds the kind of an error, looking through library errors.
func Classify(err error) fault.Kind {
	var flagErr *FlagError
	if errors.As(err, &flagErr) {
		return fault.Usage
	}
	if k, ok := fault.KindOf(err); ok {
		return k
	}
	var guardErr *rtmp.GuardError
	if errors.As(err, &guardErr) {
		return fault.Network // the peer does not speak RTMP within limits
	}
	var badStatus liberrors.ErrClientBadStatusCode
	if errors.As(err, &badStatus) {
		return kindOfStatus(badStatus.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EPIPE) {
		return fault.Network
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return fault.Network
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fault.Network
	}
	return fault.Runtime
}

func kindOfStatus(code base.StatusCode) fault.Kind {
	switch code {
	case base.StatusUnauthorized, base.StatusForbidden:
		return fault.Auth
	case base.StatusNotFound:
		return fault.NotFound
	case base.StatusUnsupportedMediaType:
		return fault.Unsupported
	}
	return fault.Network
}
