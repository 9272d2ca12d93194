package testpeer

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed gst_rtsp_server.py
var gstRTSPServerScript string

// gstExitBind is the script's exit code when it cannot bind its port.
const gstExitBind = 98

// Mount is one path served by a GstRTSPServer.
type Mount struct {
	// Path is the mount point, e.g. "/live" (a leading slash is added).
	Path string
	// Launch is a gst-launch pipeline whose payloaders are named pay0, pay1…
	// (depay0… for Record). The token {aacenc} is replaced by the first AAC
	// encoder installed (voaacenc, avenc_aac, fdkaacenc).
	Launch string
	// Shared makes all clients share one media (fine for live sources).
	Shared bool
	// Record makes the mount accept ANNOUNCE/RECORD instead of PLAY.
	Record bool
}

// GstOptions configures StartGstRTSPServer.
type GstOptions struct {
	Mounts []Mount
	// Auth protects every mount: "" (none), "basic" or "digest". Both cannot
	// be offered at once, and no anonymous user exists on a protected server
	// (with one, GstRtspServer answers 404 instead of 401).
	Auth string
	User string
	Pass string
}

// GstRTSPServer is a running GstRtspServer (through /usr/bin/python3 and
// python3-gi) on 127.0.0.1.
type GstRTSPServer struct {
	Port    int
	Options GstOptions
	Process *Process
}

// URL returns rtsp://127.0.0.1:PORT/path without credentials.
func (s *GstRTSPServer) URL(path string) string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/%s", s.Port, strings.TrimPrefix(path, "/"))
}

// UserURL returns URL(path) with the server's user and password in it.
func (s *GstRTSPServer) UserURL(path string) string {
	u := &url.URL{
		Scheme: "rtsp",
		User:   url.UserPassword(s.Options.User, s.Options.Pass),
		Host:   fmt.Sprintf("127.0.0.1:%d", s.Port),
		Path:   "/" + strings.TrimPrefix(path, "/"),
	}
	return u.String()
}

