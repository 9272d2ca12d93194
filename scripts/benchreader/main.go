// Command benchreader is the load generator of `make bench-serve`
// (scripts/bench-serve.sh). It is not part of avcat.
//
//	benchreader run -url rtsp://127.0.0.1:P/path -n 100 -duration 20s -pid SERVERPID -label avcat
//	benchreader freeport [-udp]     prints a free TCP (or UDP) port of 127.0.0.1
//	benchreader table FILE          prints the results (NDJSON from run) as a table
//
// run opens N RTSP/TCP reader sessions from this one process with
// gortsplib's client, waits until all of them play, lets them settle, then
// measures for -duration: packets and bytes per reader, packets lost (RTP
// sequence gaps per track), and for the server process -pid its CPU time
// (utime+stime from /proc/PID/stat) and memory (VmRSS, VmHWM from
// /proc/PID/status). It writes one JSON line to stdout.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/pion/rtp"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "freeport":
		err = freePort(len(os.Args) > 2 && os.Args[2] == "-udp")
	case "table":
		if len(os.Args) != 3 {
			usage()
		}
		err = table(os.Args[2], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreader:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchreader run -url URL -n N -duration D -pid PID [-label L] | freeport [-udp] | table FILE")
	os.Exit(2)
}

// freePort prints a port of 127.0.0.1 that is free right now (TCP, or
// UDP with -udp). The caller binds it soon after, and retries on a race.
func freePort(udp bool) error {
	if udp {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer pc.Close()
		fmt.Println(pc.LocalAddr().(*net.UDPAddr).Port)
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// Result is one row: one server under one load.
type Result struct {
	Label          string  `json:"label"`
	Readers        int     `json:"readers"`
	Playing        int     `json:"playing"`
	Seconds        float64 `json:"seconds"`
	ServerCPU      float64 `json:"server_cpu_seconds"`
	CPUPerReaderMn float64 `json:"cpu_seconds_per_reader_minute"`
	BytesPerSec    float64 `json:"bytes_per_second"`
	PacketsPerSec  float64 `json:"packets_per_second"`
	Packets        uint64  `json:"packets"`
	Lost           uint64  `json:"packets_lost"`
	MinReaderPkts  uint64  `json:"min_reader_packets"`
	RSSKB          int64   `json:"rss_kb"`
	HWMKB          int64   `json:"peak_rss_kb"`
	ReaderCPU      float64 `json:"reader_cpu_seconds"`
	// TrackPktRate is packets/s of each track, per reader: it shows how the
	// server packetizes (the CPU cost is per packet more than per byte).
	TrackPktRate []float64 `json:"track_packets_per_second_per_reader"`
	Errors       int       `json:"reader_errors"`
}

// maxTracks bounds the per-track counters.
const maxTracks = 8

type reader struct {
	c       *gortsplib.Client
	tracks  [maxTracks]atomic.Uint64
	packets atomic.Uint64
	bytes   atomic.Uint64
	lost    atomic.Uint64
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "RTSP URL to read")
	n := fs.Int("n", 10, "number of readers")
	dur := fs.Duration("duration", 20*time.Second, "measurement window")
	settle := fs.Duration("settle", 2*time.Second, "wait after all readers play, before measuring")
	pid := fs.Int("pid", 0, "server process to measure")
	label := fs.String("label", "server", "name of the server, for the table")
	parallel := fs.Int("parallel", 16, "sessions set up at once")
	wait := fs.Duration("wait", 15*time.Second, "how long to retry until the path is live")
	_ = fs.Parse(args)
	if *url == "" || *pid <= 0 || *n <= 0 {
		return errors.New("run needs -url, -n and -pid")
	}
	u, err := base.ParseURL(*url)
	if err != nil {
		return err
	}
	if err := waitLive(u, *wait); err != nil {
		return err
	}

	readers := make([]*reader, *n)
	var errs atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var r *reader
			var err error
			for try := range 3 { // a busy server may answer 503 to a burst of SETUPs
				if r, err = startReader(u); err == nil {
					break
				}
				time.Sleep(time.Duration(200*(try+1)) * time.Millisecond)
			}
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			readers[i] = r
		}()
	}
	wg.Wait()
	defer func() {
		for _, r := range readers {
			if r != nil {
				r.c.Close()
			}
		}
	}()
	playing := 0
	for _, r := range readers {
		if r != nil {
			playing++
		}
	}
	if playing == 0 {
		return fmt.Errorf("no reader could play %s: %v", *url, firstErr.Load())
	}
	if e := errs.Load(); e > 0 {
		fmt.Fprintf(os.Stderr, "benchreader: %d of %d readers failed: %v\n", e, *n, firstErr.Load())
	}
	time.Sleep(*settle)

	tck := clockTicks()
	cpu0, err := procCPU(*pid, tck)
	if err != nil {
		return err
	}
	self0, _ := procCPU(os.Getpid(), tck)
	pk0, by0, lo0 := snapshot(readers)
	tr0 := trackTotals(readers)
	start := time.Now()
	time.Sleep(*dur)
	cpu1, err := procCPU(*pid, tck)
	if err != nil {
		return fmt.Errorf("server exited during the run: %w", err)
	}
	elapsed := time.Since(start).Seconds()
	self1, _ := procCPU(os.Getpid(), tck)
	pk1, by1, lo1 := snapshot(readers)
	tr1 := trackTotals(readers)
	rss, hwm, _ := procMem(*pid)

	minPk := ^uint64(0)
	for i, r := range readers {
		if r == nil {
			continue
		}
		if d := pk1[i] - pk0[i]; d < minPk {
			minPk = d
		}
	}
	res := Result{
		Label: *label, Readers: *n, Playing: playing, Seconds: elapsed,
		ServerCPU: cpu1 - cpu0, ReaderCPU: self1 - self0,
		Packets: sum(pk1) - sum(pk0), Lost: sum(lo1) - sum(lo0), MinReaderPkts: minPk,
		BytesPerSec: float64(sum(by1)-sum(by0)) / elapsed, RSSKB: rss, HWMKB: hwm,
		Errors: int(errs.Load()),
	}
	res.PacketsPerSec = float64(res.Packets) / elapsed
	for i := range tr1 {
		if d := tr1[i] - tr0[i]; d > 0 {
			res.TrackPktRate = append(res.TrackPktRate, float64(d)/elapsed/float64(playing))
		}
	}
	res.CPUPerReaderMn = res.ServerCPU / (float64(playing) * elapsed / 60)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// waitLive retries DESCRIBE until the path answers 200.
