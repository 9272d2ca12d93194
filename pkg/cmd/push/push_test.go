package push_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/push"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

func repoFile(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", ".."}, parts...)...)
}

func media(name string) string { return repoFile("testdata", "media", name) }

func TestPushFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *push.Options)
	}{
		{args: []string{"a.mp4", "rtsp://h/x"}, check: func(t *testing.T, o *push.Options) {
			if o.Loop != 1 || o.Speed != 1 || o.Transport != "tcp" || o.NoPace {
				t.Fatalf("defaults %+v", o)
			}
		}},
		{args: []string{"--loop", "a.mp4", "rtsp://h/x"}, check: func(t *testing.T, o *push.Options) {
			if o.Loop != 0 {
				t.Fatalf("--loop alone should loop forever, got %d", o.Loop)
			}
		}},
		{args: []string{"--loop=3", "--speed", "2", "--transport", "udp", "a.mp4", "rtsp://h/x"}, check: func(t *testing.T, o *push.Options) {
			if o.Loop != 3 || o.Speed != 2 || o.Transport != "udp" {
				t.Fatalf("parsed %+v", o)
			}
		}},
		{args: []string{"a.mp4"}, wantErr: "missing INPUT and URL"},
		{args: []string{"--transport", "multicast", "a.mp4", "rtsp://h/x"}, wantErr: "invalid --transport"},
		{args: []string{"--speed", "0", "a.mp4", "rtsp://h/x"}, wantErr: "--speed"},
		{args: []string{"--loop", "-", "rtsp://h/x"}, wantErr: "stdin"},
		{args: []string{"--video-only", "--audio-only", "a.mp4", "rtsp://h/x"}, wantErr: "exclude"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *push.Options
			cmd := push.NewCmdPush(cmdutil.NewFactory(ios), func(_ context.Context, o *push.Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(c.args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err %v, want usage error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, got)
		})
	}
}

// ffmpegListen starts `ffmpeg -rtsp_flags listen` writing what it receives
// to out (copy), and returns its URL once it listens.
func ffmpegListen(t *testing.T, out string) (string, *testpeer.Process) {
	t.Helper()
	testpeer.Require(t, "ffmpeg", "ffprobe")
	port := testpeer.FreePort(t)
	url := "rtsp://127.0.0.1:" + strconv.Itoa(port) + "/x"
	p := testpeer.StartCmd(t, exec.Command("timeout", "-k", "3", "60", "ffmpeg", "-v", "error", "-rtsp_flags", "listen",
		"-timeout", "30", "-i", url, "-c", "copy", "-y", out), testpeer.ProcOptions{})
	waitListening(t, port)
	return url, p
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		// ffmpeg's listen mode takes one connection only: check the socket
		// table instead of connecting.
		if listening(port) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("port %d never listened", port)
}

func listening(port int) bool {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false
	}
	defer f.Close()
	hex := strings.ToUpper(strconv.FormatInt(int64(port), 16))
	for len(hex) < 4 {
		hex = "0" + hex
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && strings.HasSuffix(fields[1], ":"+hex) && fields[3] == "0A" {
			return true
		}
	}
	return false
}

func TestPushToFFmpegListen(t *testing.T) {
	type pushCase struct {
		input     string
		codec     string
		audio     bool
		transport string
	}
	var cases []pushCase
	for _, tr := range []string{"tcp", "udp"} {
		cases = append(cases,
			pushCase{"h264_baseline_aac.mp4", "h264", true, tr},
			pushCase{"h264_high_bframes_aac.mp4", "h264", true, tr},
			pushCase{"h264_high_bframes_aac_nofaststart.mp4", "h264", true, tr},
			pushCase{"h265_aac.mp4", "hevc", true, tr},
			pushCase{"h264_aac.ts", "h264", true, tr},
			pushCase{"h264_aac.flv", "h264", true, tr},
			pushCase{"h264_baseline.h264", "h264", false, tr},
		)
	}
	for _, c := range cases {
		t.Run(c.input+"/"+c.transport, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rx.mp4")
			url, peer := ffmpegListen(t, out)
			r := clitest.Run(t, 60*time.Second, "push", "--speed", "2", "--transport", c.transport, media(c.input), url)
			if r.Code != 0 {
				t.Fatalf("push:\n%s", r)
			}
			if err := peer.Wait(context.Background()); err != nil {
				t.Fatalf("ffmpeg receiver: %v\n%s", err, peer.Output())
			}
			p := testpeer.FFprobeStreams(t, "-count_frames", out)
			v := p.Video()
			if v == nil || v.CodecName != c.codec || v.Width != 640 || v.Height != 480 {
				t.Fatalf("received video %+v", v)
			}
			// ffmpeg's listener may miss the very first frames of UDP.
			if v.NbReadFrames < 95 || v.NbReadFrames > 100 {
				t.Errorf("received %d video frames, want about 100", v.NbReadFrames)
			}
			if a := p.Audio(); c.audio && (a == nil || a.CodecName != "aac" || a.SampleRate != 48000) {
				t.Errorf("received audio %+v", a)
			}
		})
	}
}

