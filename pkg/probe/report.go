// Package probe holds the report model of `avcat probe`: what a server said
// (methods, Server header, SDP, RTMP onMetaData), one Stream per track with
// the codec parameters found in the SDP or in-band (profile, level,
// resolution, fps, AAC configuration), optional measured figures, and the
// text and JSON renderings of all that.
//
// The JSON schema is documented in docs/probe-json.md.
package probe

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/avcat/avcat/pkg/mediaurl"
)

// SchemaVersion is the value of "schema_version" in the JSON report. It is
// bumped only when a field changes meaning or disappears; new fields may be
// added without a bump.
const SchemaVersion = 2

// Where codec parameters (resolution, profile, AAC config) came from.
const (
	SourceSDP      = "sdp"      // sprop-parameter-sets, sprop-sps, config=, rtpmap
	SourceInBand   = "in-band"  // a parameter set seen in the media itself
	SourceMetadata = "metadata" // RTMP onMetaData
)

// Report is everything probe learned about one URL.
type Report struct {
	// URL is the probed URL. Renderers redact it again, so a password never
	// leaks even if the caller forgot.
	URL      string   `json:"url"`
	Protocol string   `json:"protocol"` // rtsp, rtsps, rtmp, rtmps
	Server   string   `json:"server,omitempty"`
	Methods  []string `json:"methods,omitempty"`
	// Title is the SDP session name (s=), when meaningful.
	Title string `json:"title,omitempty"`
	// SDP is the raw session description as the server sent it. Renderers
	// redact credentials found in URLs inside it.
	SDP string `json:"sdp,omitempty"`
	// Metadata is the RTMP onMetaData object.
	Metadata map[string]any `json:"metadata,omitempty"`
	Streams  []Stream       `json:"streams"`
	// Format is ffprobe's format object, set when rendered.
	Format *FormatInfo `json:"format,omitempty"`
	Play   *PlayInfo   `json:"play,omitempty"`
}

// PlayInfo describes the --play phase.
type PlayInfo struct {
	Transport       string  `json:"transport"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// Stream is one track: one format of one media description. The JSON
// starts with ffprobe's keys and types (-show_streams -of json), so
// ffprobe scripts work unchanged; avcat's own keys follow.
type Stream struct {
	Index int `json:"index"`
	// CodecName uses ffprobe's names: h264, hevc, aac, opus, pcm_mulaw ...
	CodecName     string `json:"codec_name"`
	CodecLongName string `json:"codec_long_name,omitempty"`
	Profile       string `json:"profile,omitempty"`
	// CodecType is ffprobe's: video, audio or data (set when rendered).
	CodecType string `json:"codec_type"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	// PixFmt is ffprobe's pixel format (yuv420p ...), from the SPS.
	PixFmt string `json:"pix_fmt,omitempty"`
	// LevelIdc is ffprobe's integer level (H.264 31, H.265 93; set when
	// rendered from Level).
	LevelIdc int `json:"level,omitempty"`

	// SampleRate is written as a string, as ffprobe does.
	SampleRate    int    `json:"sample_rate,omitempty,string"`
	Channels      int    `json:"channels,omitempty"`
	ChannelLayout string `json:"channel_layout,omitempty"`
	BitsPerSample int    `json:"bits_per_sample,omitempty"`

	// RFrameRate, AvgFrameRate and TimeBase are ffprobe's rationals
	// ("25/1", "1/90000"), set when rendered.
	RFrameRate   string `json:"r_frame_rate"`
	AvgFrameRate string `json:"avg_frame_rate"`
	TimeBase     string `json:"time_base"`

	MediaType string `json:"media_type"` // video, audio, application, ...
	// PayloadType is the RTP payload type; nil for RTMP.
	PayloadType *uint8 `json:"payload_type,omitempty"`
	// ClockRate is the RTP clock rate in Hz. RTSP only.
	ClockRate int `json:"clock_rate,omitempty"`
	// RTPMap is the rtpmap value ("H264/90000"): as in the SDP for
	// StreamsFromSDP, as gortsplib re-serializes it for StreamsFromSession.
	// RTSP only.
	RTPMap string `json:"rtpmap,omitempty"`
	// Control is the a=control attribute as given (absolute or relative).
	Control     string `json:"control,omitempty"`
	BackChannel bool   `json:"backchannel,omitempty"` // ONVIF back channel (a=sendonly)

	// Level is the level as people write it ("3.1").
	Level string  `json:"level_name,omitempty"`
	Tier  string  `json:"tier,omitempty"` // H.265, AV1: Main or High
	FPS   float64 `json:"fps,omitempty"`

	AACObjectType int `json:"aac_object_type,omitempty"`

	// Source says where the codec parameters above came from: SourceSDP,
	// SourceInBand or SourceMetadata; empty when nothing was known.
	Source string `json:"source,omitempty"`
	// Warning explains a problem with this track's description (an
	// unparsable SPS, an rtpmap gortsplib overrides ...). Empty when none.
	Warning string `json:"warning,omitempty"`

	Measured *Measured `json:"measured,omitempty"`
}

