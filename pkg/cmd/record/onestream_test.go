package record_test

import (
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/pkg/cmd/record"
)

// TestRecordOneStream: a record of one source asks for GOMAXPROCS 1 and
// GOGC 200 (cmdutil.Runtime.OneStream); several sources leave both
// alone, a variable set by the user its knob.
func TestRecordOneStream(t *testing.T) {
	one := []string{"--reconnect=false", "-o", filepath.Join(t.TempDir(), "%{index}.mp4"), "rtsp://127.0.0.1:1/a"}
	clitest.CheckTuning(t, record.NewCmdRecord, []clitest.TuneCase{
		{Name: "one source", Args: one, WantProcs: 1, WantGC: 200},
		{Name: "two sources", Args: append(one, "rtsp://127.0.0.1:1/b")},
		{Name: "GOMAXPROCS set", Args: one, GOMAXPROCS: "2", WantGC: 200},
		{Name: "GOGC set", Args: one, GOGC: "50", WantProcs: 1},
	})
}
