package check

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	psdp "github.com/pion/sdp/v3"
)

const (
	refSDP        = "RFC 4566 §5"
	refSDPOrigin  = "RFC 4566 §5.2"
	refSDPConn    = "RFC 4566 §5.7"
	refSDPTiming  = "RFC 4566 §5.9"
	refSDPRTPMap  = "RFC 4566 §6"
	refControl    = "RFC 2326 C.1.1"
	refH264Params = "RFC 6184 §8.1"
	refH265Params = "RFC 7798 §7.1"
	refAACParams  = "RFC 3640 §4.1"
)

// maxTracks bounds the media set up (each takes two UDP ports).
const maxTracks = 16

// sdpTrack is one track (first format of one media) as announced.
type sdpTrack struct {
	media *description.Media
	forma format.Format
	url   *base.URL
	sps   []byte // from the SDP, when it parses
}

// checkSDP grades the session description. It returns the tracks to set
// up, or nil when the SDP is unusable.
func checkSDP(r *Report, body []byte, contentBase *base.URL) []sdpTrack {
	var ssd sdp.SessionDescription
	if err := ssd.Unmarshal(body); err != nil {
		r.Add("sdp.parse", Fail, refSDP, "%v", err)
		return nil
	}
	var desc description.Session
	if err := desc.Unmarshal2((*psdp.SessionDescription)(&ssd)); err != nil {
		r.Add("sdp.parse", Fail, refSDP, "%v", err)
		return nil
	}
	raw := (*psdp.SessionDescription)(&ssd)
	if len(desc.Medias) > maxTracks {
		r.Add("sdp.parse", Fail, refSDP, "%d media; avcat check handles at most %d", len(desc.Medias), maxTracks)
		return nil
	}
	var kinds []string
	for _, m := range desc.Medias {
		kinds = append(kinds, fmt.Sprintf("%s %s", m.Type, codecName(m.Formats[0])))
	}
	r.Add("sdp.parse", Pass, refSDP, "%d media: %s", len(desc.Medias), strings.Join(kinds, ", "))

	o := raw.Origin
	if o.NetworkType == "" || o.UnicastAddress == "" || o.SessionID == 0 && o.SessionVersion == 0 && o.Username == "" {
		r.Add("sdp.origin", Fail, refSDPOrigin, "o= missing or incomplete")
	} else {
		r.Add("sdp.origin", Pass, refSDPOrigin, "o=%s %d %d %s %s %s", o.Username, o.SessionID, o.SessionVersion, o.NetworkType, o.AddressType, o.UnicastAddress)
	}

	missing := 0
	for _, md := range raw.MediaDescriptions {
		if md.ConnectionInformation == nil {
			missing++
		}
	}
	switch {
	case raw.ConnectionInformation != nil && raw.ConnectionInformation.Address != nil:
		r.Add("sdp.connection", Pass, refSDPConn, "c=%s %s %s", raw.ConnectionInformation.NetworkType,
			raw.ConnectionInformation.AddressType, raw.ConnectionInformation.Address.Address)
	case missing == 0:
		r.Add("sdp.connection", Pass, refSDPConn, "c= in every media")
	default:
		r.Add("sdp.connection", Fail, refSDPConn, "no c= at session level nor in %d of %d media", missing, len(raw.MediaDescriptions))
	}

	if len(raw.TimeDescriptions) == 0 {
		r.Add("sdp.timing", Fail, refSDPTiming, "t= missing")
	} else {
		t := raw.TimeDescriptions[0].Timing
		r.Add("sdp.timing", Pass, refSDPTiming, "t=%d %d", t.StartTime, t.StopTime)
	}

	checkPayloadTypes(r, raw)

	// Control URLs.
	var tracks []sdpTrack
	var ctl []string
	ctlStatus := Pass
	for i, m := range desc.Medias {
		u, err := m.URL(contentBase)
		if err == nil && u == nil {
			err = fmt.Errorf("a=control:%s does not make a URL", m.Control)
		}
		switch {
		case err != nil:
			ctlStatus = Fail
			ctl = append(ctl, fmt.Sprintf("#%d: %v", i, err))
		case m.Control == "" && len(desc.Medias) > 1:
			ctlStatus = Fail
			ctl = append(ctl, fmt.Sprintf("#%d: no a=control with %d media", i, len(desc.Medias)))
		default:
			kind := "relative"
			if strings.Contains(m.Control, "://") {
				kind = "absolute"
			} else if m.Control == "" || m.Control == "*" {
				kind = "aggregate"
			}
			ctl = append(ctl, fmt.Sprintf("#%d %s (%s)", i, u.CloneWithoutCredentials(), kind))
		}
		tracks = append(tracks, sdpTrack{media: m, forma: m.Formats[0], url: u})
	}
	r.Add("sdp.control", ctlStatus, refControl, "%s", strings.Join(ctl, ", "))
	if ctlStatus == Fail {
		return nil
	}

	for i := range tracks {
		checkCodecParams(r, i, &tracks[i], raw.MediaDescriptions[i])
	}
	return tracks
}

