package serve_test

// RTMP credentials against `avcat serve` (issues 9.6, 14.9, 14.10): every
// form (query, userinfo, --user/--pass) on every path shape (one segment
// as /demo, or app/key), for play, publish and relay; bad credentials exit
// 4, and the password never shows in -v or errors.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/input/inputtest"
	"github.com/avcat/avcat/pkg/media"
)

// flvVideoFrames demuxes an FLV file with the project's reader.
func flvVideoFrames(t *testing.T, path string) int {
	t.Helper()
	r := inputtest.Demux(t, &flv.Source{Path: path})
	if r.OpenErr != nil || r.RunErr != nil {
		t.Fatalf("%s: %v %v", path, r.OpenErr, r.RunErr)
	}
	n := 0
	for _, u := range r.Units {
		if media.IsVideo(u.Format) {
			n++
		}
	}
	return n
}

func TestServeRTMPCredentialForms(t *testing.T) {
	t.Parallel()
	const readPass, pubPass = "r34d-s3cret", "pub-s3cret"
	srv := clitest.StartServe(t, "--read-user", "viewer:"+readPass, "--publish-user", "pub:"+pubPass)
	withUser := func(u, user, pass string) string { return strings.Replace(u, "://", "://"+user+":"+pass+"@", 1) }
	forms := []struct {
		name string
		args func(u, user, pass string) []string
	}{
		{"query", func(u, user, pass string) []string { return []string{u + "?user=" + user + "&pass=" + pass} }},
		{"userinfo", func(u, user, pass string) []string { return []string{withUser(u, user, pass)} }},
		{"flags", func(u, user, pass string) []string { return []string{"--user", user, "--pass", pass, u} }},
	}

	t.Run("play", func(t *testing.T) {
		for _, f := range forms {
			out := filepath.Join(t.TempDir(), "x.flv")
			args := append([]string{"rtmp-pull", "-v", "--frames", "20", "-o", out}, f.args(srv.RTMP("demo"), "viewer", readPass)...)
			r := clitest.Run(t, 30*time.Second, args...)
			if r.Code != 0 {
				t.Fatalf("%s: rtmp-pull of /demo: %s", f.name, r)
			}
			if n := flvVideoFrames(t, out); n < 20 {
				t.Errorf("%s: %d video frames, want 20", f.name, n)
			}
			if strings.Contains(r.Stderr, readPass) {
				t.Errorf("%s: stderr shows the password:\n%s", f.name, r.Stderr)
			}
		}
	})

	t.Run("play_refused", func(t *testing.T) {
		for _, f := range forms {
			args := append([]string{"rtmp-pull", "-v", "-o", filepath.Join(t.TempDir(), "x.flv")}, f.args(srv.RTMP("demo"), "viewer", "wr0ng-pass")...)
			r := clitest.Run(t, 30*time.Second, args...)
			if r.Code != 4 || !strings.Contains(r.ErrLine(), "authentication") {
				t.Errorf("%s: rtmp-pull with a wrong password: want exit 4 and an authentication error:\n%s", f.name, r)
			}
			if strings.Contains(r.Stderr, "wr0ng-pass") {
				t.Errorf("%s: stderr shows the password:\n%s", f.name, r.Stderr)
			}
		}
		r := clitest.Run(t, 30*time.Second, "rtmp-pull", "-o", filepath.Join(t.TempDir(), "x.flv"), srv.RTMP("demo"))
		if r.Code != 4 {
			t.Errorf("rtmp-pull without credentials: want exit 4:\n%s", r)
		}
	})

	t.Run("publish", func(t *testing.T) {
		for i, f := range forms {
			for _, path := range []string{"cam" + string(rune('a'+i)), "live/cam" + string(rune('a'+i))} {
				args := append([]string{"rtmp-push", "-v", "--no-pace", clip(t, "h264_baseline_aac.mp4")}, f.args(srv.RTMP(path), "pub", pubPass)...)
				r := clitest.Run(t, 30*time.Second, args...)
				if r.Code != 0 {
					t.Errorf("%s: rtmp-push to %s: %s", f.name, path, r)
				}
				if strings.Contains(r.Stderr, pubPass) {
					t.Errorf("%s: stderr shows the password:\n%s", f.name, r.Stderr)
				}
			}
		}
		args := []string{"rtmp-push", "--no-pace", "--user", "pub", "--pass", "wr0ng-pass", clip(t, "h264_baseline_aac.mp4"), srv.RTMP("live/x")}
		if r := clitest.Run(t, 30*time.Second, args...); r.Code != 4 || strings.Contains(r.Stderr, "wr0ng-pass") {
			t.Errorf("rtmp-push with a wrong password: want exit 4, no password shown:\n%s", r)
		}
	})

	t.Run("relay", func(t *testing.T) {
		r := clitest.Run(t, 30*time.Second, "relay", "-v", "--duration", "2s", "--user", "viewer", "--pass", readPass,
			srv.RTMP("demo"), withUser(srv.RTMP("relayed"), "pub", pubPass))
		if r.Code != 0 || strings.Contains(r.Stderr, readPass) || strings.Contains(r.Stderr, pubPass) {
			t.Errorf("relay between RTMP ends with credentials: %s", r)
		}
	})

	t.Run("ffprobe", func(t *testing.T) {
		testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerTimeout)
		checkProbe(t, "ffprobe rtmp://host/demo?user=&pass=", probeFrames(t, srv.RTMP("demo?user=viewer&pass="+readPass), 2),
			want{video: "h264", audio: "aac", minFrames: 30, maxFrames: 60})
	})
}

// TestServeRTMPPathFromAppAndName: publishers that repeat the stream name
// in tcUrl and app (go2rtc, node-media-server) land at app/name, not at
// app/name/name, as in lalserver and node-media-server.
func TestServeRTMPPathFromAppAndName(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t)
	addr := fmt.Sprintf("127.0.0.1:%d", srv.RTMPPort)
	rtspAddr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	base := fmt.Sprintf("rtmp://%s/", addr)
	// 3 s of frames each: serve reads 2 s to find the tracks.
	testpeer.RTMPPublishRaw(t, addr, "live/src", base+"live/src", "src", 75) // node-media-server's form
	testpeer.RTMPPublishRaw(t, addr, "live", base+"live/src2", "src2", 75)   // tcUrl with the name
	testpeer.RTMPPublishRaw(t, addr, "live", base+"live", "src3", 75)        // ffmpeg's form
	for _, path := range []string{"live/src", "live/src2", "live/src3"} {
		waitLive(t, srv, path, nil, nil)
	}
	for _, path := range []string{"live/src/src", "live/src2/src2"} {
		resp, err := testpeer.RTSPRequest(rtspAddr, "DESCRIBE", srv.RTSP(path), nil, 5*time.Second)
		if err != nil || resp.StatusCode != 404 {
			t.Errorf("DESCRIBE %s: want 404, got %v %v", path, resp, err)
		}
	}
}
