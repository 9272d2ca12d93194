package probe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	psdp "github.com/pion/sdp/v3"
)

// ParseSDP parses a session description exactly as gortsplib's client does
// after DESCRIBE. It never panics; every failure is an error that starts
// with "invalid SDP: ".
func ParseSDP(b []byte) (desc *description.Session, err error) {
	defer func() {
		if r := recover(); r != nil {
			desc, err = nil, fmt.Errorf("invalid SDP: %v", r)
		}
	}()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("invalid SDP: %w", err)
	}
	var d description.Session
	if err := d.Unmarshal(&sd); err != nil {
		return nil, fmt.Errorf("invalid SDP: %w", err)
	}
	return &d, nil
}

// StreamsFromSession describes every format of every media of desc, in
// order, one Stream per format. Codec parameters come from the typed
// gortsplib formats (SPS/PPS, AAC config, channel counts ...).
func StreamsFromSession(desc *description.Session) []Stream {
	out := []Stream{}
	if desc == nil {
		return out
	}
	for _, m := range desc.Medias {
		if m == nil {
			continue
		}
		for _, f := range m.Formats {
			s := streamFromFormat(m, f)
			s.Index = len(out)
			out = append(out, s)
		}
	}
	return out
}

// StreamsFromSDP describes the tracks of a raw SDP. Unlike ParseSDP it is
// lenient: a media description that gortsplib refuses (an H.265 SPS it
// cannot parse, AAC without sizelength, a malformed rtpmap ...) still yields
// a Stream, built from the raw rtpmap/fmtp, with the reason in Warning. It
// also reports what gortsplib silently drops or overrides: an unparsable
// H.264 SPS, sprop-parameter-sets without a PPS, a static payload type whose
// rtpmap declares another clock rate. It fails only when the SDP text itself
// cannot be parsed or has no media.
func StreamsFromSDP(b []byte) (streams []Stream, err error) {
	defer func() {
		if r := recover(); r != nil {
			streams, err = nil, fmt.Errorf("invalid SDP: %v", r)
		}
	}()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("invalid SDP: %w", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("invalid SDP: no media streams are present in SDP")
	}
	out := []Stream{}
	for i, md := range sd.MediaDescriptions {
		var m description.Media
		if err := unmarshalMedia(&m, md); err != nil {
			warn := fmt.Sprintf("media %d refused by the RTSP stack: %v", i+1, err)
			if len(md.MediaName.Formats) == 0 {
				out = append(out, Stream{
					Index: len(out), MediaType: md.MediaName.Media, CodecName: "none",
					Control: attr(md.Attributes, "control"), Warning: warn,
				})
				continue
			}
			for _, pt := range md.MediaName.Formats {
				s := fallbackStream(md, pt, warn)
				s.Index = len(out)
				out = append(out, s)
			}
			continue
		}
		for _, f := range m.Formats {
			s := streamFromFormat(&m, f)
			crossCheck(&s, md, f)
			s.Index = len(out)
			out = append(out, s)
		}
	}
	return out, nil
}

func unmarshalMedia(m *description.Media, md *psdp.MediaDescription) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return m.Unmarshal(md)
}

// streamFromFormat never panics: a panicking accessor (a hand-built format
// with a nil config) becomes a Warning.
func streamFromFormat(m *description.Media, f format.Format) (s Stream) {
	s.MediaType = string(m.Type)
	s.Control = m.Control
	s.BackChannel = m.IsBackChannel
	s.CodecName = "unknown"
	if f == nil {
		return s
	}
	defer func() {
		if r := recover(); r != nil {
			addWarning(&s, fmt.Sprintf("cannot describe %T: %v", f, r))
		}
	}()
	pt := f.PayloadType()
	s.PayloadType = &pt
	describeFormat(&s, f)
	safe(func() { s.RTPMap = f.RTPMap() })
	if s.ClockRate == 0 {
		safe(func() { s.ClockRate = f.ClockRate() })
	}
	s.CodecLongName = codecLongNames[s.CodecName]
	return s
}

func safe(fn func()) {
	defer func() { _ = recover() }()
	fn()
}

