package push_test

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestPushSilentStdinStops: push - and rtmp-push - stop on Ctrl-C (the
// context) while stdin sends nothing, whether they are sniffing the format
// or demuxing it; only SIGKILL stopped them.
func TestPushSilentStdinStops(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(testpeer.FreePort(t))
	for _, verb := range []string{"push", "rtmp-push"} {
		scheme := "rtsp"
		if verb == "rtmp-push" {
			scheme = "rtmp"
		}
		for _, format := range []string{"", "ts", "flv", "h264"} {
			t.Run(verb+"/"+format, func(t *testing.T) {
				t.Parallel()
				pr, pw := io.Pipe() // no read deadlines, like a shell's stdin
				defer pw.Close()
				args := []string{verb, "-", scheme + "://127.0.0.1:" + port + "/live/x"}
				if format != "" {
					args = append([]string{verb, "--format", format}, args[1:]...)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan *clitest.Result, 1)
				go func() { done <- clitest.RunStdin(ctx, pr, args...) }()
				time.Sleep(200 * time.Millisecond) // let it block on stdin; not a readiness wait
				cancel()
				select {
				case r := <-done:
					if r.Code != 0 {
						t.Fatalf("exit %d after Ctrl-C, want 0\n%s", r.Code, r)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("Ctrl-C did not stop a push blocked on a silent stdin")
				}
			})
		}
	}
}