// Addr returns "127.0.0.1:PORT".
func (s *GstRTSPServer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// LiveH264AAC is a shared live mount: a 640x480 25 fps bouncing ball in H.264
// Constrained Baseline (x264enc, a keyframe every 25 frames, SPS/PPS in the
// SDP's sprop-parameter-sets) as pay0, and a 48 kHz stereo AAC-LC sine as pay1
// (RTP MPEG4-GENERIC).
func LiveH264AAC(path string) Mount {
	return Mount{
		Path: path,
		Launch: "videotestsrc is-live=true pattern=ball" +
			" ! video/x-raw,format=I420,width=640,height=480,framerate=25/1" +
			" ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0" +
			" ! video/x-h264,profile=baseline" +
			" ! rtph264pay name=pay0 pt=96 config-interval=1" +
			" audiotestsrc is-live=true wave=sine freq=440" +
			" ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2" +
			" ! {aacenc} ! rtpmp4gpay name=pay1 pt=97",
		Shared: true,
	}
}

// FileMP4 serves an MP4 file with one H.264 video and one AAC audio track,
// played once from the start for each client.
func FileMP4(path, file string) Mount {
	return fileMP4(path, file, "h264parse ! rtph264pay")
}

// FileMP4H265 is FileMP4 for an MP4 with H.265 video.
func FileMP4H265(path, file string) Mount {
	return fileMP4(path, file, "h265parse ! rtph265pay")
}

func fileMP4(path, file, video string) Mount {
	return Mount{
		Path: path,
		Launch: "filesrc location=" + gstQuote(file) + " ! qtdemux name=d" +
			" d.video_0 ! queue ! " + video + " name=pay0 pt=96 config-interval=1" +
			" d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97",
	}
}

// RecordH264AAC is a RECORD mount that takes exactly one H.264 and one AAC
// (RTP MPEG4-GENERIC) stream, in that order, and writes them unbuffered to
// videoFile (Annex-B) and audioFile (ADTS). The files are truncated by each new
// publisher. A push with a different number of streams gets 415.
func RecordH264AAC(path, videoFile, audioFile string) Mount {
	return Mount{
		Path: path,
		Launch: "rtph264depay name=depay0 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au" +
			" ! filesink buffer-mode=unbuffered location=" + gstQuote(videoFile) +
			" rtpmp4gdepay name=depay1 ! aacparse ! audio/mpeg,stream-format=adts" +
			" ! filesink buffer-mode=unbuffered location=" + gstQuote(audioFile),
		Record: true,
	}
}

// gstQuote quotes a property value for gst-launch syntax.
func gstQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// StartGstRTSPServer starts a GstRtspServer on a free port of 127.0.0.1 with
// the given mounts and waits until it answers OPTIONS with 200. The test is
// skipped (or failed, see Require) when GstRtspServer is not installed.
func StartGstRTSPServer(t testing.TB, opts GstOptions) *GstRTSPServer {
	t.Helper()
	return startGstRTSPServer(t, opts, FreePort)
}

// startGstRTSPServer takes the port picker as a parameter so that tests can
// exercise the retry after a lost port race.
func startGstRTSPServer(t testing.TB, opts GstOptions, pickPort func(testing.TB) int) *GstRTSPServer {
	t.Helper()
	Require(t, PeerGstRTSPServer)
	if len(opts.Mounts) == 0 {
		t.Fatalf("testpeer: GstRTSPServer needs at least one mount")
	}
	switch opts.Auth {
	case "":
	case "basic", "digest":
		if opts.User == "" {
			t.Fatalf("testpeer: GstRTSPServer auth %q needs a user", opts.Auth)
		}
	default:
		t.Fatalf("testpeer: GstRTSPServer auth %q: want \"\", \"basic\" or \"digest\"", opts.Auth)
	}

	script := filepath.Join(t.TempDir(), "gst_rtsp_server.py")
	if err := os.WriteFile(script, []byte(gstRTSPServerScript), 0o644); err != nil {
		t.Fatalf("testpeer: %v", err)
	}

	type jsonMount struct {
		Path   string `json:"path"`
		Launch string `json:"launch"`
		Shared bool   `json:"shared"`
		Record bool   `json:"record"`
	}
	type jsonAuth struct {
		Method string `json:"method"`
		User   string `json:"user"`
		Pass   string `json:"pass"`
	}
	cfg := struct {
		Port   int         `json:"port"`
		Mounts []jsonMount `json:"mounts"`
		Auth   *jsonAuth   `json:"auth,omitempty"`
	}{}
	for _, m := range opts.Mounts {
		cfg.Mounts = append(cfg.Mounts, jsonMount{
			Path: "/" + strings.TrimPrefix(m.Path, "/"), Launch: m.Launch, Shared: m.Shared, Record: m.Record,
		})
	}
	if opts.Auth != "" {
		cfg.Auth = &jsonAuth{Method: opts.Auth, User: opts.User, Pass: opts.Pass}
	}

	const attempts = 5
	for attempt := 1; ; attempt++ {
		cfg.Port = pickPort(t)
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		cmd := exec.Command(systemPython, "-u", script, string(js))
		cmd.Env = append(os.Environ(), "GST_DEBUG_NO_COLOR=1")
		p := StartCmd(t, cmd, ProcOptions{})
		s := &GstRTSPServer{Port: cfg.Port, Options: opts, Process: p}

		err = poll(20*time.Second, p.Exited(), func() error {
			resp, err := RTSPRequest(s.Addr(), "OPTIONS", s.URL(""), nil, time.Second)
			if err != nil {
				return err
			}
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Server"), "GStreamer") {
				return fmt.Errorf("OPTIONS: %s (Server: %q)", resp.StatusLine, resp.Header.Get("Server"))
			}
			return nil
		})
		if err == nil {
			return s
		}
		if errors.Is(err, errExited) {
			_ = p.Stop()
			if p.ExitCode() == gstExitBind && attempt < attempts {
				continue // lost the port race; try another port
			}
		}
		t.Fatalf("testpeer: GstRTSPServer on port %d: %v\noutput:\n%s", cfg.Port, err, p.out.Tail(outputDump))
	}
}
