package probe_test

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/probe"
)

func mediaFile(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "media", name)
}

func probeJSON(t *testing.T, args ...string) (*probe.Report, *clitest.Result) {
	t.Helper()
	r := clitest.Run(t, 60*time.Second, append([]string{"probe", "-o", "json"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("probe failed:\n%s", r)
	}
	var rep probe.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.Stdout)
	}
	return &rep, r
}

func findStream(t *testing.T, rep *probe.Report, codec string) *probe.Stream {
	t.Helper()
	for i := range rep.Streams {
		if rep.Streams[i].CodecName == codec {
			return &rep.Streams[i]
		}
	}
	t.Fatalf("no %s stream in %+v", codec, rep.Streams)
	return nil
}

func TestProbeGstreamerLive(t *testing.T) {
	srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{
		testpeer.LiveH264AAC("/live"),
		testpeer.FileMP4("/file", mediaFile(t, "h264_high_bframes_aac.mp4")),
		testpeer.FileMP4H265("/hevc", mediaFile(t, "h265_aac.mp4")),
	}})

	t.Run("text", func(t *testing.T) {
		r := clitest.Run(t, 30*time.Second, "probe", srv.URL("/live"))
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		for _, want := range []string{"GStreamer", "DESCRIBE", "m=video", "h264", "640x480", "aac", "48000"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("text report lacks %q:\n%s", want, r.Stdout)
			}
		}
		if r.Stderr != "" {
			t.Errorf("stderr not empty without -v: %q", r.Stderr)
		}
	})

	t.Run("sdp", func(t *testing.T) {
		r := clitest.Run(t, 30*time.Second, "probe", "--sdp", srv.URL("/live"))
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "v=0") || !strings.Contains(r.Stdout, "sprop-parameter-sets") {
			t.Fatalf("--sdp output is not the raw SDP:\n%s", r)
		}
	})

	t.Run("json live", func(t *testing.T) {
		rep, _ := probeJSON(t, srv.URL("/live"))
		if !strings.Contains(rep.Server, "GStreamer") || len(rep.Methods) == 0 {
			t.Errorf("server %q methods %v", rep.Server, rep.Methods)
		}
		v := findStream(t, rep, "h264")
		if v.Width != 640 || v.Height != 480 || v.ClockRate != 90000 {
			t.Errorf("video %+v", v)
		}
		a := findStream(t, rep, "aac")
		if a.SampleRate != 48000 || a.Channels != 2 {
			t.Errorf("audio %+v", a)
		}
	})

	t.Run("json mp4 file", func(t *testing.T) {
		rep, _ := probeJSON(t, srv.URL("/file"))
		v := findStream(t, rep, "h264")
		if v.Width != 640 || v.Height != 480 || v.Profile != "High" || v.FPS != 25 {
			t.Errorf("video %+v", v)
		}
		findStream(t, rep, "aac")
	})

	t.Run("json h265 file", func(t *testing.T) {
		rep, _ := probeJSON(t, srv.URL("/hevc"))
		v := findStream(t, rep, "hevc")
		if v.Width != 640 || v.Height != 480 {
			t.Errorf("video %+v", v)
		}
		findStream(t, rep, "aac")
	})

	t.Run("not found", func(t *testing.T) {
		r := clitest.Run(t, 30*time.Second, "probe", srv.URL("/nope"))
		if r.Code != 5 || !strings.Contains(r.ErrLine(), "404") {
			t.Fatalf("want exit 5 with 404:\n%s", r)
		}
	})

	for _, tr := range []string{"udp", "tcp", "auto"} {
		t.Run("play "+tr, func(t *testing.T) {
			rep, _ := probeJSON(t, "--play", "3s", "--transport", tr, srv.URL("/live"))
			if rep.Play == nil {
				t.Fatal("no play section")
			}
			want := tr
			if tr == "auto" {
				want = "udp"
			}
			if rep.Play.Transport != want {
				t.Errorf("transport %q, want %q", rep.Play.Transport, want)
			}
			v := findStream(t, rep, "h264")
			m := v.Measured
			if m == nil {
				t.Fatal("no measured figures")
			}
			// 3 s of a 25 fps live source: up to 75 frames (the shared
			// pipeline may take a moment to start on a loaded machine).
			if m.FPS < 23 || m.FPS > 27 || m.Frames < 45 || m.Frames > 85 {
				t.Errorf("frames %d fps %.2f, want about 75 frames at 25 fps", m.Frames, m.FPS)
			}
			if m.Keyframes < 2 || m.GOPFrames < 23 || m.GOPFrames > 27 {
				t.Errorf("keyframes %d GOP %.1f, want a keyframe every 25 frames", m.Keyframes, m.GOPFrames)
			}
			if m.PacketsLost != 0 || m.FirstPacketMs < 0 || m.FirstKeyframeMs < 0 || m.BitrateBps <= 0 {
				t.Errorf("measured %+v", m)
			}
			a := findStream(t, rep, "aac")
			if a.Measured == nil || a.Measured.Frames == 0 {
				t.Errorf("audio measured %+v", a.Measured)
			}
		})
	}
}

