package serve_test

// Interop tests for `avcat serve` against real peers (issue 3): ffmpeg and
// ffprobe, GStreamer (rtspclientsink, rtspsrc), VLC and rtmpdump, each
// started by the test on 127.0.0.1, polled for readiness and killed by PID.
// A missing peer skips, or fails with AVCAT_REQUIRE_PEERS=1.
//
// Every reader checks what arrived: codec, resolution, frame count and, where
// the reader reports it, media duration. The clips are 640x480, 25 fps, 4 s
// (100 frames), AAC 48 kHz stereo (testdata/media/README.md).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// TestMain raises -test.parallel (unless given) for this package: its
// parallel tests spend their time waiting on real-time peers (a 4 s clip
// takes 4 s to play whatever the CPU), so GOMAXPROCS-many at a time would
// serialize them for nothing.
func TestMain(m *testing.M) {
	clitest.RaiseParallel(4, 2)
	code := m.Run()
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

const (
	fps = 25
	// liveWait bounds the wait for a published path to become live. An
	// RTMP publisher is live only after gortmplib's 2 s analysis of its
	// tracks.
	liveWait = 30 * time.Second
)

// clip returns the absolute path of a clip in testdata/media.
func clip(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "media", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test media: %v", err)
	}
	return p
}

// longClip returns a copy of testdata/media/name looped n times (stream
// copy, continuous timestamps), for peers that cannot loop a file.
func longClip(t testing.TB, name string, n int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("x%d_%s", n, name))
	r := testpeer.RunClient(t, 60*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
		"-stream_loop", strconv.Itoa(n-1), "-i", clip(t, name), "-c", "copy", out)
	if r.Code != 0 {
		t.Fatalf("make a long clip:\n%s", r)
	}
	return out
}

// waitLive polls the path with a raw RTSP DESCRIBE until it is live (200
// with an SDP) and returns the SDP. It fails at once if pub exits.
func waitLive(t testing.TB, srv *clitest.Serve, path string, pub *testpeer.Process, header map[string]string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	h := map[string]string{"Accept": "application/sdp"}
	for k, v := range header {
		h[k] = v
	}
	deadline := time.Now().Add(liveWait)
	var last string
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		resp, err := testpeer.RTSPRequest(addr, "DESCRIBE", srv.RTSP(path), h, 3*time.Second)
		switch {
		case err != nil:
			last = err.Error()
		case resp.StatusCode == 200 && len(resp.Body) > 0:
			return string(resp.Body)
		default:
			last = resp.StatusLine
		}
		if pub != nil {
			select {
			case <-pub.Exited():
				t.Fatalf("publisher %s exited before %s was live (last DESCRIBE: %s):\n%s", pub, path, last, pub.Output())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not live after %v (last DESCRIBE: %s)", path, liveWait, last)
		}
		time.Sleep(wait)
	}
}

// publishRTSP publishes file with ffmpeg -f rtsp (looping, stream copy plus
// extra) and waits until path is live.
func publishRTSP(t testing.TB, srv *clitest.Serve, file, path, transport string, extra ...string) *testpeer.Process {
	t.Helper()
	p := testpeer.FFmpegPublishRTSP(t, file, srv.RTSP(path), transport, true, extra...)
	waitLive(t, srv, path, p, nil)
	return p
}

// publishRTMP publishes file with ffmpeg -f flv (looping) and waits until
// path is live.
func publishRTMP(t testing.TB, srv *clitest.Serve, file, path string) *testpeer.Process {
	t.Helper()
	p := testpeer.FFmpegPublishRTMP(t, file, srv.RTMP(path), true)
	waitLive(t, srv, path, p, nil)
	return p
}

// want is what a reader must have received.
type want struct {
	video     string // ffprobe codec_name of the video
	audio     string // ffprobe codec_name of the audio, "" for none
	minFrames int    // decoded video frames
	maxFrames int
}

// fileWant is what reading secs seconds of a file path gives: it starts at
// the file's first keyframe, so every frame arrives.
func fileWant(video, audio string, secs int) want {
	return want{video: video, audio: audio, minFrames: secs*fps - 2, maxFrames: secs*fps + 3}
}

// liveWant is what reading secs seconds of a live path gives: the reader
// joins mid-GOP and its decoder drops up to one GOP (25 frames) before the
// first keyframe.
func liveWant(video, audio string, secs int) want {
	return want{video: video, audio: audio, minFrames: secs*fps - fps - 4, maxFrames: secs*fps + 3}
}

// probeFrames runs ffprobe -count_frames on the first secs seconds of url.
func probeFrames(t testing.TB, url string, secs int, inputArgs ...string) *testpeer.ProbeResult {
	t.Helper()
	args := append(append([]string{}, inputArgs...), "-count_frames", "-read_intervals", fmt.Sprintf("%%+%d", secs), url)
	return testpeer.FFprobeStreams(t, args...)
}

// checkProbe asserts codecs, 640x480, 48 kHz stereo audio and the number
// of decoded video frames.
func checkProbe(t testing.TB, what string, r *testpeer.ProbeResult, w want) {
	t.Helper()
	v := r.Video()
	if v == nil {
		t.Fatalf("%s: no video stream: %+v", what, r.Streams)
	}
	if v.CodecName != w.video || v.Width != 640 || v.Height != 480 {
		t.Errorf("%s: video %s %dx%d, want %s 640x480", what, v.CodecName, v.Width, v.Height, w.video)
	}
	if v.NbReadFrames < w.minFrames || v.NbReadFrames > w.maxFrames {
		t.Errorf("%s: %d video frames decoded, want %d..%d", what, v.NbReadFrames, w.minFrames, w.maxFrames)
	}
	a := r.Audio()
	switch {
	case w.audio == "" && a != nil:
		t.Errorf("%s: unexpected audio stream %s", what, a.CodecName)
	case w.audio != "" && a == nil:
		t.Errorf("%s: no audio stream, want %s: %+v", what, w.audio, r.Streams)
	case w.audio != "":
		if a.CodecName != w.audio || a.SampleRate != 48000 || a.Channels != 2 {
			t.Errorf("%s: audio %s %d Hz %d ch, want %s 48000 Hz 2 ch", what, a.CodecName, a.SampleRate, a.Channels, w.audio)
		}
		if a.NbReadFrames == 0 {
			t.Errorf("%s: no audio frame decoded", what)
		}
	}
	if !t.Failed() {
		t.Logf("%s: %s %dx%d, %d frames; audio %s", what, v.CodecName, v.Width, v.Height, v.NbReadFrames, audioSummary(a))
	}
}

