package testpeer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NginxRecorder returns nginx-rtmp directives (for NginxOptions.AppDirectives)
// that record every published stream, audio and video, into dir/KEY.flv. The
// file is rewritten by each new publisher of KEY and finalized when the
// publisher leaves. (A plain "record all;" does not work here: the
// application block already says "record off;" and the flags add up.)
func NginxRecorder(dir string) string {
	return fmt.Sprintf("recorder all { record all; record_path %s; record_unique off; }", dir)
}

// NginxRecording returns the path NginxRecorder(dir) writes for key.
func NginxRecording(dir, key string) string { return filepath.Join(dir, key+".flv") }

// NginxAbsoluteTimestamps are nginx-rtmp directives that pass the
// publisher's timestamps to players unchanged. By default nginx-rtmp 1.2.2
// rebases both sides to zero, which would hide what a test of timestamps
// above 2^24 ms (extended timestamps) must see.
const NginxAbsoluteTimestamps = "publish_time_fix off; play_time_fix off;"

// StartNginxRTMPOnPort is StartNginxRTMP on a given port of 127.0.0.1, for
// example to bring a server back where a client already points.
func StartNginxRTMPOnPort(t testing.TB, opts NginxOptions, port int) *NginxRTMP {
	t.Helper()
	return startNginxRTMP(t, opts, func(testing.TB) int { return port })
}

// Restart stops nginx (it is gone when Restart returns, and every client
// connection with it) and starts a new one with opts on the same port,
// ready when it returns. The new server has a new directory.
func (n *NginxRTMP) Restart(t testing.TB, opts NginxOptions) *NginxRTMP {
	t.Helper()
	_ = n.Process.Stop()
	return StartNginxRTMPOnPort(t, opts, n.Port)
}

// StartGstRTSPServerOnPort is StartGstRTSPServer on a given port of 127.0.0.1.
func StartGstRTSPServerOnPort(t testing.TB, opts GstOptions, port int) *GstRTSPServer {
	t.Helper()
	return startGstRTSPServer(t, opts, func(testing.TB) int { return port })
}

// Restart starts a new GstRTSPServer with the same options on the same port,
// after stopping this one if it still runs, and waits until it is ready.
func (s *GstRTSPServer) Restart(t testing.TB) *GstRTSPServer {
	t.Helper()
	_ = s.Process.Stop()
	return StartGstRTSPServerOnPort(t, s.Options, s.Port)
}

// Listening reports whether a TCP socket listens on 127.0.0.1:port (or on
// any address), from /proc/net/tcp. It never connects: a one-shot listener
// such as `ffmpeg -listen 1` takes the first connection as its client.
func Listening(port int) bool {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if listeningIn(table, port) {
			return true
		}
	}
	return false
}

func listeningIn(table string, port int) bool {
	f, err := os.Open(table)
	if err != nil {
		return false
	}
	defer f.Close()
	suffix := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// fields: sl local_address rem_address st …; st 0A is LISTEN.
		if len(fields) > 3 && strings.HasSuffix(fields[1], suffix) && fields[3] == "0A" {
			return true
		}
	}
	return false
}

// WaitListening polls Listening(port) until it is true, failing the test
// after limit or as soon as p (if not nil) exits.
func WaitListening(t testing.TB, port int, p *Process, limit time.Duration) {
	t.Helper()
	var exited <-chan struct{}
	if p != nil {
		exited = p.Exited()
	}
	err := poll(limit, exited, func() error {
		if Listening(port) {
			return nil
		}
		return fmt.Errorf("nothing listens on port %d", port)
	})
	if err != nil {
		out := ""
		if p != nil {
			out = "\n" + p.out.Tail(outputDump)
		}
		t.Fatalf("testpeer: %v%s", err, out)
	}
}

// FFmpegListenRTMP starts ffmpeg as a one-shot RTMP server (`ffmpeg -listen 1
// -i rtmp://127.0.0.1:PORT/live/x -c copy -y OUT`) on a free port, bounded by
// `timeout -k 3 limit`, and returns its URL once it listens. It accepts one
// publisher, writes what it receives to out (the extension picks the
// container), and exits when the publisher leaves; Process.Wait waits for
// that.
func FFmpegListenRTMP(t testing.TB, out string, limit time.Duration) (string, *Process) {
	t.Helper()
	Require(t, PeerFFmpeg, PeerTimeout)
	secs := strconv.Itoa(max(1, int(limit.Round(time.Second)/time.Second)))
	const attempts = 5
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/x", port)
		cmd := exec.Command("timeout", "-k", "3", secs, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
			"-listen", "1", "-i", url, "-c", "copy", "-y", out)
		p := StartCmd(t, cmd, ProcOptions{KillOnly: true})
		err := poll(15*time.Second, p.Exited(), func() error {
			if Listening(port) {
				return nil
			}
			return fmt.Errorf("ffmpeg does not listen on %d yet", port)
		})
		if err == nil {
			return url, p
		}
		_ = p.Stop()
		if strings.Contains(p.Output(), "Address already in use") && attempt < attempts {
			continue
		}
		t.Fatalf("testpeer: ffmpeg -listen 1 on port %d: %v\n%s", port, err, p.out.Tail(outputDump))
	}
}
