package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/rtsp"
)

// fileTemplate describes a file path; its stream only answers DESCRIBE.
type fileTemplate struct {
	file    File
	stream  *stream
	readers atomic.Int64
}

func newFileTemplate(srv *gortsplib.Server, f File) (*fileTemplate, error) {
	src := f.Open()
	desc, err := src.Open(context.Background())
	src.Close()
	if err != nil {
		return nil, err
	}
	st, err := newStream(srv, desc)
	if err != nil {
		return nil, err
	}
	return &fileTemplate{file: f, stream: st}, nil
}

func (t *fileTemplate) close() { t.stream.close() }

// player plays a file for one reader: engine.Loop maps each iteration
// straight onto the reader's description, with timestamps, RTP sequence
// numbers and RTP timestamps that never jump back; the player skips to a
// start position and paces in real time.
type player struct {
	file  File
	desc  *description.Session
	needs engine.Needs // what the reader needs of the file source
	write func(*media.Unit)
	// onEnd is called when the file ends by itself (no loop).
	onEnd func()

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	position time.Duration // media time of the last unit sent
}

func newPlayer(f File, desc *description.Session, needs engine.Needs, write func(*media.Unit)) *player {
	return &player{file: f, desc: desc, needs: needs, write: write}
}

// play starts (or restarts) playback at start, or where it paused.
func (p *player) play(start time.Duration, hasStart bool) {
	p.stop()
	p.mu.Lock()
	if !hasStart {
		start = p.position
	}
	ctx, cancel := context.WithCancel(engine.WithNeeds(context.Background(), p.needs))
	p.cancel, p.done = cancel, make(chan struct{})
	done := p.done
	p.mu.Unlock()
	go func() {
		defer close(done)
		p.run(ctx, start)
		if ctx.Err() == nil && p.onEnd != nil {
			p.onEnd()
		}
	}()
}

func (p *player) run(ctx context.Context, start time.Duration) {
	count := 1
	if p.file.Loop {
		count = 0
	}
	loop := &engine.Loop{New: p.file.Open, Count: count, Onto: p.desc}
	if _, err := loop.Open(ctx); err != nil {
		return
	}
	defer loop.Close()
	pacer := &engine.Pacer{}
	started := start <= 0
	_ = loop.Run(ctx, func(u *media.Unit) {
		if u.RTCP != nil {
			return
		}
		t := time.Duration(u.PTS) * time.Second / time.Duration(u.Format.ClockRate())
		if !started {
			// Seek: start at the first video keyframe at or after start.
			if t < start || (media.IsVideo(u.Format) && !u.Key) {
				return
			}
			started = true
		}
		if !pacer.Wait(ctx, u) {
			return
		}
		out := *u
		// The RTCP sender reports map RTP time to the media timeline, not to
		// when a late goroutine got to write: readers re-anchor on each
		// report, and a stall would shift one track against the other.
		out.NTP = pacer.WallTime(t)
		p.write(&out)
		p.mu.Lock()
		p.position = t
		p.mu.Unlock()
	})
}

func (p *player) pause() { p.stop() }

// finished is closed when the current playback ends by itself (a file
// played without loop).
func (p *player) finished() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

func (p *player) stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// fileSession is one RTSP reader of a file path, with its own stream.
type fileSession struct {
	t       *fileTemplate
	stream  *stream
	player  *player
	session *gortsplib.ServerSession // the reader
}

// drainLimit bounds how long the end of a file waits for the reader's
// queue to be sent.
const drainLimit = 2 * time.Second

func newFileSession(s *Server, t *fileTemplate, session *gortsplib.ServerSession) (*fileSession, error) {
	// The reader's stream has its own description, equal to the template's.
	desc, err := cloneDescription(t.stream.desc)
	if err != nil {
		return nil, err
	}
	st, err := newStream(s.rtsp, desc)
	if err != nil {
		return nil, err
	}
	fs := &fileSession{t: t, stream: st, session: session}
	fs.player = newPlayer(t.file, desc, engine.NeedPackets, st.writeUnit)
	// The end of a file that does not loop ends the reader's stream: it
	// gets a clean end instead of waiting forever, once it was sent what
	// is still queued for it (closing drops the queue).
	fs.player.onEnd = func() {
		fs.drain()
		st.close()
	}
	t.readers.Add(1)
	return fs, nil
}

// drainGrace is how long the end of a file waits after the session
// counted its last packet: gortsplib v5 counts a packet when it queues it
// for the session's writer goroutine, not when it reaches the socket.
const drainGrace = 200 * time.Millisecond

// drain waits, at most drainLimit, until the reader was sent every RTP
// packet written to its stream. gortsplib tells nothing when a session's
// queue empties, so its counter is polled, then the writer is given
// drainGrace to put the last queued packets on the wire.
func (fs *fileSession) drain() {
	if fs.session == nil {
		return
	}
	deadline := time.Now().Add(drainLimit)
	for fs.session.Stats().OutboundRTPPackets < fs.stream.rtpWritten.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(min(drainGrace, time.Until(deadline)))
}

func (fs *fileSession) play(start time.Duration, hasStart bool) { fs.player.play(start, hasStart) }

func (fs *fileSession) pause() { fs.player.pause() }

func (fs *fileSession) close() {
	fs.player.stop()
	fs.stream.close()
	fs.t.readers.Add(-1)
}

// cloneDescription copies a description through its SDP, so that each
// reader gets formats of its own.
func cloneDescription(d *description.Session) (*description.Session, error) {
	b, err := d.Marshal()
	if err != nil {
		return nil, err
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, err
	}
	var out description.Session
	if err := out.Unmarshal(&sd); err != nil {
		return nil, err
	}
	return &out, nil
}

// parseNPTStart reads the start of a Range header.
func parseNPTStart(v base.HeaderValue) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	return rtsp.ParseNPTStart(v[0])
}
