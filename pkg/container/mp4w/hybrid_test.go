package mp4w_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/mp4w"
	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// topBoxes lists the top-level boxes of a file, stopping at the first
// one that runs past its end (a fragment cut by a kill), and returns
// where that one starts.
func topBoxes(b []byte) (types []string, offsets []int, end int) {
	for pos := 0; pos+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[pos:]))
		if size == 1 && pos+16 <= len(b) {
			size = int(binary.BigEndian.Uint64(b[pos+8:]))
		}
		if size < 8 || pos+size > len(b) {
			return types, offsets, pos
		}
		types = append(types, string(b[pos+4:pos+8]))
		offsets = append(offsets, pos)
		pos += size
	}
	return types, offsets, len(b)
}

// readFragmented reads a fragmented MP4 with mediacommon's fMP4 reader
// (the one the sinks write with): the init, then every complete
// fragment. It returns the samples per track ID and their duration in
// seconds.
func readFragmented(t *testing.T, path string) (map[int]int, map[int]float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	types, offs, end := topBoxes(b)
	// the hybrid MP4 has a free box between ftyp and moov
	m := 1
	if len(types) > 1 && types[1] == "free" {
		m = 2
	}
	if len(types) < m+3 || types[0] != "ftyp" || types[m] != "moov" || types[m+1] != "moof" {
		t.Fatalf("%s: boxes %v, want ftyp (free) moov moof mdat…", filepath.Base(path), types)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(b[:offs[m+1]])); err != nil {
		t.Fatalf("init: %v", err)
	}
	scale := map[int]float64{}
	for _, tr := range init.Tracks {
		scale[tr.ID] = float64(tr.TimeScale)
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(b[offs[m+1]:end]); err != nil {
		t.Fatalf("fragments: %v", err)
	}
	n, dur := map[int]int{}, map[int]float64{}
	for _, p := range parts {
		for _, pt := range p.Tracks {
			n[pt.ID] += len(pt.Samples)
			for _, s := range pt.Samples {
				dur[pt.ID] += float64(s.Duration) / scale[pt.ID]
			}
		}
	}
	return n, dur
}

// TestMP4Kill9 records the H.264+AAC clip in real time to the hybrid MP4
// in a child process (this test binary, run again) and kills it with
// SIGKILL 2.5 s in: the file is a valid fragmented MP4 (read by
// mediacommon's fMP4 reader, the project's demuxer and ffprobe) that
// holds everything fed up to at most about a second before the kill.
func TestMP4Kill9(t *testing.T) {
	if out := os.Getenv("AVCAT_MP4W_KILL9_CHILD"); out != "" {
		kill9Child(t, out)
		return
	}
	out := filepath.Join(t.TempDir(), "killed.mp4")
	cmd := exec.Command(os.Args[0], "-test.run=^TestMP4Kill9$", "-test.v")
	cmd.Env = append(os.Environ(), "AVCAT_MP4W_KILL9_CHILD="+out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	p := testpeer.StartCmd(t, cmd, testpeer.ProcOptions{})
	sc := bufio.NewScanner(stdout)
	fed := 0.0
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "fed "); ok {
			fed, _ = strconv.ParseFloat(v, 64)
			if fed >= 2.5 {
				break
			}
		}
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = p.Wait(ctx)
	if fed < 2.5 {
		t.Fatalf("the child stopped after %.2f s of media:\n%s", fed, p.Output())
	}
	n, dur := readFragmented(t, out)
	// At most a second (the flusher's period) and a frame are lost; a
	// little more is allowed for a loaded machine.
	if want := fed - 1.3; dur[1] < want {
		t.Errorf("video: %d samples, %.2f s of the %.2f s fed; want at least %.2f s", n[1], dur[1], fed, want)
	}
	if n[2] == 0 {
		t.Error("no audio samples")
	}
	// the project's demuxer reads the fragments too
	if got := readBack(t, out); got != n[1]+n[2] {
		t.Errorf("our demuxer read %d units, want %d", got, n[1]+n[2])
	}
	if _, err := exec.LookPath("ffprobe"); err == nil {
		r := muxtest.Probe(t, out)
		if v := r.Video(); v == nil || v.CodecName != "h264" || v.Width != 640 || v.NbReadFrames != n[1] {
			t.Errorf("ffprobe: %+v, want h264 640 wide with %d frames", r.Streams, n[1])
		}
		if e := muxtest.DecodeErrors(t, out); e != "" {
			t.Errorf("ffmpeg -v error: %s", e)
		}
	}
	t.Logf("killed after %.2f s of media: %d video samples (%.2f s), %d audio samples (%.2f s)", fed, n[1], dur[1], n[2], dur[2])
}

// kill9Child feeds the clip to an MP4Sink at the pace of its timestamps
// and reports on stdout how much media it has written; it never closes.
func kill9Child(t *testing.T, out string) {
	desc, units := muxtest.Cases[0].Units(t)
	s := &mp4w.MP4Sink{Path: out}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, u := range units {
		at := time.Duration(float64(u.DTS) / float64(u.Format.ClockRate()) * float64(time.Second))
		time.Sleep(time.Until(start.Add(at))) // real-time pacing, not a readiness wait
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
		if media.IsVideo(u.Format) {
			fmt.Printf("fed %.3f\n", at.Seconds())
		}
	}
	select {} // wait for the kill
}

// TestMP4DiskFull fills a small disk while writing MP4 and fMP4: every
// file left is readable, and the error says what became of it.
func TestMP4DiskFull(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFprobe)
	desc, units := muxtest.Cases[0].Units(t)
	// the size of the complete file, and of its moov
	full := filepath.Join(t.TempDir(), "full.mp4")
	s := &mp4w.MP4Sink{Path: full}
	muxtest.Feed(t, s, desc, units)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(full)
	types, offs, _ := topBoxes(b)
	if strings.Join(types, " ") != "ftyp mdat moov" {
		t.Fatalf("boxes %v", types)
	}
	size, moov := int64(len(b)), int64(len(b)-offs[2])

	for _, c := range []struct {
		name  string
		new   func(path string, d *muxtest.Disk) engine.Sink
		limit int64
		did   string // what the error says was done
		// the file left: "mp4", "fmp4" or "" (removed)
		left string
	}{
		{"mp4 mid-recording", newMP4, size / 2, "finalized %s with the ", "mp4"},
		{"mp4 no room for the moov", newMP4, size - moov/2, "kept %s as fragmented MP4 up to its last complete fragment", "fmp4"},
		{"mp4 before the first fragment", newMP4, 2000, "removed %s: no fragment was complete", ""},
		{"fmp4 mid-recording", newFMP4, size / 2, "kept %s up to its last complete fragment", "fmp4"},
		{"fmp4 before the first fragment", newFMP4, 2000, "removed %s: no fragment was complete", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.mp4")
			d := &muxtest.Disk{Limit: c.limit}
			// Write (or Close) fails; Close says what became of the file.
			sink := c.new(out, d)
			err := feedUntilError(t, sink, desc, units)
			if cerr := sink.Close(); cerr != nil {
				err = cerr
			}
			if err == nil || !muxtest.IsNoSpace(err) || !strings.Contains(err.Error(), fmt.Sprintf(c.did, out)) {
				t.Fatalf("error %v, want ENOSPC and %q", err, fmt.Sprintf(c.did, out))
			}
			if k, _ := fault.KindOf(err); k != fault.Runtime {
				t.Errorf("kind %v", k)
			}
			t.Logf("%v (disk: %d of %d bytes)", err, d.Used(), c.limit)
			switch c.left {
			case "":
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("the unfinished file is still there (%v)", err)
				}
				return
			case "mp4":
				checkLayout(t, out)
				if n := readBack(t, out); n == 0 || n >= 288 {
					t.Errorf("our demuxer read %d units", n)
				}
			case "fmp4":
				if n, _ := readFragmented(t, out); n[1] == 0 || n[2] == 0 {
					t.Errorf("samples per track %v", n)
				} else if got := readBack(t, out); got != n[1]+n[2] {
					t.Errorf("our demuxer read %d units, want %d", got, n[1]+n[2])
				}
			}
			r := muxtest.Probe(t, out)
			if v := r.Video(); v == nil || v.CodecName != "h264" || v.NbReadFrames == 0 || r.Audio() == nil {
				t.Errorf("ffprobe: %+v", r.Streams)
			}
			if e := muxtest.DecodeErrors(t, out); e != "" {
				t.Errorf("ffmpeg -v error: %s", e)
			}
			t.Logf("left %s: %d video frames, %.2f s", c.left, r.Video().NbReadFrames, r.Format.Duration)
		})
	}
}

func newMP4(p string, d *muxtest.Disk) engine.Sink { return &mp4w.MP4Sink{Path: p, Create: d.Create} }

func newFMP4(p string, d *muxtest.Disk) engine.Sink {
	return &mp4w.FMP4Sink{Path: p, Create: d.Create}
}
