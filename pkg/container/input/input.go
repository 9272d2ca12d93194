// Package input opens the files and pipes that demuxers read.
package input

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/avcat/avcat/pkg/fault"
)

// Open opens path, or uses r when it is set. name is what errors call
// the input: the base name of path, or "stdin".
func Open(kind, path string, r io.Reader) (in io.Reader, f *os.File, name string, err error) {
	name = "stdin"
	if path != "" {
		name = filepath.Base(path)
	}
	if r != nil {
		return r, nil, name, nil
	}
	if path == "" {
		return nil, nil, name, fault.New(fault.Usage, "%s: no input: set Path or Reader", kind)
	}
	f, err = os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, name, fault.New(fault.NotFound, "%s: no such file", name)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, name, fault.New(fault.Runtime, "%s: %v", name, err)
	}
	return f, f, name, nil
}

// UnblockOnDone makes a blocked Read on r return when ctx is done, if r
// supports read deadlines (pipes and sockets do, so a stalled stdin does).
// The returned func stops the watch and clears the deadline it set, so
// the caller's reader is left as it was.
func UnblockOnDone(ctx context.Context, r io.Reader) func() {
	d, ok := r.(interface{ SetReadDeadline(t time.Time) error })
	if !ok {
		return func() {}
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = d.SetReadDeadline(time.Now())
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
			_ = d.SetReadDeadline(time.Time{})
		}
	}
}