func describeFormat(s *Stream, f format.Format) {
	switch f := f.(type) {
	case *format.H264:
		s.CodecName = "h264"
		sps, _ := f.SafeParams()
		if len(sps) > 0 {
			applyParams(s, "h264", sps, SourceSDP, "bad SPS")
		}

	case *format.H265:
		s.CodecName = "hevc"
		_, sps, _ := f.SafeParams()
		if len(sps) > 0 {
			applyParams(s, "hevc", sps, SourceSDP, "bad SPS")
		}

	case *format.AV1:
		s.CodecName = "av1"
		if f.Profile != nil {
			s.Profile = av1Profile(*f.Profile)
		}
		if f.LevelIdx != nil && *f.LevelIdx >= 0 && *f.LevelIdx < 32 {
			s.Level = fmt.Sprintf("%d.%d", 2+*f.LevelIdx>>2, *f.LevelIdx&3)
		}
		if f.Tier != nil {
			s.Tier = tierName(*f.Tier)
		}
		if s.Profile != "" || s.Level != "" {
			s.Source = SourceSDP
		}

	case *format.VP9:
		s.CodecName = "vp9"
		if f.ProfileID != nil {
			s.Profile = "Profile " + strconv.Itoa(*f.ProfileID)
			s.Source = SourceSDP
		}

	case *format.VP8:
		s.CodecName = "vp8"

	case *format.MJPEG:
		s.CodecName = "mjpeg"

	case *format.MPEG4Video:
		s.CodecName = "mpeg4"
		s.Profile, s.Level = mpeg4VideoProfile(f.ProfileLevelID)
		if s.Profile != "" {
			s.Source = SourceSDP
		}

	case *format.MPEG1Video:
		s.CodecName = "mpeg2video"

	case *format.MPEG4Audio:
		s.CodecName = "aac"
		if f.Config != nil {
			applyAAC(s, f.Config)
		}

	case *format.MPEG4AudioLATM:
		s.CodecName = "aac_latm"
		if c := f.StreamMuxConfig; c != nil && len(c.Programs) > 0 && c.Programs[0] != nil &&
			len(c.Programs[0].Layers) > 0 && c.Programs[0].Layers[0] != nil &&
			c.Programs[0].Layers[0].AudioSpecificConfig != nil {
			applyAAC(s, c.Programs[0].Layers[0].AudioSpecificConfig)
		}

	case *format.Opus:
		s.CodecName = "opus"
		s.SampleRate = 48000
		s.Channels = f.ChannelCount
		s.Source = SourceSDP

	case *format.Vorbis:
		s.CodecName = "vorbis"
		s.SampleRate, s.Channels, s.Source = f.SampleRate, f.ChannelCount, SourceSDP

	case *format.Speex:
		s.CodecName = "speex"
		s.SampleRate, s.Channels, s.Source = f.SampleRate, 1, SourceSDP

	case *format.AC3:
		s.CodecName = "ac3"
		s.SampleRate, s.Channels, s.Source = f.SampleRate, f.ChannelCount, SourceSDP

	case *format.MPEG1Audio:
		s.CodecName = "mp3"

	case *format.G711:
		s.CodecName = "pcm_alaw"
		if f.MULaw {
			s.CodecName = "pcm_mulaw"
		}
		s.SampleRate, s.Channels, s.BitsPerSample, s.Source = f.SampleRate, f.ChannelCount, 8, SourceSDP

	case *format.G722:
		// RFC 3551: the RTP clock is 8000 Hz for historical reasons, the
		// audio is sampled at 16000 Hz.
		s.CodecName = "adpcm_g722"
		s.SampleRate, s.Channels, s.Source = 16000, 1, SourceSDP

	case *format.G726:
		s.CodecName = "adpcm_g726le"
		if f.BigEndian {
			s.CodecName = "adpcm_g726"
		}
		s.SampleRate, s.Channels, s.BitsPerSample, s.Source = 8000, 1, f.BitRate/8, SourceSDP

	case *format.LPCM:
		switch f.BitDepth {
		case 8:
			s.CodecName = "pcm_u8"
		case 24:
			s.CodecName = "pcm_s24be"
		default:
			s.CodecName = "pcm_s16be"
		}
		s.SampleRate, s.Channels, s.BitsPerSample, s.Source = f.SampleRate, f.ChannelCount, f.BitDepth, SourceSDP

	case *format.KLV:
		s.CodecName = "klv"

	case *format.MPEGTS:
		s.CodecName = "mpegts"

	case *format.Generic:
		s.CodecName = genericCodecName(f.PayloadTyp, f.RTPMa)
	}
}

func applyAAC(s *Stream, c *mpeg4audio.AudioSpecificConfig) {
	s.AACObjectType = int(c.Type)
	s.Profile = "LC"
	s.SampleRate = c.SampleRate
	s.Channels = c.ChannelCount
	switch c.ExtensionType {
	case mpeg4audio.ObjectTypeSBR:
		s.AACObjectType, s.Profile = int(mpeg4audio.ObjectTypeSBR), "HE-AAC"
	case mpeg4audio.ObjectTypePS:
		s.AACObjectType, s.Profile = int(mpeg4audio.ObjectTypePS), "HE-AACv2"
		s.Channels = 2
	}
	if c.Type != mpeg4audio.ObjectTypeAACLC && c.ExtensionType == 0 {
		s.Profile = "object type " + strconv.Itoa(int(c.Type))
	}
	if c.ExtensionSampleRate != 0 {
		s.SampleRate = c.ExtensionSampleRate
	}
	s.Source = SourceSDP
}

