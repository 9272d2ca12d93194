package record

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/progress"
)

// Recorder records one source into files: one engine session on an
// engine.RetrySource, so a lost source reconnects with backoff; each
// connection gets its own file, finished when the connection is lost.
type Recorder struct {
	Source Source
	// New builds one connection to the source (endpoint.SourceFactory).
	New       func() engine.Source
	Selection engine.Selection
	// Template is -o with the source fields filled in.
	Template string
	// NewFile makes the sink that writes one file.
	NewFile  func(path string) (engine.Sink, error)
	Segment  time.Duration
	MaxSize  int64
	Duration time.Duration // of media, over every connection
	// Reconnect retries a lost source with Backoff.
	Reconnect bool
	Backoff   engine.Backoff
	// OnSegment is a shell command run with each finished file.
	OnSegment string

	IO   *iostreams.IOStreams
	Log  *logging.Logger
	JSON *progress.JSONWriter
	// Multi: one of several sources; messages get Prefix, and a source
	// still down when the run stops has failed.
	Multi  bool
	Prefix string

	// Err is why the recording failed (RunAll).
	Err error

	mu      sync.Mutex
	files   []string
	past    progress.Figures   // totals of the finished connections
	rep     *progress.Reporter // follows the session
	up      bool               // a connection is live
	lastErr error              // why the source was last lost
	sink    *pausable
	ever    atomic.Bool // some connection delivered media
	sent    atomic.Uint64
	runCtx  context.Context
}

// segmentEvent is the "segment" event: one finished file.
type segmentEvent struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// endEvent is record's final event.
type endEvent struct {
	Elapsed float64 `json:"elapsed_seconds"`
	Files   int     `json:"files"`
	Error   string  `json:"error,omitempty"`
}

// reconnectEvent is the "reconnect" event: the source was lost.
type reconnectEvent struct {
	Error    string  `json:"error,omitempty"`
	DelaySec float64 `json:"delay_seconds"`
}

// FileCount is how many files were written so far.
func (r *Recorder) FileCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.files)
}

// Figures are the source's totals so far, and whether it is connected.
func (r *Recorder) Figures() (progress.Figures, bool) {
	r.mu.Lock()
	rep, up, f := r.rep, r.up, r.past
	r.mu.Unlock()
	if rep == nil {
		return f, false
	}
	return addFigures(f, rep.Figures()), up
}

func addFigures(a, b progress.Figures) progress.Figures {
	a.Bytes += b.Bytes
	a.Frames += b.Frames
	a.Lost += b.Lost
	a.Dropped += b.Dropped
	return a
}

func (r *Recorder) infof(format string, args ...any) { r.Log.Infof(r.Prefix+format, args...) }
func (r *Recorder) warnf(format string, args ...any) { r.Log.Warnf(r.Prefix+format, args...) }

