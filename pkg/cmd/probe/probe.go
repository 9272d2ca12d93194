// Package probe implements `avcat probe`.
package probe

import (
	"context"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/endpoint"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/probe"
	"github.com/avcat/avcat/pkg/rtmp"
	"github.com/avcat/avcat/pkg/rtsp"
)

// Options are the inputs of one probe run.
type Options struct {
	IO        *iostreams.IOStreams
	Logger    func() *logging.Logger
	Endpoints func() *endpoint.Resolver

	URL       string
	Output    string // text or json
	JSON      bool
	SDPOnly   bool
	Play      time.Duration
	Transport string
	User      string
	Pass      string
	UserAgent string
	Insecure  bool
}

// NewCmdProbe builds the probe command. runF replaces the run in tests.
func NewCmdProbe(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints}
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Show a stream's server, SDP and tracks",
		Long: `Probe an RTSP or RTMP URL.

RTSP: sends OPTIONS and DESCRIBE, then prints the server's methods, the raw SDP and one
line per track (codec, clock rate, profile/level, resolution and fps from the SPS, AAC
configuration). RTMP: connects and plays until the tracks are known, and prints them with
the onMetaData object when the server sends one.

--play DURATION also sets up every track, plays for DURATION and adds measured figures:
packets, bytes, bitrate, frames, fps, GOP, RTP loss and jitter, time to first packet and
to first keyframe.

The report goes to stdout: text by default, JSON with --json (or --output-format json; an
ffprobe drop-in, schema in docs/probe-json.md), or only the SDP with --sdp.`,
		Example: `  avcat probe rtsp://127.0.0.1:8554/demo
  avcat probe --sdp rtsp://camera/stream > camera.sdp
  avcat probe --json --user admin --pass secret rtsp://camera/stream
  avcat probe --play 5s --transport tcp rtsp://camera/stream
  avcat probe rtmp://127.0.0.1/live/key`,
		Args: cmdutil.ExactArgs(1, "URL argument (rtsp://, rtsps://, rtmp:// or rtmps://)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if opts.JSON {
				opts.Output = "json"
			}
			if err := cmdutil.EnumFlag("output-format", opts.Output, "text", "json"); err != nil {
				return err
			}
			if err := cmdutil.EnumFlag("transport", opts.Transport, rtsp.Transports...); err != nil {
				return err
			}
			if opts.Play < 0 {
				return cmdutil.FlagErrorf("--play must not be negative")
			}
			if opts.SDPOnly && opts.Output == "json" {
				return cmdutil.FlagErrorf("--sdp and --json cannot be used together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return probeRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Output, "output-format", "text", "report format: text or json")
	fl.BoolVar(&opts.JSON, "json", false, "write the report as JSON (same as --output-format json)")
	// -o/--output named the format before; -o is the output file elsewhere.
	cmdutil.HiddenAlias(fl, &opts.Output, "output", "o", "text", "report format (use --output-format)")
	fl.BoolVar(&opts.SDPOnly, "sdp", false, "write only the raw SDP to stdout")
	fl.DurationVar(&opts.Play, "play", 0, "also receive media for this long and report measured figures")
	fl.StringVar(&opts.Transport, "transport", "auto", "RTP transport for --play: auto, udp, tcp or multicast")
	fl.StringVar(&opts.User, "user", "", "user name (overrides the URL's)")
	fl.StringVar(&opts.Pass, "pass", "", "password (overrides the URL's)")
	fl.StringVar(&opts.UserAgent, "user-agent", "", "RTSP User-Agent header")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify TLS certificates (rtsps://, rtmps://)")
	_ = cmd.RegisterFlagCompletionFunc("output-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(rtsp.Transports, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func probeRun(ctx context.Context, opts *Options) error {
	log := opts.Logger()
	src, u, err := opts.Endpoints().Source(opts.URL, endpoint.SourceOptions{
		Transport: opts.Transport, User: opts.User, Pass: opts.Pass,
		UserAgent: opts.UserAgent, InsecureTLS: opts.Insecure,
	})
	if err != nil {
		return err
	}
	report := &probe.Report{URL: mediaurl.RedactURL(u), Protocol: u.Scheme}

	sess := &engine.Session{Source: src, Sinks: []engine.Sink{engine.Discard{}}, Duration: opts.Play}
	desc, err := sess.Open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// A server can send an SDP that the RTSP stack refuses: show what
		// it sent, with the reasons, then fail.
		if s, ok := src.(*rtsp.Source); ok && len(s.RawSDP()) > 0 {
			if werr := writeUnusable(opts, report, s.RawSDP()); werr != nil {
				return werr
			}
		}
		return err
	}

	var rawSDP []byte
	switch s := src.(type) {
	case *rtsp.Source:
		if res := s.OptionsResponse(); res != nil {
			report.Server = headerValue(res.Header, "Server")
			report.Methods = splitMethods(headerValue(res.Header, "Public"))
		}
		if res := s.DescribeResponse(); res != nil {
			rawSDP = res.Body
			if report.Server == "" {
				report.Server = headerValue(res.Header, "Server")
			}
		}
		report.SDP = string(rawSDP)
	case *rtmp.Source:
		report.Metadata = s.Metadata()
	}
	report.Title = desc.Title
	report.Streams = streamsOf(desc, rawSDP)
	if report.Metadata != nil {
		probe.ApplyMetadata(report.Streams, report.Metadata)
	}

	if opts.SDPOnly {
		_ = src.Close()
		if len(rawSDP) == 0 {
			return cmdutil.FlagErrorf("--sdp needs an RTSP URL: RTMP has no SDP")
		}
		_, err := opts.IO.Out.Write(rawSDP)
		return err
	}

	if opts.Play > 0 {
		log.Debugf("playing for %s", opts.Play)
		if err := sess.Run(ctx); err != nil {
			return err
		}
		measure(report, sess, opts)
		if s, ok := src.(*rtmp.Source); ok && report.Metadata == nil {
			report.Metadata = s.Metadata()
			probe.ApplyMetadata(report.Streams, report.Metadata)
		}
	} else {
		_ = src.Close()
	}

	if opts.Output == "json" {
		return probe.WriteJSON(opts.IO.Out, report)
	}
	return probe.WriteText(opts.IO.Out, report, opts.IO.ColorStdout())
}

// streamsOf lists the tracks. From the raw SDP when there is one, so that
// what the RTSP stack silently drops is reported; its order and count match
// the parsed description.
func streamsOf(desc *description.Session, rawSDP []byte) []probe.Stream {
	if len(rawSDP) > 0 {
		if streams, err := probe.StreamsFromSDP(rawSDP); err == nil && len(streams) == countFormats(desc) {
			return streams
		}
	}
	return probe.StreamsFromSession(desc)
}

func countFormats(desc *description.Session) int {
	n := 0
	for _, m := range desc.Medias {
		n += len(m.Formats)
	}
	return n
}

// writeUnusable prints the SDP a server sent, and what is wrong with it.
func writeUnusable(opts *Options, report *probe.Report, raw []byte) error {
	if opts.SDPOnly {
		_, err := opts.IO.Out.Write(raw)
		return err
	}
	report.SDP = string(raw)
	report.Streams, _ = probe.StreamsFromSDP(raw)
	if opts.Output == "json" {
		return probe.WriteJSON(opts.IO.Out, report)
	}
	return probe.WriteText(opts.IO.Out, report, opts.IO.ColorStdout())
}

func measure(report *probe.Report, sess *engine.Session, opts *Options) {
	end := time.Now()
	stats := sess.Stats()
	elapsed := end.Sub(stats.Start())
	transport := opts.Transport
	if s, ok := sess.Source.(*rtsp.Source); ok && s.ActiveTransport() != "" {
		transport = s.ActiveTransport()
	}
	if strings.HasPrefix(report.Protocol, "rtmp") {
		transport = "tcp"
	}
	report.Play = &probe.PlayInfo{Transport: transport, DurationSeconds: elapsed.Seconds()}

	snap := stats.Snapshot()
	for i := range report.Streams {
		st := &report.Streams[i]
		if i >= len(snap) {
			break
		}
		t := snap[i]
		m := &probe.Measured{
			Packets: t.Packets, Bytes: t.Bytes, Frames: t.Frames, Keyframes: t.Keyframes,
			GOPFrames: t.MeanGOP(), PacketsLost: t.PacketsLost,
			JitterMs:        float64(t.JitterDuration()) / float64(time.Millisecond),
			FirstPacketMs:   -1,
			FirstKeyframeMs: -1,
		}
		active := elapsed
		if t.FirstPacket >= 0 {
			m.FirstPacketMs = float64(t.FirstPacket) / float64(time.Millisecond)
			active = elapsed - t.FirstPacket
		}
		if t.FirstKeyframe >= 0 {
			m.FirstKeyframeMs = float64(t.FirstKeyframe) / float64(time.Millisecond)
		}
		if active > 0 {
			m.BitrateBps = float64(t.Bytes*8) / active.Seconds()
			m.FPS = float64(t.Frames) / active.Seconds()
		}
		if fps := t.MediaFPS(); fps > 0 {
			m.FPS = fps
		}
		if exp := t.ExpectedPackets(); exp > 0 {
			m.LossPercent = 100 * float64(t.PacketsLost) / float64(exp)
		}
		if !media.IsVideo(t.Format) {
			// Every audio frame is a keyframe: GOP figures say nothing.
			m.Keyframes, m.GOPFrames, m.FirstKeyframeMs = 0, 0, -1
		}
		st.Measured = m
		if st.Width == 0 && len(t.LastSPS) > 0 {
			probe.ApplySPS(st, t.Format, t.LastSPS)
		}
	}
}

func headerValue(h base.Header, key string) string {
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func splitMethods(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}