func waitLive(u *base.URL, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
		err := c.Start()
		if err == nil {
			_, _, err = c.Describe(u)
			c.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not live: %w", u, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func startReader(u *base.URL) (*reader, error) {
	tcp := gortsplib.ProtocolTCP
	r := &reader{c: &gortsplib.Client{
		Scheme:        u.Scheme,
		Host:          u.Host,
		Protocol:      &tcp,
		ReadTimeout:   10 * time.Second,
		WriteTimeout:  10 * time.Second,
		OnPacketsLost: func(uint64) {}, // counted from sequence numbers below
		OnDecodeError: func(error) {},
	}}
	if err := r.c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.c.Describe(u)
	if err != nil {
		r.c.Close()
		return nil, err
	}
	if err := r.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		r.c.Close()
		return nil, err
	}
	for mi, m := range desc.Medias {
		track := &r.tracks[min(mi, maxTracks-1)]
		var last uint16
		first := true
		for _, f := range m.Formats {
			r.c.OnPacketRTP(m, f, func(pkt *rtp.Packet) {
				if !first && pkt.SequenceNumber != last+1 {
					r.lost.Add(uint64(pkt.SequenceNumber - last - 1))
				}
				first, last = false, pkt.SequenceNumber
				r.packets.Add(1)
				track.Add(1)
				r.bytes.Add(uint64(pkt.MarshalSize()))
			})
		}
	}
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	return r, nil
}

