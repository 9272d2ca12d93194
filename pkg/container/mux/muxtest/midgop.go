package muxtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/media"
)

// MidGOPSkip is how many frames a MidGOP stream lacks.
const MidGOPSkip = 10

// MidGOP is the video of clip as a reader that joins a camera mid-GOP
// gets it: the first MidGOPSkip frames are missing, and the DTS is
// unknown (NoDTS, as over RTP). With inBand, the description has no
// parameter sets, they come in band before each keyframe only, and the
// units are RTP packets (not depacketized); otherwise the parameter sets
// are in the description only, and the units are access units. frames
// is how many frames can be decoded, from the first keyframe on.
func MidGOP(t testing.TB, clip string, inBand bool) (desc *description.Session, units []*media.Unit, frames int) {
	t.Helper()
	all, clipUnits := Load(t, clip)
	var orig format.Format
	for _, m := range all.Medias {
		if m.Type == description.MediaTypeVideo {
			orig = m.Formats[0]
		}
	}
	f := orig
	var params [][]byte
	switch o := orig.(type) {
	case *format.H264:
		sps, pps := o.SafeParams()
		params = [][]byte{sps, pps}
		if inBand {
			f = &format.H264{PayloadTyp: o.PayloadTyp, PacketizationMode: o.PacketizationMode}
		}
	case *format.H265:
		vps, sps, pps := o.SafeParams()
		params = [][]byte{vps, sps, pps}
		if inBand {
			f = &format.H265{PayloadTyp: o.PayloadTyp}
		}
	default:
		t.Fatalf("%s: no H.264/H.265 video", clip)
	}
	m := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}
	var out []*media.Unit
	n := 0
	for _, u := range clipUnits {
		if u.Format != orig {
			continue
		}
		if n++; n <= MidGOPSkip {
			continue
		}
		if media.FindSPS(orig, u.Payload) != nil {
			t.Fatalf("%s: in-band parameter sets in the clip", clip)
		}
		au := u.Payload
		if inBand && u.Key {
			au = append(append([][]byte{}, params...), au...)
		}
		if frames > 0 || u.Key {
			frames++
		}
		out = append(out, &media.Unit{Media: m, Format: f, PTS: u.PTS, DTS: u.PTS, NoDTS: true, Payload: au, Key: u.Key})
	}
	if out[0].Key {
		t.Fatalf("%s: frame %d is a keyframe", clip, MidGOPSkip)
	}
	if inBand {
		out = AsRTP(t, out)
		for _, u := range out {
			u.Payload, u.Key = nil, false
		}
	}
	return &description.Session{Medias: []*description.Media{m}}, out, frames
}

// ParamsBeforeFirstIDR extracts the video of path as Annex-B with ffmpeg
// (-c copy: parameter sets in band as written, those of the sample
// description put in front of the keyframe) and fails unless the first
// picture is an IDR with its SPS and PPS (and VPS for H.265) before it.
// codec is ffprobe's codec_name. It returns the pictures found.
func ParamsBeforeFirstIDR(t testing.TB, path, codec string) int {
	t.Helper()
	es := filepath.Join(t.TempDir(), "es."+codec)
	r := testpeer.RunClient(t, 30*time.Second, testpeer.PeerFFmpeg, "-hide_banner", "-v", "error",
		"-i", path, "-map", "0:v:0", "-c", "copy", "-f", codec, es)
	if r.Code != 0 {
		t.Fatalf("ffmpeg -c copy -f %s %s:\n%s", codec, path, r)
	}
	b, err := os.ReadFile(es)
	if err != nil {
		t.Fatal(err)
	}
	// start codes never occur inside a NALU (emulation prevention)
	au := bytes.Split(b, []byte{0, 0, 1})
	var seen [3]bool // vps, sps, pps
	pics := 0
	for _, n := range au {
		if len(n) < 2 {
			continue // a 4-byte start code's extra 0
		}
		var typ int
		var pic, idr bool
		if codec == "hevc" {
			typ = int(n[0]>>1) & 0x3f
			pic, idr = typ < 32, typ >= 16 && typ <= 21
			if typ >= 32 && typ <= 34 {
				seen[typ-32] = true
			}
		} else {
			typ = int(n[0] & 0x1f)
			pic, idr = typ >= 1 && typ <= 5, typ == 5
			if typ == 7 || typ == 8 {
				seen[typ-6] = true
			}
		}
		if !pic {
			continue
		}
		if pics == 0 && (!idr || !seen[1] || !seen[2] || (codec == "hevc" && !seen[0])) {
			t.Fatalf("%s: first picture NALU type %d, VPS/SPS/PPS before it: %v", path, typ, seen)
		}
		pics++
	}
	if pics == 0 {
		t.Fatalf("%s: no picture", path)
	}
	return pics
}
