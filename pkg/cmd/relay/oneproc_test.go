package relay_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/pkg/cmd/relay"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// TestRelayOneProc: a relay to one destination asks for GOMAXPROCS 1 and
// GOGC 200 (cmdutil.Runtime.OneStream); several destinations leave both
// alone, a variable set by the user its knob.
func TestRelayOneProc(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.mp4")
	for _, c := range []struct {
		name   string
		dsts   []string
		env    string
		gogc   string
		want   int // GOMAXPROCS asked for, 0 for none
		wantGC int // GOGC asked for, 0 for none
	}{
		{"one destination", []string{"rtsp://127.0.0.1:1/x"}, "", "", 1, 200},
		{"two destinations", []string{"rtsp://127.0.0.1:1/x", "rtsp://127.0.0.1:1/y"}, "", "", 0, 0},
		{"GOMAXPROCS set", []string{"rtsp://127.0.0.1:1/x"}, "2", "", 0, 200},
		{"GOGC set", []string{"rtsp://127.0.0.1:1/x"}, "", "50", 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", c.env)
			t.Setenv("GOGC", c.gogc)
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios)
			got, gc := 0, 0
			f.Runtime = cmdutil.Runtime{
				MaxProcs:  func(n int) int { got = n; return 2 },
				GCPercent: func(n int) int { gc = n; return 100 },
			}
			cmd := relay.NewCmdRelay(f, nil)
			cmd.SetArgs(append([]string{missing}, c.dsts...))
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			if err := cmd.Execute(); err == nil {
				t.Fatal("a missing source should fail")
			}
			if got != c.want {
				t.Fatalf("GOMAXPROCS %d asked for, want %d", got, c.want)
			}
			if wantGC := c.wantGC; gc != wantGC {
				t.Fatalf("GOGC %d asked for, want %d", gc, wantGC)
			}
		})
	}
}
