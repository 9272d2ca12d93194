package relay_test

// Tests of `avcat relay` (issue 6) against real peers: GStreamer's RTSP
// server (a live H.264 + AAC mount, and a RECORD mount that writes what it
// receives), nginx with libnginx-mod-rtmp (which records what it receives),
// `avcat serve`, and ffmpeg as a publisher. They cover every direction (RTSP
// to RTMP, RTMP to RTSP, RTSP to RTSP, files as sources and as extra
// destinations), fan-out with a dead destination, the loss and return of
// the source and of a destination, timestamps above 2^24 ms, and bad input.
//
// The relay runs as a separate avcat process (built once per test binary,
// with -race when the tests have it), stopped by SIGTERM like a user would:
// a crash then fails one test with its stack trace instead of the whole
// test binary. Every peer listens on a free port of 127.0.0.1 and is
// killed by PID in Cleanup.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/relay"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

const fps = 25

// TestMain raises -test.parallel (unless given): these tests mostly wait on
// real-time peers, and removes the avcat binary at the end.
func TestMain(m *testing.M) {
	clitest.RaiseParallel(6, 3)
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func repoFile(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", ".."}, parts...)...)
}

func media(name string) string { return repoFile("testdata", "media", name) }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// avcatBin builds cmd/avcat once (with -race when this test binary has it).
func avcatBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		dir, err := os.MkdirTemp("", "avcat-relay-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "avcat")
		args := []string{"build", "-o", binPath}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args = append(args, "-race")
				}
			}
		}
		args = append(args, "github.com/avcat/avcat/cmd/avcat")
		if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// relayProc is an `avcat relay` process.
type relayProc struct {
	*testpeer.Process
	stats string // its --stats-json file
	start time.Time
}

// startRelay runs `avcat relay --stats-json FILE args…`. Cleanup stops it.
func startRelay(t *testing.T, args ...string) *relayProc {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "stats.ndjson")
	full := append([]string{"relay", "--stats-json", stats}, args...)
	p := testpeer.StartCmd(t, exec.Command(avcatBin(t), full...), testpeer.ProcOptions{TermGrace: 10 * time.Second})
	return &relayProc{Process: p, stats: stats, start: time.Now()}
}

// interrupt stops the relay with SIGTERM (like Ctrl-C) and checks that it
// exits 0 with its outputs finalized.
func (r *relayProc) interrupt(t *testing.T) {
	t.Helper()
	select {
	case <-r.Exited():
		_ = r.Stop()
		t.Fatalf("the relay exited by itself (exit %d):\n%s", r.ExitCode(), r.Output())
	default:
	}
	_ = r.Stop()
	if r.ExitCode() != 0 {
		t.Fatalf("relay after SIGTERM: exit %d:\n%s", r.ExitCode(), r.Output())
	}
	checkClean(t, r.Output())
}

// waitExit waits for the relay to end by itself and returns its exit code.
func (r *relayProc) waitExit(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-r.Exited():
	case <-time.After(limit):
		t.Fatalf("the relay still runs after %v:\n%s", limit, r.Output())
	}
	_ = r.Stop() // reaps it
	return r.ExitCode()
}

// checkClean fails on a panic or a data race in avcat's output.
func checkClean(t *testing.T, out string) {
	t.Helper()
	for _, bad := range []string{"panic:", "WARNING: DATA RACE", "goroutine "} {
		if strings.Contains(out, bad) {
			t.Errorf("avcat printed %q:\n%s", bad, out)
			return
		}
	}
}

// endpointEvent is one "endpoint" line of --stats-json.
type endpointEvent struct {
	Event    string `json:"event"`
	Endpoint string `json:"endpoint"`
	State    string `json:"state"`
	Error    string `json:"error"`
}

// events reads the endpoint events written so far.
func (r *relayProc) events() []endpointEvent {
	b, _ := os.ReadFile(r.stats)
	var out []endpointEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e endpointEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event == "endpoint" {
			out = append(out, e)
		}
	}
	return out
}

