package pull_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/pull"
	"github.com/avcat/avcat/pkg/cmd/root"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

func TestPullFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *pull.Options)
	}{
		{args: []string{"rtsp://cam/x"}, check: func(t *testing.T, o *pull.Options) {
			if o.URL != "rtsp://cam/x" || o.Output != "-" || o.Transport != "auto" || o.Frames != -1 ||
				o.Duration != 0 || o.Gap != 0 || o.Fragmented || o.VideoOnly || o.AudioOnly || len(o.Tracks) != 0 {
				t.Fatalf("defaults: %+v", o)
			}
		}},
		{args: []string{"-o", "x.mp4", "--fragmented", "--duration", "3s", "--frames", "50", "--gap", "1s",
			"--transport", "tcp", "--track", "0", "--track", "1", "--user-agent", "ua", "rtsp://cam/x"}, check: func(t *testing.T, o *pull.Options) {
			if o.Output != "x.mp4" || !o.Fragmented || o.Duration != 3*time.Second || o.Frames != 50 || o.Gap != time.Second ||
				o.Transport != "tcp" || len(o.Tracks) != 2 || o.Tracks[0] != 0 || o.Tracks[1] != 1 || o.UserAgent != "ua" {
				t.Fatalf("parsed: %+v", o)
			}
		}},
		{args: []string{"--range", "npt=2.5-", "rtsp://cam/x"}, check: func(t *testing.T, o *pull.Options) {
			if o.Seek != 2500*time.Millisecond {
				t.Fatalf("--range npt=2.5- gave seek %v", o.Seek)
			}
		}},
		{args: []string{"--video-only", "rtsp://cam/x"}, check: func(t *testing.T, o *pull.Options) {
			if !o.VideoOnly || o.AudioOnly {
				t.Fatalf("parsed: %+v", o)
			}
		}},
		{args: []string{"--frames", "0", "rtsp://cam/x"}, wantErr: "--frames must be at least 1"},
		{args: []string{"--frames", "-2", "rtsp://cam/x"}, wantErr: "--frames must be at least 1"},
		{args: []string{"--frames", "many", "rtsp://cam/x"}, wantErr: "invalid argument"},
		{args: []string{"--duration", "-1s", "rtsp://cam/x"}, wantErr: "must not be negative"},
		{args: []string{"--gap", "-1s", "rtsp://cam/x"}, wantErr: "must not be negative"},
		{args: []string{"--video-only", "--audio-only", "rtsp://cam/x"}, wantErr: "exclude each other"},
		{args: []string{"--transport", "sctp", "rtsp://cam/x"}, wantErr: "invalid --transport"},
		{args: []string{"--range", "clock=x", "rtsp://cam/x"}, wantErr: "invalid --range"},
		{args: []string{}, wantErr: "missing URL"},
		{args: []string{"rtsp://a/x", "rtsp://b/y"}, wantErr: "too many arguments"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if got := clitest.ParseFlags(t, pull.NewCmdPull, c.args, c.wantErr); got != nil {
				c.check(t, got)
			}
		})
	}
}

// runWithTTY runs avcat in-process with stdout (and stderr) set to be a
// terminal, and returns stdout, stderr and the exit code.
func runWithTTY(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(true)
	ios.SetNoColor(true)
	cmd := root.NewCmdRoot(cmdutil.NewFactory(ios), "test")
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	_, err := cmd.ExecuteContextC(ctx)
	if err != nil {
		root.PrintError(ios, errOut, err)
	}
	return out.String(), errOut.String(), root.ExitCode(err)
}

// TestPullRefusesTerminal: binary media is never written to a terminal;
// the refusal comes before any connection (the URL points nowhere) and
// hints at what to do instead.
func TestPullRefusesTerminal(t *testing.T) {
	closed := "rtsp://127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)) + "/x"
	for _, args := range [][]string{
		{"pull", closed},
		{"pull", "-o", "-", closed},
		{"pull", "--format", "flv", closed},
		{"pull", "--format", "h264", closed},
		{"pull", "--fragmented", closed},
	} {
		t.Run(strings.Join(args[1:len(args)-1], " "), func(t *testing.T) {
			stdout, stderr, code := runWithTTY(t, 20*time.Second, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, stderr)
			}
			if stdout != "" {
				t.Fatalf("wrote %d bytes to the terminal", len(stdout))
			}
			if !strings.Contains(stderr, "refusing to write") || !strings.Contains(stderr, "terminal") ||
				!strings.Contains(stderr, "-o FILE") || !strings.Contains(stderr, "ffplay") {
				t.Fatalf("want a refusal with a hint (pipe, redirect or -o FILE), got:\n%s", stderr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("the error is not one line:\n%s", stderr)
			}
		})
	}
}

