package relay_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/pkg/cmd/relay"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// TestRelayOneProc: a relay to one destination asks for GOMAXPROCS 1;
// several destinations, or a GOMAXPROCS set by the user, leave it alone.
func TestRelayOneProc(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.mp4")
	for _, c := range []struct {
		name string
		dsts []string
		env  string
		want int // GOMAXPROCS asked for, 0 for none
	}{
		{"one destination", []string{"rtsp://127.0.0.1:1/x"}, "", 1},
		{"two destinations", []string{"rtsp://127.0.0.1:1/x", "rtsp://127.0.0.1:1/y"}, "", 0},
		{"GOMAXPROCS set", []string{"rtsp://127.0.0.1:1/x"}, "2", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", c.env)
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios)
			got := 0
			f.MaxProcs = func(n int) int { got = n; return 2 }
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
		})
	}
}