// count counts the events of endpoints whose name contains name in state.
func countEvents(evs []endpointEvent, name, state string) int {
	n := 0
	for _, e := range evs {
		if strings.Contains(e.Endpoint, name) && e.State == state {
			n++
		}
	}
	return n
}

// waitEvents polls the stats file until at least n events of name in state
// were written, failing after limit or when the relay exits.
func (r *relayProc) waitEvents(t *testing.T, name, state string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for countEvents(r.events(), name, state) < n {
		select {
		case <-r.Exited():
			t.Fatalf("the relay exited while waiting for %s %s:\n%s", name, state, r.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q event for %s after %v; events: %+v\n%s", n, state, name, limit, r.events(), r.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readable tries once to read a few seconds of url with ffprobe.
func readable(url string, secs int) (*testpeer.ProbeResult, error) {
	args := []string{"-count_frames", "-read_intervals", fmt.Sprintf("%%+%d", secs)}
	if strings.HasPrefix(url, "rtmp") {
		args = append(args, "-rw_timeout", "3000000")
	} else {
		args = append(args, "-rtsp_transport", "tcp", "-timeout", "3000000")
	}
	r, err := testpeer.FFprobe(time.Duration(secs+8)*time.Second, append(args, url)...)
	if err == nil && r.Video() == nil {
		err = fmt.Errorf("no video in %s", url)
	}
	return r, err
}

// waitReadable polls url with ffprobe until it yields decoded video, and
// returns how long that took. It fails after limit.
func waitReadable(t *testing.T, url string, limit time.Duration) (*testpeer.ProbeResult, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		r, err := readable(url, 1)
		if err == nil && r.Video().NbReadFrames > 0 {
			return r, time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s not readable after %v: %v", url, limit, err)
		}
	}
}

// checkAV asserts 640x480 H.264 and 48 kHz stereo AAC, and frames in range.
func checkAV(t *testing.T, what string, r *testpeer.ProbeResult, minFrames, maxFrames int) {
	t.Helper()
	v, a := r.Video(), r.Audio()
	if v == nil || a == nil {
		t.Fatalf("%s: want video and audio, got %+v", what, r.Streams)
	}
	if v.CodecName != "h264" || v.Width != 640 || v.Height != 480 {
		t.Errorf("%s: video %s %dx%d, want h264 640x480", what, v.CodecName, v.Width, v.Height)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("%s: audio %s %d Hz %d ch, want aac 48000 Hz 2 ch", what, a.CodecName, a.SampleRate, a.Channels)
	}
	if v.NbReadFrames < minFrames || v.NbReadFrames > maxFrames {
		t.Errorf("%s: %d video frames, want %d..%d", what, v.NbReadFrames, minFrames, maxFrames)
	}
	t.Logf("%s: h264 %dx%d %d frames, aac %d Hz %d ch %d frames", what, v.Width, v.Height, v.NbReadFrames, a.SampleRate, a.Channels, a.NbReadFrames)
}

// checkTimeline asserts that each stream's DTS increase strictly in a
// recorded file, and returns the largest video step (seconds).
func checkTimeline(t *testing.T, what, file string) (testpeer.Packets, float64) {
	t.Helper()
	pk := testpeer.FFprobePackets(t, file)
	var vstep float64
	for _, kind := range []string{"video", "audio"} {
		ps := pk.Of(kind)
		if len(ps) == 0 {
			t.Errorf("%s: no %s packets", what, kind)
			continue
		}
		step, err := ps.CheckMonotonic(false)
		if err != nil {
			t.Errorf("%s: %s timestamps go backwards: %v", what, kind, err)
		}
		if kind == "video" {
			vstep = step
		}
	}
	return pk, vstep
}

func TestRelayFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *relay.Options)
	}{
		{args: []string{"rtsp://h/a", "rtmp://h/live/b"}, check: func(t *testing.T, o *relay.Options) {
			if o.Source != "rtsp://h/a" || len(o.Destinations) != 1 || o.RetryMin != 500*time.Millisecond || o.RetryMax != 30*time.Second ||
				o.Transport != "auto" || o.DstTransport != "tcp" || o.Loop != 1 {
				t.Fatalf("defaults %+v", o)
			}
		}},
		{args: []string{"--retry-min", "100ms", "--retry-max", "2s", "--loop", "--duration", "5s", "a.mp4", "rtsp://h/x", "rtmp://h/l/k", "copy.ts"}, check: func(t *testing.T, o *relay.Options) {
			if o.RetryMin != 100*time.Millisecond || o.RetryMax != 2*time.Second || o.Loop != 0 || o.Duration != 5*time.Second || len(o.Destinations) != 3 {
				t.Fatalf("parsed %+v", o)
			}
		}},
		{args: []string{"rtsp://h/a"}, wantErr: "at least one destination"},
		{args: []string{"--retry-min", "2s", "--retry-max", "1s", "rtsp://h/a", "rtsp://h/b"}, wantErr: "--retry-min"},
		{args: []string{"--retry-min", "0s", "rtsp://h/a", "rtsp://h/b"}, wantErr: "--retry-min"},
		{args: []string{"--transport", "quic", "rtsp://h/a", "rtsp://h/b"}, wantErr: "--transport"},
		{args: []string{"--dst-transport", "multicast", "rtsp://h/a", "rtsp://h/b"}, wantErr: "--dst-transport"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *relay.Options
			cmd := relay.NewCmdRelay(cmdutil.NewFactory(ios), func(_ context.Context, o *relay.Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(c.args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err %v, want a usage error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, got)
		})
	}
}

// TestRelayRTSPToRTMP relays GStreamer's live RTSP mount to nginx-rtmp and
// reads it back with ffprobe while a local copy is written too.
func TestRelayRTSPToRTMP(t *testing.T) {
	t.Parallel()
	gst := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")}})
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	dst := ng.URL("live", "cam")
	copyTS := filepath.Join(t.TempDir(), "copy.ts")
	rel := startRelay(t, gst.URL("/live"), dst, copyTS)

	testpeer.WaitRTMPStream(t, dst)
	r, err := readable(dst, 3)
	if err != nil {
		t.Fatal(err)
	}
	// 3 s read from a live stream: the decoder waits up to a GOP (1 s).
	checkAV(t, "ffprobe "+dst, r, 3*fps-fps-4, 3*fps+3)
	rel.interrupt(t)
	took := time.Since(rel.start)
	checkAV(t, "local copy", testpeer.FFprobeStreams(t, "-count_frames", copyTS), 1, int(took.Seconds()*fps)+3)
	checkTimeline(t, "local copy", copyTS)
	if evs := rel.events(); countEvents(evs, dst, "up") != 1 || countEvents(evs, dst, "down") != 0 {
		t.Errorf("events of %s: %+v", dst, evs)
	}
}

// TestRelayRTMPToRTSPRecord relays an RTMP stream (ffmpeg → nginx) to
// GStreamer's RECORD mount (which needs exactly H.264 then AAC) and to a
// local copy, and compares what both received.
func TestRelayRTMPToRTSPRecord(t *testing.T) {
	t.Parallel()
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	src := ng.URL("live", "in")
	testpeer.FFmpegPublishRTMP(t, media("h264_aac.flv"), src, true)
	testpeer.WaitRTMPStream(t, src)
	dir := t.TempDir()
	vid, aud := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.aac")
	gst := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.RecordH264AAC("/rec", vid, aud)}})
	copyTS := filepath.Join(dir, "copy.ts")

	rel := startRelay(t, "--duration", "5s", src, gst.URL("/rec"), copyTS)
	if code := rel.waitExit(t, 40*time.Second); code != 0 {
		t.Fatalf("relay --duration 5s: exit %d:\n%s", code, rel.Output())
	}
	checkClean(t, rel.Output())
	took := time.Since(rel.start)
	_ = gst.Process.Stop() // flushes its files

	local := testpeer.FFprobeStreams(t, "-count_frames", copyTS)
	checkAV(t, "local copy", local, 5*fps-fps, int(took.Seconds()*fps)+3)
	v := testpeer.FFprobeStreams(t, "-count_frames", vid).Video()
	if v == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 480 {
		t.Fatalf("GStreamer recorded video %+v", v)
	}
	// Both start at the same keyframe; the RECORD session may lose the
	// last frames in flight when the relay stops.
	if lv := local.Video().NbReadFrames; v.NbReadFrames < lv-3 || v.NbReadFrames > lv {
		t.Errorf("GStreamer recorded %d video frames, the local copy %d", v.NbReadFrames, lv)
	}
	a := testpeer.FFprobeStreams(t, "-count_frames", aud).Audio()
	if a == nil || a.CodecName != "aac" || a.SampleRate != 48000 || a.NbReadFrames < local.Audio().NbReadFrames-8 {
		t.Errorf("GStreamer recorded audio %+v (local copy: %d frames)", a, local.Audio().NbReadFrames)
	}
	t.Logf("GStreamer recorded %d video and %d AAC frames", v.NbReadFrames, a.NbReadFrames)
}