// TestPullBadOutput: output problems found before connecting are usage
// errors (exit 2) and leave no file behind.
func TestPullBadOutput(t *testing.T) {
	dir := t.TempDir()
	closed := "rtsp://127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)) + "/x"
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown extension", []string{"-o", filepath.Join(dir, "out.xyz")}, `unknown output type ".xyz"`},
		{"no extension", []string{"-o", filepath.Join(dir, "out")}, "unknown output type"},
		{"unknown format", []string{"-o", filepath.Join(dir, "out.ts"), "--format", "avi"}, `unknown output format "avi"`},
		{"pcap to stdout", []string{"-o", "-", "--format", "pcap"}, "needs a file"},
		{"rtpdump to stdout", []string{"-o", "-", "--format", "rtpdump"}, "needs a file"},
		{"frames 0", []string{"--frames", "0", "-o", filepath.Join(dir, "out.ts")}, "--frames must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 20*time.Second, append(append([]string{"pull"}, c.args...), closed)...)
			if r.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.Code, r)
			}
			if !strings.Contains(r.ErrLine(), c.msg) {
				t.Fatalf("error line %q does not contain %q\n%s", r.ErrLine(), c.msg, r)
			}
			if r.Stdout != "" {
				t.Fatalf("stdout must stay empty, got %d bytes", len(r.Stdout))
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("usage errors left files behind: %v", ents)
	}
}

// TestPullUnwritableOutput: an output that cannot be created or written
// gets a one-line error naming the path and a non-zero exit. The source is
// an in-process `avcat serve` of a file, so that the failure is the
// output's.
func TestPullUnwritableOutput(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--file", "clip="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	isDir := filepath.Join(dir, "isdir.ts")
	if err := os.Mkdir(isDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, out, msg string
	}{
		{"under a regular file", filepath.Join(regular, "sub", "out.ts"), "not a directory"},
		{"under a regular file mp4", filepath.Join(regular, "out.mp4"), "not a directory"},
		{"a directory", isDir, "is a directory"},
		{"missing directory", filepath.Join(dir, "nope", "out.ts"), "no such"},
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, out, msg string }{"read-only directory", filepath.Join(ro, "out.ts"), "permission denied"})
	} else {
		t.Log("running as root: the read-only directory case is skipped (root may write there)")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "2s", "-o", c.out, srv.RTSP("clip"))
			if r.Code == 0 {
				t.Fatalf("exit 0 writing to %s\n%s", c.out, r)
			}
			line := r.ErrLine()
			if !strings.Contains(line, c.out) || !strings.Contains(strings.ToLower(line), c.msg) {
				t.Fatalf("error line %q should name %s and say %q\n%s", line, c.out, c.msg, r)
			}
			if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine ") {
				t.Fatalf("panic:\n%s", r.Stderr)
			}
			t.Logf("exit %d: %s", r.Code, line)
		})
	}
	// A full disk: /dev/full accepts the open and fails every write.
	t.Run("disk full", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "3s", "--format", "ts", "-o", "/dev/full", srv.RTSP("clip"))
		if r.Code == 0 {
			t.Fatalf("exit 0 although every write failed\n%s", r)
		}
		if !strings.Contains(strings.ToLower(r.ErrLine()), "no space left") {
			t.Fatalf("error line %q should report the full disk\n%s", r.ErrLine(), r)
		}
		t.Logf("exit %d: %s", r.Code, r.ErrLine())
	})
}

// TestPullSourceErrors: a missing path, a refused connection and sources
// that die before PLAY get one clear line and the documented exit code.
func TestPullSourceErrors(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t)
	diesAtSetup := testpeer.StartDescribeOnlyServer(t, testpeer.SDPH264AAC, "SETUP")
	diesAtPlay := testpeer.StartDescribeOnlyServer(t, testpeer.SDPH264AAC, "PLAY")
	diesAtDescribe := testpeer.StartDescribeOnlyServer(t, testpeer.SDPH264AAC, "DESCRIBE")
	closed := "rtsp://127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)) + "/cam"
	cases := []struct {
		name string
		url  string
		code int
		msg  string
	}{
		{"404", srv.RTSP("nope"), 5, "not found"},
		{"refused", closed, 3, "connection refused"},
		{"dies at DESCRIBE", diesAtDescribe.URL("rtsp", "cam"), 3, "closed the connection"},
		{"dies at SETUP", diesAtSetup.URL("rtsp", "cam"), 3, "closed the connection"},
		{"dies at PLAY", diesAtPlay.URL("rtsp", "cam"), 3, "closed the connection"},
	}
	for _, c := range cases {
		for _, tr := range []string{"tcp", "udp"} {
			t.Run(c.name+"/"+tr, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				out := filepath.Join(dir, "out.mp4")
				r := clitest.Run(t, 20*time.Second, "pull", "--transport", tr, "--timeout", "3s", "-o", out, c.url)
				if r.Took >= 20*time.Second {
					t.Fatalf("pull hung:\n%s", r)
				}
				if r.Code != c.code {
					t.Errorf("exit %d, want %d\n%s", r.Code, c.code, r)
				}
				if !strings.Contains(r.ErrLine(), c.msg) {
					t.Errorf("error line %q does not contain %q\n%s", r.ErrLine(), c.msg, r)
				}
				if strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
					t.Errorf("more than one line on stderr:\n%s", r.Stderr)
				}
				if st, err := os.Stat(out); err == nil {
					if pr, perr := testpeer.FFprobe(20*time.Second, out); perr != nil || pr.Video() == nil {
						t.Errorf("the failed pull left %s behind (%d bytes, no stream in it: %v)", filepath.Base(out), st.Size(), perr)
					}
				}
				t.Logf("exit %d after %v: %s", r.Code, r.Took.Round(time.Millisecond), r.ErrLine())
			})
		}
	}
}
