package probe

import (
	"fmt"
	"math"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Sanity bounds for values decoded from a parameter set. Anything outside
// is reported as a warning instead of printed as fact.
const (
	maxDimension = 32768
	maxFPS       = 1000
)

// videoParams is what an SPS tells.
type videoParams struct {
	profile, level, tier string
	pixFmt               string
	width, height        int
	fps                  float64
}

// applyParams parses sps for codec ("h264" or "hevc") and fills s. On
// success s.Source becomes source; on failure s only gets a Warning that
// starts with warnPrefix. It never panics.
func applyParams(s *Stream, codec string, sps []byte, source, warnPrefix string) {
	var p videoParams
	var err error
	switch codec {
	case "h264":
		p, err = parseH264SPS(sps)
	case "hevc":
		p, err = parseH265SPS(sps)
	default:
		return
	}
	if err != nil {
		addWarning(s, warnPrefix+": "+err.Error())
		return
	}
	s.Profile, s.Level, s.Tier, s.PixFmt = p.profile, p.level, p.tier, p.pixFmt
	s.Width, s.Height, s.FPS = 0, 0, 0
	switch {
	case p.width <= 0 || p.height <= 0 || p.width > maxDimension || p.height > maxDimension:
		addWarning(s, fmt.Sprintf("SPS gives an implausible size %dx%d", p.width, p.height))
	default:
		s.Width, s.Height = p.width, p.height
	}
	switch {
	case math.IsNaN(p.fps) || math.IsInf(p.fps, 0) || p.fps < 0 || p.fps > maxFPS:
		addWarning(s, "SPS VUI timing gives an implausible frame rate")
	default:
		s.FPS = roundFPS(p.fps)
	}
	s.Source = source
}

func roundFPS(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0
	}
	return math.Round(v*1000) / 1000
}

func parseH264SPS(b []byte) (p videoParams, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var sps h264.SPS
	if err := sps.Unmarshal(b); err != nil {
		return p, err
	}
	p.profile = h264ProfileName(sps.ProfileIdc, sps.ConstraintSet1Flag, sps.ConstraintSet3Flag)
	p.level = h264LevelName(sps.ProfileIdc, sps.LevelIdc, sps.ConstraintSet3Flag)
	p.pixFmt = pixFmt(sps.ChromaFormatIdc, sps.BitDepthLumaMinus8)
	p.width, p.height, p.fps = sps.Width(), sps.Height(), sps.FPS()
	return p, nil
}

func parseH265SPS(b []byte) (p videoParams, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var sps h265.SPS
	if err := sps.Unmarshal(b); err != nil {
		return p, err
	}
	ptl := sps.ProfileTierLevel
	p.profile = h265ProfileName(ptl.GeneralProfileIdc, ptl.GeneralProfileCompatibilityFlag)
	p.level = h265LevelName(ptl.GeneralLevelIdc)
	p.tier = tierName(int(ptl.GeneralTierFlag))
	p.pixFmt = pixFmt(sps.ChromaFormatIdc, sps.BitDepthLumaMinus8)
	p.width, p.height, p.fps = sps.Width(), sps.Height(), sps.FPS()
	return p, nil
}

// h264ProfileName follows ffprobe's names (ITU-T H.264 Annex A).
func h264ProfileName(idc uint8, cs1, cs3 bool) string {
	switch idc {
	case 66:
		if cs1 {
			return "Constrained Baseline"
		}
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 100:
		return "High"
	case 110:
		if cs3 {
			return "High 10 Intra"
		}
		return "High 10"
	case 122:
		if cs3 {
			return "High 4:2:2 Intra"
		}
		return "High 4:2:2"
	case 244:
		if cs3 {
			return "High 4:4:4 Intra"
		}
		return "High 4:4:4 Predictive"
	case 44:
		return "CAVLC 4:4:4"
	case 83:
		return "Scalable Baseline"
	case 86:
		return "Scalable High"
	case 118:
		return "Multiview High"
	case 128:
		return "Stereo High"
	}
	return "profile " + strconv.Itoa(int(idc))
}

// h264LevelName gives "3.1" for level_idc 31, and "1b" where the
// standard says so (level_idc 11 with constraint_set3 in the Baseline,
// Main and Extended profiles; level_idc 9 elsewhere).
func h264LevelName(profileIdc, levelIdc uint8, cs3 bool) string {
	if levelIdc == 9 || (levelIdc == 11 && cs3 && (profileIdc == 66 || profileIdc == 77 || profileIdc == 88)) {
		return "1b"
	}
	return fmt.Sprintf("%d.%d", levelIdc/10, levelIdc%10)
}

// h265ProfileName follows ffprobe's names (ITU-T H.265 Annex A). A zero
// general_profile_idc falls back to the first compatibility flag.
func h265ProfileName(idc uint8, compat [32]bool) string {
	if idc == 0 {
		for j := 1; j < 32; j++ {
			if compat[j] {
				idc = uint8(j)
				break
			}
		}
	}
	switch idc {
	case 1:
		return "Main"
	case 2:
		return "Main 10"
	case 3:
		return "Main Still Picture"
	case 4:
		return "Rext"
	case 5:
		return "High Throughput"
	case 6:
		return "Multiview Main"
	case 7:
		return "Scalable Main"
	case 8:
		return "3D Main"
	case 9:
		return "SCC"
	}
	return "profile " + strconv.Itoa(int(idc))
}

// h265LevelName gives general_level_idc/30 with one decimal: 93 → "3.1".
func h265LevelName(idc uint8) string {
	return fmt.Sprintf("%d.%d", idc/30, (idc%30)/3)
}

// h264ProfileLevelID decodes the SDP profile-level-id (RFC 6184: six hex
// digits: profile_idc, constraint flags, level_idc).
func h264ProfileLevelID(v string) (profile, level string, ok bool) {
	if len(v) != 6 {
		return "", "", false
	}
	n, err := strconv.ParseUint(v, 16, 32)
	if err != nil {
		return "", "", false
	}
	idc, flags, lvl := uint8(n>>16), uint8(n>>8), uint8(n)
	cs1, cs3 := flags&0x40 != 0, flags&0x10 != 0
	return h264ProfileName(idc, cs1, cs3), h264LevelName(idc, lvl, cs3), true
}
