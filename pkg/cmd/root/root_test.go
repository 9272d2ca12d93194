package root_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/pkg/cmd/root"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
)

func TestVersionAndHelp(t *testing.T) {
	r := clitest.Run(t, 5*time.Second, "--version")
	if r.Code != 0 || r.Stdout != "avcat test\n" || r.Stderr != "" {
		t.Fatalf("--version: %s", r)
	}
	// Help is what was asked for: stdout, as gh and git do.
	for _, args := range [][]string{{"--help"}, {"probe", "--help"}, {"help", "pull"}, {"record", "-h"}} {
		r = clitest.Run(t, 5*time.Second, args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "Usage:") || r.Stderr != "" {
			t.Fatalf("%v must go to stdout only: %s", args, r)
		}
	}
	// Errors stay on stderr.
	r = clitest.Run(t, 5*time.Second, "pull", "--frobnicate")
	if r.Code != 2 || r.Stdout != "" || r.ErrLine() == "" {
		t.Fatalf("a usage error must go to stderr only: %s", r)
	}
	r = clitest.Run(t, 5*time.Second, "completion", "bash")
	if r.Code != 0 || !strings.Contains(r.Stdout, "bash completion") {
		t.Fatalf("completion script must go to stdout: %.300s", r)
	}
	for _, verb := range []string{"relay"} {
		if strings.Contains(r.Stderr, "\n  "+verb+" ") {
			t.Errorf("%s is registered but not implemented yet", verb)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"--color", "purple", "probe", "rtsp://h/x"},
		{"--timeout", "0s", "probe", "rtsp://h/x"},
		{"--timeout", "soon", "probe", "rtsp://h/x"},
	} {
		r := clitest.Run(t, 5*time.Second, args...)
		if r.Code != 2 || r.ErrLine() == "" {
			t.Errorf("%v: %s", args, r)
		}
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{cmdutil.FlagErrorf("bad flag"), 2},
		{fault.New(fault.Network, "x"), 3},
		{fmt.Errorf("wrapped: %w", fault.New(fault.Auth, "x")), 4},
		{fault.New(fault.NotFound, "x"), 5},
		{fault.New(fault.Unsupported, "x"), 6},
		{fault.New(fault.CheckFailed, "x"), 7},
		{liberrors.ErrClientBadStatusCode{Code: base.StatusUnauthorized}, 4},
		{liberrors.ErrClientBadStatusCode{Code: base.StatusNotFound}, 5},
		{liberrors.ErrClientBadStatusCode{Code: base.StatusInternalServerError}, 3},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, 3},
		{context.DeadlineExceeded, 3},
		{errors.New("unknown command \"x\" for \"avcat\""), 2},
	}
	for _, c := range cases {
		if got := root.ExitCode(c.err); got != c.code {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}

func TestErrorLineColorAndOneLine(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var buf strings.Builder
	root.PrintError(ios, &buf, errors.New("first\nsecond"))
	if buf.String() != "avcat: error: first; second\n" {
		t.Fatalf("plain: %q", buf.String())
	}
	ios.SetStderrTTY(true)
	buf.Reset()
	root.PrintError(ios, &buf, errors.New("x"))
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Fatalf("no color on a TTY: %q", buf.String())
	}
	ios.SetNoColor(true)
	buf.Reset()
	root.PrintError(ios, &buf, errors.New("x"))
	if strings.Contains(buf.String(), "\x1b[") {
		t.Fatalf("NO_COLOR ignored: %q", buf.String())
	}
	ios.SetColorMode(iostreams.ColorAlways)
	buf.Reset()
	root.PrintError(ios, &buf, errors.New("x"))
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Fatalf("--color always ignored: %q", buf.String())
	}
}

// TestDidYouMean: cobra's suggestions are printed as cobra lays them out,
// not folded into one line with semicolons.
func TestDidYouMean(t *testing.T) {
	r := clitest.Run(t, 5*time.Second, "pul")
	want := "avcat: error: unknown command \"pul\" for \"avcat\"\n\nDid you mean this?\n\tpush\n\tpull\n\nRun 'avcat --help' for usage.\n"
	if r.Code != 2 || r.Stderr != want || r.Stdout != "" {
		t.Fatalf("got exit %d, stderr %q\nwant %q", r.Code, r.Stderr, want)
	}
}