// ApplySPS fills s (an h264 or hevc Stream) from a parameter set received
// in-band, typically while playing when the SDP carried none. forma picks
// the codec; when it is nil, s.CodecName does. sps may carry an Annex-B
// start code. When s already had values from the SDP and the in-band SPS
// disagrees, the in-band values win and Warning says so. A malformed sps
// leaves s unchanged except for Warning. ApplySPS never panics.
func ApplySPS(s *Stream, forma format.Format, sps []byte) {
	if s == nil || len(sps) == 0 {
		return
	}
	codec := s.CodecName
	switch forma.(type) {
	case *format.H264:
		codec = "h264"
	case *format.H265:
		codec = "hevc"
	}
	if codec != "h264" && codec != "hevc" {
		return
	}
	sps = trimStartCode(sps)

	before := *s
	var tmp Stream
	tmp.CodecName = codec
	applyParams(&tmp, codec, sps, SourceInBand, "bad in-band SPS")
	if tmp.Source != SourceInBand { // did not parse
		addWarning(s, tmp.Warning)
		return
	}
	s.Profile, s.Level, s.Tier, s.PixFmt = tmp.Profile, tmp.Level, tmp.Tier, tmp.PixFmt
	s.Width, s.Height, s.FPS = tmp.Width, tmp.Height, tmp.FPS
	s.Source = SourceInBand
	addWarning(s, tmp.Warning)
	if before.Source == SourceSDP && (before.Width != s.Width || before.Height != s.Height) && before.Width != 0 {
		addWarning(s, fmt.Sprintf("in-band SPS says %dx%d, the SDP said %dx%d",
			s.Width, s.Height, before.Width, before.Height))
	}
}

// ApplyMetadata fills what the RTMP onMetaData object knows (width,
// height, framerate, audiosamplerate, stereo) into streams that lack it,
// with Source "metadata".
func ApplyMetadata(streams []Stream, md map[string]any) {
	num := func(keys ...string) float64 {
		for _, k := range keys {
			if v, ok := md[k].(float64); ok && v > 0 && v < 1e6 {
				return v
			}
		}
		return 0
	}
	for i := range streams {
		s := &streams[i]
		switch s.MediaType {
		case "video":
			if s.Width == 0 && s.Height == 0 {
				w, h := num("width"), num("height")
				if w > 0 && h > 0 {
					s.Width, s.Height = int(w), int(h)
					if s.FPS == 0 {
						s.FPS = roundFPS(num("framerate", "videoframerate"))
					}
					if s.Source == "" {
						s.Source = SourceMetadata
					}
				}
			}
		case "audio":
			if s.SampleRate == 0 {
				if r := num("audiosamplerate"); r > 0 {
					s.SampleRate = int(r)
					if s.Source == "" {
						s.Source = SourceMetadata
					}
				}
			}
			if s.Channels == 0 {
				if st, ok := md["stereo"].(bool); ok {
					s.Channels = 1
					if st {
						s.Channels = 2
					}
				}
			}
		}
	}
}

func addWarning(s *Stream, w string) {
	switch {
	case w == "" || strings.Contains(s.Warning, w):
	case s.Warning == "":
		s.Warning = w
	default:
		s.Warning += "; " + w
	}
}

func trimStartCode(b []byte) []byte {
	switch {
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 1:
		return b[4:]
	case len(b) >= 3 && b[0] == 0 && b[1] == 0 && b[2] == 1:
		return b[3:]
	}
	return b
}

// genericCodecName names formats gortsplib has no type for, from the
// rtpmap encoding name or the static payload type.
func genericCodecName(pt uint8, rtpMap string) string {
	enc, _, _ := strings.Cut(rtpMap, "/")
	enc = strings.ToLower(strings.TrimSpace(enc))
	if n, ok := encodingNames[enc]; ok {
		return n
	}
	if enc != "" {
		return enc
	}
	if n, ok := staticPayloadNames[pt]; ok {
		return n
	}
	return "unknown"
}

