package rtmppull_test

// Tests of `avcat rtmp-pull` (issue 6) against nginx with libnginx-mod-rtmp,
// fed by `ffmpeg -re … -f flv`: every output kind (FLV by default for files,
// .ts, MPEG-TS on stdout, --format flv on stdout), every stop condition
// (--duration, --frames, --gap, the end of the stream, a signal), and
// timestamps that start above or cross 2^24 ms (RTMP extended timestamps).
// Each test starts its peers on free ports of 127.0.0.1; they are killed by
// PID in Cleanup. Outputs are checked with ffprobe: container, codec,
// resolution, frame count and timing.

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/pull"
	"github.com/avcat/avcat/pkg/cmd/rtmppull"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

const fps = 25

func repoFile(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", ".."}, parts...)...)
}

func media(name string) string { return repoFile("testdata", "media", name) }

// background is an avcat run in this process, stopped like Ctrl-C.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *clitest.Result
	once   sync.Once
}

func startAvcat(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.res = clitest.RunContext(ctx, args...)
	}()
	t.Cleanup(func() { b.stop() })
	return b
}

func (b *background) stop() *clitest.Result {
	b.once.Do(b.cancel)
	<-b.done
	return b.res
}

func (b *background) wait(t *testing.T, limit time.Duration) *clitest.Result {
	t.Helper()
	select {
	case <-b.done:
		return b.res
	case <-time.After(limit):
		t.Fatalf("avcat still running after %v", limit)
		return nil
	}
}

func TestRTMPPullFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *pull.Options)
	}{
		{args: []string{"rtmp://h/live/k"}, check: func(t *testing.T, o *pull.Options) {
			if !o.RTMPOnly || o.Output != "-" || o.Format != "" || o.Frames != -1 || o.Duration != 0 || o.Gap != 0 {
				t.Fatalf("defaults %+v", o)
			}
		}},
		{args: []string{"-o", "x.flv", "--duration", "3s", "--gap", "1s", "--frames", "10", "rtmp://h/live/k"}, check: func(t *testing.T, o *pull.Options) {
			if o.Output != "x.flv" || o.Duration != 3*time.Second || o.Gap != time.Second || o.Frames != 10 {
				t.Fatalf("parsed %+v", o)
			}
		}},
		{args: []string{"--format", "flv", "rtmp://h/live/k"}, check: func(t *testing.T, o *pull.Options) {
			if o.Format != "flv" {
				t.Fatalf("parsed %+v", o)
			}
		}},
		{args: []string{}, wantErr: "missing URL"},
		{args: []string{"--frames", "0", "rtmp://h/live/k"}, wantErr: "--frames"},
		{args: []string{"--video-only", "--audio-only", "rtmp://h/live/k"}, wantErr: "exclude"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *pull.Options
			cmd := rtmppull.NewCmdRTMPPull(cmdutil.NewFactory(ios), func(_ context.Context, o *pull.Options) error {
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
	for _, args := range [][]string{
		{"rtmp-pull", "--transport", "tcp", "rtmp://127.0.0.1:1/live/k"}, // no RTP transport over RTMP
		{"rtmp-pull", "rtsp://127.0.0.1:1/x"},
		{"rtmp-pull", "--duration", "-1s", "rtmp://127.0.0.1:1/live/k"},
		{"rtmp-pull", "--gap", "-1s", "rtmp://127.0.0.1:1/live/k"},
	} {
		if r := clitest.Run(t, 10*time.Second, args...); r.Code != 2 || r.ErrLine() == "" {
			t.Errorf("%v: want exit 2 with an error line:\n%s", args, r)
		}
	}
}

// want describes a pulled output.
type want struct {
	format string // ffprobe format_name
	// frames bounds the decoded video frames.
	minFrames, maxFrames int
}

// checkOutput probes a pulled file: container, 640x480 H.264, 48 kHz stereo
// AAC, the video frame count, and audio and video that start together.
func checkOutput(t *testing.T, what, file string, w want) *testpeer.ProbeResult {
	t.Helper()
	r := testpeer.FFprobeStreams(t, "-count_frames", file)
	if r.Format.FormatName != w.format {
		t.Errorf("%s: container %q, want %q", what, r.Format.FormatName, w.format)
	}
	v, a := r.Video(), r.Audio()
	if v == nil || a == nil {
		t.Fatalf("%s: want video and audio, got %+v", what, r.Streams)
	}
	if v.CodecName != "h264" || v.Width != 640 || v.Height != 480 {
		t.Errorf("%s: video %s %dx%d, want h264 640x480", what, v.CodecName, v.Width, v.Height)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 || a.NbReadFrames == 0 {
		t.Errorf("%s: audio %s %d Hz %d ch, %d frames", what, a.CodecName, a.SampleRate, a.Channels, a.NbReadFrames)
	}
	if v.NbReadFrames < w.minFrames || v.NbReadFrames > w.maxFrames {
		t.Errorf("%s: %d video frames, want %d..%d", what, v.NbReadFrames, w.minFrames, w.maxFrames)
	}
	// About 1.875 AAC frames (1024 samples at 48 kHz) per video frame; the
	// interleaving of a live stream moves the ends a little.
	if ratio := float64(a.NbReadFrames) / float64(max(v.NbReadFrames, 1)); v.NbReadFrames >= 60 && (ratio < 1.5 || ratio > 2.3) {
		t.Errorf("%s: %d AAC frames for %d video frames", what, a.NbReadFrames, v.NbReadFrames)
	}
	t.Logf("%s: %s, h264 %dx%d %d frames, aac %d frames, %.3f s", what, r.Format.FormatName, v.Width, v.Height, v.NbReadFrames, a.NbReadFrames, r.Format.Duration)
	return r
}

// liveWant is what a pull that ran for took can hold: at most real time
// (took × 25 frames) and at least the stop duration minus one GOP (the
// output starts at a keyframe).
func liveWant(format string, stopAfter, took time.Duration) want {
	return want{format: format, minFrames: int(stopAfter.Seconds()*fps) - fps - 2, maxFrames: int(took.Seconds()*fps) + 3}
}

// publishFLV publishes the FLV clip in a loop to nginx and waits until a
// player can read it.
func publishFLV(t *testing.T, ng *testpeer.NginxRTMP, key string) (string, *testpeer.Process) {
	t.Helper()
	url := ng.URL("live", key)
	p := testpeer.FFmpegPublishRTMP(t, media("h264_aac.flv"), url, true)
	testpeer.WaitRTMPStream(t, url)
	return url, p
}

// TestRTMPPullFromNginx pulls a stream that ffmpeg publishes into nginx-rtmp
// into each output, stopped each way.
func TestRTMPPullFromNginx(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNginxRTMP, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	url, _ := publishFLV(t, ng, "cam")

	t.Run("flv file by default, --duration", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "out.flv")
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--duration", "3s", "-o", out, url)
		if r.Code != 0 || r.Stdout != "" {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		checkOutput(t, "out.flv", out, liveWant("flv", 3*time.Second, r.Took))
	})
	t.Run("no extension gives flv", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "recording")
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--duration", "2s", "-o", out, url)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		checkOutput(t, "recording", out, liveWant("flv", 2*time.Second, r.Took))
	})
	t.Run("credentials a server ignores, --frames", func(t *testing.T) {
		t.Parallel()
		// --user/--pass go as ?user=&pass= on the stream name; nginx-rtmp
		// keeps the query apart from the name, so the play still finds cam.
		out := filepath.Join(t.TempDir(), "out.flv")
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--user", "u", "--pass", "p", "--frames", "30", "-o", out, url)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		checkOutput(t, "--frames 30 out.flv", out, want{format: "flv", minFrames: 30, maxFrames: 30})
	})
	t.Run("ts file, --frames", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "out.ts")
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--frames", "50", "-o", out, url)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		checkOutput(t, "--frames 50 out.ts", out, want{format: "mpegts", minFrames: 50, maxFrames: 50})
	})
	t.Run("flv file, --frames", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "out.flv")
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--frames", "30", "-o", out, url)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		checkOutput(t, "--frames 30 out.flv", out, want{format: "flv", minFrames: 30, maxFrames: 30})
	})
	t.Run("stdout is mpegts", func(t *testing.T) {
		t.Parallel()
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--duration", "2s", url)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		out := filepath.Join(t.TempDir(), "stdout")
		if err := os.WriteFile(out, []byte(r.Stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		if len(r.Stdout) == 0 || r.Stdout[0] != 0x47 {
			t.Fatalf("stdout does not start with an MPEG-TS sync byte (%d bytes)", len(r.Stdout))
		}
		checkOutput(t, "stdout", out, liveWant("mpegts", 2*time.Second, r.Took))
	})
	t.Run("stdout --format flv", func(t *testing.T) {
		t.Parallel()
		r := clitest.Run(t, time.Minute, "rtmp-pull", "--format", "flv", "--duration", "2s", "-o", "-", url)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull:\n%s", r)
		}
		if !strings.HasPrefix(r.Stdout, "FLV\x01") {
			t.Fatalf("stdout does not start with an FLV header (%d bytes)", len(r.Stdout))
		}
		out := filepath.Join(t.TempDir(), "stdout.flv")
		if err := os.WriteFile(out, []byte(r.Stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		checkOutput(t, "stdout --format flv", out, liveWant("flv", 2*time.Second, r.Took))
	})
	t.Run("signal", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "sig.flv")
		start := time.Now()
		b := startAvcat(t, "rtmp-pull", "-o", out, url)
		// Interrupt once media flows (the file grows past its headers).
		deadline := time.Now().Add(20 * time.Second)
		for {
			if st, err := os.Stat(out); err == nil && st.Size() > 64<<10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing written to %s:\n%s", out, b.stop())
			}
			time.Sleep(50 * time.Millisecond)
		}
		r := b.stop()
		took := time.Since(start)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull after Ctrl-C:\n%s", r)
		}
		checkOutput(t, "interrupted sig.flv", out, want{format: "flv", minFrames: 10, maxFrames: int(took.Seconds()*fps) + 3})
	})
	t.Run("gap", func(t *testing.T) {
		t.Parallel()
		gapURL, pub := publishFLV(t, ng, "gap")
		out := filepath.Join(t.TempDir(), "gap.ts")
		b := startAvcat(t, "rtmp-pull", "--gap", "1s", "-o", out, gapURL)
		for {
			if st, err := os.Stat(out); err == nil && st.Size() > 64<<10 {
				break
			}
			select {
			case <-b.done:
				t.Fatalf("rtmp-pull ended early:\n%s", b.res)
			case <-time.After(50 * time.Millisecond):
			}
		}
		// Freeze the publisher: nginx keeps the stream but nothing flows.
		if err := syscall.Kill(pub.Pid(), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		r := b.wait(t, 15*time.Second)
		after := time.Since(stopped)
		if r.Code != 0 || !strings.Contains(r.Stderr, "nothing received for 1s") {
			t.Fatalf("rtmp-pull --gap 1s:\n%s", r)
		}
		if after < 900*time.Millisecond || after > 5*time.Second {
			t.Errorf("--gap 1s ended the pull %v after the stream froze", after)
		}
		checkOutput(t, "--gap gap.ts", out, want{format: "mpegts", minFrames: 10, maxFrames: 10000})
	})
	t.Run("end of stream", func(t *testing.T) {
		t.Parallel()
		endURL, pub := publishFLV(t, ng, "end")
		out := filepath.Join(t.TempDir(), "end.flv")
		b := startAvcat(t, "rtmp-pull", "-o", out, endURL)
		for {
			if st, err := os.Stat(out); err == nil && st.Size() > 64<<10 {
				break
			}
			select {
			case <-b.done:
				t.Fatalf("rtmp-pull ended early:\n%s", b.res)
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = pub.Stop()
		// nginx tells its players that the publisher left: the pull ends
		// by itself, before its 10 s read timeout.
		r := b.wait(t, 9*time.Second)
		if r.Code != 0 {
			t.Fatalf("rtmp-pull at the end of the stream:\n%s", r)
		}
		checkOutput(t, "end.flv", out, want{format: "flv", minFrames: 10, maxFrames: 10000})
	})
}

// TestRTMPPullBadInput checks messages and exit codes.
func TestRTMPPullBadInput(t *testing.T) {
	t.Parallel()
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{})
	denied := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: "deny play all;"})
	httpSrv := testpeer.HTTPServer(t)
	closed := testpeer.FreePort(t)
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"wrong app", []string{ng.URL("wrongapp", "k")}, 3, []string{`"wrongapp"`}},
		{"nobody publishing", []string{"--timeout", "1s", ng.URL("live", "nobody")}, 3, []string{"no media", "live/nobody"}},
		{"denied by nginx", []string{"--timeout", "2s", denied.URL("live", "k")}, 3, []string{"127.0.0.1"}},
		{"HTTP server", []string{httpSrv.URL("rtmp", "live/k")}, 3, []string{"answered HTTP"}},
		{"nothing listening", []string{fmt.Sprintf("rtmp://127.0.0.1:%d/live/k", closed)}, 3, []string{"connection refused"}},
		{"unknown output format", []string{"--format", "avi", ng.URL("live", "k")}, 2, []string{"avi"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, append([]string{"rtmp-pull", "-o", filepath.Join(t.TempDir(), "x.flv")}, c.args...)...)
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

// extendedClip writes 16 s of the FLV clip (4 loops, stream copy) whose
// timestamps start at offset seconds.
func extendedClip(t *testing.T, offset float64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("ts%.0f.flv", offset))
	r := testpeer.RunClient(t, time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
		"-stream_loop", "3", "-i", media("h264_aac.flv"), "-c", "copy",
		"-output_ts_offset", fmt.Sprint(offset), "-y", out)
	if r.Code != 0 {
		t.Fatalf("make the clip:\n%s", r)
	}
	return out
}

