package record

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/progress"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are record's flag values.
type Options struct {
	// URLs are the sources, from the arguments and then --sources.
	URLs      []string
	Sources   string
	Output    string
	Format    string
	Segment   time.Duration
	Duration  time.Duration
	MaxSize   cmdutil.ByteSize
	Reconnect bool
	RetryMin  time.Duration
	RetryMax  time.Duration
	OnSegment string
	VideoOnly bool
	AudioOnly bool
	StatsJSON string
	// ReadBatch gathers each source's reads (SourceOptions.ReadBatch).
	ReadBatch time.Duration
	cmdutil.ClientOptions
}

// DefaultReadBatch is record's --read-batch: a recording does not see
// the delay, and gathering a camera's reads over 200 ms instead of one
// wake-up per burst it sends cut record's CPU by a third to a half
// (docs/decisions.md, "Read batching"). The kernel holds what arrives
// meanwhile: ~75 KB at 3 Mbit/s, 500 KB at 20 Mbit/s.
const DefaultReadBatch = 200 * time.Millisecond

// Check adds the URLs of --sources (stdin for "-") and checks the
// values: usage errors, found before anything connects.
func (o *Options) Check(stdin io.Reader) error {
	if o.Sources != "" {
		urls, err := readSources(o.Sources, stdin)
		if err != nil {
			return err
		}
		o.URLs = append(o.URLs, urls...)
	}
	if len(o.URLs) == 0 {
		return cmdutil.FlagErrorf("missing URL argument (or --sources FILE)")
	}
	if o.Output == "" {
		return cmdutil.FlagErrorf("-o TEMPLATE is required")
	}
	if o.Output == "-" {
		return cmdutil.FlagErrorf("record writes files; use pull for stdout")
	}
	if err := cmdutil.EnumFlag("transport", o.Transport, rtsp.Transports...); err != nil {
		return err
	}
	if o.Segment < 0 || o.Duration < 0 || o.MaxSize < 0 {
		return cmdutil.FlagErrorf("--segment, --duration and --max-size must not be negative")
	}
	if o.ReadBatch < 0 || o.ReadBatch > time.Second {
		return cmdutil.FlagErrorf("--read-batch must be between 0 and 1s")
	}
	if o.Segment > 0 && o.Segment < time.Second {
		return cmdutil.FlagErrorf("--segment must be at least 1s")
	}
	if err := cmdutil.CheckRetry(o.RetryMin, o.RetryMax); err != nil {
		return err
	}
	tmpl, err := ExpandSource(o.Output, Source{URL: o.URLs[0], Index: 1})
	if err == nil {
		_, err = Expand(tmpl, time.Now())
	}
	if err != nil {
		return cmdutil.FlagErrorf("-o: %v", err)
	}
	if len(o.URLs) > 1 {
		if err := CheckDistinct(o.Output, o.sources()); err != nil {
			return cmdutil.FlagErrorf("%v", err)
		}
	}
	return nil
}

// sources numbers the URLs for the template fields.
func (o *Options) sources() []Source {
	out := make([]Source, len(o.URLs))
	for i, u := range o.URLs {
		out[i] = Source{URL: u, Index: i + 1}
	}
	return out
}

// readSources reads --sources: a file, or stdin for "-".
func readSources(path string, stdin io.Reader) ([]string, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, cmdutil.FlagErrorf("--sources: %v", err)
		}
		defer f.Close()
		r = f
	}
	urls, err := ParseSources(r)
	if err != nil {
		return nil, cmdutil.FlagErrorf("--sources %s: %v", path, err)
	}
	return urls, nil
}

// sourceOptions are the client flags and --read-batch.
func (o *Options) sourceOptions() endpoint.SourceOptions {
	so := o.SourceOptions()
	so.ReadBatch = o.ReadBatch
	return so
}

// Run records every source of checked options at once (RunAll).
func (o *Options) Run(ctx context.Context, resolver *endpoint.Resolver, ios *iostreams.IOStreams, logger func() *logging.Logger) error {
	format, err := FileFormat(o.Output, o.Format)
	if err != nil {
		return err
	}
	so := o.sourceOptions()
	factories := make([]func() engine.Source, len(o.URLs))
	for i, u := range o.URLs {
		if factories[i], _, err = resolver.SourceFactory(u, so); err != nil {
			if len(o.URLs) > 1 {
				return fmt.Errorf("%s: %w", mediaurl.Redact(u), err)
			}
			return err // a malformed URL fails before anything else
		}
	}
	jsonOut, err := progress.OpenJSON(o.StatsJSON, ios.Out)
	if err != nil {
		return err
	}
	defer jsonOut.Close()
	log := logger()
	recs := make([]*Recorder, len(o.URLs))
	for i, s := range o.sources() {
		r := &Recorder{
			Source: s, New: factories[i], Selection: engine.Selection{VideoOnly: o.VideoOnly, AudioOnly: o.AudioOnly},
			Segment: o.Segment, MaxSize: int64(o.MaxSize), Duration: o.Duration, OnSegment: o.OnSegment,
			Reconnect: o.Reconnect, Backoff: engine.Backoff{Min: o.RetryMin, Max: o.RetryMax},
			IO: ios, Log: log, JSON: jsonOut,
			NewFile: func(path string) (engine.Sink, error) {
				sink, _, err := endpoint.FileSink(path, nil, endpoint.SinkFileOptions{Format: format})
				return sink, err
			},
		}
		r.Template, _ = ExpandSource(o.Output, s) // checked by Check
		if len(o.URLs) > 1 {
			r.Multi, r.JSON = true, jsonOut.WithSource(mediaurl.Redact(s.URL))
			r.Prefix = fmt.Sprintf("source %d (%s): ", s.Index, mediaurl.Redact(s.URL))
		}
		recs[i] = r
	}
	return RunAll(ctx, recs, ios, log, jsonOut)
}
