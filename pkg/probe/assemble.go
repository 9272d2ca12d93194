package probe

import (
	"io"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

// What a report reads from a source, when the source has it.
type (
	rtspExchange interface {
		OptionsResponse() *base.Response
		DescribeResponse() *base.Response
	}
	rawSDPer          interface{ RawSDP() []byte }
	metadataSource    interface{ Metadata() map[string]any }
	activeTransporter interface{ ActiveTransport() string }
)

// Describe fills r from an opened source: the server, its methods and raw
// SDP (RTSP) or metadata (RTMP), the title and one entry per track. It
// returns the raw SDP, if any.
func Describe(r *Report, src engine.Source, desc *description.Session) []byte {
	var rawSDP []byte
	if s, ok := src.(rtspExchange); ok {
		if res := s.OptionsResponse(); res != nil {
			r.Server = headerValue(res.Header, "Server")
			r.Methods = splitMethods(headerValue(res.Header, "Public"))
		}
		if res := s.DescribeResponse(); res != nil {
			rawSDP = res.Body
			if r.Server == "" {
				r.Server = headerValue(res.Header, "Server")
			}
		}
		r.SDP = string(rawSDP)
	} else if s, ok := src.(metadataSource); ok {
		r.Metadata = s.Metadata()
	}
	r.Title = desc.Title
	r.Streams = streamsOf(desc, rawSDP)
	if r.Metadata != nil {
		ApplyMetadata(r.Streams, r.Metadata)
	}
	return rawSDP
}

// UnusableSDP is the SDP a source received but could not use, if any.
func UnusableSDP(src engine.Source) []byte {
	if s, ok := src.(rawSDPer); ok {
		return s.RawSDP()
	}
	return nil
}

// DescribeUnusable fills r with an SDP the RTSP stack refused, so the
// report shows what the server sent, with the reasons.
func DescribeUnusable(r *Report, raw []byte) {
	r.SDP = string(raw)
	r.Streams, _ = StreamsFromSDP(raw)
}

// Write renders r as "json" or text.
func Write(w io.Writer, r *Report, output string, colorOn bool) error {
	if output == "json" {
		return WriteJSON(w, r)
	}
	return WriteText(w, r, colorOn)
}

// streamsOf lists the tracks. From the raw SDP when there is one, so that
// what the RTSP stack silently drops is reported; its order and count match
// the parsed description.
func streamsOf(desc *description.Session, rawSDP []byte) []Stream {
	if len(rawSDP) > 0 {
		if streams, err := StreamsFromSDP(rawSDP); err == nil && len(streams) == countFormats(desc) {
			return streams
		}
	}
	return StreamsFromSession(desc)
}

func countFormats(desc *description.Session) int {
	n := 0
	for _, m := range desc.Medias {
		n += len(m.Formats)
	}
	return n
}

// Measure adds what a played session measured: the transport used (the
// asked one unless the source says otherwise) and per-track figures.
func Measure(r *Report, sess *engine.Session, transport string) {
	end := time.Now()
	stats := sess.Stats()
	elapsed := end.Sub(stats.Start())
	if s, ok := sess.Source.(activeTransporter); ok && s.ActiveTransport() != "" {
		transport = s.ActiveTransport()
	}
	if strings.HasPrefix(r.Protocol, "rtmp") {
		transport = "tcp"
	}
	r.Play = &PlayInfo{Transport: transport, DurationSeconds: elapsed.Seconds()}

	snap := stats.Snapshot()
	for i := range r.Streams {
		st := &r.Streams[i]
		if i >= len(snap) {
			break
		}
		t := snap[i]
		m := &Measured{
			Packets: t.Packets, Bytes: t.Bytes, Frames: t.Frames, Keyframes: t.Keyframes,
			GOPFrames: t.MeanGOP(), PacketsLost: t.PacketsLost,
			JitterMs:        float64(t.JitterDuration()) / float64(time.Millisecond),
			FirstPacketMs:   -1,
			FirstKeyframeMs: -1,
		}
		active := elapsed
		if t.FirstPacket >= 0 {
			m.FirstPacketMs = float64(t.FirstPacket) / float64(time.Millisecond)
			active = elapsed - t.FirstPacket
		}
		if t.FirstKeyframe >= 0 {
			m.FirstKeyframeMs = float64(t.FirstKeyframe) / float64(time.Millisecond)
		}
		if active > 0 {
			m.BitrateBps = float64(t.Bytes*8) / active.Seconds()
			m.FPS = float64(t.Frames) / active.Seconds()
		}
		if fps := t.MediaFPS(); fps > 0 {
			m.FPS = fps
		}
		if exp := t.ExpectedPackets(); exp > 0 {
			m.LossPercent = 100 * float64(t.PacketsLost) / float64(exp)
		}
		if !media.IsVideo(t.Format) {
			// Every audio frame is a keyframe: GOP figures say nothing.
			m.Keyframes, m.GOPFrames, m.FirstKeyframeMs = 0, 0, -1
		}
		st.Measured = m
		if st.Width == 0 && len(t.LastSPS) > 0 {
			ApplySPS(st, t.Format, t.LastSPS)
		}
	}
	if s, ok := sess.Source.(metadataSource); ok && r.Metadata == nil {
		// RTMP metadata can arrive after the tracks are known.
		r.Metadata = s.Metadata()
		ApplyMetadata(r.Streams, r.Metadata)
	}
}

func headerValue(h base.Header, key string) string {
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func splitMethods(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}
