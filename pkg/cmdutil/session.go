package cmdutil

import (
	"context"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/progress"
)

// OpenSession opens sess. An interrupt while it opens is a clean stop:
// false and no error. On false the caller returns err.
func OpenSession(ctx context.Context, sess *engine.Session) (bool, error) {
	if _, err := sess.Open(ctx); err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// RunReported runs an opened session with rep following it: the live
// line, the "stats" events and the summary.
func RunReported(ctx context.Context, sess *engine.Session, rep *progress.Reporter) error {
	rep.Start()
	err := sess.Run(ctx)
	rep.Stop()
	return err
}

// CloseSession ends an opened session that will not run: a run with a
// done context only closes the source and the sinks.
func CloseSession(sess *engine.Session) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return sess.Run(ctx)
}