func audioSummary(a *testpeer.ProbeStream) string {
	if a == nil {
		return "none"
	}
	return fmt.Sprintf("%s %d Hz %d ch, %d frames", a.CodecName, a.SampleRate, a.Channels, a.NbReadFrames)
}

// ffmpegRead runs ffmpeg (args after the global options) with -progress on
// stdout, bounded by limit, and returns the run and its last progress.
func ffmpegRead(t testing.TB, limit time.Duration, args ...string) (*testpeer.ClientResult, testpeer.FFmpegProgress) {
	t.Helper()
	full := append([]string{"-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1"}, args...)
	r := testpeer.RunClient(t, limit, "ffmpeg", full...)
	return r, testpeer.ParseFFmpegProgress(r.Stdout)
}

// TestServePublish publishes into avcat with each peer and reads the path
// back over RTSP.
func TestServePublish(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := clitest.StartServe(t)
	baseline := clip(t, "h264_baseline_aac.mp4")

	for _, transport := range []string{"tcp", "udp"} {
		t.Run("ffmpeg_rtsp_"+transport, func(t *testing.T) {
			t.Parallel()
			path := "live/ffmpeg_" + transport
			publishRTSP(t, srv, baseline, path, transport)
			r := probeFrames(t, srv.RTSP(path), 4, "-rtsp_transport", "tcp")
			checkProbe(t, "read back over RTSP/TCP", r, liveWant("h264", "aac", 4))
		})
	}

	// GStreamer's rtspclientsink publishes H.264 and AAC from an MP4 file;
	// it sends the AAC as MP4A-LATM. gst-launch cannot loop a file and its
	// RECORD starts about 2 s after the pipeline clock, so it pushes a 20 s
	// copy of the clip, paced by clocksync.
	t.Run("gstreamer_rtspclientsink", func(t *testing.T) {
		t.Parallel()
		testpeer.RequireGstElements(t, "rtspclientsink", "qtdemux", "h264parse", "aacparse", "clocksync")
		long := longClip(t, "h264_baseline_aac.mp4", 5)
		path := "live/gst"
		pub := testpeer.StartGstLaunch(t, strings.Fields("-q filesrc location="+long+
			" ! qtdemux name=d d.video_0 ! queue ! h264parse ! clocksync ! s.sink_0"+
			" d.audio_0 ! queue ! aacparse ! clocksync ! s.sink_1"+
			" rtspclientsink name=s protocols=tcp location="+srv.RTSP(path))...)
		sdp := waitLive(t, srv, path, pub, nil)
		if !strings.Contains(sdp, "H264/90000") || !strings.Contains(sdp, "MP4A-LATM") {
			t.Errorf("SDP of the GStreamer publisher: want H264 and MP4A-LATM:\n%s", sdp)
		}
		r := probeFrames(t, srv.RTSP(path), 3, "-rtsp_transport", "tcp")
		checkProbe(t, "read back over RTSP/TCP", r, liveWant("h264", "aac", 3))
	})

	t.Run("ffmpeg_rtmp", func(t *testing.T) {
		t.Parallel()
		path := "live/ffmpeg_rtmp"
		publishRTMP(t, srv, baseline, path)
		r := probeFrames(t, srv.RTSP(path), 4, "-rtsp_transport", "tcp")
		checkProbe(t, "read back over RTSP/TCP", r, liveWant("h264", "aac", 4))
		r = probeFrames(t, srv.RTMP(path), 4)
		checkProbe(t, "read back over RTMP", r, liveWant("h264", "aac", 4))
	})
}

