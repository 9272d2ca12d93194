// Package clitest runs the avcat command tree in-process for tests, with
// buffered streams, and reports stdout, stderr and the exit code.
package clitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/cmd/root"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// Result is what one run produced.
type Result struct {
	Stdout string
	Stderr string
	Code   int
	Err    error
	Took   time.Duration
}

// String summarizes a result for failure messages.
func (r *Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run executes avcat with args, bounded by limit.
func Run(t testing.TB, limit time.Duration, args ...string) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return RunContext(ctx, args...)
}

// RunContext executes avcat with args until ctx is done (a cancel acts
// like Ctrl-C).
func RunContext(ctx context.Context, args ...string) *Result {
	return RunStdin(ctx, nil, args...)
}

// RunStdin is RunContext with stdin read from in.
func RunStdin(ctx context.Context, in io.Reader, args ...string) *Result {
	ios, _, out, errOut := iostreams.Test()
	if in != nil {
		ios.In = in
	}
	f := cmdutil.NewFactory(ios)
	cmd := root.NewCmdRoot(f, "test")
	cmd.SetArgs(args)
	start := time.Now()
	_, err := cmd.ExecuteContextC(ctx)
	res := &Result{Stdout: out.String(), Err: err, Took: time.Since(start)}
	if err != nil {
		var buf bytes.Buffer
		root.PrintError(ios, &buf, err)
		errOut.Write(buf.Bytes())
	}
	res.Stderr = errOut.String()
	res.Code = root.ExitCode(err)
	return res
}

// ErrLine returns the error line avcat printed, or "".
func (r *Result) ErrLine() string {
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(l, "avcat: error:") {
			return l
		}
	}
	return ""
}
