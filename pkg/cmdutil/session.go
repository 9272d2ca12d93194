package cmdutil

import (
	"context"

	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
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
// line, the "stats" events and the summary. When rep has no JSON writer,
// the events go to statsJSON (--stats-json: a file, "-" for stdout, ""
// for none); if it cannot be created, the session is closed unrun.
func RunReported(ctx context.Context, sess *engine.Session, rep *progress.Reporter, statsJSON string) error {
	if rep.JSON == nil {
		jsonOut, err := progress.OpenJSON(statsJSON, rep.IO.Out)
		if err != nil {
			_ = CloseSession(sess)
			return err
		}
		defer jsonOut.Close()
		rep.JSON = jsonOut
	}
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

// OutputResult is the end of a run that wrote path in format: with no
// media written, the output is removed (it would be empty) and the run
// failed, unless it was interrupted before any media came.
func OutputResult(sess *engine.Session, err error, path, format string, log *logging.Logger) error {
	if !sess.WroteMedia() {
		// Nothing usable came (the stream failed at SETUP or PLAY, or
		// before a keyframe): leave no empty file behind.
		endpoint.RemoveOutput(path, format)
	}
	if err != nil {
		return err
	}
	if !sess.WroteMedia() {
		if sess.Reason() == engine.StopCanceled {
			log.Infof("interrupted before any media was written; no output")
			return nil
		}
		hint := "no keyframe with its parameter sets arrived"
		if progress.NothingReceived(sess) {
			hint = "no packet arrived"
		}
		return fault.New(fault.Network, "no usable media received before the stop (%s): %s", sess.Reason(), hint)
	}
	if sess.Reason() == engine.StopGap {
		log.Infof("stopped: nothing received for %s", sess.Gap)
	}
	return nil
}
