package rtmppush_test

// Tests of `avcat rtmp-push` (issue 6) against real peers: nginx with
// libnginx-mod-rtmp (read back with ffprobe and rtmpdump, and recorded by
// nginx itself so the whole stream can be counted), ffmpeg's one-shot
// `-listen 1` RTMP server, and `avcat serve` for a refused publish. Each
// test starts its peers on free ports of 127.0.0.1 and they are killed by
// PID in Cleanup. The clips are 640x480, 25 fps, 4 s (100 frames), AAC 48 kHz
// stereo (testdata/media/README.md).

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/push"
	"github.com/avcat/avcat/pkg/cmd/rtmppush"
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

// startAvcat runs avcat args in the background; Cleanup stops it.
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

// stop interrupts the run (a no-op once it ended) and returns its result.
func (b *background) stop() *clitest.Result {
	b.once.Do(b.cancel)
	<-b.done
	return b.res
}

// wait waits up to limit for the run to end by itself.
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

// exited reports whether the run ended.
func (b *background) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func TestRTMPPushFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *push.Options)
	}{
		{args: []string{"a.mp4", "rtmp://h/live/k"}, check: func(t *testing.T, o *push.Options) {
			if !o.RTMP || o.Loop != 1 || o.Speed != 1 || o.NoPace || o.Input != "a.mp4" || o.URL != "rtmp://h/live/k" {
				t.Fatalf("defaults %+v", o)
			}
		}},
		{args: []string{"--loop", "--speed", "2", "a.flv", "rtmps://h/live/k?user=u&pass=p"}, check: func(t *testing.T, o *push.Options) {
			if o.Loop != 0 || o.Speed != 2 {
				t.Fatalf("parsed %+v", o)
			}
		}},
		{args: []string{"--no-pace", "--format", "ts", "-", "rtmp://h/live/k"}, check: func(t *testing.T, o *push.Options) {
			if !o.NoPace || o.Format != "ts" || o.Input != "-" {
				t.Fatalf("parsed %+v", o)
			}
		}},
		{args: []string{"a.mp4"}, wantErr: "missing INPUT and URL"},
		{args: []string{"--speed", "-1", "a.mp4", "rtmp://h/live/k"}, wantErr: "--speed"},
		{args: []string{"--loop", "-", "rtmp://h/live/k"}, wantErr: "stdin"},
		{args: []string{"--video-only", "--audio-only", "a.mp4", "rtmp://h/live/k"}, wantErr: "exclude"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *push.Options
			cmd := rtmppush.NewCmdRTMPPush(cmdutil.NewFactory(ios), func(_ context.Context, o *push.Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(c.args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err %v (exit %d), want a usage error with %q", err, cmdutil.ExitCode(err), c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, got)
		})
	}
	// RTMP has no RTP transport: push's --transport is not a flag here, and
	// the root turns an unknown flag into a usage error.
	if r := clitest.Run(t, 10*time.Second, "rtmp-push", "--transport", "udp", "a.mp4", "rtmp://h/live/k"); r.Code != 2 || !strings.Contains(r.ErrLine(), "--transport") {
		t.Errorf("rtmp-push --transport:\n%s", r)
	}
}

// checkFLVRead asserts that an FLV read from a live stream for took holds
// 640x480 H.264 and 48 kHz stereo AAC, with a number of decoded video frames
// that fits the time it read: at most took × 25 (a live stream cannot give
// more than real time), at least what is left after the connection setup
// and one GOP (the decoder waits for a keyframe).
func checkFLVRead(t *testing.T, what, file string, took time.Duration) {
	t.Helper()
	r := testpeer.FFprobeStreams(t, "-count_frames", file)
	v, a := r.Video(), r.Audio()
	if v == nil || a == nil {
		t.Fatalf("%s: want video and audio, got %+v", what, r.Streams)
	}
	if v.CodecName != "h264" || v.Width != 640 || v.Height != 480 {
		t.Errorf("%s: video %s %dx%d, want h264 640x480", what, v.CodecName, v.Width, v.Height)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 || a.NbReadFrames == 0 {
		t.Errorf("%s: audio %s %d Hz %d ch %d frames, want aac 48000 Hz 2 ch", what, a.CodecName, a.SampleRate, a.Channels, a.NbReadFrames)
	}
	maxFrames := int(took.Seconds()*fps) + 3
	minFrames := int((took.Seconds()-1.5)*fps) - fps
	if v.NbReadFrames < max(minFrames, 1) || v.NbReadFrames > maxFrames {
		t.Errorf("%s: %d video frames in %v, want %d..%d", what, v.NbReadFrames, took.Round(time.Millisecond), max(minFrames, 1), maxFrames)
	}
	t.Logf("%s: h264 %dx%d, %d video frames and %d AAC frames in %v", what, v.Width, v.Height, v.NbReadFrames, a.NbReadFrames, took.Round(time.Millisecond))
}

// TestRTMPPushToNginx pushes each input container to nginx-rtmp three
// times (--loop=3, 12 s in real time) and checks the stream three ways while
// it plays (ffprobe rtmp://, rtmpdump into an FLV) and once it ended
// (nginx's own recording holds every frame).
func TestRTMPPushToNginx(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNginxRTMP, testpeer.PeerFFprobe, testpeer.PeerRTMPDump, testpeer.PeerTimeout)
	for _, name := range []string{"h264_baseline_aac.mp4", "h264_aac.ts", "h264_aac.flv"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := t.TempDir()
			ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(rec)})
			url := ng.URL("live", "cam")
			push := startAvcat(t, "rtmp-push", "--loop=3", media(name), url)

			p := testpeer.WaitRTMPStream(t, url)
			if v, a := p.Video(), p.Audio(); v == nil || a == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 480 ||
				a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
				t.Errorf("ffprobe rtmp://: %+v", p.Streams)
			}

			out, run := testpeer.RTMPDump(t, url, 4*time.Second)
			if !run.TimedOut() && run.Code != 0 {
				t.Fatalf("rtmpdump:\n%s", run)
			}
			checkFLVRead(t, "rtmpdump", out, run.Took)

			res := push.wait(t, 30*time.Second)
			if res.Code != 0 {
				t.Fatalf("rtmp-push:\n%s", res)
			}
			if res.Stdout != "" {
				t.Errorf("rtmp-push wrote %d bytes to stdout", len(res.Stdout))
			}
			// nginx finalizes its recording when the publisher leaves.
			file := testpeer.NginxRecording(rec, "cam")
			r := testpeer.FFprobeStreams(t, "-count_frames", file)
			v, a := r.Video(), r.Audio()
			if v == nil || a == nil {
				t.Fatalf("nginx recording: %+v", r.Streams)
			}
			if v.NbReadFrames != 3*100 {
				t.Errorf("nginx recorded %d video frames, want 300", v.NbReadFrames)
			}
			if a.NbReadFrames < 3*186 || a.NbReadFrames > 3*189 {
				t.Errorf("nginx recorded %d AAC frames, want about %d", a.NbReadFrames, 3*188)
			}
			if d := r.Format.Duration; d < 11.8 || d > 12.3 {
				t.Errorf("nginx recording lasts %.3f s, want 12", d)
			}
			// Each loop starts after the longer track of the previous one
			// (the AAC runs 32 ms past the last video frame), so the
			// video's largest step is a little under two frames.
			pk := testpeer.FFprobePackets(t, file)
			if step, err := pk.Of("video").CheckMonotonic(false); err != nil || step > 2.0/fps {
				t.Errorf("recorded video timestamps across the loops: largest step %.3f s, %v", step, err)
			}
			t.Logf("nginx recorded %d video frames, %d AAC frames, %.3f s", v.NbReadFrames, a.NbReadFrames, r.Format.Duration)
		})
	}
}

