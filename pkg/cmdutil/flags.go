package cmdutil

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/avcat/avcat/pkg/endpoint"
)

// Reconnect backoff defaults, the same for every verb that reconnects.
const (
	DefaultRetryMin = 500 * time.Millisecond
	DefaultRetryMax = 30 * time.Second
)

// AddRetryFlags registers --retry-min and --retry-max with the shared
// defaults.
func AddRetryFlags(fl *pflag.FlagSet, minDelay, maxDelay *time.Duration) {
	fl.DurationVar(minDelay, "retry-min", DefaultRetryMin, "first reconnect delay")
	fl.DurationVar(maxDelay, "retry-max", DefaultRetryMax, "longest reconnect delay")
}

// HiddenAlias registers an old spelling of a string flag that still works
// but is no longer shown: it writes to the same variable as the new one.
func HiddenAlias(fl *pflag.FlagSet, p *string, old, shorthand, value, usage string) {
	fl.StringVarP(p, old, shorthand, value, usage)
	_ = fl.MarkHidden(old)
}

// PublishTransports are the --transport values of RTSP publishing (push,
// relay's --dst-transport); auto picks tcp there (see rtsp.Sink).
var PublishTransports = []string{"auto", "udp", "tcp"}

// CheckRetry checks --retry-min and --retry-max.
func CheckRetry(minDelay, maxDelay time.Duration) error {
	if minDelay <= 0 || maxDelay < minDelay {
		return FlagErrorf("--retry-min must be positive and at most --retry-max")
	}
	return nil
}

// CheckTracks checks --video-only and --audio-only.
func CheckTracks(videoOnly, audioOnly bool) error {
	if videoOnly && audioOnly {
		return FlagErrorf("--video-only and --audio-only exclude each other")
	}
	return nil
}

// ClientOptions are the connection flags of a verb that reaches servers:
// --transport, --tunnel, --user, --pass, --user-agent and --insecure.
type ClientOptions struct {
	Transport string
	Tunnel    string
	User      string
	Pass      string
	UserAgent string
	Insecure  bool
}

// SourceOptions are the options to read from a server.
func (c *ClientOptions) SourceOptions() endpoint.SourceOptions {
	return endpoint.SourceOptions{
		Transport: c.Transport, Tunnel: c.Tunnel, User: c.User, Pass: c.Pass,
		UserAgent: c.UserAgent, InsecureTLS: c.Insecure,
	}
}

// SinkOptions are the options to publish to a server.
func (c *ClientOptions) SinkOptions() endpoint.SinkOptions {
	return endpoint.SinkOptions{
		Transport: c.Transport, Tunnel: c.Tunnel, User: c.User, Pass: c.Pass,
		UserAgent: c.UserAgent, InsecureTLS: c.Insecure,
	}
}
