package testpeer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// makeClip writes a 4 s, 640x480, 25 fps clip with 48 kHz stereo AAC into a
// temporary directory, so that these tests need no committed media. vcodec is
// "h264" (Constrained Baseline, GOP 25) or "h265".
func makeClip(t *testing.T, vcodec string) string {
	t.Helper()
	Require(t, PeerFFmpeg)
	out := filepath.Join(t.TempDir(), vcodec+"_aac.mp4")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "4", "-pix_fmt", "yuv420p", "-g", "25"}
	switch vcodec {
	case "h264":
		args = append(args, "-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast")
	case "h265":
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
			"-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0")
	default:
		t.Fatalf("makeClip: unknown codec %q", vcodec)
	}
	args = append(args, "-c:a", "aac", "-ac", "2", "-shortest", "-movflags", "+faststart", out)
	cmd := exec.Command("timeout", append([]string{"-k", "3", "60", "ffmpeg"}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate %s clip: %v\n%s", vcodec, err, b)
	}
	return out
}

// checkAV asserts a 640x480 video stream of vcodec and a 48 kHz stereo AAC stream.
func checkAV(t *testing.T, r *ProbeResult, vcodec string) {
	t.Helper()
	v, a := r.Video(), r.Audio()
	if v == nil || a == nil {
		t.Fatalf("want a video and an audio stream, got %+v", r.Streams)
	}
	if v.CodecName != vcodec || v.Width != 640 || v.Height != 480 {
		t.Errorf("video = %s %dx%d, want %s 640x480", v.CodecName, v.Width, v.Height, vcodec)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("audio = %s %d Hz %d ch, want aac 48000 Hz 2 ch", a.CodecName, a.SampleRate, a.Channels)
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("FreePort %d is not bindable: %v", p, err)
	}
	ln.Close()
}

func TestFreeUDPPortPair(t *testing.T) {
	p := FreeUDPPortPair(t)
	if p%2 != 0 {
		t.Fatalf("FreeUDPPortPair = %d, want even", p)
	}
	for _, port := range []int{p, p + 1} {
		c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("UDP port %d is not bindable: %v", port, err)
		}
		c.Close()
	}
}

// fakeTB records Skipf and Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper()                       {}
func (f *fakeTB) Skipf(format string, a ...any) { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
}