// TestRelayRTSPToRTSP relays avcat serve's demo path to another path of
// the same server (RTP forwarded untouched) and reads the new path.
func TestRelayRTSPToRTSP(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t)
	dst := srv.RTSP("relayed/demo")
	rel := startRelay(t, "--transport", "tcp", srv.RTSP("demo"), dst)
	sdp := testpeer.WaitRTSPDescribe(t, dst, nil, 20*time.Second)
	if !strings.Contains(sdp, "H264") || !strings.Contains(strings.ToLower(sdp), "mpeg4-generic") {
		t.Errorf("SDP of the relayed path:\n%s", sdp)
	}
	p := clitest.Run(t, 20*time.Second, "probe", dst)
	if p.Code != 0 || !strings.Contains(p.Stdout, "640x480") {
		t.Errorf("avcat probe %s:\n%s", dst, p)
	}
	r, err := readable(dst, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkAV(t, "ffprobe "+dst, r, 3*fps-fps-4, 3*fps+3)

	// The relayed path is also readable over RTMP (serve converts).
	out := filepath.Join(t.TempDir(), "rtmp.flv")
	pr := clitest.Run(t, 30*time.Second, "rtmp-pull", "--duration", "2s", "-o", out, srv.RTMP("relayed/demo"))
	if pr.Code != 0 {
		t.Fatalf("rtmp-pull of the relayed path:\n%s", pr)
	}
	checkAV(t, "rtmp-pull of the relayed path", testpeer.FFprobeStreams(t, "-count_frames", out), 2*fps-fps-2, int(pr.Took.Seconds()*fps)+3)
	rel.interrupt(t)
}

