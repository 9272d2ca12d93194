package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestMain sets -test.parallel (unless given): these tests wait on
// real-time peers, so GOMAXPROCS-many at a time would serialize them for
// nothing. It removes the avcat binary built for the signal tests.
func TestMain(m *testing.M) {
	clitest.RaiseParallel(6, 3)
	code := m.Run()
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

const (
	fps    = 25
	aacFPS = 48000.0 / 1024
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// buildAvcat builds cmd/avcat once per run (with -race when this test
// binary has it, so that the build reuses the compiled packages), for the
// tests that signal a real process.
func buildAvcat(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "avcat-record-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "avcat")
		args := []string{"build", "-o", buildPath}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args = append(args, "-race")
				}
			}
		}
		args = append(args, "github.com/avcat/avcat/cmd/avcat")
		out, err := exec.Command(goTool, args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath // removed by TestMain
}

// startRecord runs the avcat binary with `record args…` in dir as a
// background process (killed by PID in Cleanup).
func startRecord(t *testing.T, dir string, args ...string) *testpeer.Process {
	t.Helper()
	cmd := exec.Command(buildAvcat(t), append([]string{"record"}, args...)...)
	cmd.Dir = dir
	return testpeer.StartCmd(t, cmd, testpeer.ProcOptions{})
}

// sleepUntil sleeps until t (media to record: not a readiness wait).
func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// spanFrames bounds the video frames of a recording that ran for span
// (from the start of the process to its end, or to the signal): the
// start costs up to 2 s (a fresh process, with the race detector, and the
// server building the client's pipeline before the first keyframe), and
// lost is how much the ending may cut (a flush period for SIGKILL).
func spanFrames(span, lost time.Duration) (lo, hi int) {
	lo = int((span-2*time.Second-lost).Seconds()*fps) - 3
	hi = int(span.Seconds()*fps) + 3
	return max(lo, 1), hi
}

// sinceFileFrames is the fewest video frames a recording holds whose file
// appeared at appeared and whose source stopped at end: the file appears
// with the first keyframe, so a slow start (a loaded machine) does not
// count against it; the slack covers the 50 ms polling of waitFile.
func sinceFileFrames(appeared, end time.Time) int {
	return max(int(end.Sub(appeared).Seconds()*fps)-5, 1)
}

// waitFile polls until path exists with at least size bytes, failing if p
// exits first.
func waitFile(t *testing.T, path string, size int64, p *testpeer.Process) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := os.Stat(path); err == nil && st.Size() >= size {
			return
		}
		select {
		case <-p.Exited():
			t.Fatalf("%s exited before %s had %d bytes:\n%s", p, path, size, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not %d bytes after 20 s\n%s", path, size, p.Output())
		}
	}
}

// waitExit waits up to limit for p to exit by itself and returns its exit
// code.
func waitExit(t *testing.T, p *testpeer.Process, limit time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	err := p.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s still runs after %v:\n%s", p, limit, p.Output())
	}
	return p.ExitCode()
}

// startLive starts a GstRtspServer with the live H.264+AAC mount /live,
// one media per client. A shared media would serve every reader of the
// group from one encoder, but GstRtspServer 1.22 disturbs the readers of a
// shared media whenever another one joins: their RTP timestamps jump back
// 0.4 s (10 frames are sent again) and packets are lost, which no reader
// can turn into a clean file.
func startLive(t *testing.T) *testpeer.GstRTSPServer {
	t.Helper()
	m := testpeer.LiveH264AAC("/live")
	m.Shared = false
	return testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{m}})
}

// fileCheck is what one recorded file holds, as measured.
type fileCheck struct {
	videoFrames int
	audioFrames int
	duration    float64
}