// Run records until the source ends for good, fails, or ctx is done.
func (r *Recorder) Run(ctx context.Context) error {
	var src engine.Source = &engine.RetrySource{
		New: r.New, Backoff: r.Backoff, Retry: r.retry,
		OnEvent: func(s engine.EndpointState, _ error) {
			if s == engine.StateUp {
				r.mu.Lock()
				r.up = true
				rep := r.rep
				r.mu.Unlock()
				rep.Start() // the new connection's figures
			}
		},
	}
	if !r.Selection.IsZero() {
		src = &engine.Select{Source: src, Selection: r.Selection}
	}
	r.sink = &pausable{seg: &Segmenter{
		Template: r.Template, Segment: r.Segment, MaxSize: r.MaxSize, New: r.NewFile, OnSegment: r.finished,
	}}
	sess := &engine.Session{Source: &counted{Source: src, r: r}, Sinks: []engine.Sink{r.sink}, MediaDuration: r.Duration}
	if _, err := sess.Open(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	rep := &progress.Reporter{IO: r.IO, Session: sess, Verb: "recorded", JSON: r.JSON, EndEvent: "connection_end", Quiet: r.Multi}
	r.mu.Lock()
	r.rep, r.up = rep, true
	r.mu.Unlock()
	rep.Start()
	err := sess.Run(ctx)

	r.mu.Lock()
	up, lastErr := r.up, r.lastErr
	r.mu.Unlock()
	f := rep.Figures()
	if up {
		rep.Stop()
	} else {
		rep.Halt()
		f = progress.Figures{}
	}
	r.mu.Lock()
	r.past, r.rep = addFigures(r.past, f), nil
	r.mu.Unlock()
	switch {
	case ctx.Err() != nil && !up:
		// Stopped while the source was down: alone, a clean stop; one of
		// several sources reports that it was down.
		if r.Multi && lastErr != nil {
			return fmt.Errorf("down when the run stopped: %w", lastErr)
		}
		return nil
	case ctx.Err() != nil:
		if err != nil && r.FileCount() > 0 {
			return fmt.Errorf("%w (files written so far are complete)", err)
		}
		return err
	case err == nil && sess.Reason() == engine.StopDuration && r.FileCount() == 0:
		return fault.New(fault.Network, "no usable media within --duration %s: nothing recorded", r.Duration)
	}
	return err
}

// retry decides, when the source is lost, whether to reconnect: network
// trouble and stream ends are retried once media flowed; usage, auth,
// not-found and write errors are not. It first finishes the file.
func (r *Recorder) retry(lost error, wait time.Duration) error {
	ended := errors.Is(lost, engine.ErrStreamEnded)
	if ended {
		lost = fault.New(fault.Network, "the source ended the stream")
	}
	r.mu.Lock()
	wasUp, rep := r.up, r.rep
	r.up = false
	r.mu.Unlock()
	if wasUp {
		// The connection's end: its figures, and its file finished.
		reason := engine.StopError.String()
		if ended {
			reason = engine.StopEOF.String()
		}
		f := rep.Split(reason)
		r.mu.Lock()
		r.past = addFigures(r.past, f)
		r.mu.Unlock()
		if err := r.sink.pause(r.runCtx, &r.sent); err != nil {
			return err
		}
	}
	if !r.ever.Load() {
		// A source that never delivered media is a configuration
		// problem: fail now instead of retrying forever.
		return lost
	}
	if !r.Reconnect || cmdutil.Classify(lost) != fault.Network {
		return lost
	}
	r.mu.Lock()
	r.lastErr = lost
	r.mu.Unlock()
	r.warnf("source lost (%v); reconnecting in %s", lost, wait)
	r.JSON.Event("reconnect", reconnectEvent{Error: lost.Error(), DelaySec: wait.Seconds()})
	return nil
}

// finished hears each finished file.
func (r *Recorder) finished(path string) {
	r.mu.Lock()
	r.files = append(r.files, path)
	r.mu.Unlock()
	r.infof("recorded %s", path)
	ev := segmentEvent{Path: path}
	if st, err := os.Stat(path); err == nil {
		ev.Bytes = st.Size()
	}
	r.JSON.Event("segment", ev)
	if r.OnSegment != "" {
		runHook(r.OnSegment, path, r.Log)
	}
}

// counted counts the units the session is given, and notes media.
type counted struct {
	engine.Source
	r *Recorder
}

func (c *counted) Run(ctx context.Context, emit func(*media.Unit)) error {
	c.r.runCtx = ctx
	return c.Source.Run(ctx, func(u *media.Unit) {
		if u.RTCP == nil {
			c.r.ever.Store(true)
			c.r.sent.Add(1)
		}
		emit(u)
	})
}

// pausable is the session's sink: the segmenter, which the source's
// goroutine may pause (finish the file) between connections.
type pausable struct {
	mu      sync.Mutex
	seg     *Segmenter
	written atomic.Uint64
}

func (p *pausable) Needs() engine.Needs { return p.seg.Needs() }
func (p *pausable) Lossless() bool      { return true }

func (p *pausable) Open(desc *description.Session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seg.Open(desc)
}

func (p *pausable) Write(u *media.Unit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.written.Add(1)
	return p.seg.Write(u)
}

func (p *pausable) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seg.Close()
}

// drainWait bounds the wait for the lost connection's last units.
const drainWait = 5 * time.Second

// pause finishes the file once the units sent so far are written (the
// session ending, or drainWait, cuts the wait short).
func (p *pausable) pause(ctx context.Context, sent *atomic.Uint64) error {
	want := sent.Load()
	deadline := time.Now().Add(drainWait)
	for p.written.Load() < want && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil // the session closes the file
		case <-time.After(5 * time.Millisecond):
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seg.Pause()
}

