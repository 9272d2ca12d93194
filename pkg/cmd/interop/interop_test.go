package interop_test

// The clips are 640x480, 25 fps, 4 s (100 frames), AAC 48 kHz stereo
// (testdata/media/README.md). Every peer runs on free ports of 127.0.0.1
// and is killed by PID in Cleanup.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

const (
	fps        = 25
	clipFrames = 100
	aacFPS     = 48000.0 / 1024
	// pullSecs is how long each pull/record/rtmp-pull runs.
	pullSecs = 3
)

func TestMain(m *testing.M) {
	clitest.RaiseParallel(4, 2)
	os.Exit(m.Run())
}

func media(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "media", name)
}

// input is a clip the push tests cover.
type input struct {
	file  string
	video string // ffprobe codec_name
	audio bool
}

// pushInputs are the inputs pkg/cmd/push covers.
var pushInputs = []input{
	{"h264_baseline_aac.mp4", "h264", true},
	{"h264_high_bframes_aac.mp4", "h264", true},
	{"h264_high_bframes_aac_nofaststart.mp4", "h264", true},
	{"h265_aac.mp4", "hevc", true},
	{"h264_aac.ts", "h264", true},
	{"h264_aac.flv", "h264", true},
	{"h264_baseline.h264", "h264", false},
}

// want bounds what a file or stream must hold.
type want struct {
	video                string
	audio                bool
	minFrames, maxFrames int
	minDur, maxDur       float64 // seconds of the container; 0 = unchecked
}

// whole is a complete clip.
func whole(in input) want {
	return want{video: in.video, audio: in.audio, minFrames: clipFrames, maxFrames: clipFrames, minDur: 3.9, maxDur: 4.2}
}

// timed is pullSecs of a live stream: --duration is media time, as ffmpeg's -t.
func timed() want {
	return want{video: "h264", audio: true, minFrames: pullSecs*fps - 12, maxFrames: pullSecs*fps + 12,
		minDur: pullSecs - 0.5, maxDur: pullSecs + 0.5}
}

// check runs ffprobe -count_frames on target (a file, or a live URL with
// bounding input args) and asserts codec, 640x480, frame counts, duration
// and AAC 48 kHz stereo.
func check(t *testing.T, label, target string, w want, args ...string) {
	t.Helper()
	r := testpeer.FFprobeStreams(t, append(append([]string{}, args...), "-count_frames", target)...)
	v, a := r.Video(), r.Audio()
	if v == nil {
		t.Errorf("%s: no video stream: %+v", label, r.Streams)
		return
	}
	if v.CodecName != w.video || v.Width != 640 || v.Height != 480 {
		t.Errorf("%s: video %s %dx%d, want %s 640x480", label, v.CodecName, v.Width, v.Height, w.video)
	}
	if v.NbReadFrames < w.minFrames || v.NbReadFrames > w.maxFrames {
		t.Errorf("%s: %d video frames, want %d..%d", label, v.NbReadFrames, w.minFrames, w.maxFrames)
	}
	if w.maxDur > 0 && (r.Format.Duration < w.minDur || r.Format.Duration > w.maxDur) {
		t.Errorf("%s: lasts %.3f s, want %.1f..%.1f", label, r.Format.Duration, w.minDur, w.maxDur)
	}
	summary := fmt.Sprintf("%s: %s %dx%d %d frames, %.3f s", label, v.CodecName, v.Width, v.Height, v.NbReadFrames, r.Format.Duration)
	switch {
	case w.audio && a == nil:
		t.Errorf("%s: no audio stream", label)
	case !w.audio && a != nil:
		t.Errorf("%s: unexpected audio %s", label, a.CodecName)
	case a != nil:
		if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
			t.Errorf("%s: audio %s %d Hz %d ch, want aac 48000 Hz 2 ch", label, a.CodecName, a.SampleRate, a.Channels)
		}
		lo := int(float64(w.minFrames)/fps*aacFPS) - 15
		if a.NbReadFrames < lo {
			t.Errorf("%s: %d AAC frames, want at least %d", label, a.NbReadFrames, lo)
		}
		summary += fmt.Sprintf("; aac %d frames", a.NbReadFrames)
	}
	t.Log(summary)
}

// liveArgs bound ffprobe on a live RTMP/RTSP URL to about secs of media.
func liveArgs(url string, secs int) []string {
	args := []string{"-read_intervals", fmt.Sprintf("%%+%d", secs)}
	if strings.HasPrefix(url, "rtsp") {
		return append(args, "-rtsp_transport", "tcp")
	}
	return append(args, "-rw_timeout", "5000000")
}