// TestRelayFanOut relays one source to several destinations, one of which
// is down: the others receive everything, and the relay goes on.
func TestRelayFanOut(t *testing.T) {
	t.Parallel()
	t.Run("file source, dead port", func(t *testing.T) {
		t.Parallel()
		// Two loops of the 4 s clip: 200 frames.
		dir := t.TempDir()
		ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(dir)})
		vid, aud := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.aac")
		gst := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.RecordH264AAC("/rec", vid, aud)}})
		dead := fmt.Sprintf("rtsp://127.0.0.1:%d/nobody", testpeer.FreePort(t))
		copyTS := filepath.Join(dir, "copy.ts")

		rel := startRelay(t, "--loop=2", "--retry-min", "100ms", "--retry-max", "400ms", media("h264_baseline_aac.mp4"),
			ng.URL("live", "cam"), gst.URL("/rec"), dead, copyTS)
		if code := rel.waitExit(t, 40*time.Second); code != 0 {
			t.Fatalf("relay: exit %d:\n%s", code, rel.Output())
		}
		took := time.Since(rel.start)
		checkClean(t, rel.Output())
		_ = gst.Process.Stop()
		// Paced in real time whatever the dead destination does.
		if took < 7500*time.Millisecond || took > 12*time.Second {
			t.Errorf("relaying 8 s of media took %v", took)
		}

		for _, f := range []struct{ what, file string }{
			{"local copy", copyTS},
			{"nginx recording", testpeer.NginxRecording(dir, "cam")},
		} {
			checkAV(t, f.what, testpeer.FFprobeStreams(t, "-count_frames", f.file), 200, 200)
			checkTimeline(t, f.what, f.file)
		}
		if v := testpeer.FFprobeStreams(t, "-count_frames", vid).Video(); v == nil || v.NbReadFrames < 197 || v.NbReadFrames > 200 {
			t.Errorf("GStreamer recorded %+v, want 200 frames", v)
		}

		evs := rel.events()
		if n := countEvents(evs, dead, "up"); n != 0 {
			t.Errorf("the dead destination was up %d times", n)
		}
		downs := 0
		for _, e := range evs {
			if e.Endpoint == dead && e.State == "down" {
				downs++
				if !strings.Contains(e.Error, "connection refused") {
					t.Errorf("dead destination error %q", e.Error)
				}
			}
		}
		// Retried with backoff (100 ms doubling to 400 ms) for 8 s.
		if downs < 5 {
			t.Errorf("the dead destination was tried %d times in %v; events %+v", downs, took, evs)
		}
		if !strings.Contains(rel.Output(), "127.0.0.1") || !strings.Contains(rel.Output(), "connection refused") {
			t.Errorf("the relay did not log the dead destination:\n%s", rel.Output())
		}
	})

	for _, scheme := range []string{"rtsp", "rtmp"} {
		t.Run("live source, unreachable "+scheme+" destination", func(t *testing.T) {
			t.Parallel()
			liveFanOutUnreachable(t, scheme)
		})
	}
}

