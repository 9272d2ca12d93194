package media

import (
	"slices"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// dtsDeriver derives the decode times RTP does not carry, for H.264 with
// mediacommon's DTSExtractor and for H.265 from the reorder depth of its
// SPS (see reorderDTS).
type dtsDeriver struct {
	h265  bool
	ex264 *h264.DTSExtractor
	re265 reorderDTS
}

// next returns the DTS of the access unit au (parameter sets inserted),
// in decode order; ok is false when it cannot be derived yet (H.264
// before an IDR with its SPS, H.265 without an SPS).
func (d *dtsDeriver) next(au [][]byte, pts int64, sps []byte) (dts int64, ok bool) {
	if d.h265 {
		if sps == nil {
			return pts, false
		}
		d.re265.setSPS(sps)
		return min(d.re265.next(pts), pts), true
	}
	if d.ex264 == nil {
		d.ex264 = h264.NewDTSExtractor()
	}
	dts, err := d.ex264.Extract(au, pts)
	if err != nil {
		return pts, false
	}
	return dts, true
}

// reorderDTS derives the DTS of H.265 frames from their PTS, given the
// stream's reorder depth k (sps_max_num_reorder_pics): the DTS of a frame
// is the (k+1)-th largest PTS seen so far, which is what ffmpeg does for
// raw streams and gives evenly spaced decode times. The first k frames,
// before the window is full, are spaced by one frame duration (from the
// SPS timing info, else 0.1 s) back from the first frame.
//
// mediacommon's h265.DTSExtractor is valid but spaces the frames after
// the first IDR 1 ms apart; ffmpeg 5.1's HEVC decoding path then emits
// wrong frame timestamps ("non monotonically increasing dts to muxer").
type reorderDTS struct {
	sps      []byte
	k        int
	frameDur int64
	top      []int64 // the k+1 largest PTS so far, ascending
	n        int
	first    int64
}

// discontinuity resets the window when PTS goes back this far (a source
// restart), in 90 kHz ticks.
const discontinuity = 10 * 90000

func (r *reorderDTS) setSPS(nalu []byte) {
	if slices.Equal(r.sps, nalu) {
		return
	}
	var sps h265.SPS
	if err := sps.Unmarshal(nalu); err != nil {
		return
	}
	r.sps = nalu
	k := 0
	if n := len(sps.MaxNumReorderPics); n > 0 {
		k = int(sps.MaxNumReorderPics[n-1])
	}
	r.frameDur = 9000
	if sps.VUI != nil && sps.VUI.TimingInfo != nil && sps.VUI.TimingInfo.TimeScale != 0 {
		if d := int64(90000) * int64(sps.VUI.TimingInfo.NumUnitsInTick) / int64(sps.VUI.TimingInfo.TimeScale); d > 0 {
			r.frameDur = d
		}
	}
	if k != r.k {
		r.k = k
		r.reset()
	}
}

func (r *reorderDTS) reset() {
	r.top = r.top[:0]
	r.n = 0
}

// next returns the DTS of the next frame in decode order.
func (r *reorderDTS) next(pts int64) int64 {
	if len(r.top) > 0 && pts < r.top[len(r.top)-1]-discontinuity {
		r.reset()
	}
	if r.n == 0 {
		r.first = pts
	}
	r.n++
	i, _ := slices.BinarySearch(r.top, pts)
	r.top = slices.Insert(r.top, i, pts)
	if len(r.top) > r.k+1 {
		r.top = r.top[1:]
	}
	if r.n <= r.k {
		return r.first - int64(r.k-r.n+1)*r.frameDur
	}
	return r.top[0]
}
