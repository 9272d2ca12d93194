package clitest

import (
	"context"
	"flag"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// ParseFlags runs the command newCmd builds on args, stopping where its
// work would begin, and returns the options it would run with. With
// wantErr set, it requires a usage error (exit 2) containing wantErr and
// returns nil.
func ParseFlags[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, args []string, wantErr string) *O {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	var got *O
	cmd := newCmd(cmdutil.NewFactory(ios), func(_ context.Context, o *O) error {
		got = o
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(ios.ErrOut)
	cmd.SetErr(ios.ErrOut)
	cmd.SetFlagErrorFunc(cmdutil.FlagErrorFunc)
	err := cmd.Execute()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		if code := cmdutil.ExitCode(err); code != 2 {
			t.Fatalf("exit code %d, want 2 (usage)", code)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// RaiseParallel sets -test.parallel to max(least, perCPU×GOMAXPROCS)
// unless the command line gave it: tests that wait on real-time peers
// would be serialized for nothing at GOMAXPROCS-many. Call it first in
// TestMain.
func RaiseParallel(least, perCPU int) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			explicit = true
		}
	})
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(max(least, perCPU*runtime.GOMAXPROCS(0))))
	}
}