// TestRTMPPullExtendedTimestamps pulls streams whose RTMP timestamps cross
// 2^24 ms (16777.216 s, where the chunk header's 24-bit field overflows
// into the extended timestamp) or start far above it, and checks that audio
// and video stay together, the frame count fits the timeline, and the
// timeline has no jump.
func TestRTMPPullExtendedTimestamps(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNginxRTMP, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	// nginx passes the publisher's timestamps through unchanged.
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxAbsoluteTimestamps})
	// The clip starts at 16775 s: 2^24 ms is crossed 2.216 s into it. (A
	// clip starting above 2^24 ms cannot be published by ffmpeg 5.1 to
	// nginx-rtmp 1.2.2: they disagree on extended timestamps in type-3
	// chunks and nginx drops the publisher with "RTMP in chunk stream too
	// big". A player that joins late gets a first chunk above 2^24 ms.)
	const offset = 16775
	clip := extendedClip(t, offset)
	cases := []struct {
		name string
		// join is when the player starts: "first" before the publisher
		// (nginx then sends it the sequence headers stamped 0, then media
		// stamped 16775 s), "start" right after the publish, "late" once
		// the stream is past 2^24 ms.
		join string
	}{
		{"crossing 2^24 ms", "start"},
		{"starting above 2^24 ms", "late"},
		{"crossing 2^24 ms, player waiting for the publisher", "first"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("ext%d", i)
			url := ng.URL("live", key)
			out := filepath.Join(t.TempDir(), "out.flv")
			pullArgs := []string{"rtmp-pull", "--timeout", "20s", "--duration", "7s", "-o", out, url}
			publish := func() time.Time {
				testpeer.StartClient(t, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-copyts",
					"-i", clip, "-c", "copy", "-f", "flv", url)
				return time.Now()
			}
			var pullRun *background
			var published, pulled time.Time
			switch c.join {
			case "first":
				pullRun, pulled = startAvcat(t, pullArgs...), time.Now()
				waitLog(t, ng, "play: name='"+key+"'")
				published = publish()
			case "start":
				published = publish()
				waitLog(t, ng, "publish: name='"+key+"'")
				pullRun, pulled = startAvcat(t, pullArgs...), time.Now()
			case "late":
				published = publish()
				testpeer.WaitRTMPStream(t, url)
				for {
					wire := testpeer.FFprobePackets(t, "-rw_timeout", "3000000", "-read_intervals", "%+#1", url)
					if len(wire) > 0 && wire[0].Time() > 16777.5 {
						break
					}
				}
				pullRun, pulled = startAvcat(t, pullArgs...), time.Now()
			}
			t.Logf("the player started %v after the publisher", pulled.Sub(published).Round(time.Millisecond))

			// What ffmpeg's own RTMP client sees on the wire.
			testpeer.WaitRTMPStream(t, url)
			wire := testpeer.FFprobePackets(t, "-rw_timeout", "3000000", "-read_intervals", "%+#20", url)
			if len(wire) == 0 || wire[0].Time() < offset {
				t.Fatalf("nginx does not pass the timestamps through: %+v", wire)
			}
			t.Logf("on the wire: %s at %.3f s", wire[0].CodecType, wire[0].Time())

			r := pullRun.wait(t, 60*time.Second)
			if r.Code != 0 {
				t.Fatalf("rtmp-pull:\n%s", r)
			}
			checkOutput(t, c.name, out, liveWant("flv", 7*time.Second, r.Took))
			pk := testpeer.FFprobePackets(t, out)
			vp, ap := pk.Of("video"), pk.Of("audio")
			for _, s := range []struct {
				name    string
				p       testpeer.Packets
				maxStep float64
			}{{"video", vp, 0.052}, {"audio", ap, 0.03}} { // the clip's 4 loops add 11 ms to a video step each
				step, err := s.p.CheckMonotonic(false)
				if err != nil || step > s.maxStep {
					t.Errorf("%s timestamps: largest step %.3f s, %v", s.name, step, err)
				}
			}
			v0, v1 := vp.Span()
			a0, a1 := ap.Span()
			// Frames and timeline agree: N frames span (N-1)/25 s.
			if span := v1 - v0; math.Abs(span-float64(len(vp)-1)/fps) > 0.05 {
				t.Errorf("%d video frames span %.3f s", len(vp), span)
			}
			if math.Abs(a0-v0) > 1.0/fps || math.Abs(a1-v1) > 0.1 {
				t.Errorf("audio %.3f..%.3f s, video %.3f..%.3f s: out of sync", a0, a1, v0, v1)
			}
			t.Logf("%d video frames %.3f..%.3f s, %d audio frames %.3f..%.3f s", len(vp), v0, v1, len(ap), a0, a1)
		})
	}
}

// waitLog polls nginx's log until it says what.
func waitLog(t *testing.T, ng *testpeer.NginxRTMP, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(ng.ErrorLog(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("nginx never logged %q", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