// checkRecording asserts that path is a complete recording of the live
// source: H.264 640x480 from a keyframe with its parameter sets, AAC 48 kHz
// stereo, monotonic timestamps, video frames in [minFrames, maxFrames], and
// that ffmpeg decodes it without an error.
func checkRecording(t *testing.T, path string, minFrames, maxFrames int) fileCheck {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r := testpeer.FFprobeStreams(t, "-count_frames", path)
	v, a := r.Video(), r.Audio()
	if v == nil || a == nil {
		t.Fatalf("%s: want video and audio, got %+v", filepath.Base(path), r.Streams)
	}
	if v.CodecName != "h264" || v.Width != 640 || v.Height != 480 {
		t.Errorf("%s: video %s %dx%d, want h264 640x480", filepath.Base(path), v.CodecName, v.Width, v.Height)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("%s: audio %s %d Hz %d ch, want aac 48000 Hz 2 ch", filepath.Base(path), a.CodecName, a.SampleRate, a.Channels)
	}
	if v.NbReadFrames < minFrames || v.NbReadFrames > maxFrames {
		t.Errorf("%s: %d video frames, want %d..%d", filepath.Base(path), v.NbReadFrames, minFrames, maxFrames)
	}
	// The audio covers the video's span, give or take a few frames.
	lo, hi := int(float64(v.NbReadFrames)/fps*aacFPS)-12, int(float64(v.NbReadFrames)/fps*aacFPS)+12
	if a.NbReadFrames < lo || a.NbReadFrames > hi {
		t.Errorf("%s: %d audio frames for %d video frames, want %d..%d", filepath.Base(path), a.NbReadFrames, v.NbReadFrames, lo, hi)
	}
	frames := testpeer.ProbeVideoFrames(t, path)
	if len(frames) == 0 || frames[0].KeyFrame != 1 {
		t.Errorf("%s does not start with a keyframe", filepath.Base(path))
	}
	if errs := testpeer.DecodeErrors(t, path); errs != "" {
		t.Errorf("ffmpeg -v error -i %s -f null - printed:\n%s", filepath.Base(path), errs)
	}
	testpeer.CheckMonotonic(t, path)
	t.Logf("%s: %d bytes, %s, h264 %d frames (first key), aac %d frames, %.2f s",
		filepath.Base(path), st.Size(), r.Format.FormatName, v.NbReadFrames, a.NbReadFrames, r.Format.Duration)
	return fileCheck{videoFrames: v.NbReadFrames, audioFrames: a.NbReadFrames, duration: r.Format.Duration}
}

// checkSegments checks each file of a segmented recording and that they
// roll over at the right times: the boundaries lie on the grid origin +
// k*seg from the first unit, and each file ends at the first keyframe (one a
// second) after its boundary, so the frames up to the end of file k number
// about k*seg*fps, up to a GOP more (or less: the origin may be an audio
// unit before the first keyframe).
func checkSegments(t *testing.T, paths []string, seg time.Duration) {
	t.Helper()
	segFrames := int(seg.Seconds() * fps)
	cum := 0
	var counts []int
	for i, p := range paths {
		hi := segFrames + fps + 3
		got := checkRecording(t, p, 1, hi)
		counts = append(counts, got.videoFrames)
		cum += got.videoFrames
		if i == len(paths)-1 {
			break
		}
		k := i + 1
		if lo, hi := k*segFrames-fps-3, k*segFrames+fps+3; cum < lo || cum > hi {
			t.Errorf("the first %d files hold %d frames, want %d..%d (a cut at the first keyframe after %v)", k, cum, lo, hi, time.Duration(k)*seg)
		}
	}
	t.Logf("frames per file: %v", counts)
}

// hasParameterSets reports whether an MPEG-TS file carries H.264 SPS and
// PPS in-band (Annex-B NAL types 7 and 8).
func hasParameterSets(b []byte) bool {
	return bytes.Contains(b, []byte{0, 0, 1, 0x67}) && bytes.Contains(b, []byte{0, 0, 1, 0x68})
}

// listFiles returns the regular files under dir, relative, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestRecordLive records the live H.264+AAC source of one
// GstRtspServer in every way that does not stop the server: segmenting,
// no-overwrite, --duration, signals and SIGKILL.
func TestRecordLive(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := startLive(t)
	for _, g := range []struct {
		name string
		run  func(*testing.T, *testpeer.GstRTSPServer)
	}{
		{"segments", recordSegments},
		{"no-overwrite", recordNoOverwrite},
		{"duration", recordDuration},
		{"signal", recordSignals},
		{"kill9", recordKill9},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, srv)
		})
	}
}

