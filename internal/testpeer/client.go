package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ClientResult is what a bounded peer client run produced.
type ClientResult struct {
	Args   []string // the client's command line (without the timeout wrapper)
	Stdout string
	Stderr string
	// Code is the exit code: 124 when `timeout` ended the client with
	// SIGTERM, 137 when it had to SIGKILL it, -1 when it could not start.
	Code int
	Took time.Duration
}

// TimedOut reports whether `timeout` had to end the client.
func (r *ClientResult) TimedOut() bool { return r.Code == 124 || r.Code == 137 }

// String summarizes a run for failure messages.
func (r *ClientResult) String() string {
	return fmt.Sprintf("%s\nexit %d after %v\n--- stdout (tail) ---\n%s\n--- stderr (tail) ---\n%s",
		strings.Join(r.Args, " "), r.Code, r.Took.Round(time.Millisecond), tail(r.Stdout, 4096), tail(r.Stderr, 4096))
}

// RunClient runs `timeout -k 3 SECS name args…` in the foreground and waits
// for it: a peer client (ffmpeg, ffprobe, gst-launch, rtmpdump…) can never
// outlive limit by more than a few seconds, even ffmpeg 5.1, which ignores
// the first SIGTERM while blocked on a read. The client runs in its own
// process group (timeout(1) makes one and kills it when the limit passes;
// the backstop context kills it by PGID while its leader is still unreaped). A missing peer skips (or fails, see Require) the test.
func RunClient(t testing.TB, limit time.Duration, name string, args ...string) *ClientResult {
	t.Helper()
	Require(t, name, PeerTimeout)
	return runBounded(limit, nil, name, args...)
}

// RunClientEnv is RunClient with extra environment variables ("K=V").
func RunClientEnv(t testing.TB, limit time.Duration, env []string, name string, args ...string) *ClientResult {
	t.Helper()
	Require(t, name, PeerTimeout)
	return runBounded(limit, env, name, args...)
}

// RunBounded is RunClient without a test, for goroutines (a test's
// goroutine must not call t.Fatal or t.Skip): call Require first.
func RunBounded(limit time.Duration, env []string, name string, args ...string) *ClientResult {
	return runBounded(limit, env, name, args...)
}

func runBounded(limit time.Duration, env []string, name string, args ...string) *ClientResult {
	secs := max(1, int((limit+time.Second-1)/time.Second))
	full := append([]string{"-k", "3", strconv.Itoa(secs), name}, args...)
	// The context is a backstop: timeout(1) ends the client first.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+8)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "timeout", full...)
	setpgid(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 3 * time.Second
	if env != nil {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := &ClientResult{Args: append([]string{name}, args...), Code: -1}
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	res.Took = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	if cmd.ProcessState != nil {
		res.Code = cmd.ProcessState.ExitCode()
		if res.Code == -1 { // killed by a signal (the context backstop)
			res.Code = 137
		}
	}
	if err != nil && cmd.ProcessState == nil {
		res.Stderr += "\n" + err.Error()
	}
	return res
}

// StartClient starts `name args…` in the background as a peer (see StartCmd)
// that is killed with SIGKILL in t.Cleanup: meant for ffmpeg publishers and
// readers, which ignore the first SIGTERM while blocked on a read.
func StartClient(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	Require(t, name)
	return StartCmd(t, exec.Command(name, args...), ProcOptions{KillOnly: true})
}

// FFmpegPublishRTSP publishes file to url in the background at real-time
// speed with stream copy (ffmpeg -re [-stream_loop -1] -i FILE -c copy -f rtsp
// -rtsp_transport TRANSPORT URL). extra goes before the output (e.g. "-c:a",
// "libopus" to transcode audio). It is killed with SIGKILL in t.Cleanup.
func FFmpegPublishRTSP(t testing.TB, file, url, transport string, loop bool, extra ...string) *Process {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re"}
	if loop {
		args = append(args, "-stream_loop", "-1")
	}
	args = append(args, "-i", file, "-c", "copy")
	args = append(args, extra...)
	args = append(args, "-f", "rtsp", "-rtsp_transport", transport, url)
	return StartClient(t, "ffmpeg", args...)
}

// FFmpegProgress is the last state an ffmpeg run reported with
// `-progress pipe:1` on stdout.
type FFmpegProgress struct {
	Frames  int           // frame=: video frames written to the (first) output
	OutTime time.Duration // out_time_us=: media time of the output
	Ended   bool          // progress=end was seen: ffmpeg finished its output cleanly
}

// ParseFFmpegProgress reads the key=value blocks that `-progress pipe:1`
// writes and returns the last values.
func ParseFFmpegProgress(stdout string) FFmpegProgress {
	var p FFmpegProgress
	for _, line := range strings.Split(stdout, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "frame":
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				p.Frames = n
			}
		case "out_time_us":
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
				p.OutTime = time.Duration(n) * time.Microsecond
			}
		case "progress":
			p.Ended = strings.TrimSpace(v) == "end"
		}
	}
	return p
}

// WaitRTSPDescribe polls url with a raw DESCRIBE until the server answers
// 200 with an SDP, e.g. until a published path is live, and returns the SDP.
// It fails the test after limit.
func WaitRTSPDescribe(t testing.TB, url string, header map[string]string, limit time.Duration) string {
	t.Helper()
	addr, err := hostPort(url)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	var sdp string
	h := map[string]string{"Accept": "application/sdp"}
	for k, v := range header {
		h[k] = v
	}
	err = poll(limit, nil, func() error {
		resp, err := RTSPRequest(addr, "DESCRIBE", url, h, 2*time.Second)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || len(resp.Body) == 0 {
			return fmt.Errorf("DESCRIBE %s: %s", url, resp.StatusLine)
		}
		sdp = string(resp.Body)
		return nil
	})
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	return sdp
}

// hostPort extracts "host:port" from rtsp://[user@]host:port/…
func hostPort(url string) (string, error) {
	_, rest, ok := strings.Cut(url, "://")
	if !ok {
		return "", fmt.Errorf("not a URL: %q", url)
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if !strings.Contains(host, ":") {
		return "", fmt.Errorf("URL %q has no port", url)
	}
	return host, nil
}

func setpgid(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killGroup kills cmd's process group. It is only called while cmd has not
// been reaped (from cmd.Cancel), so the group ID cannot have been reused.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