// liveFanOutUnreachable relays a live source to nginx, avcat serve and a
// local copy, plus a destination whose SYNs go unanswered: connecting
// there hangs until the timeout. The others must not wait for it.
func liveFanOutUnreachable(t *testing.T, scheme string) {
	dir := t.TempDir()
	gst := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")}})
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(dir)})
	srv := clitest.StartServe(t)
	hole := scheme + "://" + testpeer.BlackholeAddr(t) + "/live/hole"
	copyTS := filepath.Join(dir, "copy.ts")
	rtspDst := srv.RTSP("fan/out")

	rel := startRelay(t, "--transport", "tcp", "--timeout", "5s", gst.URL("/live"), hole, ng.URL("live", "cam"), rtspDst, copyTS)
	// The others are up well before the unreachable one's 5 s connect
	// timeout.
	rel.waitEvents(t, ng.URL("live", "cam"), "up", 1, 30*time.Second)
	upAfter := time.Since(rel.start)
	t.Logf("nginx destination up %v after the relay started", upAfter.Round(time.Millisecond))
	if upAfter > 3*time.Second {
		t.Errorf("the nginx destination was up only %v after the start: the unreachable destination held it", upAfter.Round(time.Millisecond))
	}
	waitReadable(t, ng.URL("live", "cam"), 30*time.Second)
	// Read the avcat serve destination for 4 s while the hole is retried.
	pullOut := filepath.Join(dir, "serve.ts")
	pr := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "4s", "-o", pullOut, rtspDst)
	if pr.Code != 0 {
		t.Fatalf("pull of the avcat serve destination:\n%s", pr)
	}
	checkAV(t, "avcat serve destination", testpeer.FFprobeStreams(t, "-count_frames", pullOut), 4*fps-fps-4, int(pr.Took.Seconds()*fps)+3)
	_, step := checkTimeline(t, "avcat serve destination", pullOut)
	if step > 0.2 {
		t.Errorf("the avcat serve destination stalled: a %.3f s step between frames", step)
	}
	rel.interrupt(t)
	took := time.Since(rel.start)
	// The local copy has everything since the relay started, and nginx
	// recorded the same frames.
	local := testpeer.FFprobeStreams(t, "-count_frames", copyTS)
	// Up to ~6 s go to starting the live pipeline, the relay (a -race
	// build when the tests run with -race) and the source's first keyframe.
	checkAV(t, "local copy", local, int((took.Seconds()-6)*fps), int(took.Seconds()*fps)+3)
	if _, step := checkTimeline(t, "local copy", copyTS); step > 0.2 {
		t.Errorf("the local copy stalled: a %.3f s step between frames", step)
	}
	rec := testpeer.FFprobeStreams(t, "-count_frames", testpeer.NginxRecording(dir, "cam"))
	if lv, rv := local.Video().NbReadFrames, rec.Video(); rv == nil || rv.NbReadFrames < lv-3 || rv.NbReadFrames > lv+1 {
		t.Errorf("nginx recorded %+v video frames, the local copy %d", rv, lv)
	}
	if n := countEvents(rel.events(), "hole", "up"); n != 0 {
		t.Errorf("the unreachable destination was up %d times", n)
	}
}