func TestRequire(t *testing.T) {
	const bogus = "avcat-no-such-peer-binary"

	t.Setenv(EnvRequirePeers, "")
	f := &fakeTB{TB: t}
	Require(f, PeerTimeout, bogus)
	if f.fatal != "" || !strings.Contains(f.skipped, bogus) {
		t.Errorf("without %s: skipped=%q fatal=%q, want a skip naming %s", EnvRequirePeers, f.skipped, f.fatal, bogus)
	}

	t.Setenv(EnvRequirePeers, "1")
	f = &fakeTB{TB: t}
	Require(f, bogus)
	if f.skipped != "" || !strings.Contains(f.fatal, bogus) {
		t.Errorf("with %s=1: skipped=%q fatal=%q, want a failure naming %s", EnvRequirePeers, f.skipped, f.fatal, bogus)
	}

	f = &fakeTB{TB: t}
	Require(f, PeerTimeout)
	if f.skipped != "" || f.fatal != "" {
		t.Errorf("present peer: skipped=%q fatal=%q", f.skipped, f.fatal)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestProcessStopKillsGroup(t *testing.T) {
	Require(t, "sh", "sleep")
	// The shell ignores SIGTERM (and so does its child), so Stop must
	// escalate to SIGKILL and reach the grandchild through the group.
	p := StartCmd(t, exec.Command("sh", "-c", `trap "" TERM; sleep 300 & echo "child $!"; wait`),
		ProcOptions{TermGrace: 200 * time.Millisecond})
	var child int
	if err := poll(10*time.Second, p.Exited(), func() error {
		_, err := fmt.Sscanf(p.Output(), "child %d", &child)
		return err
	}); err != nil {
		t.Fatalf("no child pid: %v (output %q)", err, p.Output())
	}
	if !alive(child) {
		t.Fatalf("child %d not running", child)
	}
	start := time.Now()
	if err := p.Stop(); err == nil {
		t.Errorf("Stop: want a signal exit error, got nil")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if p.ExitCode() != -1 {
		t.Errorf("ExitCode = %d, want -1 (killed)", p.ExitCode())
	}
	if err := poll(5*time.Second, nil, func() error {
		if alive(child) {
			return fmt.Errorf("grandchild %d still alive", child)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if err := p.Stop(); err == nil {
		t.Errorf("second Stop: want the same error")
	}
}

func TestProcessWaitOutput(t *testing.T) {
	Require(t, "sh")
	p := Start(t, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ee *exec.ExitError
	if err := p.Wait(ctx); !errors.As(err, &ee) || p.ExitCode() != 3 {
		t.Fatalf("Wait = %v, ExitCode = %d; want exit status 3", err, p.ExitCode())
	}
	if out := p.Output(); !strings.Contains(out, "to-stdout") || !strings.Contains(out, "to-stderr") {
		t.Errorf("Output = %q", out)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	io.WriteString(b, "0123456789")
	io.WriteString(b, "ab")
	if got := b.String(); got != "456789ab" {
		t.Errorf("String = %q", got)
	}
	if got := b.Tail(3); got != "…9ab" {
		t.Errorf("Tail(3) = %q", got)
	}
}

func TestGstRTSPServerLive(t *testing.T) {
	Require(t, PeerFFprobe, PeerTimeout)
	s := StartGstRTSPServer(t, GstOptions{Mounts: []Mount{LiveH264AAC("/live")}})

	resp, err := RTSPRequest(s.Addr(), "DESCRIBE", s.URL("live"), map[string]string{"Accept": "application/sdp"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sdp := string(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(sdp, "sprop-parameter-sets=") || !strings.Contains(sdp, "MPEG4-GENERIC/48000/2") {
		t.Fatalf("DESCRIBE: %s\n%s", resp.StatusLine, sdp)
	}
	if resp, err := RTSPRequest(s.Addr(), "DESCRIBE", s.URL("nope"), nil, 10*time.Second); err != nil || resp.StatusCode != 404 {
		t.Errorf("DESCRIBE unknown path: %v %v, want 404", resp, err)
	}

	r := FFprobeStreams(t, "-rtsp_transport", "tcp", s.URL("live"))
	checkAV(t, r, "h264")
	if v := r.Video(); v.Profile != "Constrained Baseline" || v.FPS() != 25 {
		t.Errorf("video profile %q fps %v, want Constrained Baseline 25", v.Profile, v.FPS())
	}

	// Stop kills the server: its port closes.
	s.Process.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still open after Stop", s.Port)
	}
}

func TestGstRTSPServerAuth(t *testing.T) {
	Require(t, PeerFFprobe, PeerTimeout)
	for _, method := range []string{"basic", "digest"} {
		t.Run(method, func(t *testing.T) {
			s := StartGstRTSPServer(t, GstOptions{
				Mounts: []Mount{LiveH264AAC("/live")},
				Auth:   method, User: "alice", Pass: "s3cr3t",
			})
			resp, err := RTSPRequest(s.Addr(), "DESCRIBE", s.URL("live"), nil, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"basic": "Basic ", "digest": "Digest "}[method]
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), want) {
				t.Fatalf("DESCRIBE without credentials: %s, WWW-Authenticate %q; want 401 %s",
					resp.StatusLine, resp.Header.Get("WWW-Authenticate"), want)
			}
			if _, err := FFprobe(10*time.Second, "-rtsp_transport", "tcp", s.URL("live")); err == nil {
				t.Errorf("ffprobe without credentials succeeded")
			}
			r := FFprobeStreams(t, "-rtsp_transport", "tcp", s.UserURL("live"))
			checkAV(t, r, "h264")
		})
	}
}

func TestGstRTSPServerFileMP4(t *testing.T) {
	Require(t, PeerFFprobe, PeerTimeout)
	h264, h265 := makeClip(t, "h264"), makeClip(t, "h265")
	s := StartGstRTSPServer(t, GstOptions{Mounts: []Mount{
		FileMP4("/h264", h264),
		FileMP4H265("h265", h265),
	}})
	checkAV(t, FFprobeStreams(t, "-rtsp_transport", "tcp", s.URL("h264")), "h264")
	checkAV(t, FFprobeStreams(t, "-rtsp_transport", "tcp", s.URL("/h265")), "hevc")
}

func TestNginxRTMP(t *testing.T) {
	Require(t, PeerFFmpeg, PeerFFprobe, PeerTimeout)
	clip := makeClip(t, "h264")
	n := StartNginxRTMP(t, NginxOptions{})
	url := n.URL("live", "test")
	if want := fmt.Sprintf("rtmp://127.0.0.1:%d/live/test", n.Port); url != want {
		t.Errorf("URL = %q, want %q", url, want)
	}
	pub := FFmpegPublishRTMP(t, clip, url, true)
	r := WaitRTMPStream(t, url)
	// The first answer may come before both tracks are known; probe once more.
	if r.Video() == nil || r.Audio() == nil {
		r = FFprobeStreams(t, "-rw_timeout", "3000000", url)
	}
	checkAV(t, r, "h264")
	select {
	case <-pub.Exited():
		t.Errorf("looping publisher exited:\n%s", pub.Output())
	default:
	}
	if !strings.Contains(n.ErrorLog(), "publish") {
		t.Errorf("nginx error.log does not mention the publish:\n%s", n.ErrorLog())
	}
}

func TestFFprobeStreamsFile(t *testing.T) {
	clip := makeClip(t, "h264")
	r := FFprobeStreams(t, "-count_frames", clip)
	checkAV(t, r, "h264")
	v := r.Video()
	if v.NbReadFrames != 100 || v.NbFrames != 100 || v.FPS() != 25 {
		t.Errorf("video frames read %d, frames %d, fps %v; want 100, 100, 25", v.NbReadFrames, v.NbFrames, v.FPS())
	}
	if d := r.Format.Duration; d < 3.9 || d > 4.1 {
		t.Errorf("duration = %v, want about 4 s", d)
	}
	if r.Format.NbStreams != 2 || !strings.Contains(r.Format.FormatName, "mp4") {
		t.Errorf("format = %+v", r.Format)
	}
	if _, err := FFprobe(10*time.Second, filepath.Join(t.TempDir(), "missing.mp4")); err == nil {
		t.Errorf("FFprobe of a missing file succeeded")
	}
}

func TestSilentTCPServer(t *testing.T) {
	s := SilentTCPServer(t)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var ne net.Error
	if n, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Read = %d, %v; want a timeout", n, err)
	}
	if _, err := RTSPRequest(s.Addr, "OPTIONS", s.URL("rtsp", "x"), nil, 300*time.Millisecond); err == nil {
		t.Errorf("RTSPRequest to a silent server succeeded")
	}
}

func TestHTTPServer(t *testing.T) {
	s := HTTPServer(t)
	_, err := RTSPRequest(s.Addr, "OPTIONS", s.URL("rtsp", "/x"), nil, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "HTTP/1.1 200 OK") {
		t.Errorf("RTSPRequest = %v, want a non-RTSP error quoting HTTP/1.1 200 OK", err)
	}
	// An RTMP client sends binary C0+C1 first; it still gets HTTP back.
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(append([]byte{3}, make([]byte, 1536)...))
	b, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200 OK\r\n") {
		t.Errorf("after C0+C1: %q, %v", b, err)
	}
}

func TestGarbageServer(t *testing.T) {
	s := GarbageServer(t)
	if _, err := RTSPRequest(s.Addr, "OPTIONS", s.URL("rtsp", "x"), nil, 5*time.Second); err == nil {
		t.Errorf("RTSPRequest to a garbage server succeeded")
	}
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 64<<10 || b[0] < 0x80 {
		t.Errorf("read %d bytes (first %#x), %v; want 64 KiB, first byte >= 0x80", len(b), b[:min(1, len(b))], err)
	}
	if p := s.URL("rtmp", "/live/x"); p != "rtmp://"+s.Addr+"/live/x" || !strings.HasSuffix(s.Addr, ":"+strconv.Itoa(s.Port)) {
		t.Errorf("URL = %q, Addr %q, Port %d", p, s.Addr, s.Port)
	}
}

// busyThenFree returns a port held by a listener on the first call (a lost
// port race) and free ports afterwards.
func busyThenFree(t *testing.T) (func(testing.TB) int, *int) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	busy := ln.Addr().(*net.TCPAddr).Port
	calls := 0
	return func(tb testing.TB) int {
		calls++
		if calls == 1 {
			return busy
		}
		return FreePort(tb)
	}, &calls
}

func TestGstRTSPServerPortRace(t *testing.T) {
	pick, calls := busyThenFree(t)
	s := startGstRTSPServer(t, GstOptions{Mounts: []Mount{LiveH264AAC("/live")}}, pick)
	if *calls != 2 {
		t.Errorf("port picked %d times, want 2 (one retry)", *calls)
	}
	if resp, err := RTSPRequest(s.Addr(), "OPTIONS", s.URL("live"), nil, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Errorf("OPTIONS after retry: %v %v", resp, err)
	}
}

func TestNginxRTMPPortRace(t *testing.T) {
	pick, calls := busyThenFree(t)
	n := startNginxRTMP(t, NginxOptions{}, pick)
	if *calls != 2 {
		t.Errorf("port picked %d times, want 2 (one retry)", *calls)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.Port))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestGstRTSPServerRecord(t *testing.T) {
	Require(t, PeerFFmpeg, PeerFFprobe, PeerTimeout)
	clip := makeClip(t, "h264")
	dir := t.TempDir()
	video, audio := filepath.Join(dir, "in.h264"), filepath.Join(dir, "in.aac")
	s := StartGstRTSPServer(t, GstOptions{Mounts: []Mount{RecordH264AAC("/rec", video, audio)}})

	push := func(args ...string) ([]byte, error) {
		args = append([]string{"-k", "3", "30", "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re"}, args...)
		args = append(args, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", s.URL("rec"))
		return exec.Command("timeout", args...).CombinedOutput()
	}
	if out, err := push("-i", clip); err != nil {
		t.Fatalf("ffmpeg push: %v\n%s", err, out)
	}
	// The files are written as packets arrive; wait for the last ones. Without
	// an EOS, the final access unit may stay inside the pipeline, so accept 99.
	var r *ProbeResult
	if err := poll(10*time.Second, nil, func() error {
		var err error
		if r, err = FFprobe(10*time.Second, "-count_frames", video); err != nil {
			return err
		}
		if v := r.Video(); v == nil || v.NbReadFrames < 99 {
			return fmt.Errorf("not all frames yet: %+v", r.Streams)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v := r.Video(); v.CodecName != "h264" || v.Width != 640 || v.Height != 480 || v.NbReadFrames > 100 {
		t.Errorf("recorded video = %+v, want h264 640x480, 99 or 100 frames", *v)
	}
	if a := FFprobeStreams(t, audio).Audio(); a == nil || a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("recorded audio = %+v, want aac 48 kHz stereo", a)
	}

	// A push whose stream count differs from the mount's is refused.
	if out, err := push("-i", clip, "-map", "0:v"); err == nil || !strings.Contains(string(out), "415") {
		t.Errorf("video-only push: %v\n%s; want 415", err, out)
	}
}

func TestNginxRTMPAppDirectives(t *testing.T) {
	Require(t, PeerFFmpeg, PeerFFprobe, PeerTimeout)
	clip := makeClip(t, "h264")
	n := StartNginxRTMP(t, NginxOptions{Apps: []string{"cam"}, AppDirectives: "deny play all;"})
	FFmpegPublishRTMP(t, clip, n.URL("cam", "one"), true)
	if err := poll(10*time.Second, nil, func() error {
		if !strings.Contains(n.ErrorLog(), "publish: name='one'") {
			return errors.New("no publish in error.log yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.ErrorLog())
	}
	if _, err := FFprobe(8*time.Second, "-rw_timeout", "3000000", n.URL("cam", "one")); err == nil {
		t.Errorf("play allowed despite deny play all")
	}
}
