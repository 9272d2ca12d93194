// Command benchrelay is the probe of `make bench-relay`
// (scripts/bench-relay.sh). It is not part of avcat.
//
//	benchrelay measure -src rtsp://… -dst rtsp://…|rtmp://… -pid RELAYPID -duration 20s -label avcat
//	benchrelay freeport             prints a free TCP port of 127.0.0.1
//	benchrelay wait URL             waits (20 s at most) until an RTSP URL plays H.264
//	benchrelay table FILE           prints the results (NDJSON from measure) as a table
//	benchrelay media [flags] -- CMD  runs CMD, measures its steady state (make bench-media, media.go)
//	benchrelay mediatable FILE      prints the medians and ratios of media runs
//
// measure reads the relay's source and its destination at the same time,
// from this one process and so on one clock: the source over RTSP/TCP from
// the source server, the destination over RTSP/TCP or RTMP from the
// destination server. It depacketizes H.264 on both sides and keys every
// access unit by a hash of its VCL NAL units, which no relay changes (RTP
// forwarded untouched, RTP repacketized, or AVCC in RTMP). For each access
// unit it records when its last byte arrived on each side; the added
// latency of the path source server → relay → destination server →
// reader is the destination arrival minus the source arrival. The two
// reads leave the source server at the same moment (it writes each packet
// to all its readers in one loop), so the source arrival stands for "the
// packet left the source server". The destination server's own forwarding
// is part of the figure; the reference relay (ffmpeg) has the same
// servers, readers and clock, so the difference between the two rows is
// the relays'.
//
// Over the same window it samples the relay process -pid: CPU time (the
// run time of its threads in /proc/PID/task/*/schedstat, in nanoseconds;
// utime+stime ticks are too coarse for one stream) and memory (VmRSS, VmHWM
// from /proc/PID/status). It writes one JSON line to stdout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "measure":
		err = measure(os.Args[2:])
	case "freeport":
		err = freePort()
	case "wait":
		if len(os.Args) != 3 {
			usage()
		}
		_, err = retry(20*time.Second, func() (func(), error) { return readRTSP(os.Args[2], func(uint64, time.Time) {}) })
	case "table":
		if len(os.Args) != 3 {
			usage()
		}
		err = table(os.Args[2], os.Stdout)
	case "media":
		err = media(os.Args[2:])
	case "mediatable":
		if len(os.Args) != 3 {
			usage()
		}
		err = mediaTable(os.Args[2], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrelay:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchrelay measure -src URL -dst URL -pid PID [-duration D] [-label L] | freeport | wait URL | table FILE | media [flags] -- CMD... | mediatable FILE")
	os.Exit(2)
}

func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// Result is one row: one relay on one path.
type Result struct {
	Label       string  `json:"label"`
	Path        string  `json:"path"` // "rtsp->rtsp" or "rtsp->rtmp"
	Seconds     float64 `json:"seconds"`
	CPU         float64 `json:"cpu_seconds"`
	CPUPerMin   float64 `json:"cpu_seconds_per_stream_minute"`
	RSSKB       int64   `json:"rss_kb"`
	HWMKB       int64   `json:"peak_rss_kb"`
	SrcAUs      int     `json:"source_access_units"`
	DstAUs      int     `json:"destination_access_units"`
	Matched     int     `json:"matched"`
	P50ms       float64 `json:"latency_p50_ms"`
	P90ms       float64 `json:"latency_p90_ms"`
	P99ms       float64 `json:"latency_p99_ms"`
	Maxms       float64 `json:"latency_max_ms"`
	Minms       float64 `json:"latency_min_ms"`
	ReaderCPU   float64 `json:"probe_cpu_seconds"`
	Unmatched   int     `json:"unmatched"`
	Description string  `json:"description,omitempty"`
}

// clock keeps arrivals by access unit and collects latencies. An access
// unit can reach the destination reader before the source reader when the
// relay path is faster than the source server's write to its other
// reader: that gives a negative latency, kept as is.
type clock struct {
	mu        sync.Mutex
	src       map[uint64]time.Time
	early     map[uint64]time.Time // destination arrivals not yet seen at the source
	measuring bool
	lat       []time.Duration
	srcN      int
	dstN      int
	unmatched int
}

// match is the longest a pair may be apart (the clip loops every 4 s, so
// an access unit comes back 4 s later).
const match = 2 * time.Second

func (c *clock) source(key uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src[key] = at
	if !c.measuring {
		return
	}
	c.srcN++
	if d, ok := c.early[key]; ok {
		delete(c.early, key)
		if at.Sub(d) < match {
			c.lat = append(c.lat, d.Sub(at))
		}
	}
}

func (c *clock) destination(key uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.measuring {
		return
	}
	c.dstN++
	if s, ok := c.src[key]; ok && at.Sub(s) < match && !at.Before(s) {
		c.lat = append(c.lat, at.Sub(s))
		return
	}
	c.early[key] = at
}

// finish counts the destination arrivals that never matched.
func (c *clock) finish() {
	c.unmatched = len(c.early)
}