// TestRTMPPushStdin pushes MPEG-TS and FLV from stdin (sniffed) as fast as
// nginx takes them and checks nginx's recording.
func TestRTMPPushStdin(t *testing.T) {
	t.Parallel()
	rec := t.TempDir()
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: testpeer.NginxRecorder(rec)})
	for _, name := range []string{"h264_aac.ts", "h264_aac.flv"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(media(name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			key := strings.ReplaceAll(name, ".", "_")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r := clitest.RunStdin(ctx, f, "rtmp-push", "--speed", "4", "-", ng.URL("live", key))
			if r.Code != 0 {
				t.Fatalf("rtmp-push from stdin:\n%s", r)
			}
			p := testpeer.FFprobeStreams(t, "-count_frames", testpeer.NginxRecording(rec, key))
			v := p.Video()
			if v == nil || v.CodecName != "h264" || v.Width != 640 || v.NbReadFrames != 100 || p.Audio() == nil {
				t.Fatalf("nginx recorded %+v", p.Streams)
			}
		})
	}
}

// TestRTMPPushToFFmpegListen pushes to ffmpeg's one-shot RTMP server, which
// writes what it receives to an FLV file (stream copy). It answers FCPublish
// with a one-value onFCPublish, which gortmplib v1.0.2 cannot parse: the
// publish must go on past it.
func TestRTMPPushToFFmpegListen(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"h264_baseline_aac.mp4", "h264_aac.ts", "h264_aac.flv"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "rx.flv")
			url, peer := testpeer.FFmpegListenRTMP(t, out, time.Minute)
			r := clitest.Run(t, time.Minute, "rtmp-push", "--speed", "4", media(name), url)
			if r.Code != 0 {
				t.Fatalf("rtmp-push to ffmpeg -listen 1:\n%s\nffmpeg: %s", r, peer.Output())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := peer.Wait(ctx); err != nil {
				t.Fatalf("ffmpeg -listen 1: %v\n%s", err, peer.Output())
			}
			p := testpeer.FFprobeStreams(t, "-count_frames", out)
			v, a := p.Video(), p.Audio()
			if v == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 480 || v.NbReadFrames != 100 {
				t.Errorf("ffmpeg received video %+v", v)
			}
			if a == nil || a.CodecName != "aac" || a.SampleRate != 48000 || a.NbReadFrames < 186 {
				t.Errorf("ffmpeg received audio %+v", a)
			}
			if v != nil && a != nil {
				t.Logf("ffmpeg received %s %dx%d, %d video frames, %s %d Hz, %d audio frames",
					v.CodecName, v.Width, v.Height, v.NbReadFrames, a.CodecName, a.SampleRate, a.NbReadFrames)
			}
		})
	}
}

