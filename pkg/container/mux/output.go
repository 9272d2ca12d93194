package mux

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/avcat/avcat/pkg/fault"
)

// FlushInterval is how often the streaming and capture sinks flush their buffers, so
// that a kill -9 loses at most about this much of the output.
const FlushInterval = time.Second

const bufSize = 64 << 10

// Output is a buffered destination: a file created at a path, or a
// caller's writer. The first write error is kept and returned by every
// later call, classified as fault.Runtime ("write NAME: CAUSE").
type Output struct {
	name string
	file File
	bw   *bufio.Writer
	n    int64
	err  error
	// flushed is the offset after the last successful Flush: the sinks
	// flush between units, so the file is whole up to there.
	flushed int64
	regular bool // file is a regular file (not /dev/full, a FIFO...)
}

// File is the file an Output owns: an *os.File, or a stand-in (tests use
// one that fails like a full disk).
type File interface {
	io.Writer
	io.WriterAt
	Truncate(size int64) error
	Close() error
}

// CreateFunc creates a file; nil means os.Create.
type CreateFunc func(path string) (File, error)

// Create creates the file at path (truncating it), buffered.
func Create(path string) (*Output, error) { return CreateWith(path, nil) }

// CreateWith is Create with the file made by create (nil: os.Create).
func CreateWith(path string, create CreateFunc) (*Output, error) {
	if create == nil {
		create = func(p string) (File, error) { return os.Create(p) }
	}
	f, err := create(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault.New(fault.Runtime, "cannot create %s: no such directory", path)
		}
		return nil, fault.New(fault.Runtime, "cannot create %s: %w", path, unwrap(err))
	}
	regular := true
	if osf, ok := f.(*os.File); ok {
		st, err := osf.Stat()
		regular = err == nil && st.Mode().IsRegular()
	}
	return &Output{name: path, file: f, bw: bufio.NewWriterSize(f, bufSize), regular: regular}, nil
}

// Regular reports whether the output is a regular file that Create made:
// only such a file may be cut back or removed after a write error.
func (o *Output) Regular() bool { return o.file != nil && o.regular }

// NewOutput buffers writes to w; name is used in messages.
func NewOutput(w io.Writer, name string) *Output {
	return &Output{name: name, bw: bufio.NewWriterSize(w, bufSize)}
}

// Open is Create(path) when path is set, else NewOutput(w).
func Open(path string, w io.Writer) (*Output, error) { return OpenWith(path, w, nil) }

// OpenWith is Open with the file made by create (nil: os.Create).
func OpenWith(path string, w io.Writer, create CreateFunc) (*Output, error) {
	if path != "" && w == nil {
		return CreateWith(path, create)
	}
	if w == nil {
		return nil, fault.New(fault.Usage, "no output: set a path or a writer")
	}
	name := path
	if name == "" {
		name = "output"
		if w == os.Stdout {
			name = "stdout"
		}
	}
	return NewOutput(w, name), nil
}

// Name names the output in messages.
func (o *Output) Name() string { return o.name }

// File is the file Create made, or nil.
func (o *Output) File() File { return o.file }

// Offset is the number of bytes written so far (buffered included).
func (o *Output) Offset() int64 { return o.n }

// Err is the first write error, or nil.
func (o *Output) Err() error { return o.err }

// Write buffers p; it fails with the sticky error after a failure.
func (o *Output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.bw.Write(p)
	o.n += int64(n)
	if err != nil {
		return n, o.Fail(err)
	}
	return n, nil
}

// Flush writes the buffer out.
func (o *Output) Flush() error {
	if o.err != nil {
		return o.err
	}
	if err := o.bw.Flush(); err != nil {
		return o.Fail(err)
	}
	o.flushed = o.n
	return nil
}

// Fail records err as the output's write error (the first one wins) and
// returns the sticky error.
func (o *Output) Fail(err error) error {
	if o.err == nil {
		o.err = WriteError(o.name, err)
	}
	return o.err
}

// Close flushes and closes the file Create made (a caller's writer is
// left open). It returns the sticky error, if any.
func (o *Output) Close() error {
	if o.err == nil {
		o.Flush() //nolint:errcheck // kept in o.err
	}
	if o.file != nil {
		if err := o.file.Close(); err != nil && o.err == nil {
			o.err = fault.New(fault.Runtime, "close %s: %w", o.name, unwrap(err))
		}
		o.file = nil
	}
	return o.err
}

// CloseSalvaged is Close for a stream format (MPEG-TS, FLV...) that is
// readable up to any flush: after a write error it cuts the file back to
// its last successful flush, or removes it when nothing was flushed, and
// adds what it did to the error.
func (o *Output) CloseSalvaged() error {
	if o.err == nil {
		o.Flush() //nolint:errcheck // kept in o.err
	}
	if o.err == nil || !o.Regular() {
		return o.Close()
	}
	err := o.err
	if o.flushed == 0 {
		o.Close() //nolint:errcheck // err is the first error
		if rerr := os.Remove(o.name); rerr != nil {
			return fault.New(fault.Runtime, "%w; could not remove the unfinished %s: %v", err, o.name, unwrap(rerr))
		}
		return fault.New(fault.Runtime, "%w; removed %s: nothing was complete", err, o.name)
	}
	terr := o.file.Truncate(o.flushed)
	o.Close() //nolint:errcheck // err is the first error
	if terr != nil {
		return fault.New(fault.Runtime, "%w; could not cut %s back to its last flush: %v", err, o.name, unwrap(terr))
	}
	return fault.New(fault.Runtime, "%w; kept %s up to its last flush (%d bytes)", err, o.name, o.flushed)
}

// WriteError classifies a write failure: fault.Runtime, "write NAME:
// CAUSE", with the cause (e.g. "no space left on device") still matched
// by errors.Is.
func WriteError(name string, err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return fault.New(fault.Runtime, "write %s: %w", name, unwrap(err))
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Flusher calls a function every FlushInterval until stopped.
type Flusher struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartFlusher calls flush every FlushInterval on its own goroutine.
func StartFlusher(flush func()) *Flusher {
	f := &Flusher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				flush()
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

// Stop stops the flusher and waits for a flush in progress. It is
// idempotent and safe on nil.
func (f *Flusher) Stop() {
	if f == nil {
		return
	}
	f.once.Do(func() { close(f.stop) })
	<-f.done
}