// TestServeRead reads the embedded demo (a file path) and live paths with
// every reader peer.
func TestServeRead(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := clitest.StartServe(t, "-v") // -v: its trace is printed if a reader fails
	baseline := clip(t, "h264_baseline_aac.mp4")
	// RTSP readers read an RTSP publisher; RTMP readers an RTMP one (the
	// conversions are covered by TestServeCrossProtocol).
	publishRTSP(t, srv, baseline, "live/rtsp", "tcp")
	publishRTMP(t, srv, baseline, "live/rtmp")

	type target struct {
		name, path string
		want       func(video, audio string, secs int) want
	}
	rtspTargets := []target{{"demo", "demo", fileWant}, {"live", "live/rtsp", liveWant}}
	rtmpTargets := []target{{"demo", "demo", fileWant}, {"live", "live/rtmp", liveWant}}

	for _, tg := range rtspTargets {
		for _, transport := range []string{"udp", "tcp"} {
			url := srv.RTSP(tg.path)
			t.Run(fmt.Sprintf("ffprobe_%s_%s", transport, tg.name), func(t *testing.T) {
				t.Parallel()
				r := probeFrames(t, url, 3, "-rtsp_transport", transport)
				checkProbe(t, "ffprobe -count_frames", r, tg.want("h264", "aac", 3))
			})
			t.Run(fmt.Sprintf("ffmpeg_%s_%s", transport, tg.name), func(t *testing.T) {
				t.Parallel()
				r, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rtsp_transport", transport, "-i", url,
					"-frames:v", "50", "-f", "null", "-")
				if r.Code != 0 || p.Frames != 50 || !p.Ended {
					t.Fatalf("ffmpeg -frames:v 50: want exit 0 and 50 frames, got %d frames:\n%s", p.Frames, r)
				}
				// A file path starts at a keyframe: nothing to complain about.
				// A live reader joins mid-GOP, and over UDP the decoder may
				// report the missing references before the first keyframe.
				if s := strings.TrimSpace(r.Stderr); s != "" && tg.name == "demo" {
					t.Errorf("ffmpeg -v error printed:\n%s", s)
				} else if s != "" {
					t.Logf("ffmpeg -v error printed (live, joined mid-GOP):\n%s", s)
				}
				t.Logf("50 frames decoded (%v of media) in %v", p.OutTime, r.Took.Round(time.Millisecond))
			})
			t.Run(fmt.Sprintf("gst_rtspsrc_%s_%s", transport, tg.name), func(t *testing.T) {
				t.Parallel()
				testpeer.RequireGstElements(t, "rtspsrc", "rtph264depay", "h264parse", "avdec_h264", "fakesink")
				r := testpeer.GstLaunch(t, 30*time.Second, strings.Fields("-v rtspsrc location="+url+" protocols="+transport+
					" ! rtph264depay ! h264parse ! avdec_h264 ! fakesink num-buffers=50")...)
				if r.Code != 0 || !strings.Contains(r.Stdout, "Got EOS") {
					t.Fatalf("gst-launch rtspsrc ! avdec_h264 ! fakesink num-buffers=50: want exit 0 at EOS:\n%s", r)
				}
				if !strings.Contains(r.Stdout, "GstFakeSink:fakesink0.GstPad:sink: caps = video/x-raw") ||
					!strings.Contains(r.Stdout, "width=(int)640, height=(int)480") {
					t.Errorf("decoded caps: want video/x-raw 640x480:\n%s", r)
				}
				t.Logf("50 decoded buffers in %v", r.Took.Round(time.Millisecond))
			})
		}
	}

	for _, tg := range rtmpTargets {
		url := srv.RTMP(tg.path)
		t.Run("vlc_rtmp_"+tg.name, func(t *testing.T) {
			t.Parallel()
			out, r := testpeer.VLCRecord(t, url, 5*time.Second)
			if r.Code != 0 {
				t.Fatalf("vlc:\n%s", r)
			}
			res, err := testpeer.FFprobe(testpeer.FFprobeTimeout, "-count_frames", out)
			if err != nil {
				t.Fatalf("ffprobe of VLC's recording: %v\nvlc run:\n%s", err, r)
			}
			// --run-time=5 includes VLC's start-up and buffering.
			checkProbe(t, "VLC's MPEG-TS recording", res, want{video: "h264", audio: "aac", minFrames: 51, maxFrames: 6 * fps})
		})
		t.Run("rtmpdump_"+tg.name, func(t *testing.T) {
			t.Parallel()
			out, r := testpeer.RTMPDump(t, url, 6*time.Second)
			if r.Code != 124 && r.Code != 0 && r.Code != 2 { // 124: ended by timeout(1), the normal end of live mode
				t.Fatalf("rtmpdump:\n%s", r)
			}
			res, err := testpeer.FFprobe(testpeer.FFprobeTimeout, "-count_frames", out)
			if err != nil {
				t.Fatalf("ffprobe of rtmpdump's FLV: %v\nrtmpdump run:\n%s", err, r)
			}
			checkProbe(t, "rtmpdump's FLV", res, want{video: "h264", audio: "aac", minFrames: 3 * fps, maxFrames: 6*fps + 3})
			// A live stream keeps its timestamps (they do not start at 0),
			// so only the file path's duration is meaningful.
			if d := res.Format.Duration; tg.name == "demo" && (d < 3 || d > 6.5) {
				t.Errorf("rtmpdump's FLV lasts %.2f s, want 3..6.5 s for a 6 s run", d)
			}
		})
		t.Run("ffmpeg_rtmp_"+tg.name, func(t *testing.T) {
			t.Parallel()
			r, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rw_timeout", "10000000", "-i", url,
				"-frames:v", "50", "-f", "null", "-")
			if r.Code != 0 || p.Frames != 50 || !p.Ended {
				t.Fatalf("ffmpeg -frames:v 50: want exit 0 and 50 frames, got %d:\n%s", p.Frames, r)
			}
			if s := rtmpErrors(t, r.Stderr); s != "" {
				t.Errorf("ffmpeg -v error printed:\n%s", s)
			}
			t.Logf("50 frames decoded (%v of media) in %v", p.OutTime, r.Took.Round(time.Millisecond))
		})
	}
}

