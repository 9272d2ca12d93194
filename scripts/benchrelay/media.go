package main

// The media and mediatable commands of `make bench-media`
// (scripts/bench-media.sh).
//
//	benchrelay media -row R -clip C -tool T -round N [-skip 5s] [-window 40s]
//	                 [-watch rtsp://…] [-pacing] [-out DIR] [-log FILE] -- CMD ARGS...
//
// media starts CMD itself (so it knows the exact start and the PID) and:
//   - with -watch, reads that RTSP URL (the job's output at the server,
//     retried every 20 ms until it plays): the start-up row is the wall
//     time from exec to the first H.264 access unit there, and CMD's CPU
//     time at that moment (from schedstat, in ns: utime+stime ticks of
//     10 ms are too coarse for start-up);
//   - skips -skip, then takes CMD's utime+stime (/proc/PID/stat) at the
//     start and the end of -window: CPU seconds per stream-minute;
//   - at the end of the window, reads VmHWM (/proc/PID/status): peak RSS;
//   - with -pacing, for every access unit that reaches the -watch reader
//     inside the window, takes its DTS (from the RTP PTS and the SPS, with
//     mediacommon's DTS extractor: the clips have B-frames) and its arrival
//     time; its lateness is (arrival - DTS) minus the smallest such offset
//     of the window, so the earliest frame counts as on time. The figure
//     includes lalserver's forwarding and the loopback, the same for both
//     tools;
//   - stops CMD (SIGTERM, SIGKILL after 5 s) and sums the bytes in -out.
// It writes one JSON line to stdout.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// MediaResult is one run: one tool doing one job on one clip.
type MediaResult struct {
	Row        string  `json:"row"`
	Clip       string  `json:"clip"`
	Tool       string  `json:"tool"`
	Round      int     `json:"round"`
	Window     float64 `json:"window_seconds"`
	CPU        float64 `json:"cpu_seconds"`
	CPUPerMin  float64 `json:"cpu_seconds_per_stream_minute"`
	HWMKB      int64   `json:"peak_rss_kb"`
	StartMS    float64 `json:"startup_wall_ms,omitempty"`
	StartCPU   float64 `json:"startup_cpu_seconds,omitempty"`
	Frames     int     `json:"frames_in_window,omitempty"`
	Pacing     bool    `json:"pacing,omitempty"`
	PaceP50ms  float64 `json:"pacing_p50_ms,omitempty"`
	PaceP99ms  float64 `json:"pacing_p99_ms,omitempty"`
	PaceMaxms  float64 `json:"pacing_max_ms,omitempty"`
	PaceErrors int     `json:"pacing_dts_errors,omitempty"`
	OutBytes   int64   `json:"output_bytes,omitempty"`
	OutFrames  int     `json:"output_video_frames,omitempty"`
}

// pacer collects (arrival, DTS) pairs of the window. A DTS error (a jump
// the extractor refuses) starts a new segment with its own baseline.
type pacer struct {
	mu        sync.Mutex
	sps, pps  []byte
	ext       *h264.DTSExtractor
	seg       int
	from, to  time.Time
	offs      []pacerOff
	errs      int
	firstAt   time.Time
	firstSeen bool
	onFirst   func(time.Time)
}

type pacerOff struct {
	seg int
	off time.Duration // arrival - DTS, from a common origin
}

func (p *pacer) au(au [][]byte, pts int64, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.firstSeen {
		p.firstSeen, p.firstAt = true, at
		if p.onFirst != nil {
			p.onFirst(at)
		}
	}
	if p.ext == nil {
		if !h264.IsRandomAccess(au) {
			return
		}
		p.ext = h264.NewDTSExtractor()
	}
	if h264.IsRandomAccess(au) && p.sps != nil && !hasSPS(au) {
		au = append([][]byte{p.sps, p.pps}, au...)
	}
	dts, err := p.ext.Extract(au, pts)
	if err != nil {
		p.errs++
		p.ext = nil
		p.seg++
		return
	}
	if at.Before(p.from) || at.After(p.to) {
		return
	}
	p.offs = append(p.offs, pacerOff{seg: p.seg, off: at.Sub(p.from) - time.Duration(dts)*time.Second/90000})
}

func hasSPS(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return true
		}
	}
	return false
}

