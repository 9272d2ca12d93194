package record_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/pkg/cmd/record"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// TestRecordOneProc: a record of one source asks for GOMAXPROCS 1 and
// GOGC 200 (cmdutil.Runtime.OneStream); several sources leave both alone,
// a variable set by the user its knob.
func TestRecordOneProc(t *testing.T) {
	for _, c := range []struct {
		name   string
		urls   []string
		env    string
		gogc   string
		want   int // GOMAXPROCS asked for, 0 for none
		wantGC int // GOGC asked for, 0 for none
	}{
		{"one source", []string{"rtsp://127.0.0.1:1/a"}, "", "", 1, 200},
		{"two sources", []string{"rtsp://127.0.0.1:1/a", "rtsp://127.0.0.1:1/b"}, "", "", 0, 0},
		{"GOMAXPROCS set", []string{"rtsp://127.0.0.1:1/a"}, "2", "", 0, 200},
		{"GOGC set", []string{"rtsp://127.0.0.1:1/a"}, "", "50", 1, 0},
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
			cmd := record.NewCmdRecord(f, nil)
			out := filepath.Join(t.TempDir(), "%{index}.mp4")
			cmd.SetArgs(append([]string{"--reconnect=false", "-o", out}, c.urls...))
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if err == nil {
				t.Fatal("a source that refuses should fail")
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