// TestServeMulticast reads /demo over RTSP with UDP multicast. Multicast must
// never leave loopback, so avcat serve (the built binary) and the readers run
// in a network namespace made by the test, where only lo exists and carries
// a route for 224.0.0.0/4. That needs root (CI runs as root).
func TestServeMulticast(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout, "unshare", "ip")
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		t.Skipf("multicast test needs a network namespace of its own, and `unshare --net` fails here (uid %d): %v: %s",
			os.Geteuid(), err, strings.TrimSpace(string(out)))
	}
	bin := buildAvcat(t)
	dir := t.TempDir()
	const script = `
set -u
ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || { echo "netns setup failed"; exit 90; }
echo "links: $(ip -o link | wc -l)"
"$AVCAT" serve --rtsp 127.0.0.1:8554 --no-rtmp --rtp-port 8000 --multicast-range 224.1.0.0/16 --timeout 5s 2>"$DIR/serve.log" &
SP=$!
echo $SP >"$DIR/serve.pid"
trap 'kill -TERM $SP 2>/dev/null; wait $SP' EXIT
i=0
until timeout -k 1 3 "$AVCAT" probe rtsp://127.0.0.1:8554/demo >/dev/null 2>&1; do
	i=$((i+1)); [ $i -lt 100 ] || { echo "avcat serve not ready"; exit 91; }; sleep 0.1
done
timeout -k 3 20 ffprobe -hide_banner -v error -rtsp_transport udp_multicast -print_format json -show_streams -show_format \
	-count_frames -read_intervals %+3 rtsp://127.0.0.1:8554/demo >"$DIR/probe.json" 2>"$DIR/probe.err"
echo "ffprobe_rc=$?"
timeout -k 3 20 ffmpeg -hide_banner -nostdin -nostats -progress pipe:1 -v error -rtsp_transport udp_multicast \
	-i rtsp://127.0.0.1:8554/demo -frames:v 50 -f null - >"$DIR/ffmpeg.progress" 2>"$DIR/ffmpeg.err"
echo "ffmpeg_rc=$?"
`
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}
	// The server runs inside the namespace, a grandchild of this test: if
	// the script is killed before its trap runs, stop the server by PID.
	t.Cleanup(func() {
		if pid, err := strconv.Atoi(strings.TrimSpace(read("serve.pid"))); err == nil && pid > 0 {
			if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
				_ = p.Kill()
			}
		}
	})
	r := testpeer.RunClientEnv(t, 90*time.Second, []string{"AVCAT=" + bin, "DIR=" + dir}, "unshare", "--net", "sh", "-c", script)
	if r.Code != 0 || !strings.Contains(r.Stdout, "links: 1") {
		t.Fatalf("namespace run (want only lo in the namespace):\n%s\nserve.log:\n%s", r, read("serve.log"))
	}
	if !strings.Contains(r.Stdout, "ffprobe_rc=0") {
		t.Fatalf("ffprobe -rtsp_transport udp_multicast failed:\n%s\n%s\nserve.log:\n%s", r.Stdout, read("probe.err"), read("serve.log"))
	}
	var res testpeer.ProbeResult
	if err := json.Unmarshal([]byte(read("probe.json")), &res); err != nil {
		t.Fatalf("ffprobe JSON: %v\n%s", err, read("probe.json"))
	}
	checkProbe(t, "ffprobe over multicast", &res, fileWant("h264", "aac", 3))
	p := testpeer.ParseFFmpegProgress(read("ffmpeg.progress"))
	if !strings.Contains(r.Stdout, "ffmpeg_rc=0") || p.Frames != 50 {
		t.Errorf("ffmpeg -rtsp_transport udp_multicast -frames:v 50: got %d frames:\n%s\n%s", p.Frames, r.Stdout, read("ffmpeg.err"))
	} else {
		t.Logf("ffmpeg over multicast: 50 frames, %v of media", p.OutTime)
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// buildAvcat builds cmd/avcat (with -race when this test binary has it, so
// that the build reuses the test's compiled packages) once per run.
func buildAvcat(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, serr := os.Stat(goTool); serr != nil {
			t.Fatalf("the multicast test builds avcat and needs the go command: %v", err)
		}
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "avcat-bin-")
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

// TestServeCrossProtocol publishes with one protocol and reads with the
// other, checking codec, resolution and frame count.
func TestServeCrossProtocol(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := clitest.StartServe(t)
	baseline := clip(t, "h264_baseline_aac.mp4")

	t.Run("rtmp_in_rtsp_out", func(t *testing.T) {
		t.Parallel()
		publishRTMP(t, srv, baseline, "live/rtmp_in")
		for _, transport := range []string{"tcp", "udp"} {
			r := probeFrames(t, srv.RTSP("live/rtmp_in"), 4, "-rtsp_transport", transport)
			checkProbe(t, "RTSP/"+transport+" reader of an RTMP publisher", r, liveWant("h264", "aac", 4))
		}
	})
	t.Run("rtsp_in_rtmp_out", func(t *testing.T) {
		t.Parallel()
		// ffmpeg sends the SPS/PPS of an MP4 only in the SDP
		// (sprop-parameter-sets), never in band: the RTMP side must take
		// them from there.
		publishRTSP(t, srv, baseline, "live/rtsp_in", "tcp")
		r := probeFrames(t, srv.RTMP("live/rtsp_in"), 4)
		checkProbe(t, "RTMP reader of an RTSP publisher", r, liveWant("h264", "aac", 4))
		rr, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rw_timeout", "10000000", "-i", srv.RTMP("live/rtsp_in"),
			"-frames:v", "50", "-f", "null", "-")
		if rr.Code != 0 || p.Frames != 50 {
			t.Errorf("ffmpeg -i rtmp://… -frames:v 50: got %d frames:\n%s", p.Frames, rr)
		}
	})
}

// TestServeH265 covers H.265 + AAC: an RTSP publisher read over RTSP, and a
// --file entry. nginx-rtmp and ffmpeg 5.1 have no enhanced RTMP, so H.265
// over RTMP is not tested with them.
func TestServeH265(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	hevc := clip(t, "h265_aac.mp4")
	srv := clitest.StartServe(t, "--file", "hevc="+hevc)

	t.Run("rtsp_publish_rtsp_read", func(t *testing.T) {
		t.Parallel()
		sdp := waitLive(t, srv, "live/hevc", testpeer.FFmpegPublishRTSP(t, hevc, srv.RTSP("live/hevc"), "tcp", true), nil)
		if !strings.Contains(sdp, "H265/90000") {
			t.Errorf("SDP: want H265/90000:\n%s", sdp)
		}
		for _, transport := range []string{"tcp", "udp"} {
			r := probeFrames(t, srv.RTSP("live/hevc"), 4, "-rtsp_transport", transport)
			checkProbe(t, "RTSP/"+transport, r, liveWant("hevc", "aac", 4))
		}
		// A decoder joining mid-GOP complains about missing references
		// until the first IDR, so only the exit and the count are checked.
		rr, p := ffmpegRead(t, 30*time.Second, "-v", "fatal", "-rtsp_transport", "udp", "-i", srv.RTSP("live/hevc"),
			"-frames:v", "50", "-f", "null", "-")
		if rr.Code != 0 || p.Frames != 50 {
			t.Errorf("ffmpeg -frames:v 50 over UDP: got %d frames:\n%s", p.Frames, rr)
		}
	})
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		r := probeFrames(t, srv.RTSP("hevc"), 4, "-rtsp_transport", "tcp")
		checkProbe(t, "--file hevc=h265_aac.mp4", r, fileWant("hevc", "aac", 4))
		rr, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rtsp_transport", "tcp", "-i", srv.RTSP("hevc"),
			"-t", "6", "-f", "null", "-")
		checkLoopRead(t, rr, p)
	})
}

// TestServeOpus publishes H.264 with Opus audio over RTSP (the clip's AAC
// transcoded by ffmpeg) and reads it back over RTSP.
func TestServeOpus(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := clitest.StartServe(t)
	sdp := waitLive(t, srv, "live/opus", testpeer.FFmpegPublishRTSP(t, clip(t, "h264_baseline_aac.mp4"), srv.RTSP("live/opus"), "tcp", true,
		"-c:a", "libopus", "-b:a", "64k"), nil)
	if !strings.Contains(sdp, "opus/48000/2") {
		t.Errorf("SDP: want opus/48000/2:\n%s", sdp)
	}
	for _, transport := range []string{"tcp", "udp"} {
		r := probeFrames(t, srv.RTSP("live/opus"), 3, "-rtsp_transport", transport)
		checkProbe(t, "RTSP/"+transport, r, liveWant("h264", "opus", 3))
	}
}