// FormatInfo is ffprobe's "format" object (-show_format).
type FormatInfo struct {
	Filename       string `json:"filename"`
	NbStreams      int    `json:"nb_streams"`
	NbPrograms     int    `json:"nb_programs"`
	FormatName     string `json:"format_name"`
	FormatLongName string `json:"format_long_name"`
}

// Measured holds figures measured while playing (--play).
type Measured struct {
	Packets    uint64  `json:"packets"`
	Bytes      uint64  `json:"bytes"`
	BitrateBps float64 `json:"bitrate_bps"`
	Frames     uint64  `json:"frames"`
	FPS        float64 `json:"fps"`
	Keyframes  uint64  `json:"keyframes"`
	// GOPFrames is the mean number of frames from one keyframe to the next;
	// 0 with fewer than two keyframes.
	GOPFrames   float64 `json:"gop_frames"`
	PacketsLost uint64  `json:"packets_lost"`
	LossPercent float64 `json:"loss_percent"`
	JitterMs    float64 `json:"jitter_ms"`
	// FirstPacketMs and FirstKeyframeMs count from the start of play.
	// A negative value means "never"; JSON then omits the key.
	FirstPacketMs   float64 `json:"first_packet_ms"`
	FirstKeyframeMs float64 `json:"first_keyframe_ms"`
}

// reportJSON is Report as written, with schema_version first.
type reportJSON struct {
	SchemaVersion int `json:"schema_version"`
	*reportAlias
}

type reportAlias Report

// MarshalJSON writes the report with "schema_version", redacted URLs and
// without values JSON cannot carry (NaN, ±Inf).
func (r Report) MarshalJSON() ([]byte, error) {
	c := sanitize(&r)
	return marshal(reportJSON{SchemaVersion: SchemaVersion, reportAlias: (*reportAlias)(c)})
}

type measuredJSON struct {
	Packets         uint64   `json:"packets"`
	Bytes           uint64   `json:"bytes"`
	BitrateBps      float64  `json:"bitrate_bps"`
	Frames          uint64   `json:"frames"`
	FPS             float64  `json:"fps"`
	Keyframes       uint64   `json:"keyframes"`
	GOPFrames       float64  `json:"gop_frames"`
	PacketsLost     uint64   `json:"packets_lost"`
	LossPercent     float64  `json:"loss_percent"`
	JitterMs        float64  `json:"jitter_ms"`
	FirstPacketMs   *float64 `json:"first_packet_ms,omitempty"`
	FirstKeyframeMs *float64 `json:"first_keyframe_ms,omitempty"`
}

