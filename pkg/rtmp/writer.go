package rtmp

import (
	"fmt"
	"strings"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/avcat/avcat/pkg/container/mux"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// SupportedCodecs names what RTMP can carry, for error messages.
const SupportedCodecs = "H.264, H.265, AV1, VP9, AAC, Opus, MP3, AC-3, G.711"

// Writer sends units to an RTMP connection (a publishing client or a
// playing server connection), converting RTP to access units when needed.
// Timing is mux.Track's, as in the file sinks: video starts at its first
// keyframe with its parameter sets, DTS is derived for RTP units, and all
// tracks share one timeline. It keeps the source's timestamps (a relay of
// a stream at 16775 s sends 16775 s), shifted only when the first video
// keyframe's DTS is negative, so no RTMP timestamp is (with B-frames a
// file starts at -80 ms, which would be sent as 4294967216).
type Writer struct {
	w      *gortmplib.Writer
	tracks map[format.Format]*gortmplib.Track
	clock  mux.Clock
	prep   map[format.Format]*mux.Track
}

// TracksFor maps a description onto RTMP tracks. Formats RTMP cannot carry
// are left out and named in skipped; none left is a fault.Unsupported.
func TracksFor(desc *description.Session) (map[format.Format]*gortmplib.Track, []*gortmplib.Track, []string, error) {
	byFormat := make(map[format.Format]*gortmplib.Track)
	var list []*gortmplib.Track
	var skipped []string
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			var c codecs.Codec
			switch f := f.(type) {
			case *format.H264:
				sps, pps := f.SafeParams()
				if sps == nil || pps == nil {
					skipped = append(skipped, "H264 (no SPS/PPS in the SDP)")
					continue
				}
				c = &codecs.H264{SPS: sps, PPS: pps}
			case *format.H265:
				vps, sps, pps := f.SafeParams()
				if vps == nil || sps == nil || pps == nil {
					skipped = append(skipped, "H265 (no VPS/SPS/PPS in the SDP)")
					continue
				}
				c = &codecs.H265{VPS: vps, SPS: sps, PPS: pps}
			case *format.AV1:
				c = &codecs.AV1{}
			case *format.VP9:
				c = &codecs.VP9{}
			case *format.MPEG4Audio:
				if f.Config == nil {
					skipped = append(skipped, "MPEG-4 Audio (no config)")
					continue
				}
				c = &codecs.MPEG4Audio{Config: f.Config}
			case *format.Opus:
				c = &codecs.Opus{IDHeader: &opus.IDHeader{Version: 1, ChannelCount: uint8(max(f.ChannelCount, 1)), PreSkip: 3840, InputSampleRate: 48000}}
			case *format.MPEG1Audio:
				c = &codecs.MPEG1Audio{}
			case *format.AC3:
				c = &codecs.AC3{SampleRate: f.SampleRate, ChannelCount: f.ChannelCount}
			case *format.G711:
				c = &codecs.G711{MULaw: f.MULaw, ChannelCount: f.ChannelCount}
			default:
				skipped = append(skipped, f.Codec())
				continue
			}
			t := &gortmplib.Track{Codec: c}
			byFormat[f] = t
			list = append(list, t)
		}
	}
	if len(list) == 0 {
		return nil, nil, skipped, fault.New(fault.Unsupported,
			"no track RTMP can carry (found %s; RTMP supports %s)", strings.Join(skipped, ", "), SupportedCodecs)
	}
	return byFormat, list, skipped, nil
}

// NewWriter announces the tracks on conn (the FLV sequence headers).
func NewWriter(conn gortmplib.Conn, desc *description.Session) (*Writer, []string, error) {
	byFormat, list, skipped, err := TracksFor(desc)
	if err != nil {
		return nil, skipped, err
	}
	w := &gortmplib.Writer{Conn: conn, Tracks: list}
	if err := w.Initialize(); err != nil {
		return nil, skipped, err
	}
	wr := &Writer{w: w, tracks: byFormat, prep: make(map[format.Format]*mux.Track), clock: mux.Clock{Keep: true}}
	for f := range byFormat {
		wr.prep[f] = mux.NewTrack(f, &wr.clock)
	}
	return wr, skipped, nil
}

// WriteUnit sends one unit; units of tracks RTMP cannot carry are ignored.
func (w *Writer) WriteUnit(u *media.Unit) error {
	t := w.tracks[u.Format]
	if t == nil {
		return nil
	}
	fr, ok := w.prep[u.Format].Prepare(u)
	if !ok {
		return nil
	}
	cr := int64(u.Format.ClockRate())
	pts := mux.ToDuration(fr.PTS, cr)
	dts := mux.ToDuration(fr.DTS, cr)
	switch u.Format.(type) {
	case *format.H264:
		return w.w.WriteH264(t, pts, dts, fr.AU)
	case *format.H265:
		return w.w.WriteH265(t, pts, dts, fr.AU)
	case *format.AV1:
		return w.w.WriteAV1(t, pts, fr.AU)
	case *format.VP9:
		return w.w.WriteVP9(t, pts, join(fr.AU))
	case *format.MPEG4Audio:
		for i, au := range fr.AU {
			p := pts + mux.ToDuration(int64(i)*1024, cr)
			if err := w.w.WriteMPEG4Audio(t, p, au); err != nil {
				return err
			}
		}
		return nil
	case *format.Opus:
		for _, pkt := range fr.AU {
			if err := w.w.WriteOpus(t, pts, pkt); err != nil {
				return err
			}
		}
		return nil
	case *format.MPEG1Audio:
		for _, f := range fr.AU {
			if err := w.w.WriteMPEG1Audio(t, pts, f); err != nil {
				return err
			}
		}
		return nil
	case *format.AC3:
		for _, f := range fr.AU {
			if err := w.w.WriteAC3(t, pts, f); err != nil {
				return err
			}
		}
		return nil
	case *format.G711:
		return w.w.WriteG711(t, pts, join(fr.AU))
	}
	return fmt.Errorf("rtmp writer: unexpected format %s", u.Format.Codec())
}

func join(parts [][]byte) []byte {
	if len(parts) == 1 {
		return parts[0]
	}
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