// checkLoopRead checks `ffmpeg -v error -i URL -t 6 -f null -` on a 4 s file
// path: exit 0, nothing on stderr (no timestamp errors at the loop point),
// and 6 s worth of frames, more than the clip's 100.
func checkLoopRead(t testing.TB, r *testpeer.ClientResult, p testpeer.FFmpegProgress) {
	t.Helper()
	if r.Code != 0 || !p.Ended {
		t.Fatalf("ffmpeg -t 6: want exit 0:\n%s", r)
	}
	if s := strings.TrimSpace(r.Stderr); s != "" {
		t.Errorf("ffmpeg printed errors (the loop must keep timestamps continuous):\n%s", s)
	}
	if p.Frames < 6*fps-3 || p.Frames > 6*fps+4 {
		t.Errorf("%d frames in 6 s, want %d±3 (the 100-frame clip must loop)", p.Frames, 6*fps)
	}
	if p.OutTime < 5900*time.Millisecond || p.OutTime > 6100*time.Millisecond {
		t.Errorf("media time %v, want 6 s", p.OutTime)
	}
	t.Logf("%d frames, %v of media in %v", p.Frames, p.OutTime, r.Took.Round(time.Millisecond))
}

// TestServeFiles serves each container with --file and reads it for 6 s,
// longer than the 4 s clip, over RTSP and RTMP.
func TestServeFiles(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	files := []struct{ name, file string }{
		{"clip", "h264_high_bframes_aac.mp4"},
		{"nofaststart", "h264_high_bframes_aac_nofaststart.mp4"},
		{"ts", "h264_aac.ts"},
		{"flv", "h264_aac.flv"},
		{"raw", "h264_baseline.h264"},
	}
	var args []string
	for _, f := range files {
		args = append(args, "--file", f.name+"="+clip(t, f.file))
	}
	srv := clitest.StartServe(t, args...)
	for _, f := range files {
		t.Run("rtsp_"+f.name, func(t *testing.T) {
			t.Parallel()
			// -f null: ffmpeg 5.1 cannot copy RTSP B-frames into ts/flv/mkv
			// (first packets without timestamps), but decodes them.
			r, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rtsp_transport", "tcp", "-i", srv.RTSP(f.name),
				"-t", "6", "-f", "null", "-")
			checkLoopRead(t, r, p)
		})
		t.Run("rtmp_"+f.name, func(t *testing.T) {
			t.Parallel()
			r, p := ffmpegRead(t, 30*time.Second, "-v", "error", "-rw_timeout", "10000000", "-i", srv.RTMP(f.name),
				"-t", "6", "-f", "null", "-")
			checkLoopRead(t, r, p)
		})
	}
	t.Run("probe_"+files[0].name, func(t *testing.T) {
		t.Parallel()
		r := probeFrames(t, srv.RTSP(files[0].name), 4, "-rtsp_transport", "tcp")
		checkProbe(t, "B-frames clip", r, fileWant("h264", "aac", 4))
		if v := r.Video(); v != nil && v.Profile != "High" {
			t.Errorf("profile %q, want High", v.Profile)
		}
	})
}

// TestServeFileNoLoop plays a file once: readers must end by themselves
// after its 100 frames.
func TestServeFileNoLoop(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	srv := clitest.StartServe(t, "--no-loop", "--file", "clip="+clip(t, "h264_baseline_aac.mp4"))

	check := func(t *testing.T, r *testpeer.ClientResult, p testpeer.FFmpegProgress) {
		t.Helper()
		if r.TimedOut() {
			t.Fatalf("the reader did not end by itself within %v (got %d frames, %v of media): the end of the file was never signalled:\n%s",
				r.Took.Round(time.Second), p.Frames, p.OutTime, r)
		}
		if r.Code != 0 || !p.Ended {
			t.Fatalf("want exit 0 at the end of the file:\n%s", r)
		}
		if p.Frames < 98 || p.Frames > 101 {
			t.Errorf("%d frames, want the clip's 100", p.Frames)
		}
		if s := strings.TrimSpace(r.Stderr); s != "" {
			t.Errorf("the end of the stream was not clean; ffmpeg printed:\n%s", s)
		}
		t.Logf("ended by itself after %v: %d frames, %v of media", r.Took.Round(time.Millisecond), p.Frames, p.OutTime)
	}
	t.Run("rtsp_reader_ends", func(t *testing.T) {
		t.Parallel()
		// -timeout (socket I/O, µs) is a guard only.
		r, p := ffmpegRead(t, 20*time.Second, "-v", "error", "-timeout", "15000000", "-rtsp_transport", "tcp",
			"-i", srv.RTSP("clip"), "-f", "null", "-")
		check(t, r, p)
	})
	t.Run("rtmp_reader_ends", func(t *testing.T) {
		t.Parallel()
		r, p := ffmpegRead(t, 20*time.Second, "-v", "error", "-rw_timeout", "15000000",
			"-i", srv.RTMP("clip"), "-f", "null", "-")
		check(t, r, p)
	})
}

// frameCounter plays an RTSP path with gortsplib's client over TCP and
// counts whole H.264 access units as they arrive.
type frameCounter struct {
	c        *gortsplib.Client
	mu       sync.Mutex
	frames   int
	firstKey bool
	gotFirst bool
	last     time.Time
	closed   chan struct{}
	err      error
}

func startFrameCounter(t *testing.T, srv *clitest.Serve, path string) *frameCounter {
	t.Helper()
	tcp := gortsplib.ProtocolTCP
	fc := &frameCounter{closed: make(chan struct{})}
	fc.c = &gortsplib.Client{Scheme: "rtsp", Host: fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort), Protocol: &tcp, ReadTimeout: 10 * time.Second}
	if err := fc.c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fc.c.Close)
	u, err := base.ParseURL(srv.RTSP(path))
	if err != nil {
		t.Fatal(err)
	}
	desc, _, err := fc.c.Describe(u)
	if err != nil {
		t.Fatalf("DESCRIBE: %v", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatalf("no H.264 track in %+v", desc.Medias)
	}
	if err := fc.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatalf("SETUP: %v", err)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	fc.c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		au, err := dec.Decode(pkt)
		if err != nil {
			return
		}
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if !fc.gotFirst {
			fc.gotFirst, fc.firstKey = true, h264.IsRandomAccess(au)
		}
		fc.frames++
		fc.last = time.Now()
	})
	go func() {
		fc.err = fc.c.Wait()
		close(fc.closed)
	}()
	return fc
}

