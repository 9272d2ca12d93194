package record_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/pkg/cmd/record"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// TestRecordOneProc: a record of one source asks for GOMAXPROCS 1;
// several sources, or a GOMAXPROCS set by the user, leave it alone.
func TestRecordOneProc(t *testing.T) {
	for _, c := range []struct {
		name string
		urls []string
		env  string
		want int // GOMAXPROCS asked for, 0 for none
	}{
		{"one source", []string{"rtsp://127.0.0.1:1/a"}, "", 1},
		{"two sources", []string{"rtsp://127.0.0.1:1/a", "rtsp://127.0.0.1:1/b"}, "", 0},
		{"GOMAXPROCS set", []string{"rtsp://127.0.0.1:1/a"}, "2", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", c.env)
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios)
			got := 0
			f.MaxProcs = func(n int) int { got = n; return 2 }
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
		})
	}
}
