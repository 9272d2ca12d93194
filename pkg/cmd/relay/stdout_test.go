package relay_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/pkg/container/input/inputtest"
	"github.com/avcat/avcat/pkg/container/mpegts"
)

// TestRelayToStdout: "-" as a destination is MPEG-TS on stdout, as for
// pull; it once wrote a file named "stdout" in the working directory and
// exited 0 with nothing on stdout.
func TestRelayToStdout(t *testing.T) {
	t.Chdir(t.TempDir())
	r := clitest.Run(t, 30*time.Second, "relay", media("h264_aac.flv"), "-")
	if r.Code != 0 {
		t.Fatalf("relay to stdout: %s", r)
	}
	if _, err := os.Stat("stdout"); err == nil {
		t.Fatal(`relay wrote a file named "stdout"`)
	}
	res := inputtest.Demux(t, &mpegts.Source{Path: "stdout", Reader: bytes.NewReader([]byte(r.Stdout))})
	if res.OpenErr != nil || res.RunErr != nil {
		t.Fatalf("stdout is not MPEG-TS: open %v, run %v (%d bytes)", res.OpenErr, res.RunErr, len(r.Stdout))
	}
	video, audio := 0, 0
	for _, u := range res.Units {
		if u.Media.Type == "video" {
			video++
		} else {
			audio++
		}
	}
	// The clip: 4 s of H.264 at 25 fps and AAC at 48 kHz.
	if video != 100 || audio < 180 {
		t.Fatalf("stdout held %d video and %d audio frames, want 100 and ~188", video, audio)
	}

	twice := clitest.Run(t, 30*time.Second, "relay", media("h264_aac.flv"), "-", "-")
	if twice.Code != 2 || !strings.Contains(twice.ErrLine(), "only once") {
		t.Fatalf("two stdout destinations: %s", twice)
	}
}