// TestRelayResilience takes peers away in the middle of a relay and brings
// them back on the same port: the relay reconnects, the destinations resume
// within seconds, and their timestamps keep increasing.
func TestRelayResilience(t *testing.T) {
	t.Parallel()
	const resumeLimit = 15 * time.Second

	t.Run("RTSP source restarts", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		gst := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")}})
		ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(dir)})
		dst := ng.URL("live", "cam")
		copyTS := filepath.Join(dir, "copy.ts")
		rel := startRelay(t, "--transport", "tcp", "--retry-min", "200ms", "--retry-max", "1s", gst.URL("/live"), dst, copyTS)
		waitReadable(t, dst, 30*time.Second)

		_ = gst.Process.Stop()
		lost := time.Now()
		// The server stays away long enough for a reconnect to fail.
		rel.waitEvents(t, "source", "down", 2, 15*time.Second)
		gst = gst.Restart(t)
		_, resumed := waitReadable(t, dst, resumeLimit)
		outage := time.Since(lost)
		t.Logf("source back, destination readable %v after the restart (%v after the loss)", resumed.Round(time.Millisecond), outage.Round(time.Millisecond))
		rel.waitEvents(t, "source", "up", 1, 5*time.Second)
		r, err := readable(dst, 2)
		if err != nil {
			t.Fatal(err)
		}
		checkAV(t, "destination after the restart", r, 2*fps-fps-4, 2*fps+3)
		rel.interrupt(t)
		if !strings.Contains(rel.Output(), "source") {
			t.Errorf("the relay did not log the source's loss:\n%s", rel.Output())
		}

		for _, f := range []struct{ what, file string }{
			{"local copy", copyTS},
			{"nginx recording", testpeer.NginxRecording(dir, "cam")},
		} {
			pk, step := checkTimeline(t, f.what, f.file)
			// One gap about as long as the outage, and frames after it.
			v := pk.Of("video")
			gapAt := 0
			for i := 1; i < len(v); i++ {
				if v[i].Time()-v[i-1].Time() == step {
					gapAt = i
				}
			}
			if step > outage.Seconds()+2 {
				t.Errorf("%s: a %.3f s jump in the video for a %v outage", f.what, step, outage)
			}
			if after := len(v) - gapAt; after < 2*fps {
				t.Errorf("%s: %d video frames after the outage", f.what, after)
			}
			t.Logf("%s: %d video packets, largest step %.3f s (outage %v), %d after it", f.what, len(v), step, outage.Round(time.Millisecond), len(v)-gapAt)
		}
	})

	t.Run("RTMP destination restarts", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		gst := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")}})
		rec1, rec2 := filepath.Join(dir, "rec1"), filepath.Join(dir, "rec2")
		for _, d := range []string{rec1, rec2} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(rec1)})
		srv := clitest.StartServe(t)
		dst, other := ng.URL("live", "cam"), srv.RTSP("other/cam")
		copyTS := filepath.Join(dir, "copy.ts")
		rel := startRelay(t, "--transport", "tcp", "--retry-min", "200ms", "--retry-max", "1s", gst.URL("/live"), dst, other, copyTS)
		waitReadable(t, dst, 30*time.Second)
		testpeer.WaitRTSPDescribe(t, other, nil, 20*time.Second)

		// A reader of the other destination spans the restart.
		pullOut := filepath.Join(dir, "other.ts")
		var pr *clitest.Result
		pulled := make(chan struct{})
		go func() {
			defer close(pulled)
			pr = clitest.Run(t, 40*time.Second, "pull", "--transport", "tcp", "--duration", "8s", "-o", pullOut, other)
		}()

		_ = ng.Process.Stop()
		// nginx stays away long enough for a reconnect to fail.
		rel.waitEvents(t, dst, "down", 2, 15*time.Second)
		ng = testpeer.StartNginxRTMPOnPort(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(rec2)}, ng.Port)
		restarted := time.Now()
		_, resumed := waitReadable(t, dst, resumeLimit)
		t.Logf("nginx back, destination readable %v after the restart", resumed.Round(time.Millisecond))
		rel.waitEvents(t, dst, "up", 2, 5*time.Second)
		<-pulled
		if pr.Code != 0 {
			t.Fatalf("pull of the other destination:\n%s", pr)
		}
		rel.interrupt(t)
		t.Logf("stopped %v after the restart", time.Since(restarted).Round(time.Millisecond))

		checkAV(t, "other destination across the restart", testpeer.FFprobeStreams(t, "-count_frames", pullOut), 8*fps-fps-4, int(pr.Took.Seconds()*fps)+3)
		if _, step := checkTimeline(t, "other destination", pullOut); step > 0.2 {
			t.Errorf("the other destination stalled during the nginx restart: a %.3f s step", step)
		}
		if _, step := checkTimeline(t, "local copy", copyTS); step > 0.2 {
			t.Errorf("the local copy stalled during the nginx restart: a %.3f s step", step)
		}
		for _, rec := range []string{rec1, rec2} {
			f := testpeer.NginxRecording(rec, "cam")
			checkAV(t, "nginx recording "+filepath.Base(rec), testpeer.FFprobeStreams(t, "-count_frames", f), fps, 10000)
			checkTimeline(t, "nginx recording "+filepath.Base(rec), f)
		}
	})

	t.Run("RTMP source restarts", func(t *testing.T) {
		t.Parallel()
		// The source is nginx fed by ffmpeg; nginx and its publisher go
		// away and come back on the same port.
		ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
		src := ng.URL("live", "in")
		pub := testpeer.FFmpegPublishRTMP(t, media("h264_aac.flv"), src, true)
		testpeer.WaitRTMPStream(t, src)
		srv := clitest.StartServe(t)
		dst := srv.RTSP("from/rtmp")
		copyTS := filepath.Join(t.TempDir(), "copy.ts")
		rel := startRelay(t, "--retry-min", "200ms", "--retry-max", "1s", src, dst, copyTS)
		waitReadable(t, dst, 30*time.Second)

		_ = pub.Stop()
		_ = ng.Process.Stop()
		lost := time.Now()
		// nginx stays away long enough for a reconnect to fail.
		rel.waitEvents(t, "source", "down", 2, 15*time.Second)
		ng = testpeer.StartNginxRTMPOnPort(t, testpeer.NginxOptions{}, ng.Port)
		testpeer.FFmpegPublishRTMP(t, media("h264_aac.flv"), src, true)
		rel.waitEvents(t, "source", "up", 1, resumeLimit)
		_, resumed := waitReadable(t, dst, resumeLimit)
		t.Logf("source back, destination readable %v later (%v after the loss)", resumed.Round(time.Millisecond), time.Since(lost).Round(time.Millisecond))
		rel.interrupt(t)
		checkTimeline(t, "local copy", copyTS)
	})
}

