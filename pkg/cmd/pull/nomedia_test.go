package pull_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/internal/testpeer/rtmppeer"
	"github.com/avcat/avcat/pkg/cmd/pull"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
)

// pFrameSource is a live H.264 stream that sends only P-frames (its first
// keyframe would come after the stop), then waits to be stopped or ends.
type pFrameSource struct {
	desc *description.Session
	end  bool // end the stream after the frames instead of waiting
}

func newPFrameSource(end bool) *pFrameSource {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1,
		SPS: []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40}, PPS: []byte{0x68, 0xce, 0x3c, 0x80}}
	return &pFrameSource{end: end, desc: &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{f}},
	}}}
}

func (s *pFrameSource) Open(context.Context) (*description.Session, error) { return s.desc, nil }

func (s *pFrameSource) Run(ctx context.Context, emit func(*media.Unit)) error {
	m := s.desc.Medias[0]
	for i := range 10 {
		emit(&media.Unit{Media: m, Format: m.Formats[0], PTS: int64(i) * 3600, DTS: int64(i) * 3600,
			Received: time.Now(), Payload: [][]byte{{0x41, 0x9a, 0x02, 0x03}}})
	}
	if s.end {
		return nil
	}
	<-ctx.Done()
	return nil
}

func (s *pFrameSource) Close() error { return nil }

// runFake runs pull with src standing in for every rtsp:// source.
func runFake(t *testing.T, src engine.Source, opts *pull.Options) (stderr string, code int) {
	t.Helper()
	ios, _, _, errOut := iostreams.Test()
	opts.IO = ios
	opts.Logger = func() *logging.Logger { return &logging.Logger{Out: errOut} }
	opts.Endpoints = func() *endpoint.Resolver {
		r := endpoint.NewResolver(endpoint.Config{})
		r.Register("rtsp", func(*url.URL, endpoint.SourceOptions) (engine.Source, error) { return src, nil })
		return r
	}
	opts.URL = "rtsp://127.0.0.1:1/fake"
	if opts.Frames == 0 {
		opts.Frames = -1
	}
	err := pull.Run(context.Background(), opts)
	if err != nil {
		stderr = errOut.String() + err.Error()
	}
	return stderr, cmdutil.ExitCode(err)
}

// TestPullNoUsableMedia: a stream that delivers no keyframe before the
// stop writes nothing; pull says so in one line, exits 3 and leaves no
// empty file behind (it used to write 0 bytes and exit 0).
func TestPullNoUsableMedia(t *testing.T) {
	for _, ext := range []string{"ts", "mp4", "flv", "h264"} {
		for _, end := range []bool{false, true} {
			name := ext + "/duration"
			if end {
				name = ext + "/eof"
			}
			t.Run(name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out."+ext)
				stderr, code := runFake(t, newPFrameSource(end), &pull.Options{Output: out, Duration: 300 * time.Millisecond})
				if code != 3 {
					t.Fatalf("exit %d, want 3: %s", code, stderr)
				}
				if !strings.Contains(stderr, "no usable media") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
					t.Fatalf("want one line saying no usable media, got %q", stderr)
				}
				if _, err := os.Stat(out); err == nil {
					t.Fatalf("%s left behind", out)
				}
			})
		}
	}
}

// TestPullSourceEnds: a source that goes away after media flowed ends a
// pull the same way over RTSP and RTMP: the file is finalized, exit 0, and
// stderr says why the stream ended (RTSP was silent, RTMP exited 3).
func TestPullSourceEnds(t *testing.T) {
	t.Parallel()
	clip := testpeer.MediaFile(t, "h264_aac.flv")
	dying := rtmppeer.DyingServer(t, clip, 300)
	srv := clitest.StartServe(t, "--no-loop", "--file", "clip="+testpeer.MediaFile(t, "h264_baseline_aac.mp4"))
	cases := []struct{ name, url, why string }{
		{"rtmp server dies", dying.URL("live/x"), "closed the connection"},
		{"rtsp session closed", srv.RTSP("clip"), "closed the connection"},
		{"rtmp end of stream", srv.RTMP("clip"), "NetStream.Play.Stop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.flv")
			r := clitest.Run(t, 30*time.Second, "pull", "-o", out, c.url)
			if r.Code != 0 {
				t.Fatalf("exit %d, want 0\n%s", r.Code, r)
			}
			if !strings.Contains(r.Stderr, "stream ended: ") || !strings.Contains(r.Stderr, c.why) {
				t.Fatalf("stderr does not say why the stream ended (%q)\n%s", c.why, r)
			}
			src := &flv.Source{Path: out}
			desc, err := src.Open(context.Background())
			if err != nil {
				t.Fatalf("the output is not a valid FLV: %v", err)
			}
			src.Close()
			if len(desc.Medias) == 0 {
				t.Fatal("no track in the output")
			}
		})
	}
}
