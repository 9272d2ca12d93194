package cmdutil

import (
	"context"
	"io"
	"net/url"
	"strings"

	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
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

// OutputFormat is the format of an output (endpoint.OutputFormat), which
// may be stdout ("-"): binary output to a terminal is refused.
func OutputFormat(ios *iostreams.IOStreams, path string, fo endpoint.SinkFileOptions) (string, error) {
	format, err := endpoint.OutputFormat(path, fo)
	if err == nil && path == "-" && ios.IsStdoutTTY() && format != endpoint.OutSDP {
		return "", FlagErrorf("refusing to write %s to a terminal: pipe it (| ffplay -), redirect it (> out.ts), or use -o FILE", format)
	}
	return format, err
}

// CheckURL refuses a URL u that verb (pull, push) cannot use: its RTMP
// twin (rtmpOnly: rtmp-pull, rtmp-push) needs an RTMP URL, and an RTMP
// source carries no RTP for an rtpdump or pcap output (format).
func CheckURL(u *url.URL, verb string, rtmpOnly bool, format string) error {
	isRTMP := strings.HasPrefix(u.Scheme, "rtmp")
	if rtmpOnly && !isRTMP {
		return FlagErrorf("rtmp-%s needs an rtmp:// or rtmps:// URL (use %s for %s://)", verb, verb, u.Scheme)
	}
	if isRTMP && (format == endpoint.OutRTPDump || format == endpoint.OutPcap) {
		return FlagErrorf("RTMP carries no RTP: %s records RTP packets as received; write .ts, .flv, .mp4 or an elementary stream instead", format)
	}
	return nil
}

// Destinations builds the sinks of relay's destinations: a network URL
// publishes with so and reconnects on its own with backoff b, telling
// event (the RetrySinks are also returned, for the live line); "-" is
// stdout, once and never a terminal; anything else is a file.
func Destinations(resolver *endpoint.Resolver, dsts []string, so endpoint.SinkOptions, b engine.Backoff,
	event func(string, engine.EndpointState, error), ios *iostreams.IOStreams) ([]engine.Sink, []*engine.RetrySink, error) {
	var sinks []engine.Sink
	var retry []*engine.RetrySink
	stdoutTaken := false
	for _, dst := range dsts {
		if mediaurl.IsNetwork(dst) {
			newSink, _, err := resolver.SinkFactory(dst, so)
			if err != nil {
				return nil, nil, err
			}
			rs := &engine.RetrySink{Name: mediaurl.Redact(dst), Backoff: b, OnEvent: event, New: newSink}
			retry = append(retry, rs)
			sinks = append(sinks, rs)
			continue
		}
		var w io.Writer
		if dst == "-" {
			if stdoutTaken {
				return nil, nil, FlagErrorf("standard output (-) can be a destination only once")
			}
			if ios.IsStdoutTTY() {
				return nil, nil, FlagErrorf("refusing to write MPEG-TS to a terminal: pipe it (| ffplay -) or redirect it (> out.ts)")
			}
			stdoutTaken, w = true, ios.Out
		}
		sink, _, err := endpoint.FileSink(dst, w, endpoint.SinkFileOptions{})
		if err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, sink)
	}
	return sinks, retry, nil
}

// PublishSink is push's sink: newSink's, or with reconnect one that
// retries drops with backoff b, logging its states; what the input
// produces while the server is away is dropped, so the push stays live.
func PublishSink(newSink func() engine.Sink, name string, reconnect bool, b engine.Backoff, log *logging.Logger) engine.Sink {
	if !reconnect {
		return newSink()
	}
	return &engine.RetrySink{
		Name: name, Backoff: b, New: newSink,
		OnEvent: func(name string, st engine.EndpointState, err error) {
			if err != nil {
				log.Warnf("%s: %s: %v", name, st, err)
			} else if st == engine.StateUp {
				log.Infof("%s: %s", name, st)
			}
		},
	}
}