func codecName(f format.Format) string {
	return strings.ToLower(f.Codec())
}

// checkPayloadTypes finds a payload type listed twice in one m= line, or
// mapped twice by rtpmap, and a dynamic type without rtpmap.
func checkPayloadTypes(r *Report, raw *psdp.SessionDescription) {
	var problems []string
	for i, md := range raw.MediaDescriptions {
		seen := map[string]bool{}
		for _, pt := range md.MediaName.Formats {
			if seen[pt] {
				problems = append(problems, fmt.Sprintf("#%d lists payload type %s twice", i, pt))
			}
			seen[pt] = true
		}
		mapped := map[string]string{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, _ := strings.Cut(a.Value, " ")
			if prev, ok := mapped[pt]; ok {
				problems = append(problems, fmt.Sprintf("#%d maps payload type %s twice (%s, %s)", i, pt, prev, enc))
			}
			mapped[pt] = enc
		}
		for pt := range seen {
			if n, err := strconv.Atoi(pt); err == nil && n >= 96 && n <= 127 && mapped[pt] == "" {
				problems = append(problems, fmt.Sprintf("#%d: dynamic payload type %s has no rtpmap", i, pt))
			}
		}
	}
	if len(problems) > 0 {
		r.Add("sdp.payload-types", Fail, refSDPRTPMap, "%s", strings.Join(problems, "; "))
		return
	}
	r.Add("sdp.payload-types", Pass, refSDPRTPMap, "unique, all dynamic types mapped")
}