// runHook runs the --on-segment command with the file path appended.
func runHook(command, path string, log *logging.Logger) {
	cmd := exec.Command("sh", "-c", command+` "$1"`, "avcat-on-segment", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Warnf("--on-segment: %v", err)
		return
	}
	go func() {
		if err := cmd.Wait(); err != nil {
			log.Warnf("--on-segment %s: %v", path, err)
		}
	}()
}

// RunAll records every source at once, each on its own, with one live
// line for all on a terminal, and returns the first failed source's
// error (one of several: a summary naming it). jsonOut gets the run's
// "end" event.
func RunAll(ctx context.Context, recs []*Recorder, ios *iostreams.IOStreams, log *logging.Logger, jsonOut *progress.JSONWriter) (err error) {
	start := time.Now()
	if len(recs) == 1 {
		r := recs[0]
		defer func() {
			jsonOut.Event("end", endEvent{Elapsed: time.Since(start).Seconds(), Files: r.FileCount(), Error: errString(err)})
		}()
		r.Err = r.Run(ctx)
		return r.Err
	}
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Err = r.Run(ctx)
			r.JSON.Event("end", endEvent{Elapsed: time.Since(start).Seconds(), Files: r.FileCount(), Error: errString(r.Err)})
		}()
	}
	stopLine := totalLine(ios, recs, start)
	wg.Wait()
	stopLine()
	return summarize(log, jsonOut, recs, start)
}

// summarize names each failed source on its own line and picks the exit
// code: that of the first failed source, in the order given.
func summarize(log *logging.Logger, jsonOut *progress.JSONWriter, recs []*Recorder, start time.Time) error {
	var first *Recorder
	failed, files := 0, 0
	for _, r := range recs {
		files += r.FileCount()
		if r.Err == nil {
			continue
		}
		failed++
		if first == nil {
			first = r
		}
		log.Infof("avcat: %sfailed: %s", r.Prefix, mediaurl.RedactText(r.Err.Error()))
	}
	var err error
	if first != nil {
		err = fault.New(cmdutil.Classify(first.Err), "%d of %d sources failed (the exit code is source %d's)", failed, len(recs), first.Source.Index)
	}
	jsonOut.Event("end", endEvent{Elapsed: time.Since(start).Seconds(), Files: files, Error: errString(err)})
	return err
}

// totalLine shows one live line for all sources on a terminal: the sums
// of their connections, and how many are up. The returned func ends it.
func totalLine(ios *iostreams.IOStreams, recs []*Recorder, start time.Time) func() {
	if !ios.IsStderrTTY() {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		var lastB uint64
		lastT := start
		for {
			select {
			case <-stop:
				fmt.Fprint(ios.ErrOut, "\r\x1b[K")
				return
			case now := <-tick.C:
				f := progress.Figures{Elapsed: now.Sub(start).Seconds()}
				up := 0
				for _, r := range recs {
					c, live := r.Figures()
					if live {
						up++
					}
					f = addFigures(f, c)
				}
				if dt := now.Sub(lastT).Seconds(); dt > 0 && f.Bytes >= lastB {
					f.BitrateBps = float64(f.Bytes-lastB) * 8 / dt
				}
				lastB, lastT = f.Bytes, now
				f.Extra = fmt.Sprintf("%d/%d sources up", up, len(recs))
				fmt.Fprint(ios.ErrOut, progress.StatusLine(f))
			}
		}
	}()
	return func() { close(stop); <-done }
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FileFormat is the output format of a recording to path: format (mp4,
// fmp4, ts or mpegts) or else the extension's, as a FileSink format.
func FileFormat(path, format string) (string, error) {
	f := format
	if f == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".mp4", ".m4v", ".mov":
			f = "mp4"
		case ".ts", ".m2ts":
			f = "ts"
		default:
			return "", fault.New(fault.Usage, "%s: record writes .mp4 or .ts (or give --format mp4|fmp4|ts)", path)
		}
	}
	switch f {
	case "mp4", "fmp4", "ts":
		return f, nil
	case "mpegts":
		return "ts", nil
	}
	return "", fault.New(fault.Usage, "unknown --format %q: want mp4, fmp4 or ts", format)
}
