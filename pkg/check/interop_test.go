package check_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/check"
)

func logReport(t *testing.T, r *check.Report) string {
	t.Helper()
	var b strings.Builder
	_ = check.WriteText(&b, r, false)
	t.Log("\n" + b.String())
	return b.String()
}

func TestGstRTSPServer(t *testing.T) {
	m := testpeer.LiveH264AAC("/live")
	m.Shared = false // see pkg/cmd/pull: a shared media disturbs its readers
	srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{m}})
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			r, err := check.Run(context.Background(), check.Config{
				URL: srv.URL("/live"), Timeout: 10 * time.Second, Duration: 3 * time.Second, Transport: tr,
			})
			if err != nil {
				t.Fatal(err)
			}
			logReport(t, r)
			// GstRtspServer 1.22 answers the PLAY after a PAUSE with a
			// video RTP-Info seq one below the first packet it then sends
			// (the audio's is right): a warning, not a failure.
			want := "pause.rtp-info=warn"
			if got := strings.Join(notPassed(r), " "); got != want {
				t.Errorf("GstRtspServer: %v, want %v", got, want)
			}
			if c := r.Find("pause.rtp-info"); len(c) != 1 || !strings.Contains(c[0].Observed, "#0 seq=") {
				t.Errorf("pause.rtp-info: %+v", c)
			}
		})
	}
}

// nginx-rtmp relaying what ffmpeg publishes: every RTMP check passes.
func TestNginxRTMP(t *testing.T) {
	testpeer.Require(t, testpeer.PeerNginxRTMP, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	url := ng.URL("live", "cam")
	testpeer.FFmpegPublishRTMP(t, testpeer.MediaFile(t, "h264_aac.flv"), url, true)
	testpeer.WaitRTMPStream(t, url)
	r, err := check.Run(context.Background(), check.Config{URL: url, Timeout: 10 * time.Second, Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, r)
	if got := notPassed(r); len(got) > 0 {
		t.Errorf("nginx-rtmp: %v", got)
	}
	if c := r.Find("rtmp.timestamps"); len(c) != 1 || !strings.Contains(c[0].Observed, "audio") || !strings.Contains(c[0].Observed, "video") {
		t.Errorf("rtmp.timestamps: %+v", c)
	}
}

// GstRtspServer with Basic or Digest: the schemes are reported, Basic
// without TLS is flagged, and the login works on every connection.
func TestGstRTSPServerAuth(t *testing.T) {
	// A right Digest response for a nonce it never issued: GstRtspServer
	// 1.22 answers 401 with a new nonce (no stale flag), which then works.
	for _, c := range []struct {
		auth, schemes string
		stale         check.Status
	}{
		{"basic", "auth.schemes=warn", check.Skip},
		{"digest", "", check.Pass},
	} {
		t.Run(c.auth, func(t *testing.T) {
			t.Parallel()
			m := testpeer.LiveH264AAC("/live")
			m.Shared = false
			srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{m}, Auth: c.auth, User: "cam", Pass: "s3cret"})
			r, err := check.Run(context.Background(), check.Config{
				URL: srv.UserURL("/live"), Timeout: 10 * time.Second, Duration: time.Second, Transport: "tcp",
			})
			if err != nil {
				t.Fatal(err)
			}
			text := logReport(t, r)
			want := strings.TrimSpace(c.schemes + " pause.rtp-info=warn")
			if got := strings.Join(notPassed(r), " "); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
			if strings.Contains(text, "s3cret") {
				t.Errorf("password in the report")
			}
			if cs := r.Find("auth.login"); len(cs) != 1 || cs[0].Status != check.Pass {
				t.Errorf("auth.login: %+v", cs)
			}
			if cs := r.Find("auth.stale-nonce"); len(cs) != 1 || cs[0].Status != c.stale {
				t.Errorf("auth.stale-nonce: %+v", cs)
			}

			r, err = check.Run(context.Background(), check.Config{URL: srv.URL("/live"), Timeout: 10 * time.Second, Duration: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if cs := r.Find("auth.login"); len(cs) != 1 || cs[0].Status != check.Fail || !r.Failed() {
				t.Errorf("without credentials: %+v", cs)
			}
		})
	}
}