// MarshalJSON omits first_packet_ms and first_keyframe_ms when negative
// (never happened).
func (m Measured) MarshalJSON() ([]byte, error) {
	j := measuredJSON{
		Packets: m.Packets, Bytes: m.Bytes, BitrateBps: finite(m.BitrateBps),
		Frames: m.Frames, FPS: finite(m.FPS), Keyframes: m.Keyframes,
		GOPFrames: finite(m.GOPFrames), PacketsLost: m.PacketsLost,
		LossPercent: finite(m.LossPercent), JitterMs: finite(m.JitterMs),
	}
	if v := finite(m.FirstPacketMs); m.FirstPacketMs >= 0 {
		j.FirstPacketMs = &v
	}
	if v := finite(m.FirstKeyframeMs); m.FirstKeyframeMs >= 0 {
		j.FirstKeyframeMs = &v
	}
	return json.Marshal(j)
}

// UnmarshalJSON is the inverse of MarshalJSON: a missing first_packet_ms or
// first_keyframe_ms reads back as -1.
func (m *Measured) UnmarshalJSON(b []byte) error {
	var j measuredJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Measured{
		Packets: j.Packets, Bytes: j.Bytes, BitrateBps: j.BitrateBps,
		Frames: j.Frames, FPS: j.FPS, Keyframes: j.Keyframes,
		GOPFrames: j.GOPFrames, PacketsLost: j.PacketsLost,
		LossPercent: j.LossPercent, JitterMs: j.JitterMs,
		FirstPacketMs: -1, FirstKeyframeMs: -1,
	}
	if j.FirstPacketMs != nil {
		m.FirstPacketMs = *j.FirstPacketMs
	}
	if j.FirstKeyframeMs != nil {
		m.FirstKeyframeMs = *j.FirstKeyframeMs
	}
	return nil
}

// IsRTMP reports whether the report is about an RTMP(S) URL.
func (r *Report) IsRTMP() bool {
	return strings.HasPrefix(strings.ToLower(r.Protocol), "rtmp")
}

// sanitize returns a copy of r fit for rendering: URLs redacted, RTP-only
// fields dropped for RTMP, non-finite floats zeroed.
func sanitize(r *Report) *Report {
	c := *r
	c.URL = mediaurl.Redact(r.URL)
	c.SDP = mediaurl.RedactText(r.SDP)
	if r.Play != nil {
		p := *r.Play
		p.DurationSeconds = finite(p.DurationSeconds)
		c.Play = &p
	}
	if r.Metadata != nil {
		c.Metadata = sanitizeMap(r.Metadata)
	}
	c.Streams = make([]Stream, len(r.Streams))
	rtmp := r.IsRTMP()
	for i, s := range r.Streams {
		s.Control = mediaurl.RedactText(s.Control)
		if rtmp {
			// RTMP has no RTP; its codec parameters come from sequence
			// headers, which are in-band.
			s.PayloadType, s.RTPMap, s.ClockRate, s.Control = nil, "", 0, ""
			if s.Source == SourceSDP {
				s.Source = SourceInBand
			}
		}
		s.FPS = finite(s.FPS)
		ffprobeFields(&s, rtmp)
		if s.Measured != nil {
			m := *s.Measured
			s.Measured = &m
		}
		c.Streams[i] = s
	}
	if c.Streams == nil {
		c.Streams = []Stream{}
	}
	c.Format = &FormatInfo{Filename: c.URL, NbStreams: len(c.Streams), FormatName: "rtsp", FormatLongName: "RTSP input"}
	if rtmp {
		c.Format.FormatName, c.Format.FormatLongName = "flv", "FLV (Flash Video)"
	}
	return &c
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func sanitizeMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = sanitizeValue(v)
	}
	return out
}

func sanitizeValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case float32:
		return sanitizeValue(float64(x))
	case string:
		return mediaurl.RedactText(x)
	case map[string]any:
		return sanitizeMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sanitizeValue(e)
		}
		return out
	case nil, bool, int, int64, uint64, json.Number:
		return v
	default:
		if _, err := json.Marshal(v); err != nil {
			return fmt.Sprint(v)
		}
		return v
	}
}
