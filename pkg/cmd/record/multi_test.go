package record_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/root"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/container/mp4"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/media"
)

// demuxed is what the project's MP4 demuxer reads from a recording.
type demuxed struct {
	width, height int
	videoFrames   int
	audioFrames   int
	firstKey      bool
	seconds       float64 // video DTS span plus one frame
}

func demuxMP4(t *testing.T, path string) demuxed {
	t.Helper()
	src := &mp4.Source{Path: path}
	desc, err := src.Open(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer src.Close()
	var d demuxed
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if h, ok := f.(*format.H264); ok {
				var sps h264.SPS
				if err := sps.Unmarshal(h.SPS); err != nil {
					t.Fatalf("%s: SPS: %v", path, err)
				}
				d.width, d.height = sps.Width(), sps.Height()
			}
		}
	}
	var first, last int64
	var clock int
	err = src.Run(context.Background(), func(u *media.Unit) {
		if !media.IsVideo(u.Format) {
			d.audioFrames++
			return
		}
		if d.videoFrames == 0 {
			first, d.firstKey, clock = u.DTS, u.Key, u.Format.ClockRate()
		}
		last = u.DTS
		d.videoFrames++
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.videoFrames > 0 {
		d.seconds = float64(last-first)/float64(clock) + 1.0/fps
	}
	return d
}

// ffprobeIfPresent checks a recording with ffprobe when it is installed
// (required with AVCAT_REQUIRE_PEERS=1).
func ffprobeIfPresent(t *testing.T, path string, frames int) {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil && os.Getenv(testpeer.EnvRequirePeers) != "1" {
		t.Logf("ffprobe not installed: %s checked with avcat's demuxer only", filepath.Base(path))
		return
	}
	testpeer.Require(t, testpeer.PeerFFprobe)
	r := testpeer.FFprobeStreams(t, "-count_frames", path)
	v, a := r.Video(), r.Audio()
	if v == nil || a == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 480 || a.CodecName != "aac" {
		t.Errorf("%s: ffprobe sees %+v, want h264 640x480 and aac", path, r.Streams)
		return
	}
	if v.NbReadFrames != frames {
		t.Errorf("%s: ffprobe decodes %d video frames, avcat's demuxer reads %d", path, v.NbReadFrames, frames)
	}
}

// TestRecordManySources records three in-process avcat servers in one
// record process; one server dies mid-run. The other two files are
// complete (4 s from the first keyframe), the dead source's file is valid
// up to where it died, stderr names the dead source on one line, the exit
// code is its code (3, network), and every --stats-json event but the
// run's last is tagged with its source.
func TestRecordManySources(t *testing.T) {
	t.Parallel()
	clip := testpeer.MediaFile(t, "h264_baseline_aac.mp4")
	srvs := []*clitest.Serve{
		clitest.StartServe(t, "--file", "cam="+clip),
		clitest.StartServe(t, "--file", "cam="+clip),
		clitest.StartServe(t, "--file", "cam="+clip),
	}
	dir := t.TempDir()
	var urls, files []string
	for _, s := range srvs {
		u := s.RTSP("cam")
		urls = append(urls, u)
		files = append(files, filepath.Join(dir, fmt.Sprintf("127.0.0.1_%d", s.RTSPPort), "cam_1.mp4"))
	}
	// Two sources by argument, the third from a --sources file.
	list := filepath.Join(dir, "cams.txt")
	if err := os.WriteFile(list, []byte("# the dying one\n"+urls[2]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stats := filepath.Join(dir, "stats.ndjson")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan *clitest.Result, 1)
	go func() {
		done <- clitest.RunContext(ctx, "record", "--transport", "tcp", "--duration", "4s", "--reconnect=false",
			"--stats-json", stats, "-o", filepath.Join(dir, "%{host}", "cam_1.mp4"), "--sources", list, urls[0], urls[1])
	}()
	// Kill the third server once its file holds media.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if st, err := os.Stat(files[2]); err == nil && st.Size() > 20_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no media after 20 s", files[2])
		}
		select {
		case r := <-done:
			t.Fatalf("record ended early:\n%s", r)
		case <-time.After(50 * time.Millisecond):
		}
	}
	srvs[2].Stop()
	r := <-done
	t.Logf("record: exit %d after %v\n%s", r.Code, r.Took.Round(time.Millisecond), r.Stderr)
	if r.Code != 3 {
		t.Errorf("exit %d, want 3 (the dead source's: network)", r.Code)
	}
	var failed []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.Contains(l, "failed: ") && strings.HasPrefix(l, "avcat: source ") {
			failed = append(failed, l)
		}
	}
	if want := "avcat: source 3 (" + urls[2] + "): failed: "; len(failed) != 1 || !strings.HasPrefix(failed[0], want) {
		t.Errorf("failed-source lines %q, want one starting %q", failed, want)
	}
	if strings.Contains(r.Stderr, "\r") {
		t.Error("stderr is not a terminal, but holds a live status line")
	}
	if !strings.Contains(r.ErrLine(), "1 of 3 sources failed") {
		t.Errorf("error line %q", r.ErrLine())
	}
	// Sources 1 and 2 (arguments) ran to --duration; 3 (the list) died.
	for i, f := range files {
		d := demuxMP4(t, f)
		t.Logf("%s: %dx%d, %d video frames (first key %v), %d audio frames, %.2f s", f[len(dir)+1:], d.width, d.height, d.videoFrames, d.firstKey, d.audioFrames, d.seconds)
		if d.width != 640 || d.height != 480 || !d.firstKey || d.audioFrames == 0 {
			t.Errorf("%s: %+v, want 640x480 from a keyframe, with audio", f, d)
		}
		switch i {
		case 2:
			if d.videoFrames < 1 || d.videoFrames >= 100 {
				t.Errorf("%s: %d video frames, want some, fewer than 100", f, d.videoFrames)
			}
		default:
			if d.videoFrames != 100 || d.seconds < 3.99 || d.seconds > 4.01 {
				t.Errorf("%s: %d video frames over %.3f s, want 100 over 4 s", f, d.videoFrames, d.seconds)
			}
		}
		ffprobeIfPresent(t, f, d.videoFrames)
	}
	// Every event but the last is tagged with one of the sources; each
	// source wrote its segment and its end.
	fh, err := os.Open(stats)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	type event struct {
		Event  string `json:"event"`
		Source string `json:"source"`
		Files  int    `json:"files"`
		Error  string `json:"error"`
	}
	var evs []event
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	last := evs[len(evs)-1]
	if last.Event != "end" || last.Source != "" || last.Files != 3 || !strings.Contains(last.Error, "1 of 3") {
		t.Errorf("last event %+v, want the run's end: 3 files, 1 of 3 failed", last)
	}
	seen := map[string]map[string]int{}
	for _, e := range evs[:len(evs)-1] {
		if seen[e.Source] == nil {
			seen[e.Source] = map[string]int{}
		}
		seen[e.Source][e.Event]++
		if e.Event == "end" && (e.Source == urls[2]) != (e.Error != "") {
			t.Errorf("end of %s: error %q", e.Source, e.Error)
		}
	}
	for _, u := range urls {
		if seen[u]["segment"] != 1 || seen[u]["end"] != 1 || seen[u]["connection_end"] != 1 {
			t.Errorf("events of %s: %v, want one segment, connection_end and end", u, seen[u])
		}
	}
	if len(seen) != len(urls) {
		t.Errorf("events tagged %d ways, want %d: %v", len(seen), len(urls), seen)
	}
}

