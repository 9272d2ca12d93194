// Package progress shows a live status line on a terminal and writes the
// same figures as NDJSON for scripts.
package progress

import (
	"fmt"
	"sync"
	"time"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/media"
)

// Figures are the totals of a session at one moment: the fields of the
// "stats" and "end" events (docs/stats-json.md).
type Figures struct {
	Elapsed     float64 `json:"elapsed_seconds"`
	Bytes       uint64  `json:"bytes"`
	BitrateBps  float64 `json:"bitrate_bps"`
	Frames      uint64  `json:"frames"`
	VideoFrames uint64  `json:"video_frames"`
	AudioFrames uint64  `json:"audio_frames"`
	Packets     uint64  `json:"packets"`
	Lost        uint64  `json:"packets_lost"`
	Dropped     uint64  `json:"dropped"`
	Extra       string  `json:"extra,omitempty"`
	Reason      string  `json:"reason,omitempty"`
}

// Reporter follows an engine session.
type Reporter struct {
	IO      *iostreams.IOStreams
	Session *engine.Session
	// JSON receives the "stats" events and the final one when set.
	JSON *JSONWriter
	// EndEvent names the final event; "" means "end".
	EndEvent string
	// Extra adds verb-specific text (loop count, position...).
	Extra func() string
	// Verb names the work in the summary ("pushed", "pulled"...).
	Verb string
	// Quiet leaves the terminal alone (no live line, no summary): a
	// caller following several sessions shows their sum (StatusLine).
	Quiet bool

	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	shown   bool
	start   time.Time
	lastB   uint64
	lastT   time.Time
	running bool
	base    Figures // the counts at the last Split
}

// Start begins reporting; call Stop when the session ends.
// After a Split, Start resumes it for the next part.
func (r *Reporter) Start() {
	r.mu.Lock()
	r.start, r.lastT = time.Now(), time.Now()
	r.mu.Unlock()
	if !r.tty() && r.JSON == nil {
		return
	}
	r.running = true
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.loop()
}

func (r *Reporter) loop() {
	defer close(r.done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			n++
			f := r.figures(true)
			if r.tty() {
				r.line(f)
			}
			if n%2 == 0 {
				r.JSON.Event("stats", f)
			}
		}
	}
}

// figures adds up the session's tracks, since the last Split.
func (r *Reporter) figures(periodic bool) Figures {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := Figures{Elapsed: time.Since(r.start).Seconds()}
	if st := r.Session.Stats(); st != nil {
		for _, t := range st.Snapshot() {
			f.Bytes += t.Bytes
			f.Frames += t.Frames
			if media.IsVideo(t.Format) {
				f.VideoFrames += t.Frames
			} else {
				f.AudioFrames += t.Frames
			}
			f.Packets += t.Packets
			f.Lost += t.PacketsLost
		}
	}
	for _, d := range r.Session.Dropped() {
		f.Dropped += d
	}
	f.Bytes -= r.base.Bytes
	f.Frames -= r.base.Frames
	f.VideoFrames -= r.base.VideoFrames
	f.AudioFrames -= r.base.AudioFrames
	f.Packets -= r.base.Packets
	f.Lost -= r.base.Lost
	f.Dropped -= r.base.Dropped
	now := time.Now()
	// Only the periodic caller (the loop) touches lastB and lastT, so
	// Figures may run beside it.
	dt := 0.0
	if periodic {
		dt = now.Sub(r.lastT).Seconds()
	}
	if dt > 0 {
		f.BitrateBps = float64(f.Bytes-r.lastB) * 8 / dt
		r.lastB, r.lastT = f.Bytes, now
	} else if f.Elapsed > 0 {
		f.BitrateBps = float64(f.Bytes) * 8 / f.Elapsed
	}
	if r.Extra != nil {
		f.Extra = r.Extra()
	}
	return f
}

func (r *Reporter) tty() bool { return !r.Quiet && r.IO.IsStderrTTY() }

// Figures are the session's totals now, with the average bitrate.
func (r *Reporter) Figures() Figures { return r.figures(false) }

func (r *Reporter) line(f Figures) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprint(r.IO.ErrOut, StatusLine(f))
	r.shown = true
}

// StatusLine is the live status line of f, starting with a carriage
// return and a clear-line.
func StatusLine(f Figures) string {
	el := time.Duration(f.Elapsed * float64(time.Second)).Truncate(time.Second)
	s := fmt.Sprintf("\r\x1b[K%s  %s  %s  %d frames  %d lost  %d dropped", el, Bytes(f.Bytes), Bitrate(f.BitrateBps), f.Frames, f.Lost, f.Dropped)
	if f.Extra != "" {
		s += "  " + f.Extra
	}
	return s
}

// Stop ends the live line, writes the final event, and prints a summary
// on a terminal.
func (r *Reporter) Stop() {
	r.Halt()
	r.end(r.figures(false), r.Session.Reason().String())
}

// Halt ends the live line and the "stats" events, and writes nothing more.
func (r *Reporter) Halt() {
	if r.running {
		close(r.stop)
		<-r.done
		r.running = false
	}
}

// Split ends one part of the session (record: one connection of a
// reconnecting source) as Stop does, with reason, and counts the next
// part from zero once Start resumes reporting. It returns the part's
// figures.
func (r *Reporter) Split(reason string) Figures {
	r.Halt()
	f := r.figures(false)
	r.end(f, reason)
	r.mu.Lock()
	r.base.Bytes += f.Bytes
	r.base.Frames += f.Frames
	r.base.VideoFrames += f.VideoFrames
	r.base.AudioFrames += f.AudioFrames
	r.base.Packets += f.Packets
	r.base.Lost += f.Lost
	r.base.Dropped += f.Dropped
	r.start, r.lastT, r.lastB = time.Now(), time.Now(), 0
	r.mu.Unlock()
	return f
}

// end writes the end event of a part and the summary on a terminal.
func (r *Reporter) end(f Figures, reason string) {
	f.Reason = reason
	end := r.EndEvent
	if end == "" {
		end = "end"
	}
	r.JSON.Event(end, f)
	if !r.tty() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shown {
		fmt.Fprint(r.IO.ErrOut, "\r\x1b[K")
	}
	el := time.Duration(f.Elapsed * float64(time.Second)).Truncate(10 * time.Millisecond)
	fmt.Fprintf(r.IO.ErrOut, "%s %s: %d frames, %s, %s average, %d lost, %d dropped (%s)\n",
		r.Verb, el, f.Frames, Bytes(f.Bytes), Bitrate(f.BitrateBps), f.Lost, f.Dropped, f.Reason)
}

// Bytes formats a byte count.
func Bytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Bitrate formats bits per second.
func Bitrate(bps float64) string {
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.1f kbit/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", bps)
}

// NothingReceived reports that a session got no packet and no frame.
func NothingReceived(sess *engine.Session) bool {
	st := sess.Stats()
	if st == nil {
		return true
	}
	for _, t := range st.Snapshot() {
		if t.Packets > 0 || t.Frames > 0 {
			return false
		}
	}
	return true
}
