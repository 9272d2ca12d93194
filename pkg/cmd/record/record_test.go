package record_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/cmd/record"
)

func TestRecordFlags(t *testing.T) {
	dir := t.TempDir()
	sources, bad, empty := filepath.Join(dir, "cams.txt"), filepath.Join(dir, "bad.txt"), filepath.Join(dir, "empty.txt")
	for p, text := range map[string]string{
		sources: "# cameras\nrtsp://a/1\n\nrtsp://b/2  # yard\n",
		bad:     "rtsp://a/1\nrtsp://a/2 rtsp://a/3\n",
		empty:   "# none yet\n",
	} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *record.Options)
	}{
		{args: []string{"-o", "x.mp4", "rtsp://cam/x"}, check: func(t *testing.T, o *record.Options) {
			if len(o.URLs) != 1 || o.URLs[0] != "rtsp://cam/x" || o.Output != "x.mp4" || !o.Reconnect || o.RetryMin != 500*time.Millisecond ||
				o.RetryMax != 30*time.Second || o.Transport != "auto" || o.Segment != 0 || o.Duration != 0 || o.Format != "" ||
				o.ReadBatch != 200*time.Millisecond {
				t.Fatalf("defaults: %+v", o)
			}
		}},
		{args: []string{"-o", "cam/%Y/%H-%M-%S.ts", "--segment", "10m", "--duration", "1h", "--max-size", "1000",
			"--reconnect=false", "--format", "ts", "--transport", "tcp", "--video-only", "rtsp://cam/x"}, check: func(t *testing.T, o *record.Options) {
			if o.Segment != 10*time.Minute || o.Duration != time.Hour || o.MaxSize != 1000 || o.Reconnect ||
				o.Format != "ts" || o.Transport != "tcp" || !o.VideoOnly {
				t.Fatalf("parsed: %+v", o)
			}
		}},
		{args: []string{"-o", "x.mp4", "--read-batch", "0", "rtsp://cam/x"}, check: func(t *testing.T, o *record.Options) {
			if o.ReadBatch != 0 {
				t.Fatalf("--read-batch 0 = %v", o.ReadBatch)
			}
		}},
		{args: []string{"-o", "x.mp4", "--read-batch", "2s", "rtsp://cam/x"}, wantErr: "--read-batch must be between 0 and 1s"},
		{args: []string{"-o", "x.mp4", "--read-batch", "-1ms", "rtsp://cam/x"}, wantErr: "--read-batch must be between 0 and 1s"},
		{args: []string{"rtsp://cam/x"}, wantErr: "-o TEMPLATE is required"},
		{args: []string{"-o", "-", "rtsp://cam/x"}, wantErr: "use pull for stdout"},
		{args: []string{"-o", "x.mp4", "--segment", "500ms", "rtsp://cam/x"}, wantErr: "--segment must be at least 1s"},
		{args: []string{"-o", "x.mp4", "--duration", "-1s", "rtsp://cam/x"}, wantErr: "must not be negative"},
		{args: []string{"-o", "x.mp4", "--max-size", "-1", "rtsp://cam/x"}, wantErr: "invalid size"},
		{args: []string{"-o", "x.mp4", "--max-size", "lots", "rtsp://cam/x"}, wantErr: "invalid size"},
		{args: []string{"-o", "x.mp4", "--max-size", "100M", "rtsp://cam/x"}, check: func(t *testing.T, o *record.Options) {
			if o.MaxSize != 100_000_000 {
				t.Fatalf("--max-size 100M = %d bytes", o.MaxSize)
			}
		}},
		{args: []string{"-o", "x.mp4", "--max-size", "64MiB", "rtsp://cam/x"}, check: func(t *testing.T, o *record.Options) {
			if o.MaxSize != 64<<20 {
				t.Fatalf("--max-size 64MiB = %d bytes", o.MaxSize)
			}
		}},
		{args: []string{"-o", "x.mp4", "--retry-min", "2s", "--retry-max", "1s", "rtsp://cam/x"}, wantErr: "--retry-min"},
		{args: []string{"-o", "x.mp4", "--transport", "sctp", "rtsp://cam/x"}, wantErr: "invalid --transport"},
		{args: []string{"-o", "cam/%Q.mp4", "rtsp://cam/x"}, wantErr: "unknown directive %Q"},
		{args: []string{"-o", "cam/100%", "rtsp://cam/x"}, wantErr: "lone %"},
		{args: []string{"-o", "x.mp4"}, wantErr: "missing URL"},
		// Several sources.
		{args: []string{"-o", "%{host}/%{path}-%{index}.mp4", "rtsp://a/1", "rtmp://b/2"}, check: func(t *testing.T, o *record.Options) {
			if !slices.Equal(o.URLs, []string{"rtsp://a/1", "rtmp://b/2"}) || o.Output != "%{host}/%{path}-%{index}.mp4" {
				t.Fatalf("parsed: %+v", o)
			}
		}},
		{args: []string{"-o", "%{path}.mp4", "--sources", sources, "rtsp://a/0"}, check: func(t *testing.T, o *record.Options) {
			if !slices.Equal(o.URLs, []string{"rtsp://a/0", "rtsp://a/1", "rtsp://b/2"}) || o.Sources != sources {
				t.Fatalf("arguments, then the list: %q", o.URLs)
			}
		}},
		{args: []string{"-o", "%{path}.mp4", "--sources", sources}, check: func(t *testing.T, o *record.Options) {
			if !slices.Equal(o.URLs, []string{"rtsp://a/1", "rtsp://b/2"}) {
				t.Fatalf("the list: %q", o.URLs)
			}
		}},
		{args: []string{"-o", "%{path}.mp4", "rtsp://a/1"}, check: func(t *testing.T, o *record.Options) {}},
		{args: []string{"-o", "cam/%Y.mp4", "rtsp://a/1", "rtsp://b/2"}, wantErr: "gives sources 1 and 2 (rtsp://a/1, rtsp://b/2) the same file names"},
		{args: []string{"-o", "%{host}.mp4", "rtsp://a/1", "rtsp://u:secret@a/2"}, wantErr: "sources 1 and 2"},
		{args: []string{"-o", "%{path}.mp4", "rtsp://a/x", "rtsp://b/x"}, wantErr: "sources 1 and 2"},
		{args: []string{"-o", "%{name}.mp4", "rtsp://a/1"}, wantErr: "unknown field %{name}"},
		{args: []string{"-o", "%{index}.mp4", "--sources", filepath.Join(dir, "missing.txt")}, wantErr: "--sources: open"},
		{args: []string{"-o", "%{index}.mp4", "--sources", bad}, wantErr: "line 2: one URL a line"},
		{args: []string{"-o", "%{index}.mp4", "--sources", empty}, wantErr: "missing URL"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if got := clitest.ParseFlags(t, record.NewCmdRecord, c.args, c.wantErr); got != nil {
				c.check(t, got)
			}
		})
	}
}