// TestRecordSourcesCollide: with several sources, a template that names
// them all alike is a usage error (exit 2) before anything connects, and
// the error names the sources without their passwords; the list may come
// from stdin.
func TestRecordSourcesCollide(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := strings.NewReader("# cams\nrtsp://admin:hunter2@127.0.0.1:1/a\nrtsp://127.0.0.1:2/a\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := clitest.RunStdin(ctx, in, "record", "-o", filepath.Join(dir, "%{path}-%Y.mp4"), "--sources", "-")
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.Code, r)
	}
	if !strings.Contains(r.ErrLine(), "gives sources 1 and 2") || strings.Contains(r.Stderr, "hunter2") {
		t.Fatalf("error line %q: want it to name sources 1 and 2, without the password", r.ErrLine())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left files: %v", ents)
	}
}

// TestRecordSourceDownAtStop: with reconnect on, a source whose server
// died is retried while the others record; when the run is interrupted
// it is still down, and that is a failure named on stderr (exit 3), while
// the live sources' files are complete.
func TestRecordSourceDownAtStop(t *testing.T) {
	t.Parallel()
	clip := testpeer.MediaFile(t, "h264_baseline_aac.mp4")
	up, dies := clitest.StartServe(t, "--file", "cam="+clip), clitest.StartServe(t, "--file", "cam="+clip)
	dir := t.TempDir()
	stats := filepath.Join(dir, "stats.ndjson")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan *clitest.Result, 1)
	go func() {
		done <- clitest.RunContext(run, "record", "--transport", "tcp", "--retry-min", "100ms", "--retry-max", "200ms",
			"--stats-json", stats, "-o", filepath.Join(dir, "cam%{index}.mp4"), up.RTSP("cam"), dies.RTSP("cam"))
	}()
	waitEvent := func(event, source string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			b, _ := os.ReadFile(stats)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, `"event":"`+event+`"`) && strings.Contains(l, `"source":"`+source+`"`) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s event of %s after 20 s:\n%s", event, source, b)
			}
			select {
			case r := <-done:
				t.Fatalf("record ended early:\n%s", r)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitEvent("stats", dies.RTSP("cam"))
	dies.Stop()
	waitEvent("reconnect", dies.RTSP("cam"))
	waitEvent("stats", up.RTSP("cam")) // the live source still records
	stop()
	r := <-done
	t.Logf("record: exit %d\n%s", r.Code, r.Stderr)
	if r.Code != 3 {
		t.Errorf("exit %d, want 3", r.Code)
	}
	if want := "avcat: source 2 (" + dies.RTSP("cam") + "): failed: down when the run stopped"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr lacks %q", want)
	}
	if strings.Contains(r.Stderr, "source 1 ("+up.RTSP("cam")+"): failed") {
		t.Error("the live source is reported failed")
	}
	for _, f := range []string{"cam1.mp4", "cam2.mp4"} {
		d := demuxMP4(t, filepath.Join(dir, f))
		if d.videoFrames == 0 || !d.firstKey || d.width != 640 {
			t.Errorf("%s: %+v", f, d)
		}
		ffprobeIfPresent(t, filepath.Join(dir, f), d.videoFrames)
	}
}

// TestRecordSourcesStatusLine: on a terminal, several sources share one
// live line (their sums and how many are up), with no line or summary
// per connection.
func TestRecordSourcesStatusLine(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--file", "a="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"), "--file", "b="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	dir := t.TempDir()
	ios, _, _, errOut := iostreams.Test()
	ios.SetStderrTTY(true)
	cmd := root.NewCmdRoot(cmdutil.NewFactory(ios), "test")
	cmd.SetArgs([]string{"record", "--duration", "2s", "-o", filepath.Join(dir, "%{path}.mp4"), srv.RTSP("a"), srv.RTSP("b")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cmd.ExecuteContextC(ctx); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	out := errOut.String()
	if !strings.Contains(out, "2/2 sources up") {
		t.Errorf("no shared live line:\n%q", out)
	}
	if strings.Contains(out, "recorded 2") || strings.Contains(out, "(duration reached)") {
		t.Errorf("a per-connection summary on the terminal:\n%q", out)
	}
	for _, f := range []string{"a.mp4", "b.mp4"} {
		if d := demuxMP4(t, filepath.Join(dir, f)); d.videoFrames != 50 {
			t.Errorf("%s: %d video frames, want 50", f, d.videoFrames)
		}
	}
}