// TestRelayExtendedTimestamps relays an RTMP stream whose timestamps are
// above 2^24 ms to another RTMP stream: the relay publishes with extended
// timestamps from its first message, and a player reads a continuous,
// synchronized stream.
func TestRelayExtendedTimestamps(t *testing.T) {
	t.Parallel()
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxAbsoluteTimestamps})
	// 32 s starting at 16775 s: 2^24 ms (16777.216 s) is crossed 2.2 s in.
	// The stream must outlast the checks below on a slow (-race) run:
	// nginx never tells a player the stream ended, and rtmp-pull
	// --duration counts media, so a stream that ran dry would time out.
	clip := filepath.Join(t.TempDir(), "ext.flv")
	if r := testpeer.RunClient(t, time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-stream_loop", "7",
		"-i", media("h264_aac.flv"), "-c", "copy", "-output_ts_offset", "16775", "-y", clip); r.Code != 0 {
		t.Fatalf("make the clip:\n%s", r)
	}
	src, dst := ng.URL("live", "in"), ng.URL("live", "out")
	testpeer.StartClient(t, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-copyts", "-i", clip, "-c", "copy", "-f", "flv", src)
	testpeer.WaitRTMPStream(t, src)
	for {
		wire := testpeer.FFprobePackets(t, "-rw_timeout", "3000000", "-read_intervals", "%+#1", src)
		if len(wire) > 0 && wire[0].Time() > 16777.3 {
			break
		}
	}
	rel := startRelay(t, src, dst)
	testpeer.WaitRTMPStream(t, dst)
	wire := testpeer.FFprobePackets(t, "-rw_timeout", "3000000", "-read_intervals", "%+3", dst)
	if len(wire) == 0 || wire[0].Time() < 16777.216 {
		t.Fatalf("the relayed stream does not keep the source's timestamps: %+v", wire)
	}
	for _, kind := range []string{"video", "audio"} {
		if step, err := wire.Of(kind).CheckMonotonic(false); err != nil || step > 0.06 {
			t.Errorf("relayed %s on the wire: largest step %.3f s, %v", kind, step, err)
		}
	}
	v0, _ := wire.Of("video").Span()
	a0, _ := wire.Of("audio").Span()
	t.Logf("relayed stream on the wire: video from %.3f s, audio from %.3f s", v0, a0)

	out := filepath.Join(t.TempDir(), "out.flv")
	pr := clitest.Run(t, 30*time.Second, "rtmp-pull", "--duration", "3s", "-o", out, dst)
	if pr.Code != 0 {
		t.Fatalf("rtmp-pull of the relayed stream:\n%s", pr)
	}
	checkAV(t, "rtmp-pull of the relayed stream", testpeer.FFprobeStreams(t, "-count_frames", out), 3*fps-fps-2, int(pr.Took.Seconds()*fps)+3)
	pk, _ := checkTimeline(t, "rtmp-pull of the relayed stream", out)
	pv0, pv1 := pk.Of("video").Span()
	pa0, pa1 := pk.Of("audio").Span()
	if math.Abs(pa0-pv0) > 1.0/fps || math.Abs(pa1-pv1) > 0.1 {
		t.Errorf("audio %.3f..%.3f s, video %.3f..%.3f s: out of sync", pa0, pa1, pv0, pv1)
	}
	rel.interrupt(t)
}

