package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RequireGstElements skips the test (or fails it, see Require) unless
// gst-launch-1.0 is installed and every named GStreamer element exists.
func RequireGstElements(t testing.TB, elements ...string) {
	t.Helper()
	Require(t, PeerGstLaunch, "gst-inspect-1.0")
	var missing []string
	for _, e := range elements {
		if err := exec.Command("gst-inspect-1.0", "--exists", e).Run(); err != nil {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("interop peer missing: GStreamer elements %s (Debian: apt-get install gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp)",
		strings.Join(missing, ", "))
	if os.Getenv(EnvRequirePeers) == "1" {
		t.Fatalf("%s [%s=1]", msg, EnvRequirePeers)
		return
	}
	t.Skipf("%s [set %s=1 to fail instead]", msg, EnvRequirePeers)
}

// GstLaunch runs `gst-launch-1.0 ARGS…` bounded by limit (see RunClient).
// Split a pipeline written as one string with strings.Fields when no
// property value contains a space.
func GstLaunch(t testing.TB, limit time.Duration, args ...string) *ClientResult {
	t.Helper()
	return RunClientEnv(t, limit, []string{"GST_DEBUG_NO_COLOR=1"}, PeerGstLaunch, args...)
}

// StartGstLaunch starts `gst-launch-1.0 ARGS…` in the background; it is
// stopped (SIGTERM, then SIGKILL) in t.Cleanup.
func StartGstLaunch(t testing.TB, args ...string) *Process {
	t.Helper()
	Require(t, PeerGstLaunch)
	cmd := exec.Command(PeerGstLaunch, args...)
	cmd.Env = append(os.Environ(), "GST_DEBUG_NO_COLOR=1")
	return StartCmd(t, cmd, ProcOptions{TermGrace: time.Second})
}