// recordSegments records the live source for 7 s in 2 s segments named
// by a strftime template, in each format: 3–4 files, each starting with a
// keyframe and carrying the parameter sets, named by the template, cut at
// the segment boundaries.
func recordSegments(t *testing.T, srv *testpeer.GstRTSPServer) {
	for _, f := range []struct {
		name, ext string
		args      []string
	}{
		{"mp4", "mp4", nil},
		{"fmp4", "mp4", []string{"--format", "fmp4"}},
		{"ts", "ts", nil},
	} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tmpl := filepath.Join(dir, "cam", "%Y-%m-%d", "%H-%M-%S."+f.ext)
			before := time.Now()
			r := clitest.Run(t, 40*time.Second, append(append([]string{"record", "--transport", "tcp", "--segment", "2s", "--duration", "7s", "-o", tmpl}, f.args...), srv.URL("/live"))...)
			after := time.Now()
			if r.Code != 0 {
				t.Fatalf("record: exit %d, want 0 at --duration\n%s", r.Code, r)
			}
			files := listFiles(t, dir)
			if len(files) < 3 || len(files) > 4 {
				t.Fatalf("%d files, want 3-4: %v\n%s", len(files), files, r)
			}
			name := regexp.MustCompile(`^cam/(\d{4}-\d{2}-\d{2})/(\d{2}-\d{2}-\d{2})\.` + f.ext + `$`)
			var prev time.Time
			for i, rel := range files {
				m := name.FindStringSubmatch(rel)
				if m == nil {
					t.Fatalf("%s does not follow cam/%%Y-%%m-%%d/%%H-%%M-%%S.%s", rel, f.ext)
				}
				at, err := time.ParseInLocation("2006-01-02 15-04-05", m[1]+" "+m[2], time.Local)
				if err != nil {
					t.Fatal(err)
				}
				if at.Before(before.Truncate(time.Second)) || at.After(after) {
					t.Errorf("%s is named for %v, outside the run %v..%v", rel, at, before, after)
				}
				if i > 0 {
					// Boundaries every 2 s, at the next keyframe (one a
					// second); names are wall-clock seconds, and the first
					// file is named before PLAY.
					if d := at.Sub(prev); d < time.Second || d > 4*time.Second {
						t.Errorf("%s starts %v after the previous file, want about 2 s", rel, d)
					}
				}
				prev = at
				if !strings.Contains(r.Stderr, "recorded "+filepath.Join(dir, rel)) {
					t.Errorf("no \"recorded %s\" line on stderr", rel)
				}
				path := filepath.Join(dir, rel)
				if f.name == "ts" {
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if !hasParameterSets(b) {
						t.Errorf("%s carries no in-band SPS/PPS", rel)
					}
				}
			}
			paths := make([]string, len(files))
			for i, rel := range files {
				paths[i] = filepath.Join(dir, rel)
			}
			checkSegments(t, paths, 2*time.Second)
			t.Logf("%d files: %v", len(files), files)
		})
	}
}

// recordNoOverwrite: a segmented template without time directives
// numbers its files (_00000, _00001…), and a file that exists is never
// touched.
func recordNoOverwrite(t *testing.T, srv *testpeer.GstRTSPServer) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rec"), 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "rec", "out.mp4")
	if err := os.WriteFile(keep, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	hookLog := filepath.Join(t.TempDir(), "finished.txt")
	r := clitest.Run(t, 40*time.Second, "record", "--transport", "tcp", "--segment", "2s", "--duration", "5s",
		"--on-segment", "echo >> "+hookLog, "-o", filepath.Join(dir, "rec", "out.mp4"), srv.URL("/live"))
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r)
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep me" {
		t.Fatalf("the existing rec/out.mp4 was overwritten (%d bytes)", len(b))
	}
	files := listFiles(t, dir)
	// 5 s in 2 s segments, numbered as the template has no time
	// directive: out_00000, out_00001 and (often) a short out_00002.
	n := len(files) - 1
	if n < 2 || n > 3 {
		t.Fatalf("files %v, want rec/out.mp4 plus out_00000.mp4, out_00001.mp4 (and out_00002.mp4)", files)
	}
	want := []string{"rec/out.mp4"}
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("rec/out_%05d.mp4", i))
	}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", files, want)
	}
	var paths []string
	for i := 0; i < n; i++ {
		paths = append(paths, filepath.Join(dir, "rec", fmt.Sprintf("out_%05d.mp4", i)))
	}
	checkSegments(t, paths, 2*time.Second)
	t.Logf("files: %v", files)

	// --on-segment ran once per finished file, with its path (the hooks
	// run in the background: poll until they are all done).
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(hookLog)
		got = strings.Fields(string(b))
		if len(got) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(paths, " ") {
		t.Errorf("--on-segment saw %v, want %v", got, paths)
	}
}