// TestRTMPPushBadInput checks the message and exit code of each way a push
// can be refused or go wrong.
func TestRTMPPushBadInput(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNginxRTMP)
	ng := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{Apps: []string{"live"}})
	deny := testpeer.StartNginxRTMP(t, testpeer.NginxOptions{AppDirectives: "deny publish all;"})
	srv := clitest.StartServe(t, "--publish-user", "pub:secret")
	httpSrv := testpeer.HTTPServer(t)
	silent := testpeer.SilentTCPServer(t)
	closed := testpeer.FreePort(t)
	clip := media("h264_aac.flv")

	// A stream that is being published makes a second publisher a BadName.
	busy := startAvcat(t, "rtmp-push", "--loop", clip, ng.URL("live", "busy"))
	testpeer.WaitRTMPStream(t, ng.URL("live", "busy"))

	cases := []struct {
		name  string
		args  []string
		codes []int
		want  []string // substrings of the error line; "|a|b" means a or b
	}{
		{"wrong app", []string{clip, ng.URL("wrongapp", "k")}, []int{3}, []string{`"wrongapp"`, "127.0.0.1"}},
		{"busy key", []string{clip, ng.URL("live", "busy")}, []int{3}, []string{"refused publish", "NetStream.Publish.BadName"}},
		{"unauthorized", []string{clip, srv.RTMP("live/k") + "?user=pub&pass=wrong"}, []int{4}, []string{"NetStream.Publish.Unauthorized"}},
		{"no credentials", []string{clip, srv.RTMP("live/k")}, []int{4}, []string{"NetStream.Publish.Unauthorized"}},
		// nginx-rtmp 1.2.2 answers NetStream.Publish.Start before its access
		// module drops the connection: there is no refusal code to show, but
		// the message must still say that the server ended the publish.
		{"denied by nginx", []string{clip, deny.URL("live", "k")}, []int{3, 4}, []string{"127.0.0.1", "|closed|dropped|refused|reset"}},
		{"HTTP server", []string{clip, httpSrv.URL("rtmp", "live/k")}, []int{3}, []string{"not an RTMP server", "answered HTTP"}},
		{"nothing listening", []string{clip, "rtmp://127.0.0.1:" + strconv.Itoa(closed) + "/live/k"}, []int{3}, []string{"connection refused"}},
		{"silent server", []string{"--timeout", "1s", clip, silent.URL("rtmp", "live/k")}, []int{3}, []string{"no RTMP answer", "1s"}},
		{"unsupported codec", []string{repoFile("pkg", "container", "mp4", "testdata", "only_mpeg4.mp4"), ng.URL("live", "m")}, []int{6}, []string{"mp4v"}},
		{"RTSP URL", []string{clip, "rtsp://127.0.0.1:" + strconv.Itoa(closed) + "/live/k"}, []int{2}, []string{"rtmp-push needs an rtmp://", "use push"}},
		{"HTTP URL", []string{clip, "http://127.0.0.1:" + strconv.Itoa(closed) + "/live/k"}, []int{2}, []string{"unsupported URL scheme \"http\""}},
		{"no app", []string{clip, "rtmp://127.0.0.1:" + strconv.Itoa(closed) + "/"}, []int{2}, []string{"no application"}},
		{"missing input", []string{filepath.Join(t.TempDir(), "nope.mp4"), ng.URL("live", "k")}, []int{5}, []string{"nope.mp4", "no such file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, append([]string{"rtmp-push"}, c.args...)...)
			line := r.ErrLine()
			okCode := false
			for _, code := range c.codes {
				okCode = okCode || r.Code == code
			}
			if !okCode || line == "" {
				t.Fatalf("exit %d, want %v with an error line:\n%s", r.Code, c.codes, r)
			}
			for _, w := range c.want {
				if strings.HasPrefix(w, "|") { // any of these
					found := false
					for _, alt := range strings.Split(w[1:], "|") {
						found = found || strings.Contains(line, alt)
					}
					if !found {
						t.Errorf("error line %q says none of %q", line, w[1:])
					}
					continue
				}
				if !strings.Contains(line, w) {
					t.Errorf("error line %q does not say %q", line, w)
				}
			}
			if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine ") {
				t.Errorf("stack trace on stderr:\n%s", r.Stderr)
			}
			if strings.Contains(r.Stderr, "wrong") && strings.Contains(line, "pass=wrong") {
				t.Errorf("password not redacted: %q", line)
			}
			t.Logf("exit %d: %s", r.Code, line)
		})
	}
	if busy.exited() {
		t.Errorf("the first publisher of the busy key stopped:\n%s", busy.stop())
	}
}