// fmtpOf returns the fmtp parameters of payload type pt in md.
func fmtpOf(md *psdp.MediaDescription, pt uint8) map[string]string {
	out := map[string]string{}
	prefix := strconv.Itoa(int(pt)) + " "
	for _, a := range md.Attributes {
		if a.Key != "fmtp" || !strings.HasPrefix(a.Value, prefix) {
			continue
		}
		for _, kv := range strings.Split(strings.TrimPrefix(a.Value, prefix), ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if k != "" {
				out[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkCodecParams parses the codec parameters the SDP carries.
func checkCodecParams(r *Report, i int, t *sdpTrack, md *psdp.MediaDescription) {
	fmtp := fmtpOf(md, t.forma.PayloadType())
	switch t.forma.(type) {
	case *format.H264:
		sp := fmtp["sprop-parameter-sets"]
		if sp == "" {
			r.AddTrack("codec.params", i, Pass, refH264Params, "h264: no sprop-parameter-sets (parameters in-band)")
			break
		}
		var sps []byte
		var pps bool
		for _, part := range strings.Split(sp, ",") {
			b, err := decodeB64(part)
			if err != nil || len(b) == 0 {
				r.AddTrack("codec.params", i, Fail, refH264Params, "h264: sprop-parameter-sets element %q is not base64", part)
				return
			}
			switch b[0] & 0x1f {
			case 7:
				sps = b
			case 8:
				pps = true
			}
		}
		var s h264.SPS
		if sps == nil || !pps {
			r.AddTrack("codec.params", i, Fail, refH264Params, "h264: sprop-parameter-sets lacks an SPS or a PPS")
			return
		}
		if err := s.Unmarshal(sps); err != nil {
			r.AddTrack("codec.params", i, Fail, refH264Params, "h264: SPS in sprop-parameter-sets does not parse: %v", err)
			return
		}
		t.sps = sps
		r.AddTrack("codec.params", i, Pass, refH264Params, "h264: SPS %dx%d profile_idc %d level_idc %d, PPS present", s.Width(), s.Height(), s.ProfileIdc, s.LevelIdc)
		plid := fmtp["profile-level-id"]
		if plid == "" {
			r.AddTrack("codec.profile-level-id", i, Warn, refH264Params, "absent (defaults to 42000A, Baseline 1.0)")
			return
		}
		b, err := hex.DecodeString(plid)
		switch {
		case err != nil || len(b) != 3:
			r.AddTrack("codec.profile-level-id", i, Fail, refH264Params, "%q is not 3 hex bytes", plid)
		case b[0] != s.ProfileIdc:
			r.AddTrack("codec.profile-level-id", i, Fail, refH264Params, "%s says profile_idc %d, the SPS %d", plid, b[0], s.ProfileIdc)
		case b[2] != s.LevelIdc:
			r.AddTrack("codec.profile-level-id", i, Warn, refH264Params, "%s says level_idc %d, the SPS %d", plid, b[2], s.LevelIdc)
		default:
			r.AddTrack("codec.profile-level-id", i, Pass, refH264Params, "%s agrees with the SPS", plid)
		}
	case *format.H265:
		v := fmtp["sprop-sps"]
		if v == "" {
			r.AddTrack("codec.params", i, Pass, refH265Params, "h265: no sprop-sps (parameters in-band)")
			break
		}
		b, err := decodeB64(v)
		var s h265.SPS
		if err == nil {
			err = s.Unmarshal(b)
		}
		if err != nil {
			r.AddTrack("codec.params", i, Fail, refH265Params, "h265: sprop-sps does not parse: %v", err)
			return
		}
		t.sps = b
		r.AddTrack("codec.params", i, Pass, refH265Params, "h265: SPS %dx%d profile_idc %d", s.Width(), s.Height(), s.ProfileTierLevel.GeneralProfileIdc)
	case *format.MPEG4Audio:
		v := fmtp["config"]
		b, err := hex.DecodeString(v)
		var c mpeg4audio.AudioSpecificConfig
		if err == nil {
			err = c.Unmarshal(b)
		}
		if v == "" || err != nil {
			r.AddTrack("codec.params", i, Fail, refAACParams, "aac: config %q does not parse", v)
			return
		}
		r.AddTrack("codec.params", i, Pass, refAACParams, "aac: object type %d, %d Hz, %d channels", c.Type, c.SampleRate, c.ChannelCount)
	default:
		r.AddTrack("codec.params", i, Pass, refSDPRTPMap, "%s/%d", codecName(t.forma), t.forma.ClockRate())
	}
}

// spsSummary parses an SPS of forma's codec into comparable text.
func spsSummary(forma format.Format, b []byte) (string, error) {
	switch forma.(type) {
	case *format.H264:
		var s h264.SPS
		if err := s.Unmarshal(b); err != nil {
			return "", err
		}
		return fmt.Sprintf("%dx%d profile_idc %d level_idc %d", s.Width(), s.Height(), s.ProfileIdc, s.LevelIdc), nil
	case *format.H265:
		var s h265.SPS
		if err := s.Unmarshal(b); err != nil {
			return "", err
		}
		return fmt.Sprintf("%dx%d profile_idc %d level_idc %d", s.Width(), s.Height(),
			s.ProfileTierLevel.GeneralProfileIdc, s.ProfileTierLevel.GeneralLevelIdc), nil
	}
	return "", fmt.Errorf("no SPS for %s", forma.Codec())
}