func (fc *frameCounter) count() (int, time.Time) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.frames, fc.last
}

// waitFrames polls until n frames arrived.
func (fc *frameCounter) waitFrames(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if got, _ := fc.count(); got >= n {
			return
		}
		if time.Now().After(deadline) {
			got, _ := fc.count()
			t.Fatalf("%d frames after %v, want %d", got, limit, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEnd waits until the server ends the session or, failing that, until
// no frame arrived for quiet (the file was played once). It reports whether
// the server ended the session.
func (fc *frameCounter) waitEnd(limit, quiet time.Duration) (frames int, closedByServer bool) {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-fc.closed:
			n, _ := fc.count()
			return n, true
		case <-time.After(50 * time.Millisecond):
		}
		n, last := fc.count()
		if n > 0 && time.Since(last) > quiet || time.Now().After(deadline) {
			return n, false
		}
	}
}

// TestServeFileSeek checks PLAY with Range: npt= and PAUSE/PLAY on a file
// path played once (--no-loop), with gortsplib's RTSP client.
func TestServeFileSeek(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--no-loop", "--file", "clip="+clip(t, "h264_baseline_aac.mp4"))

	t.Run("play_range_npt_2", func(t *testing.T) {
		t.Parallel()
		fc := startFrameCounter(t, srv, "clip")
		if _, err := fc.c.Play(&headers.Range{Value: &headers.RangeNPT{Start: 2 * time.Second}}); err != nil {
			t.Fatalf("PLAY Range: npt=2-: %v", err)
		}
		frames, byServer := fc.waitEnd(20*time.Second, 2*time.Second)
		// Frame 50 (2.0 s) is a keyframe: the second half is 50 frames.
		if frames < 48 || frames > 52 {
			t.Errorf("PLAY from npt=2 of a 100-frame, 4 s clip: %d frames, want about 50", frames)
		}
		fc.mu.Lock()
		firstKey := fc.firstKey
		fc.mu.Unlock()
		if !firstKey {
			t.Errorf("the first access unit after the seek is not a keyframe")
		}
		t.Logf("%d frames after npt=2 (session ended by the server: %v)", frames, byServer)
	})

	t.Run("pause_then_play_resumes", func(t *testing.T) {
		t.Parallel()
		// A raw session: gortsplib's client always sends Range: npt=0- with
		// PLAY, while players (ffmpeg, VLC) resume a pause with a PLAY that
		// has no Range.
		url := srv.RTSP("clip")
		c, err := testpeer.DialRTSP(fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort), 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.SetupPlayTCP(url, true, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		ch := c.Stream()
		frames, resumed := 0, false
		var lastTS, firstAfterResume uint32
		onFrame := func(f *testpeer.InterleavedFrame) {
			if f.Channel != 0 || !f.RTPMarker() {
				return
			}
			frames++
			if resumed && firstAfterResume == 0 {
				firstAfterResume = f.RTPTimestamp()
			}
			lastTS = f.RTPTimestamp()
		}
		// Pause mid-GOP (keyframes are every 25 frames).
		if err := readFrames(ch, 15*time.Second, 0, onFrame, func() bool { return frames >= 35 }); err != nil {
			t.Fatalf("after %d frames: %v", frames, err)
		}
		if resp, err := c.DoStream(ch, "PAUSE", url, nil, 5*time.Second, onFrame); err != nil || resp.StatusCode != 200 {
			t.Fatalf("PAUSE: %v %v", resp, err)
		}
		atPause, tsAtPause := frames, lastTS
		_ = readFrames(ch, 1500*time.Millisecond, 0, onFrame, nil) // a paused session stays silent
		during := frames - atPause
		if during > 0 {
			t.Errorf("%d frames arrived during 1.5 s of PAUSE", during)
		}
		resumed = true
		if resp, err := c.DoStream(ch, "PLAY", url, nil, 5*time.Second, onFrame); err != nil || resp.StatusCode != 200 {
			t.Fatalf("PLAY (resume, no Range): %v %v", resp, err)
		}
		err = readFrames(ch, 20*time.Second, 2*time.Second, onFrame, nil)
		// Resuming continues where it paused: 100 frames in all, none
		// skipped or repeated, and RTP time goes on from the pause point.
		if frames < 98 || frames > 102 {
			t.Errorf("paused after %d frames and resumed: %d frames in all, want the clip's 100", atPause, frames)
		}
		if d := int64(firstAfterResume) - int64(tsAtPause); d <= 0 || d > 90000/2 {
			t.Errorf("RTP time jumps by %+.3f s across PAUSE/PLAY, want one frame (+0.040 s)", float64(d)/90000)
		}
		t.Logf("paused after %d frames, %d during the pause, %d in all; RTP time across the pause %+.3f s; end: %v",
			atPause, during, frames, float64(int64(firstAfterResume)-int64(tsAtPause))/90000, err)
	})

	t.Run("no_loop_ends_session", func(t *testing.T) {
		t.Parallel()
		fc := startFrameCounter(t, srv, "clip")
		if _, err := fc.c.Play(nil); err != nil {
			t.Fatalf("PLAY: %v", err)
		}
		frames, byServer := fc.waitEnd(15*time.Second, 5*time.Second)
		if frames < 98 || frames > 101 {
			t.Errorf("%d frames, want the clip's 100", frames)
		}
		if !byServer {
			t.Errorf("--no-loop: after the last frame the server kept the RTSP session open and silent (5 s); readers get no end of stream")
		}
	})
}

// readFrames consumes ch (from RTSPConn.Stream) until done() (when not nil)
// is true, until no video frame arrived for quiet (when not zero) after at
// least one, until the connection ends (its error is returned), or until
// limit passes (a nil error: the time was up).
func readFrames(ch <-chan testpeer.RTSPMessage, limit, quiet time.Duration, onFrame func(*testpeer.InterleavedFrame), done func() bool) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastFrame time.Time
	for done == nil || !done() {
		select {
		case m, ok := <-ch:
			switch {
			case !ok:
				return io.EOF
			case m.Err != nil:
				return m.Err
			case m.Frame != nil:
				if m.Frame.Channel == 0 && m.Frame.RTPMarker() {
					lastFrame = time.Now()
				}
				onFrame(m.Frame)
			}
		case <-tick.C:
			if quiet > 0 && !lastFrame.IsZero() && time.Since(lastFrame) > quiet {
				return nil
			}
		case <-deadline.C:
			return nil
		}
	}
	return nil
}

// startReader starts an ffmpeg reader of url in the background (no -t: it
// reads until the stream ends) with -progress on stdout; the returned
// channel delivers its run. Call testpeer.Require first.
func startReader(limit time.Duration, args ...string) <-chan *testpeer.ClientResult {
	ch := make(chan *testpeer.ClientResult, 1)
	full := append([]string{"-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1"}, args...)
	go func() { ch <- testpeer.RunBounded(limit, nil, "ffmpeg", full...) }()
	return ch
}

// TestServeBusyPath: a second publisher on a busy path is refused (or
// takes over with --override), a reader of an empty path gets 404, and
// readers get a clean end when the publisher leaves.
func TestServeBusyPath(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	baseline := clip(t, "h264_baseline_aac.mp4")
	stats := filepath.Join(t.TempDir(), "stats.ndjson")
	srv := clitest.StartServe(t, "--stats-json", stats)

	t.Run("second_publisher_refused", func(t *testing.T) {
		t.Parallel()
		pub := publishRTSP(t, srv, baseline, "live/busy", "tcp")
		r := testpeer.RunClient(t, 20*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", baseline,
			"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", srv.RTSP("live/busy"))
		if r.Code == 0 || r.TimedOut() || !strings.Contains(r.Stderr, "403") || !strings.Contains(r.Stderr, "busy") {
			t.Errorf("second RTSP publisher: want a quick refusal with 403 and a reason on stderr:\n%s", r)
		} else {
			t.Logf("second RTSP publisher refused: %s", lastLine(r.Stderr))
		}
		r = testpeer.RunClient(t, 20*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", baseline,
			"-c", "copy", "-f", "flv", srv.RTMP("live/busy"))
		if r.Code == 0 || r.TimedOut() || !strings.Contains(r.Stderr, "busy") {
			t.Errorf("second RTMP publisher: want a quick refusal naming the busy path:\n%s", r)
		} else {
			t.Logf("second RTMP publisher refused: %s", lastLine(r.Stderr))
		}
		// The first publisher is undisturbed.
		select {
		case <-pub.Exited():
			t.Fatalf("the first publisher exited:\n%s", pub.Output())
		default:
		}
		checkProbe(t, "reader after the refusals", probeFrames(t, srv.RTSP("live/busy"), 3, "-rtsp_transport", "tcp"), liveWant("h264", "aac", 3))
	})

	t.Run("empty_path_404", func(t *testing.T) {
		t.Parallel()
		resp, err := testpeer.RTSPRequest(fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort), "DESCRIBE", srv.RTSP("live/nobody"), nil, 5*time.Second)
		if err != nil || resp.StatusCode != 404 || len(resp.Body) != 0 {
			t.Errorf("DESCRIBE of an empty path: want 404 without a body, got %v %v", resp, err)
		}
		_, err = testpeer.FFprobe(20*time.Second, "-rtsp_transport", "tcp", srv.RTSP("live/nobody"))
		if err == nil || !strings.Contains(err.Error(), "404 Not Found") {
			t.Errorf("ffprobe of an empty RTSP path: want 404 Not Found, got %v", err)
		}
		_, err = testpeer.FFprobe(20*time.Second, "-rw_timeout", "5000000", srv.RTMP("live/nobody"))
		if err == nil || !strings.Contains(err.Error(), "no stream on this path") {
			t.Errorf("ffprobe of an empty RTMP path: want the server's error, got %v", err)
		} else {
			t.Logf("RTMP: %v", err)
		}
	})

	for _, proto := range []string{"rtsp", "rtmp"} {
		t.Run("publisher_leaves_"+proto+"_reader_ends", func(t *testing.T) {
			t.Parallel()
			// Same protocol on both sides: this is about the end, not the
			// conversion.
			path := "live/leave_" + proto
			var pub *testpeer.Process
			var done <-chan *testpeer.ClientResult
			if proto == "rtsp" {
				pub = publishRTSP(t, srv, baseline, path, "tcp")
				done = startReader(60*time.Second, "-v", "error", "-timeout", "20000000", "-rtsp_transport", "tcp",
					"-i", srv.RTSP(path), "-f", "null", "-")
			} else {
				pub = publishRTMP(t, srv, baseline, path)
				done = startReader(60*time.Second, "-v", "error", "-rw_timeout", "20000000", "-i", srv.RTMP(path), "-f", "null", "-")
			}
			// Once the reader joined, let it play two seconds of media (two
			// keyframes); then the publisher leaves.
			waitPathEvents(t, stats, "reader_join", path, 1, 30*time.Second)
			time.Sleep(2 * time.Second)
			left := time.Now()
			if err := pub.Stop(); err == nil {
				t.Logf("publisher stopped")
			}
			select {
			case r := <-done:
				p := testpeer.ParseFFmpegProgress(r.Stdout)
				if r.TimedOut() {
					t.Fatalf("the reader did not end by itself:\n%s", r)
				}
				if r.Code != 0 || !p.Ended {
					t.Errorf("the reader ended with exit %d:\n%s", r.Code, r)
				}
				if s := rtmpErrors(t, r.Stderr); s != "" {
					t.Errorf("the end was not clean; ffmpeg printed:\n%s", s)
				}
				if p.Frames == 0 {
					t.Errorf("the reader got no frame before the end")
				}
				t.Logf("reader ended %v after the publisher left: exit %d, %d frames", time.Since(left).Round(time.Millisecond), r.Code, p.Frames)
			case <-time.After(25 * time.Second):
				t.Fatalf("the reader still runs 25 s after the publisher left")
			}
		})
	}

	t.Run("override", func(t *testing.T) {
		t.Parallel()
		statsO := filepath.Join(t.TempDir(), "stats.ndjson")
		srvO := clitest.StartServe(t, "--override", "--stats-json", statsO)
		path := "live/o"
		pub1 := publishRTSP(t, srvO, baseline, path, "tcp")
		reader := startReader(60*time.Second, "-v", "error", "-timeout", "10000000", "-rtsp_transport", "tcp",
			"-i", srvO.RTSP(path), "-t", "10", "-f", "null", "-")
		waitPathEvents(t, statsO, "reader_join", path, 1, 30*time.Second)
		time.Sleep(time.Second) // a second of media for the reader before the takeover
		// The second publisher sends H.265, so that readers can tell them apart.
		hevc := clip(t, "h265_aac.mp4")
		pub2 := testpeer.FFmpegPublishRTSP(t, hevc, srvO.RTSP(path), "tcp", true)
		deadline := time.Now().Add(liveWait)
		for {
			sdp := waitLive(t, srvO, path, pub2, nil)
			if strings.Contains(sdp, "H265") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second publisher never took over:\n%s", sdp)
			}
			time.Sleep(100 * time.Millisecond)
		}
		select {
		case <-pub1.Exited():
			t.Logf("the replaced publisher was disconnected and exited")
		case <-time.After(15 * time.Second):
			t.Errorf("the replaced publisher is still running 15 s after the takeover")
		}
		checkProbe(t, "new reader after the takeover", probeFrames(t, srvO.RTSP(path), 3, "-rtsp_transport", "tcp"), liveWant("hevc", "aac", 3))
		// A reader of the replaced publisher gets a clean end (the tracks
		// changed: H.264 became H.265), as with mediamtx; it can read again.
		r := <-reader
		p := testpeer.ParseFFmpegProgress(r.Stdout)
		if r.Code != 0 || p.Frames == 0 || p.OutTime >= 10*time.Second {
			t.Errorf("the reader of the replaced publisher should end cleanly after some frames, got %d frames, %v:\n%s", p.Frames, p.OutTime, r)
		} else {
			t.Logf("the reader of the replaced publisher ended cleanly after %d frames (%v)", p.Frames, p.OutTime)
		}
	})
}