// run runs avcat and requires exit 0.
func run(t *testing.T, limit time.Duration, args ...string) *clitest.Result {
	t.Helper()
	r := clitest.Run(t, limit, args...)
	if r.Code != 0 {
		t.Fatalf("avcat %s:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// bg is avcat running in the background; Cleanup stops it like Ctrl-C.
type bg struct {
	args   []string
	cancel context.CancelFunc
	done   chan *clitest.Result
	res    *clitest.Result
}

func background(t *testing.T, args ...string) *bg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	b := &bg{args: args, cancel: cancel, done: make(chan *clitest.Result, 1)}
	go func() { b.done <- clitest.RunContext(ctx, args...) }()
	t.Cleanup(func() {
		if r := b.wait(); t.Failed() {
			t.Logf("avcat %s:\n%s", strings.Join(args, " "), r)
		}
	})
	return b
}

// wait stops the run (a no-op once it ended) and returns its result.
func (b *bg) wait() *clitest.Result {
	b.cancel()
	if b.res == nil {
		b.res = <-b.done
	}
	return b.res
}

// waitExit waits for the run to end by itself and requires exit 0.
func (b *bg) waitExit(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case b.res = <-b.done:
	case <-time.After(limit):
		t.Fatalf("avcat %s still running after %v", strings.Join(b.args, " "), limit)
	}
	if b.res.Code != 0 {
		t.Fatalf("avcat %s:\n%s", strings.Join(b.args, " "), b.res)
	}
}

// pushInto runs verb (push or rtmp-push) with in to dst and checks what
// the server recorded (recording waits for the closed file). The server's
// FLV recording of H.265 uses a codec ID ffprobe 5.1 cannot read, so for
// H.265 the input is pushed 3 times and the server's live output (live, an
// rtsp:// or rtmp:// URL) is probed while it plays.
func pushInto(t *testing.T, verb string, in input, dst string, recording func() string, live string) {
	t.Helper()
	if in.video != "hevc" {
		run(t, 60*time.Second, verb, "--speed", "2", media(in.file), dst)
		check(t, "server's recording", recording(), whole(in))
		return
	}
	b := background(t, verb, "--loop=3", media(in.file), dst)
	w := want{video: in.video, audio: in.audio, minFrames: 2*fps - 5, maxFrames: 3*fps + 5}
	if strings.HasPrefix(live, "rtsp") {
		testpeer.WaitRTSPDescribe(t, live, nil, 20*time.Second)
		check(t, "server's output "+live, live, w, liveArgs(live, 2)...)
	} else {
		// ffmpeg 5.1 has no enhanced RTMP: read it back with rtmp-pull.
		out := filepath.Join(t.TempDir(), "rx.mp4")
		var r *clitest.Result
		testpeer.Poll(t, 20*time.Second, func() error {
			r = clitest.Run(t, 30*time.Second, "rtmp-pull", "--duration", "2s", "-o", out, live)
			if r.Code != 0 {
				return fmt.Errorf("rtmp-pull: exit %d: %s", r.Code, r.ErrLine())
			}
			return nil
		})
		check(t, "server's output "+live+" (read by rtmp-pull)", out, w)
	}
	b.waitExit(t, 30*time.Second)
}

// pullCase is one reading verb; "OUT.ext" in args becomes the output file.
type pullCase struct {
	name string
	args []string
}

// pullCases are the reading verbs, each writing pullSecs of the stream to a
// file (rtsp may be "" for an RTMP-only server).
func pullCases(rtsp, rtmp string) []pullCase {
	d := fmt.Sprintf("%ds", pullSecs)
	var cs []pullCase
	if rtsp != "" {
		cs = append(cs,
			pullCase{"pull_rtsp", []string{"pull", "--duration", d, "-o", "OUT.mp4", rtsp}},
			pullCase{"record_rtsp", []string{"record", "--duration", d, "-o", "OUT.mp4", rtsp}})
	}
	return append(cs,
		pullCase{"pull_rtmp", []string{"pull", "--duration", d, "-o", "OUT.mp4", rtmp}},
		pullCase{"record_rtmp", []string{"record", "--duration", d, "-o", "OUT.mp4", rtmp}},
		pullCase{"rtmp-pull", []string{"rtmp-pull", "--duration", d, "-o", "OUT.flv", rtmp}})
}

// runPulls runs every reading verb against the live stream and checks what
// each wrote.
func runPulls(t *testing.T, rtsp, rtmp string) {
	for _, c := range pullCases(rtsp, rtmp) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{}, c.args...)
			var out string
			for i, a := range args {
				if strings.HasPrefix(a, "OUT.") {
					out = filepath.Join(t.TempDir(), "rx"+strings.TrimPrefix(a, "OUT"))
					args[i] = out
				}
			}
			run(t, 60*time.Second, args...)
			check(t, c.name, out, timed())
		})
	}
}