// lateness returns every frame's lateness: its offset minus the smallest
// offset of its segment.
func (p *pacer) lateness() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	mins := map[int]time.Duration{}
	for _, o := range p.offs {
		if m, ok := mins[o.seg]; !ok || o.off < m {
			mins[o.seg] = o.off
		}
	}
	l := make([]time.Duration, 0, len(p.offs))
	for _, o := range p.offs {
		l = append(l, o.off-mins[o.seg])
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l
}

func media(args []string) error {
	fs := flag.NewFlagSet("media", flag.ExitOnError)
	var r MediaResult
	fs.StringVar(&r.Row, "row", "", "job, for the table (push, relay-rtsp-rtsp...)")
	fs.StringVar(&r.Clip, "clip", "", "clip name, for the table")
	fs.StringVar(&r.Tool, "tool", "", "avcat or ffmpeg")
	fs.IntVar(&r.Round, "round", 1, "round number")
	skip := fs.Duration("skip", 5*time.Second, "start-up time left out of the window")
	window := fs.Duration("window", 40*time.Second, "measurement window")
	watch := fs.String("watch", "", "RTSP URL where the job's output appears (start-up and pacing)")
	pacing := fs.Bool("pacing", false, "measure the pacing error of frames arriving at -watch")
	out := fs.String("out", "", "directory whose bytes are counted after the run")
	logf := fs.String("log", "", "file for the command's stdout and stderr")
	_ = fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 || r.Row == "" || r.Tool == "" {
		return errors.New("media needs -row, -tool and a command after --")
	}
	var logw io.Writer = io.Discard
	if *logf != "" {
		f, err := os.Create(*logf)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	tck := clockTicks()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logw, logw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()

	from := start.Add(*skip)
	p := &pacer{from: from, to: from.Add(*window)}
	startCPU := make(chan float64, 1)
	p.onFirst = func(time.Time) {
		c, _ := procCPU(pid, tck) // schedstat ns: ticks are too coarse for start-up
		startCPU <- c
	}
	readerDone := make(chan struct{})
	var closeReader func()
	var readerMu sync.Mutex
	if *watch != "" {
		go func() {
			defer close(readerDone)
			deadline := from.Add(*window)
			for time.Now().Before(deadline) {
				select {
				case <-exited:
					return
				default:
				}
				closeFn, f, err := readRTSPAU(*watch, p.au)
				if err == nil {
					p.mu.Lock()
					p.sps, p.pps = f.SPS, f.PPS
					p.mu.Unlock()
					readerMu.Lock()
					closeReader = closeFn
					readerMu.Unlock()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	} else {
		close(readerDone)
	}

	sleepUntil := func(t time.Time) error {
		select {
		case <-exited:
			return fmt.Errorf("%s %s %s exited early (%v); see its log %s", r.Tool, r.Row, r.Clip, waitErr, *logf)
		case <-time.After(time.Until(t)):
			return nil
		}
	}
	if err := sleepUntil(from); err != nil {
		return err
	}
	cpu0, err := procStatCPU(pid, tck)
	if err != nil {
		return err
	}
	if err := sleepUntil(p.to); err != nil {
		return err
	}
	cpu1, err := procStatCPU(pid, tck)
	if err != nil {
		return err
	}
	_, hwm, _ := procMem(pid)
	r.Window = time.Since(from).Seconds()
	<-readerDone
	readerMu.Lock()
	if closeReader != nil {
		closeReader()
	}
	readerMu.Unlock()
	stop()

	r.CPU = cpu1 - cpu0
	r.CPUPerMin = r.CPU / (r.Window / 60)
	r.HWMKB = hwm
	if *watch != "" {
		p.mu.Lock()
		seen, at := p.firstSeen, p.firstAt
		p.mu.Unlock()
		if !seen {
			return fmt.Errorf("%s %s %s: nothing arrived at %s", r.Tool, r.Row, r.Clip, *watch)
		}
		r.StartMS = float64(at.Sub(start).Microseconds()) / 1000
		r.StartCPU = <-startCPU
	}
	l := p.lateness()
	r.Frames = len(l)
	if *pacing {
		r.Pacing, r.PaceErrors = true, p.errs
		if len(l) > 0 {
			q := func(x float64) float64 {
				return float64(l[min(len(l)-1, int(x*float64(len(l))))].Microseconds()) / 1000
			}
			r.PaceP50ms, r.PaceP99ms, r.PaceMaxms = q(0.50), q(0.99), float64(l[len(l)-1].Microseconds())/1000
		}
	}
	if *out != "" {
		_ = filepath.WalkDir(*out, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					r.OutBytes += fi.Size()
				}
				r.OutFrames += videoPackets(path)
			}
			return nil
		})
		if r.OutBytes == 0 {
			return fmt.Errorf("%s %s %s wrote nothing to %s; see its log %s", r.Tool, r.Row, r.Clip, *out, *logf)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// videoPackets counts the video packets of a file with ffprobe (0 when
// it cannot read it): the check that a recorder did its job.
func videoPackets(path string) int {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path).Output()
	if err != nil {
		return 0
	}
	// MPEG-TS lists the stream under its program too: take the first line.
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	n, _ := strconv.Atoi(strings.TrimSpace(first))
	return n
}

// mediaTable prints, per job and clip, the medians over rounds of each
// tool and the avcat/ffmpeg ratio; then pacing and start-up.
func mediaTable(file string, w io.Writer) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	type key struct{ row, clip string }
	runs := map[key]map[string][]MediaResult{}
	var order []key
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r MediaResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		k := key{r.Row, r.Clip}
		if runs[k] == nil {
			runs[k] = map[string][]MediaResult{}
			order = append(order, k)
		}
		runs[k][r.Tool] = append(runs[k][r.Tool], r)
	}
	med := func(rs []MediaResult, f func(MediaResult) float64) float64 {
		if len(rs) == 0 {
			return 0
		}
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	cpu := func(r MediaResult) float64 { return r.CPUPerMin }
	// frames: at the server in the window (push, relay), or in the
	// output files of the whole run (record).
	frames := func(r MediaResult) float64 { return float64(r.Frames + r.OutFrames) }
	hwm := func(r MediaResult) float64 { return float64(r.HWMKB) / 1024 }

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "steady state\tclip\tavcat CPU-s/min\tffmpeg CPU-s/min\tCPU avcat/ffmpeg\tavcat peak RSS MiB\tffmpeg peak RSS MiB\tRSS avcat/ffmpeg\tframes avcat/ffmpeg\trounds\t")
	for _, k := range order {
		a, f := runs[k]["avcat"], runs[k]["ffmpeg"]
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%s\t%.1f\t%.1f\t%s\t%.0f/%.0f\t%d/%d\t\n", k.row, k.clip,
			med(a, cpu), med(f, cpu), ratio(med(a, cpu), med(f, cpu)),
			med(a, hwm), med(f, hwm), ratio(med(a, hwm), med(f, hwm)),
			med(a, frames), med(f, frames), len(a), len(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "start-up (exec to first frame at the server)\tclip\tavcat ms\tffmpeg ms\twall avcat/ffmpeg\tavcat CPU s\tffmpeg CPU s\tCPU avcat/ffmpeg\t")
	ms := func(r MediaResult) float64 { return r.StartMS }
	scpu := func(r MediaResult) float64 { return r.StartCPU }
	for _, k := range order {
		a, f := runs[k]["avcat"], runs[k]["ffmpeg"]
		if med(a, ms) == 0 && med(f, ms) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%s\t%.2f\t%.2f\t%s\t\n", k.row, k.clip,
			med(a, ms), med(f, ms), ratio(med(a, ms), med(f, ms)),
			med(a, scpu), med(f, scpu), ratio(med(a, scpu), med(f, scpu)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	pacing := false
	for _, k := range order {
		for _, rs := range runs[k] {
			for _, r := range rs {
				pacing = pacing || r.Pacing
			}
		}
	}
	if !pacing {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pacing (frame lateness vs DTS, at the server)\tclip\tavcat p50 ms\tavcat p99 ms\tavcat max ms\tffmpeg p50 ms\tffmpeg p99 ms\tffmpeg max ms\tframes avcat/ffmpeg\t")
	p50 := func(r MediaResult) float64 { return r.PaceP50ms }
	p99 := func(r MediaResult) float64 { return r.PaceP99ms }
	pmax := func(r MediaResult) float64 { return r.PaceMaxms }
	for _, k := range order {
		a, f := runs[k]["avcat"], runs[k]["ffmpeg"]
		if !slices.ContainsFunc(append(a, f...), func(r MediaResult) bool { return r.Pacing }) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f/%.0f\t\n", k.row, k.clip,
			med(a, p50), med(a, p99), med(a, pmax), med(f, p50), med(f, p99), med(f, pmax), med(a, frames), med(f, frames))
	}
	return tw.Flush()
}
