package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Packet is one demuxed packet as ffprobe -show_packets reports it. Times are
// in seconds; NaN when ffprobe prints N/A.
type Packet struct {
	CodecType string // "video", "audio"…
	Stream    int
	PTS, DTS  float64
	Key       bool
}

// Packets are the packets of a file or a bounded live read.
type Packets []Packet

// Of returns the packets of the first stream of codecType, in file order.
func (ps Packets) Of(codecType string) Packets {
	first := -1
	var out Packets
	for _, p := range ps {
		if p.CodecType != codecType {
			continue
		}
		if first < 0 {
			first = p.Stream
		}
		if p.Stream == first {
			out = append(out, p)
		}
	}
	return out
}

// Span returns the first and last DTS (or PTS when DTS is unknown).
func (ps Packets) Span() (first, last float64) {
	if len(ps) == 0 {
		return math.NaN(), math.NaN()
	}
	return ps[0].Time(), ps[len(ps)-1].Time()
}

// Time is the packet's DTS, or its PTS when the DTS is unknown.
func (p Packet) Time() float64 {
	if math.IsNaN(p.DTS) {
		return p.PTS
	}
	return p.DTS
}

// CheckMonotonic returns an error naming the first packet whose DTS does not
// increase (strictly, or not decrease when allowEqual), and the largest step
// between two packets.
func (ps Packets) CheckMonotonic(allowEqual bool) (maxStep float64, err error) {
	for i := 1; i < len(ps); i++ {
		prev, cur := ps[i-1].Time(), ps[i].Time()
		if math.IsNaN(cur) {
			return maxStep, fmt.Errorf("packet %d has no timestamp", i)
		}
		step := cur - prev
		if step < 0 || (step == 0 && !allowEqual) {
			return maxStep, fmt.Errorf("%s packet %d: DTS %.6f after %.6f", ps[i].CodecType, i, cur, prev)
		}
		maxStep = max(maxStep, step)
	}
	return maxStep, nil
}

// FFprobePackets runs `ffprobe -show_entries packet=… ARGS…` (input options
// and the file or URL last; for a live input add a bound such as
// "-read_intervals", "%+3"), bounded by FFprobeTimeout, and returns the
// packets. It fails the test on error.
func FFprobePackets(t testing.TB, args ...string) Packets {
	t.Helper()
	Require(t, PeerFFprobe, PeerTimeout)
	secs := strconv.Itoa(int(FFprobeTimeout / time.Second))
	full := append([]string{"-k", "3", secs, "ffprobe", "-hide_banner", "-v", "error", "-print_format", "json",
		"-show_entries", "packet=codec_type,stream_index,pts_time,dts_time,flags"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), FFprobeTimeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "timeout", full...)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("testpeer: ffprobe packets %s: %v: %s", strings.Join(args, " "), err, tail(stderr.String(), 2048))
	}
	var raw struct {
		Packets []struct {
			CodecType string `json:"codec_type"`
			Stream    int    `json:"stream_index"`
			PTS       string `json:"pts_time"`
			DTS       string `json:"dts_time"`
			Flags     string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		t.Fatalf("testpeer: ffprobe packets %s: parse JSON: %v", strings.Join(args, " "), err)
	}
	out := make(Packets, 0, len(raw.Packets))
	for _, p := range raw.Packets {
		out = append(out, Packet{
			CodecType: p.CodecType, Stream: p.Stream,
			PTS: parseTime(p.PTS), DTS: parseTime(p.DTS),
			Key: strings.HasPrefix(p.Flags, "K"),
		})
	}
	return out
}

func parseTime(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