// encodingNames maps rtpmap encoding names to ffprobe codec names, for the
// encodings gortsplib has no format type for (and for the fallback path).
var encodingNames = map[string]string{
	"h264":          "h264",
	"h265":          "hevc",
	"av1":           "av1",
	"vp8":           "vp8",
	"vp9":           "vp9",
	"jpeg":          "mjpeg",
	"mp4v-es":       "mpeg4",
	"mpv":           "mpeg2video",
	"mpeg4-generic": "aac",
	"mp4a-latm":     "aac_latm",
	"opus":          "opus",
	"multiopus":     "opus",
	"vorbis":        "vorbis",
	"speex":         "speex",
	"ac3":           "ac3",
	"mpa":           "mp3",
	"mpa-robust":    "mp3",
	"pcmu":          "pcm_mulaw",
	"pcma":          "pcm_alaw",
	"g722":          "adpcm_g722",
	"l8":            "pcm_u8",
	"l16":           "pcm_s16be",
	"l24":           "pcm_s24be",
	"g726-16":       "adpcm_g726le",
	"g726-24":       "adpcm_g726le",
	"g726-32":       "adpcm_g726le",
	"g726-40":       "adpcm_g726le",
	"aal2-g726-16":  "adpcm_g726",
	"aal2-g726-24":  "adpcm_g726",
	"aal2-g726-32":  "adpcm_g726",
	"aal2-g726-40":  "adpcm_g726",
	"mp2t":          "mpegts",
	"smtpe336m":     "klv",
	"smpte336m":     "klv",
	"h263-1998":     "h263p",
	"h263-2000":     "h263p",
	"h263":          "h263",
	"h261":          "h261",
	"theora":        "theora",
	"gsm":           "gsm",
	"g723":          "g723_1",
	"g729":          "g729",
	"ilbc":          "ilbc",
	"amr":           "amr_nb",
	"amr-wb":        "amr_wb",
	"cn":            "comfortnoise",
}

// staticPayloadNames names RFC 3551 static payload types gortsplib keeps
// as Generic.
var staticPayloadNames = map[uint8]string{
	3:  "gsm",
	4:  "g723_1",
	13: "comfortnoise",
	18: "g729",
	31: "h261",
	34: "h263",
}

// codecLongNames are ffprobe's codec_long_name values.
var codecLongNames = map[string]string{
	"h264":         "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
	"hevc":         "H.265 / HEVC (High Efficiency Video Coding)",
	"av1":          "Alliance for Open Media AV1",
	"vp8":          "On2 VP8",
	"vp9":          "Google VP9",
	"mjpeg":        "Motion JPEG",
	"mpeg4":        "MPEG-4 part 2",
	"mpeg2video":   "MPEG-2 video",
	"h263":         "H.263 / H.263-1996, H.263+ / H.263-1998 / H.263 version 2",
	"h263p":        "H.263+ / H.263-1998 / H.263 version 2",
	"h261":         "H.261",
	"theora":       "Theora",
	"aac":          "AAC (Advanced Audio Coding)",
	"aac_latm":     "AAC LATM (Advanced Audio Coding LATM syntax)",
	"opus":         "Opus (Opus Interactive Audio Codec)",
	"vorbis":       "Vorbis",
	"speex":        "Speex",
	"ac3":          "ATSC A/52A (AC-3)",
	"mp3":          "MP3 (MPEG audio layer 3)",
	"pcm_mulaw":    "PCM mu-law / G.711 mu-law",
	"pcm_alaw":     "PCM A-law / G.711 A-law",
	"adpcm_g722":   "G.722 ADPCM",
	"adpcm_g726":   "G.726 ADPCM",
	"adpcm_g726le": "G.726 ADPCM little-endian",
	"pcm_u8":       "PCM unsigned 8-bit",
	"pcm_s16be":    "PCM signed 16-bit big-endian",
	"pcm_s24be":    "PCM signed 24-bit big-endian",
	"gsm":          "GSM",
	"g723_1":       "G.723.1",
	"g729":         "G.729",
	"ilbc":         "iLBC (Internet Low Bitrate Codec)",
	"amr_nb":       "AMR-NB (Adaptive Multi-Rate NarrowBand)",
	"amr_wb":       "AMR-WB (Adaptive Multi-Rate WideBand)",
	"comfortnoise": "RFC 3389 comfort noise generator",
	"klv":          "SMPTE 336M Key-Length-Value (KLV) metadata",
	"mpegts":       "MPEG-TS (MPEG-2 Transport Stream)",
}

func av1Profile(p int) string {
	switch p {
	case 0:
		return "Main"
	case 1:
		return "High"
	case 2:
		return "Professional"
	}
	return "profile " + strconv.Itoa(p)
}

func tierName(t int) string {
	if t == 0 {
		return "Main"
	}
	return "High"
}

// mpeg4VideoProfile decodes profile_and_level_indication (ISO 14496-2
// Table G-1) for the two profiles cameras use.
func mpeg4VideoProfile(v int) (profile, level string) {
	switch {
	case v >= 1 && v <= 3:
		return "Simple", strconv.Itoa(v)
	case v == 8:
		return "Simple", "0"
	case v == 9:
		return "Simple", "0b"
	case v >= 4 && v <= 6:
		return "Simple", strconv.Itoa(v)
	case v >= 0xf0 && v <= 0xf5:
		return "Advanced Simple", strconv.Itoa(v - 0xf0)
	case v == 0xf7:
		return "Advanced Simple", "3b"
	}
	return "", ""
}