// recordDuration: --duration stops a single-file recording with exit 0
// and a complete file of about that length.
func recordDuration(t *testing.T, srv *testpeer.GstRTSPServer) {
	for _, f := range []struct{ name, file, format string }{{"mp4", "out.mp4", ""}, {"fmp4", "out.mp4", "fmp4"}, {"ts", "out.ts", ""}} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), f.file)
			args := []string{"record", "--transport", "udp", "--duration", "3s", "-o", out}
			if f.format != "" {
				args = append(args, "--format", f.format)
			}
			r := clitest.Run(t, 30*time.Second, append(args, srv.URL("/live"))...)
			if r.Code != 0 || r.Took > 10*time.Second {
				t.Fatalf("exit %d after %v, want 0 at 3 s\n%s", r.Code, r.Took, r)
			}
			checkRecording(t, out, 3*fps-fps-8, 3*fps+2)
		})
	}
}

// recordSignals signals a real avcat process mid-record: SIGINT and
// SIGTERM end it with exit 0 and a complete file (plain MP4: with its moov).
func recordSignals(t *testing.T, srv *testpeer.GstRTSPServer) {
	for _, c := range []struct {
		sig    syscall.Signal
		file   string
		format string
	}{
		{syscall.SIGINT, "out.mp4", ""},
		{syscall.SIGTERM, "out.mp4", ""},
		{syscall.SIGINT, "out.ts", ""},
		{syscall.SIGTERM, "frag.mp4", "fmp4"},
	} {
		t.Run(c.sig.String()+"/"+c.file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"--transport", "tcp", "-o", c.file}
			if c.format != "" {
				args = append(args, "--format", c.format)
			}
			start := time.Now()
			p := startRecord(t, dir, append(args, srv.URL("/live"))...)
			out := filepath.Join(dir, c.file)
			waitFile(t, out, 1, p) // it runs (the file may appear only at the first flush)
			sleepUntil(start.Add(4 * time.Second))
			if err := syscall.Kill(p.Pid(), c.sig); err != nil {
				t.Fatal(err)
			}
			span := time.Since(start)
			code := waitExit(t, p, 15*time.Second)
			if code != 0 {
				t.Fatalf("exit %d after %v, want 0:\n%s", code, c.sig, p.Output())
			}
			lo, hi := spanFrames(span, 0)
			got := checkRecording(t, out, lo, hi)
			if c.file == "out.mp4" {
				checkMoov(t, out)
			}
			t.Logf("%v %v after the start: %d frames (%d..%d)", c.sig, span.Round(time.Millisecond), got.videoFrames, lo, hi)
		})
	}
}

