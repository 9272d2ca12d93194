// Package mux holds what the file sinks (MPEG-TS, MP4, fMP4, FLV,
// Annex-B, ADTS) share: a Track that turns engine units into frames ready
// to mux, a Clock that puts every track of a file on one timeline starting
// at 0, a buffered Output with a sticky, classified write error, and a
// Flusher that flushes every second.
//
// What a Track does to a unit, in order:
//   - its media.Processor depacketizes it, inserts the parameter sets
//     before random access units and derives the DTS RTP lacks;
//   - video starts at its first keyframe, and only once its parameter sets
//     are known (from the format or in-band); earlier units are dropped;
//   - the file's origin is the DTS of the first video keyframe (of the
//     first unit, in files without video), as a duration; it is
//     subtracted from every track, so A/V sync is kept and the file starts
//     at 0 (with Clock.Keep, only a negative origin is subtracted). Units
//     before the origin are dropped: audio waits for the video to start
//     (at most AudioWait, then audio starts the file);
//   - DTS is made strictly increasing per track (bumped by one tick), and
//     PTS is never below DTS.
package mux

import (
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/media"
)

// Clock is the timeline shared by the tracks of one file: its origin is
// the decode time of the first video keyframe (of the first unit, in
// files without video).
type Clock struct {
	// Keep keeps the source's timestamps instead of starting at 0; the
	// timeline is shifted only when it starts below 0 (RTMP timestamps are
	// unsigned; with B-frames a file's first DTS is -80 ms).
	Keep bool

	set    bool
	origin time.Duration
	video  bool // a video track exists: it starts the file
}

// Started reports whether the origin is set.
func (c *Clock) Started() bool { return c.set }

// Origin is the absolute time that became 0 in the file.
func (c *Clock) Origin() time.Duration { return c.origin }

// AudioWait is how long audio waits for the video to start a file
// (timestamps of the audio track) before it starts the file itself.
const AudioWait = 5 * time.Second

// Frame is a unit ready to mux: timestamps relative to the file start, in
// the format's clock rate.
type Frame struct {
	PTS int64
	DTS int64
	// AU is the access unit (NALUs without start codes), or the audio
	// access units / packets of the unit.
	AU [][]byte
	// Key reports a random access point (always true for audio).
	Key bool
}

// Track prepares the units of one format. It is not safe for concurrent
// use.
type Track struct {
	// Format is the track's format.
	Format format.Format

	clock     *Clock
	proc      *media.Processor
	rate      int64
	params    bool // H.264/H.265: waits for parameter sets
	video     bool
	started   bool
	offset    int64
	offsetSet bool
	lastDTS   int64
	hasLast   bool
	waitFrom  int64 // first DTS of an audio track waiting for video
	waiting   bool
}

// NewTrack prepares the units of f on clock c. The parameter sets of the
// format (the SDP) are the first known ones.
func NewTrack(f format.Format, c *Clock) *Track {
	t := &Track{Format: f, clock: c, proc: media.NewProcessor(f), rate: int64(f.ClockRate()), video: media.IsVideo(f)}
	if t.rate <= 0 {
		t.rate = 90000
	}
	if t.video {
		c.video = true
	}
	t.params = media.NewParams(f) != nil
	return t
}

// ClockRate is the track's clock rate (ticks per second).
func (t *Track) ClockRate() int64 { return t.rate }

// IsVideo reports whether the track is video.
func (t *Track) IsVideo() bool { return t.video }

// Started reports whether the track emitted its first frame.
func (t *Track) Started() bool { return t.started }

// Restart makes the track wait for a keyframe again (the timeline is
// kept). Sinks use it when they had to drop a frame they could not write
// yet.
func (t *Track) Restart() { t.started = false }

// Params returns the parameter sets known so far: the last in-band ones,
// or the format's. For H.264 vps is nil.
func (t *Track) Params() (vps, sps, pps []byte) { return t.proc.Params() }

// HasParams reports whether the track can be described: for H.264 and
// H.265 its parameter sets are known; other codecs always can.
func (t *Track) HasParams() bool { return t.proc.HasParams() }

// Prepare turns a unit (decoded or RTP) into a frame; ok is false when
// the unit is dropped (not a complete access unit yet, video before its
// first usable keyframe, DTS not derivable yet, or before the file's
// origin).
func (t *Track) Prepare(u *media.Unit) (fr Frame, ok bool) {
	u, err := t.proc.Process(u)
	if err != nil || u == nil || len(u.Payload) == 0 {
		return Frame{}, false
	}
	key := true
	if t.params {
		key = u.Key
		if !t.started && (!key || !t.HasParams() || u.NoDTS) {
			// waits for a keyframe with its parameter sets (and for
			// H.264 RTP, its DTS; later, a frame without one keeps
			// DTS=PTS: dropping it would break the frames that reference it)
			return Frame{}, false
		}
	} else if t.video && !t.started && !u.Key {
		return Frame{}, false
	}

	pts, dts := u.PTS, u.DTS
	if !t.offsetSet {
		if !t.clock.set && t.clock.video && !t.video {
			// audio waits for the video to start the file
			if !t.waiting {
				t.waiting, t.waitFrom = true, dts
			}
			if dts-t.waitFrom < int64(AudioWait/time.Millisecond)*t.rate/1000 {
				return Frame{}, false
			}
		}
		if !t.clock.set {
			t.clock.set = true
			t.clock.origin = ToDuration(dts, t.rate)
			if t.clock.Keep {
				t.clock.origin = min(t.clock.origin, 0)
			}
		}
		t.offset = FromDuration(t.clock.origin, t.rate)
		t.offsetSet = true
	}
	dts -= t.offset
	pts -= t.offset
	if dts < 0 && !t.hasLast {
		return Frame{}, false // before the file's start
	}
	if t.hasLast && dts <= t.lastDTS {
		dts = t.lastDTS + 1
	}
	pts = max(pts, dts)
	t.started = true
	t.lastDTS, t.hasLast = dts, true
	return Frame{PTS: pts, DTS: dts, AU: u.Payload, Key: key}, true
}

// ToDuration converts ticks of a clock rate to a duration without
// overflowing for large values.
func ToDuration(v, rate int64) time.Duration {
	secs, rem := v/rate, v%rate
	return time.Duration(secs)*time.Second + time.Duration(rem*int64(time.Second)/rate)
}

// FromDuration converts a duration to ticks of a clock rate (rounded to
// nearest) without overflowing for large values.
func FromDuration(d time.Duration, rate int64) int64 {
	secs, rem := int64(d/time.Second), int64(d%time.Second)
	v := rem * rate
	q := v / int64(time.Second)
	if r := v % int64(time.Second); 2*r >= int64(time.Second) {
		q++
	} else if 2*r <= -int64(time.Second) {
		q--
	}
	return secs*rate + q
}

// Rescale converts v ticks at clock rate from to clock rate to (rounded
// down), without overflowing for large values.
func Rescale(v, from, to int64) int64 {
	if from == to {
		return v
	}
	secs, rem := v/from, v%from
	return secs*to + rem*to/from
}
