package relay_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/pkg/cmd/relay"
)

// TestRelayOneStream: a relay to one destination asks for GOMAXPROCS 1
// and GOGC 200 (cmdutil.Runtime.OneStream); several destinations leave
// both alone, a variable set by the user its knob.
func TestRelayOneStream(t *testing.T) {
	src := filepath.Join(t.TempDir(), "missing.mp4")
	one := []string{src, "rtsp://127.0.0.1:1/x"}
	clitest.CheckTuning(t, relay.NewCmdRelay, []clitest.TuneCase{
		{Name: "one destination", Args: one, WantProcs: 1, WantGC: 200},
		{Name: "two destinations", Args: append(one, "rtsp://127.0.0.1:1/y")},
		{Name: "GOMAXPROCS set", Args: one, GOMAXPROCS: "2", WantGC: 200},
		{Name: "GOGC set", Args: one, GOGC: "50", WantProcs: 1},
	})
}