// TestRecordBadOutput: output problems found before connecting are usage
// errors (exit 2), and nothing is created.
func TestRecordBadOutput(t *testing.T) {
	dir := t.TempDir()
	closed := "rtsp://127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)) + "/x"
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown extension", []string{"-o", filepath.Join(dir, "out.avi")}, "record writes .mp4 or .ts"},
		{"pull-only extension", []string{"-o", filepath.Join(dir, "out.flv")}, "record writes .mp4 or .ts"},
		{"no extension", []string{"-o", filepath.Join(dir, "out")}, "record writes .mp4 or .ts"},
		{"unknown format", []string{"-o", filepath.Join(dir, "out.mp4"), "--format", "mkv"}, `unknown --format "mkv"`},
		{"bad directive", []string{"-o", filepath.Join(dir, "%Y-%q.mp4")}, "unknown directive"},
		{"malformed URL", []string{"-o", filepath.Join(dir, "out.mp4")}, "missing scheme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := closed
			if c.name == "malformed URL" {
				url = "rtsp//cam/x"
			}
			r := clitest.Run(t, 20*time.Second, append(append([]string{"record"}, c.args...), url)...)
			if r.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.Code, r)
			}
			if !strings.Contains(r.ErrLine(), c.msg) {
				t.Fatalf("error line %q does not contain %q\n%s", r.ErrLine(), c.msg, r)
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("usage errors left files behind: %v", ents)
	}
}

// TestRecordUnwritableOutput: a template whose directory cannot be
// created, or whose file cannot be, fails fast with the path in a one-line
// error, a non-zero exit and no retry loop (a write problem is not a
// network problem).
func TestRecordUnwritableOutput(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--file", "clip="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, out, path, msg string }{
		{"directory under a regular file", filepath.Join(regular, "cam", "%Y", "out.mp4"), regular, "not a directory"},
		{"file under a regular file", filepath.Join(regular, "out.ts"), regular, "not a directory"},
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, out, path, msg string }{"read-only directory", filepath.Join(ro, "out.mp4"), ro, "permission denied"})
	} else {
		t.Log("running as root: the read-only directory case is skipped (root may write there)")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, 30*time.Second, "record", "--transport", "tcp", "--duration", "3s", "-o", c.out, srv.RTSP("clip"))
			if r.Took > 10*time.Second {
				t.Errorf("took %v: an unwritable output should fail at once, not retry", r.Took.Round(time.Millisecond))
			}
			if r.Code == 0 {
				t.Fatalf("exit 0 writing to %s\n%s", c.out, r)
			}
			line := r.ErrLine()
			if !strings.Contains(line, c.path) || !strings.Contains(strings.ToLower(line), c.msg) {
				t.Fatalf("error line %q should name %s and say %q\n%s", line, c.path, c.msg, r)
			}
			if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine ") {
				t.Fatalf("panic:\n%s", r.Stderr)
			}
			t.Logf("exit %d after %v: %s", r.Code, r.Took.Round(time.Millisecond), line)
		})
	}
}

// TestRecordNoAnswer: a server that accepts the connection and never
// answers, with --duration shorter than --timeout, used to end with exit
// 0, no file and no word. It is a network failure: one line, exit 3, and
// nothing left behind.
func TestRecordNoAnswer(t *testing.T) {
	t.Parallel()
	silent := testpeer.SilentTCPServer(t)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			dir := t.TempDir()
			r := clitest.Run(t, 20*time.Second, "record", "--timeout", "2s", "--transport", tr, "--duration", "1s", "-o", filepath.Join(dir, "out.mp4"), silent.URL("rtsp", "cam"))
			if r.Code != 3 {
				t.Fatalf("exit %d, want 3\n%s", r.Code, r)
			}
			if r.ErrLine() == "" || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Fatalf("want one error line\n%s", r)
			}
			t.Logf("exit %d after %v: %s", r.Code, r.Took.Round(time.Millisecond), r.ErrLine())
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("left files behind: %v", ents)
			}
		})
	}
}
