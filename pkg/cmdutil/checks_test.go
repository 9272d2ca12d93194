package cmdutil

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
)

// wantUsage checks that err is a usage error (FlagError) holding msg, or
// nil when msg is "".
func wantUsage(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if msg == "" {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	var fe *FlagError
	if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: got %v, want a usage error with %q", what, err, msg)
	}
}

func TestChecks(t *testing.T) {
	wantUsage(t, "tracks", CheckTracks(true, false), "")
	wantUsage(t, "both tracks", CheckTracks(true, true), "--video-only and --audio-only exclude each other")
	wantUsage(t, "retry", CheckRetry(time.Second, time.Second), "")
	wantUsage(t, "retry min 0", CheckRetry(0, time.Second), "--retry-min must be positive and at most --retry-max")
	wantUsage(t, "retry min > max", CheckRetry(2*time.Second, time.Second), "--retry-min")

	rtsp, _ := url.Parse("rtsp://h/x")
	rtmp, _ := url.Parse("rtmps://h/app/key")
	wantUsage(t, "pull rtsp", CheckURL(rtsp, "pull", false, endpoint.OutPcap), "")
	wantUsage(t, "pull rtmp to ts", CheckURL(rtmp, "pull", false, endpoint.OutMPEGTS), "")
	wantUsage(t, "rtmp-pull rtmp", CheckURL(rtmp, "pull", true, ""), "")
	wantUsage(t, "rtmp-pull rtsp", CheckURL(rtsp, "pull", true, ""), "rtmp-pull needs an rtmp:// or rtmps:// URL (use pull for rtsp://)")
	wantUsage(t, "rtmp-push rtsp", CheckURL(rtsp, "push", true, ""), "rtmp-push needs an rtmp:// or rtmps:// URL (use push for rtsp://)")
	for _, f := range []string{endpoint.OutRTPDump, endpoint.OutPcap} {
		wantUsage(t, "rtmp to "+f, CheckURL(rtmp, "pull", false, f), "RTMP carries no RTP: "+f+" records RTP packets")
	}
}

func TestOutputFormat(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	if f, err := OutputFormat(ios, "-", endpoint.SinkFileOptions{}); err != nil || f != endpoint.OutMPEGTS {
		t.Errorf("stdout, not a terminal: %q %v", f, err)
	}
	ios.SetStdoutTTY(true)
	_, err := OutputFormat(ios, "-", endpoint.SinkFileOptions{})
	wantUsage(t, "terminal", err, "refusing to write ts to a terminal")
	if f, err := OutputFormat(ios, "-", endpoint.SinkFileOptions{Format: "sdp"}); err != nil || f != endpoint.OutSDP {
		t.Errorf("an SDP may go to a terminal: %q %v", f, err)
	}
	if f, err := OutputFormat(ios, "x.mp4", endpoint.SinkFileOptions{Fragmented: true}); err != nil || f != endpoint.OutFMP4 {
		t.Errorf("file: %q %v", f, err)
	}
	if _, err := OutputFormat(ios, "-", endpoint.SinkFileOptions{Format: "avi"}); err == nil || !strings.Contains(err.Error(), "unknown output format") {
		t.Errorf("bad --format: %v", err)
	}
}

func TestClientOptions(t *testing.T) {
	c := ClientOptions{Transport: "udp", Tunnel: "http", User: "u", Pass: "p", UserAgent: "ua", Insecure: true}
	so := c.SourceOptions()
	if so != (endpoint.SourceOptions{Transport: "udp", Tunnel: "http", User: "u", Pass: "p", UserAgent: "ua", InsecureTLS: true}) {
		t.Errorf("source options: %+v", so)
	}
	if c.SinkOptions() != (endpoint.SinkOptions{Transport: "udp", Tunnel: "http", User: "u", Pass: "p", UserAgent: "ua", InsecureTLS: true}) {
		t.Errorf("sink options: %+v", c.SinkOptions())
	}
}

func TestDestinations(t *testing.T) {
	r := endpoint.NewResolver(endpoint.Config{})
	ios, _, _, _ := iostreams.Test()
	dir := t.TempDir()
	sinks, retry, err := Destinations(r, []string{"rtsp://127.0.0.1:1/x", dir + "/copy.ts", "-"}, endpoint.SinkOptions{}, engine.Backoff{Min: time.Second, Max: time.Second}, nil, ios)
	if err != nil || len(sinks) != 3 || len(retry) != 1 || retry[0].Name != "rtsp://127.0.0.1:1/x" {
		t.Fatalf("sinks %d, retry %d: %v", len(sinks), len(retry), err)
	}
	_, _, err = Destinations(r, []string{"-", "-"}, endpoint.SinkOptions{}, engine.Backoff{Min: time.Second, Max: time.Second}, nil, ios)
	wantUsage(t, "stdout twice", err, "standard output (-) can be a destination only once")
	ios.SetStdoutTTY(true)
	_, _, err = Destinations(r, []string{"-"}, endpoint.SinkOptions{}, engine.Backoff{Min: time.Second, Max: time.Second}, nil, ios)
	wantUsage(t, "terminal", err, "refusing to write MPEG-TS to a terminal")
}