// rtmpErrors returns what ffmpeg printed at -v error, less one known
// warning: a live RTMP stream's timestamps are milliseconds that need not
// sit on the 40 ms frame grid (here they start at 3021 ms, the publisher's
// offset), and ffmpeg's null muxer, on a 1/25 s tick, then sees two
// frames on one tick ("non monotonically increasing dts"). ffprobe
// -show_packets of the same stream shows clean 40 ms steps; the line is
// logged, not counted.
func rtmpErrors(t *testing.T, stderr string) string {
	t.Helper()
	var other []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		switch {
		case strings.Contains(l, "non monotonically increasing dts to muxer"):
			t.Logf("ffmpeg: %s", l)
		case l != "":
			other = append(other, l)
		}
	}
	return strings.Join(other, "\n")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestServeLifecycle: stopping serve (like Ctrl-C) while a publisher and
// readers are connected exits 0 and says "stopped"; --stats-json gets NDJSON
// events for publish, readers and periodic stats.
func TestServeLifecycle(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	stats := filepath.Join(t.TempDir(), "stats.ndjson")
	srv := clitest.StartServe(t, "--stats-json", stats, "--stats-interval", "1s")
	pub := publishRTSP(t, srv, clip(t, "h264_baseline_aac.mp4"), "live/a", "tcp")
	rtspReader := startReader(60*time.Second, "-v", "error", "-timeout", "20000000", "-rtsp_transport", "tcp",
		"-i", srv.RTSP("live/a"), "-f", "null", "-")
	demoReader := startReader(60*time.Second, "-v", "error", "-timeout", "20000000", "-rtsp_transport", "tcp",
		"-i", srv.RTSP("demo"), "-f", "null", "-")
	rtmpReader := startReader(60*time.Second, "-v", "error", "-rw_timeout", "20000000", "-i", srv.RTMP("demo"), "-f", "null", "-")
	waitEvents(t, stats, "reader_join", 3, 30*time.Second)
	// Within a few periods, a stats event lists live/a with its reader and
	// bytes in, and demo with its two readers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var live, demo bool
		evs := statsEvents(t, stats)
		for _, ev := range evs["stats"] {
			paths, _ := ev["paths"].([]any)
			for _, p := range paths {
				m, _ := p.(map[string]any)
				bytesIn, _ := m["bytes_in"].(float64)
				live = live || m["path"] == "live/a" && m["kind"] == "live" && m["readers"] == float64(1) && bytesIn > 0
				demo = demo || m["path"] == "demo" && m["kind"] == "file" && m["readers"] == float64(2)
			}
		}
		if live && demo {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no stats event shows live/a with 1 reader and demo with 2 within 10 s: %v", evs["stats"])
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	res := srv.Stop()
	if res.Code != 0 || !strings.Contains(res.Stderr, "stopped") {
		t.Errorf("serve stopped with peers connected: want exit 0 and \"stopped\":\n%s", res)
	}
	if res.Stdout != "" {
		t.Errorf("serve wrote to stdout: %q", res.Stdout)
	}
	// Every peer sees the end by itself.
	select {
	case <-pub.Exited():
	case <-time.After(15 * time.Second):
		t.Errorf("the publisher still runs 15 s after serve stopped")
	}
	for name, ch := range map[string]<-chan *testpeer.ClientResult{"RTSP reader": rtspReader, "RTMP reader": rtmpReader, "demo reader": demoReader} {
		select {
		case r := <-ch:
			if r.TimedOut() {
				t.Errorf("%s did not end by itself:\n%s", name, r)
			}
			t.Logf("%s ended: exit %d, %d frames; stderr %q", name, r.Code, testpeer.ParseFFmpegProgress(r.Stdout).Frames, strings.TrimSpace(r.Stderr))
		case <-time.After(25 * time.Second):
			t.Errorf("%s still runs 25 s after serve stopped", name)
		}
	}

	evs := statsEvents(t, stats)
	for _, name := range []string{"publish_start", "publish_stop", "reader_join", "reader_leave", "stats"} {
		if len(evs[name]) == 0 {
			t.Errorf("--stats-json has no %s event (events: %v)", name, keys(evs))
		}
	}
	if n := len(evs["reader_leave"]); n < 3 {
		t.Errorf("%d reader_leave events, want 3 (every reader leaves at shutdown)", n)
	}
	for _, ev := range evs["publish_start"] {
		if ev["path"] != "live/a" || ev["protocol"] != "rtsp" {
			t.Errorf("publish_start event: %v", ev)
		}
	}
	t.Logf("events: %v", keys(evs))
}

func keys(m map[string][]map[string]any) map[string]int {
	out := make(map[string]int)
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