// TestRelayBadInput checks messages and exit codes when the relay cannot
// start.
func TestRelayBadInput(t *testing.T) {
	t.Parallel()
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	httpSrv := testpeer.HTTPServer(t)
	closed := testpeer.FreePort(t)
	nowhere := fmt.Sprintf("rtsp://127.0.0.1:%d/x", closed)
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unsupported codec in the source", []string{repoFile("pkg", "container", "mp4", "testdata", "only_mpeg4.mp4"), ng.URL("live", "k")}, 6, []string{"mp4v"}},
		{"source answers HTTP", []string{httpSrv.URL("rtmp", "live/k"), ng.URL("live", "k")}, 3, []string{"answered HTTP"}},
		{"source with a wrong app", []string{ng.URL("wrongapp", "k"), nowhere}, 3, []string{`"wrongapp"`}},
		{"source refuses connections", []string{nowhere, ng.URL("live", "k")}, 3, []string{"connection refused"}},
		{"destination scheme", []string{media("h264_aac.flv"), "http://127.0.0.1:1/x"}, 2, []string{`"http"`}},
		{"destination format", []string{media("h264_aac.flv"), filepath.Join(t.TempDir(), "out.avi")}, 2, []string{"avi"}},
		{"missing source file", []string{filepath.Join(t.TempDir(), "nope.mp4"), ng.URL("live", "k")}, 5, []string{"nope.mp4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, append([]string{"relay"}, c.args...)...)
			line := r.ErrLine()
			if r.Code != c.code || line == "" {
				t.Fatalf("exit %d, want %d with an error line:\n%s", r.Code, c.code, r)
			}
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("error line %q does not say %q", line, w)
				}
			}
			t.Logf("exit %d: %s", r.Code, line)
		})
	}
}
