package rtpcap

import (
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Tracks maps the units of a session to track indexes: the position of
// their media in the description given to the sink's Open.
type Tracks struct {
	byMedia  map[*description.Media]int
	byFormat map[format.Format]int
	desc     *description.Session
}

// NewTracks indexes the medias of desc.
func NewTracks(desc *description.Session) *Tracks {
	t := &Tracks{
		byMedia:  make(map[*description.Media]int),
		byFormat: make(map[format.Format]int),
		desc:     desc,
	}
	for i, m := range desc.Medias {
		t.byMedia[m] = i
		for _, f := range m.Formats {
			t.byFormat[f] = i
		}
	}
	return t
}

// Index is the track of u; false for a unit of no known track.
func (t *Tracks) Index(u *media.Unit) (int, bool) {
	if i, ok := t.byMedia[u.Media]; ok {
		return i, true
	}
	i, ok := t.byFormat[u.Format]
	return i, ok
}

// Len is the number of tracks.
func (t *Tracks) Len() int { return len(t.desc.Medias) }

// CheckDesc refuses descriptions a capture cannot hold.
func CheckDesc(desc *description.Session) error {
	if desc == nil || len(desc.Medias) == 0 {
		return fault.New(fault.Unsupported, "the stream has no tracks")
	}
	if len(desc.Medias) > MaxTracks {
		return fault.New(fault.Unsupported, "%d tracks: a capture holds at most %d", len(desc.Medias), MaxTracks)
	}
	return nil
}

// ErrNoPackets is the error of a capture sink fed a unit without RTP
// packets: it records RTP as received, and does not packetize.
func ErrNoPackets(kind string, u *media.Unit) error {
	codec := "a"
	if u.Format != nil {
		codec = "the " + u.Format.Codec()
	}
	return fault.New(fault.Unsupported,
		"%s needs RTP input, but %s track arrives without RTP packets: record RTP sources (rtsp://) to %s, or use .ts, .mp4 or .flv",
		kind, codec, kind)
}

// Received is when u arrived, or now when the source did not say.
func Received(u *media.Unit) time.Time {
	if u.Received.IsZero() {
		return time.Now()
	}
	return u.Received
}
