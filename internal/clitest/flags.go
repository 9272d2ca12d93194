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

// TuneCase is a run of a verb whose start fails at once, and the runtime
// tuning (cmdutil.Runtime.OneStream) it should ask for on the way.
type TuneCase struct {
	Name       string
	Args       []string
	GOMAXPROCS string // the environment's
	GOGC       string
	WantProcs  int // GOMAXPROCS asked for, 0 for none
	WantGC     int // GOGC asked for, 0 for none
}

// CheckTuning runs each case through the command newCmd builds, with a
// factory whose Runtime records what it is asked for.
func CheckTuning[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, cases []TuneCase) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", c.GOMAXPROCS)
			t.Setenv("GOGC", c.GOGC)
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios)
			procs, gc := 0, 0
			f.Runtime = cmdutil.Runtime{
				MaxProcs:  func(n int) int { procs = n; return 2 },
				GCPercent: func(n int) int { gc = n; return 100 },
			}
			cmd := newCmd(f, nil)
			cmd.SetArgs(c.Args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			if err := cmd.Execute(); err == nil {
				t.Fatal("the run should fail: its source is missing or refuses")
			}
			if procs != c.WantProcs || gc != c.WantGC {
				t.Fatalf("asked for GOMAXPROCS %d and GOGC %d, want %d and %d", procs, gc, c.WantProcs, c.WantGC)
			}
		})
	}
}
