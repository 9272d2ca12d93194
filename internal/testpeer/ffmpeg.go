package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FFprobeTimeout bounds FFprobeStreams.
const FFprobeTimeout = 20 * time.Second

// FFmpegPublishRTMP publishes file to url in the background at real-time
// speed with stream copy into FLV (ffmpeg -re [-stream_loop -1] -i FILE -c copy
// -f flv URL). It is killed with SIGKILL in t.Cleanup, because ffmpeg 5.1
// ignores the first SIGTERM while blocked on a read.
func FFmpegPublishRTMP(t testing.TB, file, url string, loop bool) *Process {
	t.Helper()
	Require(t, PeerFFmpeg)
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re"}
	if loop {
		args = append(args, "-stream_loop", "-1")
	}
	args = append(args, "-i", file, "-c", "copy", "-f", "flv", url)
	return StartCmd(t, exec.Command("ffmpeg", args...), ProcOptions{KillOnly: true})
}

// WaitRTMPStream polls url with ffprobe (each attempt bounded by
// `timeout -k 3 8` and -rw_timeout 3 s, since nginx-rtmp never tells a player
// that a stream ended) until it reports at least one stream, and returns what
// it found. It fails the test after 30 s.
func WaitRTMPStream(t testing.TB, url string) *ProbeResult {
	t.Helper()
	Require(t, PeerFFprobe, PeerTimeout)
	var res *ProbeResult
	err := poll(30*time.Second, nil, func() error {
		r, err := FFprobe(8*time.Second, "-rw_timeout", "3000000", url)
		if err != nil {
			return err
		}
		if len(r.Streams) == 0 {
			return fmt.Errorf("ffprobe %s: no streams", url)
		}
		res = r
		return nil
	})
	if err != nil {
		t.Fatalf("testpeer: RTMP stream %s: %v", url, err)
	}
	return res
}

// FFprobeStreams runs ffprobe -print_format json -show_streams -show_format
// with args (input options, "-count_frames", the URL or file…) bounded by
// FFprobeTimeout, and fails the test on error. For a live input with
// -count_frames, also pass a bound such as "-read_intervals", "%+3".
func FFprobeStreams(t testing.TB, args ...string) *ProbeResult {
	t.Helper()
	Require(t, PeerFFprobe, PeerTimeout)
	r, err := FFprobe(FFprobeTimeout, args...)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	return r
}

// FFprobe is FFprobeStreams without a test: it runs
// `timeout -k 3 SECS ffprobe -v error -print_format json -show_streams
// -show_format ARGS…` and parses the result.
func FFprobe(timeout time.Duration, args ...string) (*ProbeResult, error) {
	secs := max(1, int(timeout.Round(time.Second)/time.Second))
	full := append([]string{"-k", "3", strconv.Itoa(secs), "ffprobe", "-hide_banner", "-v", "error",
		"-print_format", "json", "-show_streams", "-show_format"}, args...)
	// The context is a backstop only: timeout(1) ends ffprobe first.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "timeout", full...)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffprobe %s: %w: %s", strings.Join(args, " "), err, tail(strings.TrimSpace(stderr.String()), 2048))
	}
	var r ProbeResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("ffprobe %s: parse JSON: %w", strings.Join(args, " "), err)
	}
	return &r, nil
}

// ProbeResult is the part of ffprobe's JSON output that tests check.
type ProbeResult struct {
	Streams []ProbeStream `json:"streams"`
	Format  ProbeFormat   `json:"format"`
}

// Stream returns the first stream of codecType ("video", "audio"…), or nil.
func (r *ProbeResult) Stream(codecType string) *ProbeStream {
	for i := range r.Streams {
		if r.Streams[i].CodecType == codecType {
			return &r.Streams[i]
		}
	}
	return nil
}

// Video returns the first video stream, or nil.
func (r *ProbeResult) Video() *ProbeStream { return r.Stream("video") }

// Audio returns the first audio stream, or nil.
func (r *ProbeResult) Audio() *ProbeStream { return r.Stream("audio") }

// ProbeStream is one ffprobe stream. Numbers that ffprobe prints as strings
// are parsed; absent or "N/A" values are zero.
type ProbeStream struct {
	Index        int     `json:"index"`
	CodecName    string  `json:"codec_name"`
	CodecType    string  `json:"codec_type"`
	Profile      string  `json:"profile"`
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	PixFmt       string  `json:"pix_fmt"`
	RFrameRate   string  `json:"r_frame_rate"`   // e.g. "25/1"
	AvgFrameRate string  `json:"avg_frame_rate"` // e.g. "25/1"
	NbReadFrames int     `json:"-"`              // with -count_frames
	NbFrames     int     `json:"-"`
	SampleRate   int     `json:"-"`
	Channels     int     `json:"channels"`
	Duration     float64 `json:"-"` // seconds
}

// UnmarshalJSON parses ffprobe's string-typed numbers.
func (s *ProbeStream) UnmarshalJSON(b []byte) error {
	type plain ProbeStream
	var raw struct {
		plain
		NbReadFrames json.RawMessage `json:"nb_read_frames"`
		NbFrames     json.RawMessage `json:"nb_frames"`
		SampleRate   json.RawMessage `json:"sample_rate"`
		Duration     json.RawMessage `json:"duration"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = ProbeStream(raw.plain)
	s.NbReadFrames = int(jsonNumber(raw.NbReadFrames))
	s.NbFrames = int(jsonNumber(raw.NbFrames))
	s.SampleRate = int(jsonNumber(raw.SampleRate))
	s.Duration = jsonNumber(raw.Duration)
	return nil
}

// FPS returns avg_frame_rate (or r_frame_rate when that is unknown) as a number.
func (s *ProbeStream) FPS() float64 {
	if f := parseRate(s.AvgFrameRate); f > 0 {
		return f
	}
	return parseRate(s.RFrameRate)
}

// ProbeFormat is ffprobe's format section.
type ProbeFormat struct {
	FormatName string  `json:"format_name"`
	NbStreams  int     `json:"nb_streams"`
	Duration   float64 `json:"-"` // seconds
}

// UnmarshalJSON parses ffprobe's string-typed numbers.
func (f *ProbeFormat) UnmarshalJSON(b []byte) error {
	type plain ProbeFormat
	var raw struct {
		plain
		Duration json.RawMessage `json:"duration"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = ProbeFormat(raw.plain)
	f.Duration = jsonNumber(raw.Duration)
	return nil
}

// jsonNumber reads a JSON number or a string holding one; anything else is 0.
func jsonNumber(raw json.RawMessage) float64 {
	s := strings.Trim(string(raw), `"`)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return f
}

// parseRate parses "num/den" (or a plain number); it returns 0 when unknown.
func parseRate(r string) float64 {
	num, den, ok := strings.Cut(r, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	if !ok {
		return n
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d == 0 {
		return 0
	}
	return n / d
}