// vclKey hashes the VCL NAL units (types 1-5) of an H.264 access unit.
func vclKey(au [][]byte) (uint64, bool) {
	h := fnv.New64a()
	found := false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if t := n[0] & 0x1f; t >= 1 && t <= 5 {
			_, _ = h.Write(n)
			found = true
		}
	}
	return h.Sum64(), found
}

func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	src := fs.String("src", "", "RTSP URL of the relay's source")
	dst := fs.String("dst", "", "RTSP or RTMP URL of the relay's destination")
	pid := fs.Int("pid", 0, "relay process to measure")
	dur := fs.Duration("duration", 20*time.Second, "measurement window")
	settle := fs.Duration("settle", 3*time.Second, "wait after both reads run, before measuring")
	wait := fs.Duration("wait", 20*time.Second, "how long to retry until both streams play")
	label := fs.String("label", "relay", "name of the relay, for the table")
	_ = fs.Parse(args)
	if *src == "" || *dst == "" || *pid <= 0 {
		return errors.New("measure needs -src, -dst and -pid")
	}
	c := &clock{src: make(map[uint64]time.Time), early: make(map[uint64]time.Time)}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	closeSrc, err := retry(*wait, func() (func(), error) { return readRTSP(*src, c.source) })
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer closeSrc()
	var closeDst func()
	if strings.HasPrefix(*dst, "rtmp") {
		closeDst, err = retry(*wait, func() (func(), error) { return readRTMP(ctx, *dst, c.destination) })
	} else {
		closeDst, err = retry(*wait, func() (func(), error) { return readRTSP(*dst, c.destination) })
	}
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer closeDst()
	time.Sleep(*settle)

	tck := clockTicks()
	cpu0, err := procCPU(*pid, tck)
	if err != nil {
		return err
	}
	self0, _ := procCPU(os.Getpid(), tck)
	c.mu.Lock()
	c.measuring = true
	c.mu.Unlock()
	start := time.Now()
	time.Sleep(*dur)
	c.mu.Lock()
	c.measuring = false
	c.finish()
	lat := append([]time.Duration(nil), c.lat...)
	srcN, dstN, unmatched := c.srcN, c.dstN, c.unmatched
	c.mu.Unlock()
	cpu1, err := procCPU(*pid, tck)
	if err != nil {
		return fmt.Errorf("the relay exited during the run: %w", err)
	}
	elapsed := time.Since(start).Seconds()
	self1, _ := procCPU(os.Getpid(), tck)
	rss, hwm, _ := procMem(*pid)

	path := "rtsp->rtsp"
	if strings.HasPrefix(*dst, "rtmp") {
		path = "rtsp->rtmp"
	}
	res := Result{
		Label: *label, Path: path, Seconds: elapsed, CPU: cpu1 - cpu0, RSSKB: rss, HWMKB: hwm,
		SrcAUs: srcN, DstAUs: dstN, Matched: len(lat), Unmatched: unmatched, ReaderCPU: self1 - self0,
	}
	res.CPUPerMin = res.CPU / (elapsed / 60)
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 {
			i := min(len(lat)-1, int(p*float64(len(lat))))
			return float64(lat[i].Microseconds()) / 1000
		}
		res.P50ms, res.P90ms, res.P99ms = q(0.50), q(0.90), q(0.99)
		res.Minms, res.Maxms = float64(lat[0].Microseconds())/1000, float64(lat[len(lat)-1].Microseconds())/1000
	}
	if len(lat) < dstN/2 || dstN == 0 {
		return fmt.Errorf("%s: matched %d of %d destination access units (%d from the source)", *label, len(lat), dstN, srcN)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// retry calls open until it succeeds or limit passes.
func retry(limit time.Duration, open func() (func(), error)) (func(), error) {
	deadline := time.Now().Add(limit)
	for {
		closeFn, err := open()
		if err == nil {
			return closeFn, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readRTSP plays url over TCP and reports each H.264 access unit when its
// last packet arrives.
func readRTSP(rawURL string, report func(uint64, time.Time)) (func(), error) {
	closeFn, _, err := readRTSPAU(rawURL, func(au [][]byte, _ int64, at time.Time) {
		if k, ok := vclKey(au); ok {
			report(k, at)
		}
	})
	return closeFn, err
}

// readRTSPAU plays url over TCP and calls fn with each H.264 access unit,
// its PTS (90 kHz, from the RTP timestamps) and the arrival time of its
// last packet. It also returns the track, for its SPS and PPS.
func readRTSPAU(rawURL string, fn func(au [][]byte, pts int64, at time.Time)) (func(), *format.H264, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme: u.Scheme, Host: u.Host,
		Protocol: &tcp, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		OnPacketsLost: func(uint64) {}, OnDecodeError: func(error) {},
	}
	if err := c.Start(); err != nil {
		return nil, nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	var h264 *format.H264
	medi := desc.FindFormat(&h264)
	if medi == nil {
		c.Close()
		return nil, nil, fmt.Errorf("%s has no H.264 track", rawURL)
	}
	dec, err := h264.CreateDecoder()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		c.Close()
		return nil, nil, err
	}
	c.OnPacketRTP(medi, h264, func(pkt *rtp.Packet) {
		now := time.Now()
		// Every packet goes through PacketPTS: its decoder starts at the
		// first packet whose PTS equals its DTS.
		pts, ok := c.PacketPTS(medi, pkt)
		au, err := dec.Decode(pkt)
		if err != nil || !ok {
			return
		}
		fn(au, pts, now)
	})
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c.Close, h264, nil
}

// readRTMP plays url and reports each H.264 access unit when it arrives.
// gortmplib reads the first 2 s of media to find the tracks and then
// replays them: those come late, and the settle period skips them.
func readRTMP(ctx context.Context, rawURL string, report func(uint64, time.Time)) (func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	app, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	lu := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/" + app, Fragment: key}
	c := &gortmplib.Client{URL: lu}
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Initialize(ictx); err != nil {
		return nil, err
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	r := &gortmplib.Reader{Conn: c}
	if err := r.Initialize(); err != nil {
		c.Close()
		return nil, err
	}
	found := false
	for _, t := range r.Tracks() {
		// gortmplib's Reader needs a callback for every track it found.
		switch t.Codec.(type) {
		case *codecs.H264:
			found = true
			r.OnDataH264(t, func(_, _ time.Duration, au [][]byte) {
				if k, ok := vclKey(au); ok {
					report(k, time.Now())
				}
			})
		case *codecs.MPEG4Audio:
			r.OnDataMPEG4Audio(t, func(time.Duration, []byte) {})
		default:
			c.Close()
			return nil, fmt.Errorf("%s: unexpected track %T", rawURL, t.Codec)
		}
	}
	if !found {
		c.Close()
		return nil, fmt.Errorf("%s has no H.264 track", rawURL)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := r.Read(); err != nil {
				return
			}
		}
	}()
	return func() { c.Close(); <-done }, nil
}

func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

// procCPU returns the CPU time of pid in seconds: the sum over its threads
// of the nanosecond run time in /proc/PID/task/TID/schedstat, or, without
// schedstat, utime+stime from /proc/PID/stat (clock ticks, usually 10 ms).
func procCPU(pid int, tck float64) (float64, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return 0, err
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err == nil {
		var ns float64
		ok := true
		for _, tk := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, tk.Name()))
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue // the thread just exited
				}
				ok = false
				break
			}
			f := strings.Fields(string(b))
			v, err := strconv.ParseFloat(f[0], 64)
			if len(f) == 0 || err != nil {
				ok = false
				break
			}
			ns += v
		}
		if ok {
			return ns / 1e9, nil
		}
	}
	return procStatCPU(pid, tck)
}