func TestPushToGstreamerRecord(t *testing.T) {
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			dir := t.TempDir()
			vid, aud := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.aac")
			srv := testpeer.StartGstRTSPServer(t, testpeer.GstOptions{Mounts: []testpeer.Mount{testpeer.RecordH264AAC("/rec", vid, aud)}})
			r := clitest.Run(t, 60*time.Second, "push", "--speed", "2", "--transport", tr, media("h264_baseline_aac.mp4"), srv.URL("/rec"))
			if r.Code != 0 {
				t.Fatalf("push:\n%s", r)
			}
			srv.Process.Stop()
			v := testpeer.FFprobeStreams(t, "-count_frames", vid).Video()
			if v == nil || v.CodecName != "h264" || v.Width != 640 || v.NbReadFrames < 98 {
				t.Fatalf("GStreamer recorded video %+v", v)
			}
			a := testpeer.FFprobeStreams(t, "-count_frames", aud).Audio()
			if a == nil || a.CodecName != "aac" || a.NbReadFrames < 180 {
				t.Fatalf("GStreamer recorded audio %+v", a)
			}
		})
	}
}

func TestPushToAvcatServeAndPacing(t *testing.T) {
	srv := clitest.StartServe(t)
	url := srv.RTSP("live/pushed")

	// Read what arrives while pushing: 3 loops of the 4 s clip at 4x speed.
	type result struct {
		r     *clitest.Result
		start time.Time
		took  time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		r := clitest.Run(t, 60*time.Second, "push", "--loop=3", "--speed", "4", media("h264_baseline_aac.mp4"), url)
		done <- result{r, start, time.Since(start)}
	}()
	var probed *clitest.Result
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		probed = clitest.Run(t, 10*time.Second, "probe", url)
		if probed.Code == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if probed.Code != 0 || !strings.Contains(probed.Stdout, "640x480") {
		t.Fatalf("the pushed path never appeared on avcat serve:\n%s", probed)
	}
	res := <-done
	if res.r.Code != 0 {
		t.Fatalf("push:\n%s", res.r)
	}
	// 12 s of media at 4x: 3 s. Pacing follows the timestamps.
	ratio := res.took.Seconds() / 3.0
	t.Logf("pushed 12 s of media at 4x in %v (ratio %.3f)", res.took, ratio)
	if ratio < 0.95 || ratio > 1.2 {
		t.Errorf("paced push took %v for 3 s of scheduled media", res.took)
	}

	start := time.Now()
	r := clitest.Run(t, 60*time.Second, "push", "--no-pace", media("h264_baseline_aac.mp4"), srv.RTSP("live/fast"))
	if r.Code != 0 {
		t.Fatalf("--no-pace push:\n%s", r)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("--no-pace push of a 4 s clip took %v", took)
	}
}

func TestPushStdin(t *testing.T) {
	srv := clitest.StartServe(t)
	for _, name := range []string{"h264_aac.ts", "h264_aac.flv", "h264_baseline.h264"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(media(name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r := clitest.RunStdin(ctx, f, "push", "--speed", "4", "-", srv.RTSP("stdin/"+name))
			if r.Code != 0 {
				t.Fatalf("push from stdin:\n%s", r)
			}
		})
	}
}

// fakeRTSP answers OPTIONS with 200 and ANNOUNCE with the given status.
func fakeRTSP(t *testing.T, announceStatus string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					cseq, length := "", 0
					for {
						h, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if k, v, ok := strings.Cut(h, ":"); ok {
							switch strings.ToLower(strings.TrimSpace(k)) {
							case "cseq":
								cseq = strings.TrimSpace(v)
							case "content-length":
								length, _ = strconv.Atoi(strings.TrimSpace(v))
							}
						}
						if h == "\r\n" {
							break
						}
					}
					if length > 0 {
						buf := make([]byte, length)
						if _, err := br.Read(buf); err != nil {
							return
						}
					}
					status := "200 OK"
					if strings.HasPrefix(line, "ANNOUNCE") {
						status = announceStatus
					}
					c.Write([]byte("RTSP/1.0 " + status + "\r\nCSeq: " + cseq + "\r\nPublic: OPTIONS, ANNOUNCE\r\n\r\n"))
				}
			}(c)
		}
	}()
	return "rtsp://" + ln.Addr().String() + "/x"
}

func TestPushBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clip, err := os.ReadFile(media("h264_high_bframes_aac_nofaststart.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	srv := clitest.StartServe(t)
	url := srv.RTSP("live/bad")
	cases := []struct {
		name  string
		input string
		url   string
		code  int
		msg   string
	}{
		{"empty file", write("empty.mp4", nil), url, 6, "empty"},
		{"garbage", write("garbage.mp4", []byte(strings.Repeat("\x13\x37garbage", 500))), url, 6, "garbage.mp4"},
		{"moov cut off", write("cut.mp4", clip[:len(clip)/2]), url, 6, "moov"},
		{"unknown codec only", repoFile("pkg", "container", "mp4", "testdata", "only_mpeg4.mp4"), url, 6, "mp4v"},
		{"missing file", filepath.Join(dir, "nope.mp4"), url, 5, "no such file"},
		{"unknown extension", write("x.wav", []byte("RIFF")), url, 6, "unknown file type"},
		{"ANNOUNCE 401", media("h264_baseline_aac.mp4"), fakeRTSP(t, "401 Unauthorized"), 4, "401"},
		{"ANNOUNCE 405", media("h264_baseline_aac.mp4"), fakeRTSP(t, "405 Method Not Allowed"), 3, "server refused ANNOUNCE: 405 Method Not Allowed"},
		{"malformed URL", media("h264_baseline_aac.mp4"), "rtsp//x", 2, "malformed URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, "push", "--no-pace", c.input, c.url)
			if r.Code != c.code || !strings.Contains(r.ErrLine(), c.msg) {
				t.Fatalf("want exit %d with %q:\n%s", c.code, c.msg, r)
			}
			if strings.Contains(r.Stderr, "panic") || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
				t.Fatalf("not a one-line error:\n%s", r.Stderr)
			}
		})
	}
}

func TestPushServerGoesAway(t *testing.T) {
	srv := clitest.StartServe(t)
	done := make(chan *clitest.Result, 1)
	go func() {
		done <- clitest.Run(t, 60*time.Second, "push", "--loop", media("h264_baseline_aac.mp4"), srv.RTSP("live/away"))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for clitest.Run(t, 5*time.Second, "probe", srv.RTSP("live/away")).Code != 0 {
		if time.Now().After(deadline) {
			t.Fatal("push never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Stop()
	r := <-done
	if r.Code != 3 || r.ErrLine() == "" {
		t.Fatalf("a server that disappears mid-push is a network error (exit 3):\n%s", r)
	}
}

func TestPushReconnect(t *testing.T) {
	srv := clitest.StartServe(t)
	url := srv.RTSP("live/again")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *clitest.Result, 1)
	go func() {
		done <- clitest.RunContext(ctx, "push", "--loop", "--reconnect", "--retry-min", "100ms", "--retry-max", "500ms",
			media("h264_baseline_aac.mp4"), url)
	}()
	waitLive := func(s *clitest.Serve) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for clitest.Run(t, 5*time.Second, "probe", s.RTSP("live/again")).Code != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the push did not (re)appear on the server")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitLive(srv)
	srv.Stop()
	// The same server comes back on the same ports: the push reconnects.
	again := clitest.StartServeAt(t, srv.RTSPPort, srv.RTMPPort, srv.RTPPort)
	waitLive(again)
	r := clitest.Run(t, 20*time.Second, "probe", "--play", "2s", "-o", "json", again.RTSP("live/again"))
	if r.Code != 0 || !strings.Contains(r.Stdout, `"frames"`) {
		t.Fatalf("reading the reconnected push:\n%s", r)
	}
	cancel()
	res := <-done
	if res.Code != 0 || !strings.Contains(res.Stderr, "up") {
		t.Fatalf("push --reconnect should ride over the restart and stop cleanly:\n%s", res)
	}
}

// TestPushOneProc: a paced RTSP push asks for GOMAXPROCS 1 and GOGC 200;
// --no-pace and rtmp-push leave both alone, a GOMAXPROCS set by the user
// that one.
func TestPushOneProc(t *testing.T) {
	cases := []struct {
		name   string
		noPace bool
		rtmp   bool
		env    string
		want   int // GOMAXPROCS asked for, 0 for none
	}{
		{"paced", false, false, "", 1},
		{"no-pace", true, false, "", 0},
		{"rtmp-push", false, true, "", 0},
		{"GOMAXPROCS set", false, false, "2", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios)
			got, gc := 0, 0
			url := "rtsp://127.0.0.1:1/x"
			if c.rtmp {
				url = "rtmp://127.0.0.1:1/x"
			}
			opts := &push.Options{
				IO: ios, Logger: f.Logger, Endpoints: f.Endpoints,
				Runtime: cmdutil.Runtime{
					MaxProcs:  func(n int) int { got = n; return 2 },
					GCPercent: func(n int) int { gc = n; return 100 },
					Getenv: func(k string) string {
						if k == "GOMAXPROCS" {
							return c.env
						}
						return ""
					},
				},
				RTMP: c.rtmp, NoPace: c.noPace, Speed: 1, Loop: 1, ClientOptions: cmdutil.ClientOptions{Transport: "tcp"},
				Input: filepath.Join(t.TempDir(), "missing.mp4"), URL: url,
			}
			if err := push.Run(context.Background(), opts); err == nil {
				t.Fatal("a missing input should fail")
			}
			if got != c.want {
				t.Fatalf("GOMAXPROCS %d asked for, want %d", got, c.want)
			}
			wantGC := 0
			if !c.noPace && !c.rtmp {
				wantGC = cmdutil.OneStreamGC // GOGC is not set here
			}
			if gc != wantGC {
				t.Fatalf("GOGC %d asked for, want %d", gc, wantGC)
			}
		})
	}
}
