package mux

import (
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/fault"
)

// Pick is one format a sink takes.
type Pick struct {
	Media  *description.Media
	Format format.Format
}

// Select keeps the formats of desc that accept takes. accept returns ""
// to take a format, or why it is left out ("" reason words such as "no
// config" are appended to the codec name). The others are listed in
// skipped ("track 2: Opus"). When none is taken, the error is a
// fault.Unsupported: "CONTAINER cannot hold CODECS (supported: LIST)".
func Select(desc *description.Session, container, supported string,
	accept func(f format.Format) (ok bool, why string),
) (picks []Pick, skipped []string, err error) {
	var found []string
	if desc != nil {
		for i, m := range desc.Medias {
			for _, f := range m.Formats {
				ok, why := accept(f)
				if ok {
					picks = append(picks, Pick{Media: m, Format: f})
					continue
				}
				name := CodecName(f)
				if why != "" {
					name += " (" + why + ")"
				}
				found = append(found, name)
				skipped = append(skipped, "track "+strconv.Itoa(i)+": "+name)
			}
		}
	}
	if len(picks) == 0 {
		what := strings.Join(found, ", ")
		if what == "" {
			what = "an empty stream"
		}
		return nil, skipped, fault.New(fault.Unsupported, "%s cannot hold %s (supported: %s)", container, what, supported)
	}
	return picks, skipped, nil
}

// CodecName is the usual name of a format's codec: H.264, H.265, AAC…
func CodecName(f format.Format) string {
	switch f := f.(type) {
	case *format.H264:
		return "H.264"
	case *format.H265:
		return "H.265"
	case *format.MPEG4Audio:
		return "AAC"
	case *format.MPEG4AudioLATM:
		return "AAC (LATM)"
	case *format.Opus:
		return "Opus"
	case *format.MPEG1Audio:
		return "MP3"
	case *format.AC3:
		return "AC-3"
	case *format.G711:
		if f.MULaw {
			return "G.711 µ-law"
		}
		return "G.711 A-law"
	case *format.AV1:
		return "AV1"
	case *format.VP8:
		return "VP8"
	case *format.VP9:
		return "VP9"
	case *format.MJPEG:
		return "MJPEG"
	case *format.LPCM:
		return "LPCM"
	case *format.G722:
		return "G.722"
	case *format.MPEG4Video:
		return "MPEG-4 Video"
	case *format.MPEG1Video:
		return "MPEG-1/2 Video"
	case *format.KLV:
		return "KLV"
	}
	return f.Codec()
}