// procStatCPU returns utime+stime of pid in seconds.
func procStatCPU(pid int, tck float64) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// After "pid (comm)": state is f[0]; utime and stime are fields 14
	// and 15 of the whole line, f[11] and f[12] here.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return (ut + st) / tck, nil
}

// procMem returns VmRSS and VmHWM of pid in KiB.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}

// table prints the results, then the avcat/ffmpeg ratios of each path.
func table(file string, w io.Writer) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rows []Result
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		rows = append(rows, r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\trelay\tseconds\tCPU s\tCPU s/stream-min\tRSS MiB\tpeak RSS MiB\tmatched AUs\tlatency min ms\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.3f\t%.3f\t%.1f\t%.1f\t%d/%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			r.Path, r.Label, r.Seconds, r.CPU, r.CPUPerMin, float64(r.RSSKB)/1024, float64(r.HWMKB)/1024,
			r.Matched, r.DstAUs, r.Minms, r.P50ms, r.P90ms, r.P99ms, r.Maxms)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, path := range []string{"rtsp->rtsp", "rtsp->rtmp"} {
		var a, f *Result
		for i := range rows {
			if rows[i].Path != path {
				continue
			}
			switch rows[i].Label {
			case "avcat":
				a = &rows[i]
			case "ffmpeg":
				f = &rows[i]
			}
		}
		if a == nil || f == nil || f.CPUPerMin == 0 || f.RSSKB == 0 {
			continue
		}
		fmt.Fprintf(w, "%s avcat/ffmpeg: CPU %.2f (goal <= 0.5), RSS %.2f, latency p50 %+.2f ms p99 %+.2f ms\n",
			path, a.CPUPerMin/f.CPUPerMin, float64(a.RSSKB)/float64(f.RSSKB), a.P50ms-f.P50ms, a.P99ms-f.P99ms)
	}
	for _, r := range rows {
		if r.Path == "rtsp->rtsp" && r.Label == "avcat" {
			verdict := "met"
			if r.P99ms >= 5 {
				verdict = "NOT met"
			}
			fmt.Fprintf(w, "rtsp->rtsp avcat p99 added latency %.2f ms (goal < 5 ms: %s)\n", r.P99ms, verdict)
		}
	}
	return nil
}
