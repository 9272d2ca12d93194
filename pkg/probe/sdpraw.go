package probe

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	psdp "github.com/pion/sdp/v3"
)

// This file reads the raw rtpmap/fmtp attributes of a media description,
// to report what gortsplib's typed formats drop, override or refuse.

// attr returns the value of the first attribute named key.
func attr(attrs []psdp.Attribute, key string) string {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

func hasAttr(attrs []psdp.Attribute, key string) bool {
	for _, a := range attrs {
		if a.Key == key {
			return true
		}
	}
	return false
}

// formatAttr returns the value of the first "key:<pt> value" attribute,
// the way gortsplib looks rtpmap and fmtp up.
func formatAttr(attrs []psdp.Attribute, pt uint8, key string) string {
	for _, a := range attrs {
		if a.Key != key {
			continue
		}
		num, val, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(num, 10, 8); err == nil && uint8(n) == pt {
			return strings.TrimSpace(val)
		}
	}
	return ""
}

// decodeFMTP splits "k=v; k=v" into lower-case keys, like gortsplib.
func decodeFMTP(enc string) map[string]string {
	ret := map[string]string{}
	for _, kv := range strings.Split(enc, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			continue
		}
		ret[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return ret
}

// splitRTPMap splits "ENC/clock[/channels]".
func splitRTPMap(v string) (enc string, clock, channels int) {
	parts := strings.Split(v, "/")
	enc = strings.TrimSpace(parts[0])
	if len(parts) > 1 {
		if n, err := strconv.ParseUint(strings.TrimSpace(parts[1]), 10, 31); err == nil {
			clock = int(n)
		}
	}
	if len(parts) > 2 {
		if n, err := strconv.ParseUint(strings.TrimSpace(parts[2]), 10, 31); err == nil {
			channels = int(n)
		}
	}
	return enc, clock, channels
}

// decodeBase64 accepts padded and unpadded, standard and URL alphabets:
// cameras send all four.
func decodeBase64(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	b, err := base64.StdEncoding.DecodeString(v)
	if err == nil {
		return b, nil
	}
	unpadded := strings.TrimRight(v, "=")
	for _, c := range []struct {
		enc *base64.Encoding
		s   string
	}{
		{base64.RawStdEncoding, unpadded},
		{base64.URLEncoding, v},
		{base64.RawURLEncoding, unpadded},
	} {
		if b, err2 := c.enc.DecodeString(c.s); err2 == nil {
			return b, nil
		}
	}
	return nil, err
}

// crossCheck compares a Stream built from a typed format with the raw
// attributes gortsplib read it from.
func crossCheck(s *Stream, md *psdp.MediaDescription, f format.Format) {
	pt := f.PayloadType()
	raw := formatAttr(md.Attributes, pt, "rtpmap")
	if raw != "" {
		s.RTPMap = raw
	}
	if _, generic := f.(*format.Generic); !generic {
		if _, clock, _ := splitRTPMap(raw); clock > 0 && s.ClockRate > 0 && clock != s.ClockRate {
			addWarning(s, fmt.Sprintf("rtpmap declares %d Hz, the RTSP stack assumes %d Hz", clock, s.ClockRate))
			s.ClockRate = clock
			switch f.(type) {
			case *format.G711, *format.LPCM:
				s.SampleRate = clock
			}
		}
	}
	switch f.(type) {
	case *format.H264:
		if s.Source == "" {
			h264FromFMTP(s, decodeFMTP(formatAttr(md.Attributes, pt, "fmtp")), true)
		}
	case *format.Generic:
		if typedCodecs[s.CodecName] {
			addWarning(s, fmt.Sprintf("the RTSP stack does not recognize this %s format (payload type %d, rtpmap %q) and treats it as opaque data",
				s.CodecName, pt, raw))
			fromFMTP(s, decodeFMTP(formatAttr(md.Attributes, pt, "fmtp")))
		}
	}
}

// typedCodecs are the codecs gortsplib has a format type for. One of them
// as a Generic format means gortsplib did not recognize the rtpmap (a
// payload type outside 96-127, an unexpected clock rate).
var typedCodecs = map[string]bool{
	"h264": true, "hevc": true, "av1": true, "vp8": true, "vp9": true, "mpeg4": true,
	"mjpeg": true, "mpeg2video": true, "aac": true, "aac_latm": true, "opus": true,
	"vorbis": true, "speex": true, "ac3": true, "mp3": true, "pcm_mulaw": true,
	"pcm_alaw": true, "adpcm_g722": true, "adpcm_g726": true, "adpcm_g726le": true,
	"pcm_u8": true, "pcm_s16be": true, "pcm_s24be": true, "klv": true, "mpegts": true,
}

// fromFMTP reads codec parameters from raw fmtp values, for formats
// gortsplib refused or did not recognize.
func fromFMTP(s *Stream, fmtp map[string]string) {
	switch s.CodecName {
	case "h264":
		h264FromFMTP(s, fmtp, false)
	case "hevc":
		if v := fmtp["sprop-sps"]; v != "" {
			if b, err := decodeBase64(v); err != nil {
				addWarning(s, "bad sprop-sps: "+err.Error())
			} else {
				applyParams(s, "hevc", trimStartCode(b), SourceSDP, "bad SPS in sprop-sps")
			}
		}
	case "aac":
		if v := fmtp["config"]; v != "" {
			var c mpeg4audio.AudioSpecificConfig
			b, err := hex.DecodeString(v)
			if err == nil {
				err = c.Unmarshal(b)
			}
			if err != nil {
				addWarning(s, "bad AAC config: "+err.Error())
			} else {
				applyAAC(s, &c)
			}
		}
	case "av1":
		if n, err := strconv.Atoi(fmtp["profile"]); err == nil {
			s.Profile, s.Source = av1Profile(n), SourceSDP
		}
		if n, err := strconv.Atoi(fmtp["level-idx"]); err == nil && n >= 0 && n < 32 {
			s.Level, s.Source = fmt.Sprintf("%d.%d", 2+n>>2, n&3), SourceSDP
		}
		if n, err := strconv.Atoi(fmtp["tier"]); err == nil {
			s.Tier = tierName(n)
		}
	case "vp9":
		if n, err := strconv.Atoi(fmtp["profile-id"]); err == nil {
			s.Profile, s.Source = "Profile "+strconv.Itoa(n), SourceSDP
		}
	}
}

// h264FromFMTP reads sprop-parameter-sets leniently (any order, padding
// optional, Annex-B prefixes), then profile-level-id. accepted says
// whether gortsplib accepted the media, in which case a usable SPS here
// means gortsplib dropped it.
func h264FromFMTP(s *Stream, fmtp map[string]string, accepted bool) {
	if sp := fmtp["sprop-parameter-sets"]; strings.TrimSpace(sp) != "" {
		var sps []byte
		var decErr error
		hasPPS := false
		for _, part := range strings.Split(sp, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			b, err := decodeBase64(part)
			if err != nil {
				decErr = err
				continue
			}
			b = trimStartCode(b)
			if len(b) == 0 {
				continue
			}
			switch b[0] & 0x1f {
			case 7:
				if sps == nil {
					sps = b
				}
			case 8:
				hasPPS = true
			default:
				if sps == nil && decErr == nil {
					// keep the first element so its parse error is reported
					sps = b
				}
			}
		}
		switch {
		case sps == nil && decErr != nil:
			addWarning(s, "bad sprop-parameter-sets: "+decErr.Error())
		case sps == nil:
			addWarning(s, "sprop-parameter-sets has no SPS")
		default:
			applyParams(s, "h264", sps, SourceSDP, "bad SPS in sprop-parameter-sets")
			if s.Source == SourceSDP && accepted {
				if !hasPPS {
					addWarning(s, "sprop-parameter-sets has no PPS: the RTSP stack ignores it and waits for in-band parameters")
				} else {
					addWarning(s, "the RTSP stack ignores sprop-parameter-sets (SPS not first)")
				}
			}
		}
	}
	if s.Source == "" {
		if p, l, ok := h264ProfileLevelID(fmtp["profile-level-id"]); ok {
			s.Profile, s.Level, s.Source = p, l, SourceSDP
		}
	}
}

// fallbackStream describes one payload type of a media description that
// gortsplib refused, from the raw attributes alone. warn says why.
func fallbackStream(md *psdp.MediaDescription, ptStr, warn string) Stream {
	s := Stream{
		MediaType:   md.MediaName.Media,
		Control:     attr(md.Attributes, "control"),
		BackChannel: hasAttr(md.Attributes, "sendonly"),
	}
	pt := uint8(255) // not a valid RTP payload type: matches nothing below
	if n, err := strconv.ParseUint(ptStr, 10, 8); err == nil {
		pt = uint8(n)
		s.PayloadType = &pt
	}
	s.RTPMap = formatAttr(md.Attributes, pt, "rtpmap")
	fmtp := decodeFMTP(formatAttr(md.Attributes, pt, "fmtp"))
	_, clock, channels := splitRTPMap(s.RTPMap)
	s.CodecName = genericCodecName(pt, s.RTPMap)
	s.ClockRate = clock

	addWarning(&s, warn)
	fromFMTP(&s, fmtp)
	if s.MediaType == "audio" {
		if s.SampleRate == 0 && clock > 0 && s.CodecName != "adpcm_g722" {
			s.SampleRate = clock
		}
		if s.Channels == 0 && channels > 0 {
			s.Channels = channels
		}
	}
	s.CodecLongName = codecLongNames[s.CodecName]
	return s
}