func TestProbeGstreamerAuth(t *testing.T) {
	for _, method := range []string{"basic", "digest"} {
		t.Run(method, func(t *testing.T) {
			srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{
				Mounts: []testpeer.Mount{testpeer.LiveH264AAC("/live")},
				Auth:   method, User: "avcat", Pass: "s3cret-pw",
			})
			rep, r := probeJSON(t, "-v", srv.UserURL("/live"))
			findStream(t, rep, "h264")
			if strings.Contains(r.Stdout+r.Stderr, "s3cret-pw") {
				t.Fatal("password leaked in output")
			}
			if !strings.Contains(r.Stderr, "> DESCRIBE") || !strings.Contains(r.Stderr, "< RTSP/1.0 401") {
				t.Errorf("-v trace lacks the DESCRIBE/401 exchange:\n%s", r.Stderr)
			}
			if !strings.Contains(rep.URL, "avcat:***@") {
				t.Errorf("report URL %q not redacted", rep.URL)
			}

			r = clitest.Run(t, 30*time.Second, "probe", "--user", "avcat", "--pass", "s3cret-pw", srv.URL("/live"))
			if r.Code != 0 {
				t.Fatalf("--user/--pass: %s", r)
			}

			r = clitest.Run(t, 30*time.Second, "probe", srv.URL("/live"))
			if r.Code != 4 || !strings.Contains(r.ErrLine(), "authentication required") {
				t.Fatalf("no credentials: want exit 4:\n%s", r)
			}
			r = clitest.Run(t, 30*time.Second, "probe", "--user", "avcat", "--pass", "wrong", srv.URL("/live"))
			if r.Code != 4 || !strings.Contains(r.ErrLine(), "authentication failed") {
				t.Fatalf("wrong password: want exit 4:\n%s", r)
			}
		})
	}
}

func TestProbeNginxRTMP(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	url := ng.URL("live", "cam1")
	testpeer.FFmpegPublishRTMP(t, mediaFile(t, "h264_baseline_aac.mp4"), url, true)
	testpeer.WaitRTMPStream(t, url)

	rep, _ := probeJSON(t, url)
	if rep.Protocol != "rtmp" {
		t.Errorf("protocol %q", rep.Protocol)
	}
	v := findStream(t, rep, "h264")
	if v.Width != 640 || v.Height != 480 || v.Profile != "Constrained Baseline" {
		t.Errorf("video %+v", v)
	}
	a := findStream(t, rep, "aac")
	if a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("audio %+v", a)
	}
	if rep.Metadata == nil || rep.Metadata["width"] != float64(640) {
		t.Errorf("onMetaData missing or wrong: %v", rep.Metadata)
	}

	r := clitest.Run(t, 30*time.Second, "probe", url)
	if r.Code != 0 || !strings.Contains(r.Stdout, "h264") || !strings.Contains(r.Stdout, "640x480") {
		t.Fatalf("text:\n%s", r)
	}

	rep, _ = probeJSON(t, "--play", "3s", url)
	m := findStream(t, rep, "h264").Measured
	if m == nil || m.FPS < 23 || m.FPS > 27 || m.Frames < 40 {
		t.Errorf("rtmp play measured %+v", m)
	}

	r = clitest.Run(t, 30*time.Second, "probe", "--timeout", "2s", ng.URL("live", "nobody"))
	if r.Code != 3 || !strings.Contains(r.ErrLine(), "is anything publishing") {
		t.Errorf("unpublished key:\n%s", r)
	}
}
