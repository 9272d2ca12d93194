package testpeer

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// VLCRecord plays url with VLC (`vlc -I dummy --run-time=N URL --sout
// '#std{access=file,mux=ts,dst=OUT}' vlc://quit`) and returns the MPEG-TS file
// it wrote and the run. VLC refuses to run as root, so as root it runs as
// nobody (setpriv --reuid=nobody --regid=nogroup --clear-groups) with HOME and
// the output in a world-writable temporary directory. Debian's VLC has no RTSP
// client (it is built without live555): give it rtmp:// URLs.
func VLCRecord(t testing.TB, url string, runTime time.Duration) (string, *ClientResult) {
	t.Helper()
	Require(t, PeerVLC)
	dir, err := os.MkdirTemp("", "avcat-vlc-")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	out := filepath.Join(dir, "out.ts")
	secs := max(1, int(runTime/time.Second))
	vlc := []string{"vlc", "-I", "dummy", "--no-video-title-show", "--run-time=" + strconv.Itoa(secs), url,
		"--sout", "#std{access=file,mux=ts,dst=" + out + "}", "vlc://quit"}
	limit := runTime + 15*time.Second
	if os.Geteuid() != 0 {
		return out, RunClientEnv(t, limit, []string{"HOME=" + dir}, vlc[0], vlc[1:]...)
	}
	Require(t, "setpriv")
	args := append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "HOME=" + dir}, vlc...)
	return out, RunClient(t, limit, "setpriv", args...)
}