func snapshot(rs []*reader) (pk, by, lo []uint64) {
	pk, by, lo = make([]uint64, len(rs)), make([]uint64, len(rs)), make([]uint64, len(rs))
	for i, r := range rs {
		if r != nil {
			pk[i], by[i], lo[i] = r.packets.Load(), r.bytes.Load(), r.lost.Load()
		}
	}
	return pk, by, lo
}

func trackTotals(rs []*reader) [maxTracks]uint64 {
	var t [maxTracks]uint64
	for _, r := range rs {
		if r == nil {
			continue
		}
		for i := range t {
			t[i] += r.tracks[i].Load()
		}
	}
	return t
}

func sum(v []uint64) uint64 {
	var s uint64
	for _, x := range v {
		s += x
	}
	return s
}

func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}

// procCPU is utime+stime of a process, in seconds.
func procCPU(pid int, tck float64) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / tck, nil
}

// procMem is VmRSS and VmHWM, in kB.
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
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}

// table prints every result, then the avcat/reference ratios per N.
func table(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var rows []Result
	dec := json.NewDecoder(f)
	for {
		var r Result
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Readers < rows[j].Readers })

	// A server keeps up when each reader gets the stream's rate; the row of
	// the smallest N of each server is the yardstick.
	perReader := func(r Result) float64 { return r.BytesPerSec / float64(max(r.Playing, 1)) }
	base := map[string]float64{}
	for _, r := range rows {
		if _, ok := base[r.Label]; !ok {
			base[r.Label] = perReader(r)
		}
	}
	behind := false

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tN\tplaying\tCPU s\tCPU s/reader-min\tCPU µs/pkt\tMB/s out\tkB/s/reader\tpkts/s out\tlost\tRSS MB\tpeak RSS MB\treader CPU s\t")
	for _, r := range rows {
		mark := ""
		if perReader(r) < 0.9*base[r.Label] {
			mark, behind = "*", true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.4f\t%.2f\t%.2f\t%.1f%s\t%.0f\t%d\t%.1f\t%.1f\t%.2f\t\n",
			r.Label, r.Readers, r.Playing, r.ServerCPU, r.CPUPerReaderMn, cpuPerPacket(r), r.BytesPerSec/1e6,
			perReader(r)/1e3, mark, r.PacketsPerSec, r.Lost,
			float64(r.RSSKB)/1024, float64(r.HWMKB)/1024, r.ReaderCPU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if behind {
		fmt.Fprintln(w, "* readers got under 90% of the stream's rate: the server fell behind real time (or the machine is CPU-starved), so its CPU per reader-minute is understated; compare CPU µs/pkt")
	}

	// Ratios: the first label is avcat, each other one a reference.
	byN := map[int]map[string]Result{}
	var labels []string
	for _, r := range rows {
		if byN[r.Readers] == nil {
			byN[r.Readers] = map[string]Result{}
		}
		byN[r.Readers][r.Label] = r
		if !contains(labels, r.Label) {
			labels = append(labels, r.Label)
		}
	}
	if len(labels) < 2 {
		return nil
	}
	var ns []int
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	a := labels[0]
	for _, ref := range labels[1:] {
		fmt.Fprintf(w, "\nratio %s / %s (lower is better for %s)\n", a, ref, a)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "N\tCPU s/reader-min\tCPU/pkt delivered\tpeak RSS\tfinal RSS\tbytes/s delivered\t")
		for _, n := range ns {
			x, okx := byN[n][a]
			y, oky := byN[n][ref]
			if !okx || !oky {
				continue
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t\n", n,
				ratio(x.CPUPerReaderMn, y.CPUPerReaderMn), ratio(cpuPerPacket(x), cpuPerPacket(y)),
				ratio(float64(x.HWMKB), float64(y.HWMKB)),
				ratio(float64(x.RSSKB), float64(y.RSSKB)), ratio(x.BytesPerSec, y.BytesPerSec))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// cpuPerPacket is the server's CPU time per RTP packet delivered, in µs:
// fairer than per reader-minute when a server falls behind real time.
func cpuPerPacket(r Result) float64 {
	if r.Packets == 0 {
		return 0
	}
	return r.ServerCPU * 1e6 / float64(r.Packets)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
