package rtmp

import (
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
)

// Reader reads access units from an RTMP connection: a playing client or a
// publishing server connection.
type Reader struct {
	r       *gortmplib.Reader
	desc    *description.Session
	formats map[*gortmplib.Track]format.Format
	medias  map[format.Format]*description.Media
	skipped []string
}

// NewReader reads until the tracks are known and maps them onto gortsplib
// formats. A publishing server connection is accepted first.
func NewReader(conn gortmplib.Conn, logger *logging.Logger) (*Reader, error) {
	if sc, ok := conn.(*gortmplib.ServerConn); ok {
		if err := sc.AcceptAction(); err != nil {
			return nil, err
		}
	}
	pc := &primingConn{Conn: conn, logger: logger}
	if err := pc.prime(); err != nil {
		return nil, err
	}
	r := &gortmplib.Reader{Conn: pc}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	var video, audio bool
	for _, t := range r.Tracks() {
		if t.Codec.IsVideo() {
			video = true
		} else {
			audio = true
		}
	}
	pc.setTracks(video, audio)
	desc, formats, skipped := toDescription(r.Tracks())
	rd := &Reader{r: r, desc: desc, formats: formats, skipped: skipped, medias: make(map[format.Format]*description.Media)}
	for _, m := range desc.Medias {
		rd.medias[m.Formats[0]] = m
	}
	return rd, nil
}

// Description is the stream as gortsplib formats.
func (rd *Reader) Description() *description.Session { return rd.desc }

// Skipped names tracks with codecs that have no gortsplib format.
func (rd *Reader) Skipped() []string { return rd.skipped }

// OnUnit registers emit for every track.
func (rd *Reader) OnUnit(emit func(*media.Unit)) {
	for _, t := range rd.r.Tracks() {
		f := rd.formats[t]
		if f == nil {
			// gortmplib calls every track's callback: give skipped ones a no-op.
			if _, ok := t.Codec.(*codecs.FLAC); ok {
				rd.r.OnDataFLAC(t, func(time.Duration, []byte) {})
			}
			continue
		}
		m := rd.medias[f]
		cr := f.ClockRate()
		send := func(pts, dts time.Duration, au [][]byte, key bool) {
			emit(&media.Unit{
				Media: m, Format: f, Received: time.Now(),
				PTS: durToClock(pts, cr), DTS: durToClock(dts, cr),
				Payload: au, Key: key,
			})
		}
		// A sequence header arrives as parameter sets alone: it updates
		// the format, it is not a frame.
		params := media.NewParams(f)
		switch t.Codec.(type) {
		case *codecs.H264:
			rd.r.OnDataH264(t, func(pts, dts time.Duration, au [][]byte) {
				if !hasPicture264(au) {
					if params.Learn(au) {
						params.Store()
					}
					return
				}
				send(pts, dts, au, h264.IsRandomAccess(au))
			})
		case *codecs.H265:
			rd.r.OnDataH265(t, func(pts, dts time.Duration, au [][]byte) {
				if !hasPicture265(au) {
					if params.Learn(au) {
						params.Store()
					}
					return
				}
				send(pts, dts, au, h265.IsRandomAccess(au))
			})
		case *codecs.AV1:
			rd.r.OnDataAV1(t, func(pts time.Duration, tu [][]byte) { send(pts, pts, tu, false) })
		case *codecs.VP9:
			rd.r.OnDataVP9(t, func(pts time.Duration, fr []byte) { send(pts, pts, [][]byte{fr}, false) })
		case *codecs.MPEG4Audio:
			rd.r.OnDataMPEG4Audio(t, func(pts time.Duration, au []byte) { send(pts, pts, [][]byte{au}, true) })
		case *codecs.Opus:
			rd.r.OnDataOpus(t, func(pts time.Duration, p []byte) { send(pts, pts, [][]byte{p}, true) })
		case *codecs.MPEG1Audio:
			rd.r.OnDataMPEG1Audio(t, func(pts time.Duration, fr []byte) { send(pts, pts, [][]byte{fr}, true) })
		case *codecs.AC3:
			rd.r.OnDataAC3(t, func(pts time.Duration, fr []byte) { send(pts, pts, [][]byte{fr}, true) })
		case *codecs.G711:
			rd.r.OnDataG711(t, func(pts time.Duration, b []byte) { send(pts, pts, [][]byte{b}, true) })
		case *codecs.LPCM:
			rd.r.OnDataLPCM(t, func(pts time.Duration, b []byte) { send(pts, pts, [][]byte{b}, true) })
		}
	}
}

// Read reads and dispatches one message.
func (rd *Reader) Read() error { return rd.r.Read() }

func hasPicture264(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 {
			if t := h264.NALUType(n[0] & 0x1f); t >= 1 && t <= 5 {
				return true
			}
		}
	}
	return false
}

func hasPicture265(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && (n[0]>>1)&0x3f < 32 {
			return true
		}
	}
	return false
}