// checkMoov asserts that a plain MP4 has its moov (finalized), after mdat.
func checkMoov(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var boxes []string
	for pos := 0; pos+8 <= len(b); {
		size := int(uint32(b[pos])<<24 | uint32(b[pos+1])<<16 | uint32(b[pos+2])<<8 | uint32(b[pos+3]))
		typ := string(b[pos+4 : pos+8])
		if size == 1 && pos+16 <= len(b) {
			size = int(uint64(b[pos+8])<<56 | uint64(b[pos+9])<<48 | uint64(b[pos+10])<<40 | uint64(b[pos+11])<<32 |
				uint64(b[pos+12])<<24 | uint64(b[pos+13])<<16 | uint64(b[pos+14])<<8 | uint64(b[pos+15]))
		}
		if size < 8 || pos+size > len(b) {
			t.Fatalf("%s: box %q at %d has a bad size %d (file %d bytes); boxes so far %v", filepath.Base(path), typ, pos, size, len(b), boxes)
		}
		boxes = append(boxes, typ)
		pos += size
	}
	has := strings.Join(boxes, " ")
	if !strings.Contains(has, "moov") || !strings.Contains(has, "mdat") {
		t.Fatalf("%s: top-level boxes %v, want moov and mdat", filepath.Base(path), boxes)
	}
}

// recordKill9: MP4 (hybrid: fragments until the close), fMP4 and
// MPEG-TS are flushed every second, so a recording killed with SIGKILL is
// readable up to about the last second.
func recordKill9(t *testing.T, srv *testpeer.GstRTSPServer) {
	for _, c := range []struct{ file, format string }{{"out.mp4", ""}, {"frag.mp4", "fmp4"}, {"out.ts", ""}} {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"--transport", "tcp", "-o", c.file}
			if c.format != "" {
				args = append(args, "--format", c.format)
			}
			start := time.Now()
			p := startRecord(t, dir, append(args, srv.URL("/live"))...)
			out := filepath.Join(dir, c.file)
			waitFile(t, out, 1, p)
			sleepUntil(start.Add(4500 * time.Millisecond))
			if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			span := time.Since(start)
			waitExit(t, p, 10*time.Second)
			// At most about the last second (one flush period) is lost.
			lo, hi := spanFrames(span, time.Second)
			got := checkRecording(t, out, lo, hi)
			t.Logf("killed %v after the start: %d frames readable (%d..%d)", span.Round(time.Millisecond), got.videoFrames, lo, hi)
		})
	}
}

// killServer ends a GstRtspServer at once (SIGKILL: no TEARDOWN, no BYE,
// its connections reset), like a camera losing power.
func killServer(t *testing.T, srv *testpeer.GstRTSPServer) {
	t.Helper()
	if err := syscall.Kill(srv.Process.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Process.Stop()
}

// TestRecordSourceLost stops the GstRtspServer mid-record. With
// --reconnect=false record exits with the network exit code (3), and the
// file written so far is complete.
func TestRecordSourceLost(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			srv := startLive(t)
			dir := t.TempDir()
			start := time.Now()
			p := startRecord(t, dir, "--transport", tr, "--reconnect=false", "-o", "out.mp4", srv.URL("/live"))
			out := filepath.Join(dir, "out.mp4")
			waitFile(t, out, 1, p)
			appeared := time.Now()
			sleepUntil(start.Add(4 * time.Second))
			killServer(t, srv)
			stopped := time.Now()
			span := stopped.Sub(start)
			code := waitExit(t, p, 20*time.Second)
			t.Logf("record exited %d, %v after the server stopped:\n%s", code, time.Since(stopped).Round(time.Millisecond), p.Output())
			if code != 3 {
				t.Errorf("exit %d, want 3 (network: the source dropped)", code)
			}
			if !strings.Contains(p.Output(), "avcat: error:") {
				t.Errorf("no error line for the lost source:\n%s", p.Output())
			}
			lo, hi := spanFrames(span, 0)
			checkRecording(t, out, min(lo, sinceFileFrames(appeared, stopped)), hi)
			checkMoov(t, out)
		})
	}
}

