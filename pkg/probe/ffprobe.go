package probe

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ffprobeFields fills the keys ffprobe scripts read from what the stream
// already says: codec_type, integer level, channel_layout, frame rates
// and time_base.
func ffprobeFields(s *Stream, rtmp bool) {
	switch s.MediaType {
	case "video", "audio":
		s.CodecType = s.MediaType
	default:
		s.CodecType = "data"
	}
	s.LevelIdc = levelIdc(s.CodecName, s.Level)
	if s.ChannelLayout == "" {
		s.ChannelLayout = channelLayout(s.Channels)
	}
	s.RFrameRate = rational(s.FPS)
	s.AvgFrameRate = s.RFrameRate
	switch {
	case rtmp:
		s.TimeBase = "1/1000"
	case s.ClockRate > 0:
		s.TimeBase = "1/" + strconv.Itoa(s.ClockRate)
	default:
		s.TimeBase = "0/0"
	}
}

// levelIdc turns a level name into ffprobe's integer: H.264 "3.1" is 31
// ("1b" is 9), H.265 "3.1" is 93, AV1 "4.0" is seq_level_idx 8.
func levelIdc(codec, level string) int {
	if level == "" {
		return 0
	}
	if codec == "h264" && level == "1b" {
		return 9
	}
	major, minor, _ := strings.Cut(level, ".")
	a, err1 := strconv.Atoi(major)
	b, err2 := strconv.Atoi(minor)
	if minor == "" {
		b, err2 = 0, nil
	}
	if err1 != nil || err2 != nil {
		return 0
	}
	switch codec {
	case "h264":
		return a*10 + b
	case "hevc":
		return a*30 + b*3
	case "av1":
		return (a-2)*4 + b
	case "mpeg4":
		return a
	}
	return 0
}

// channelLayout names a channel count as ffprobe does.
func channelLayout(n int) string {
	switch n {
	case 1:
		return "mono"
	case 2:
		return "stereo"
	case 3:
		return "3.0"
	case 4:
		return "4.0"
	case 5:
		return "5.0"
	case 6:
		return "5.1"
	case 8:
		return "7.1"
	}
	return ""
}

// rational writes a frame rate as ffprobe does: "25/1", "30000/1001";
// "0/0" when unknown.
func rational(fps float64) string {
	if fps <= 0 || math.IsNaN(fps) || math.IsInf(fps, 0) {
		return "0/0"
	}
	if n := math.Round(fps); math.Abs(fps-n) < 1e-6 {
		return fmt.Sprintf("%d/1", int64(n))
	}
	if n := math.Round(fps * 1.001); math.Abs(fps*1.001-n) < 1e-3 {
		return fmt.Sprintf("%d/1001", int64(n)*1000)
	}
	num, den := int64(math.Round(fps*1000)), int64(1000)
	g := gcd(num, den)
	return fmt.Sprintf("%d/%d", num/g, den/g)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// pixFmt is ffprobe's pixel format for an H.264/H.265 SPS.
func pixFmt(chromaFormatIdc, bitDepthMinus8 uint32) string {
	var base string
	switch chromaFormatIdc {
	case 0:
		base = "gray"
	case 1:
		base = "yuv420p"
	case 2:
		base = "yuv422p"
	case 3:
		base = "yuv444p"
	default:
		return ""
	}
	switch bitDepthMinus8 {
	case 0:
		return base
	case 2, 4:
		return fmt.Sprintf("%s%dle", base, 8+bitDepthMinus8)
	}
	return ""
}