// TestRecordReconnect stops the GstRtspServer mid-record and starts a new
// one on the same port: record (reconnect on by default) reconnects and
// writes a new file, never overwriting the first; both are complete.
func TestRecordReconnect(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := startLive(t)
	dir := t.TempDir()
	start := time.Now()
	p := startRecord(t, dir, "--transport", "tcp", "-o", "rec/out.mp4", srv.URL("/live"))
	first, second := filepath.Join(dir, "rec", "out.mp4"), filepath.Join(dir, "rec", "out_00001.mp4")
	waitFile(t, first, 1, p)
	appeared := time.Now()
	sleepUntil(start.Add(4 * time.Second))
	killServer(t, srv)
	killed := time.Now()
	restarted := srv.Restart(t)
	if restarted.Port != srv.Port {
		t.Fatalf("restarted on port %d, not %d", restarted.Port, srv.Port)
	}
	// The new file appears once record has reconnected and written.
	waitFile(t, second, 1, p)
	t.Logf("out_00001.mp4 appeared %v after the kill", time.Since(killed).Round(time.Millisecond))
	sleepUntil(time.Now().Add(3 * time.Second))
	if err := syscall.Kill(p.Pid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	code := waitExit(t, p, 15*time.Second)
	t.Logf("record output:\n%s", p.Output())
	if code != 0 {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
	files := listFiles(t, dir)
	if len(files) != 2 || files[0] != "rec/out.mp4" || files[1] != "rec/out_00001.mp4" {
		t.Fatalf("files %v, want rec/out.mp4 and rec/out_00001.mp4 (sorting in time order)", files)
	}
	lo, hi := spanFrames(killed.Sub(start), 0)
	a := checkRecording(t, first, min(lo, sinceFileFrames(appeared, killed)), hi)
	// The second file runs from the reconnect (after the kill) to the
	// SIGINT, at least the 3 s after it appeared less a flush period.
	_, hi2 := spanFrames(end.Sub(killed), 0)
	b := checkRecording(t, second, 2*fps-fps-3, hi2)
	checkMoov(t, first)
	checkMoov(t, second)
	if !strings.Contains(p.Output(), "reconnecting") {
		t.Errorf("no reconnect message on stderr")
	}
	t.Logf("before the restart %d frames, after %d", a.videoFrames, b.videoFrames)
}

// TestRecordBadSource: a missing path, a refused connection and a source
// that dies before PLAY each end record with a clear one-line error and
// the right exit code, without retrying forever, and leave no broken file.
func TestRecordBadSource(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t)
	dies := testpeer.StartDescribeOnlyServer(t, testpeer.SDPH264AAC, "SETUP")
	diesAtPlay := testpeer.StartDescribeOnlyServer(t, testpeer.SDPH264AAC, "PLAY")
	closed := "rtsp://127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)) + "/cam"
	cases := []struct {
		name string
		url  string
		code int
		msg  string
	}{
		{"404", srv.RTSP("nope"), 5, "not found"},
		{"refused", closed, 3, "connection refused"},
		{"dies at SETUP", dies.URL("rtsp", "cam"), 3, "closed the connection"},
		{"dies at PLAY", diesAtPlay.URL("rtsp", "cam"), 3, "closed the connection"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := clitest.Run(t, 15*time.Second, "record", "--transport", "tcp", "--timeout", "3s", "-o", filepath.Join(dir, "out.mp4"), c.url)
			switch {
			case r.Took >= 15*time.Second:
				t.Errorf("record kept retrying a source that never worked, until the test canceled it after %v (exit %d, want %d naming %q); stderr:\n%s",
					r.Took.Round(time.Second), r.Code, c.code, c.msg, tail(r.Stderr, 4))
			case r.Code != c.code:
				t.Errorf("exit %d, want %d; stderr:\n%s", r.Code, c.code, tail(r.Stderr, 6))
			case !strings.Contains(r.ErrLine(), c.msg):
				t.Errorf("error line %q does not contain %q", r.ErrLine(), c.msg)
			}
			// Whatever is left must be a recording; a source that never
			// sent media should leave nothing.
			if left := listFiles(t, dir); len(left) > 0 {
				st, _ := os.Stat(filepath.Join(dir, left[0]))
				pr, err := testpeer.FFprobe(20*time.Second, filepath.Join(dir, left[0]))
				if err != nil || pr.Video() == nil {
					t.Errorf("left %d files behind (%s…), %s has %d bytes and no video stream (%v)",
						len(left), strings.Join(left[:min(3, len(left))], ", "), left[0], st.Size(), err)
				}
			}
			t.Logf("exit %d after %v: %s", r.Code, r.Took.Round(time.Millisecond), r.ErrLine())
		})
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
