package cmdutil

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/rtsp"
)

// ExactArgs is cobra.ExactArgs returning a usage error that says what is
// missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("missing %s", what)
		}
		if len(args) > n {
			return FlagErrorf("too many arguments: %q", args[n:])
		}
		return nil
	}
}

// EnumFlag validates a string flag against allowed values.
func EnumFlag(name, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return FlagErrorf("invalid --%s %q: want one of %q", name, value, allowed)
}

// TunnelFlag adds --tunnel to a verb that reaches RTSP servers: RTSP (and
// its RTP) inside HTTP (GET/POST, as QuickTime and GStreamer's rtsph://
// do) or WebSocket. It is checked when parsed; the default is none.
func TunnelFlag(cmd *cobra.Command, p *string) {
	*p = "none"
	cmd.Flags().Var(&enumValue{p: p, allowed: rtsp.Tunnels}, "tunnel",
		"tunnel RTSP through http or websocket (none, http, websocket; rtsph:// URLs mean http)")
	_ = cmd.RegisterFlagCompletionFunc("tunnel", cobra.FixedCompletions(rtsp.Tunnels, cobra.ShellCompDirectiveNoFileComp))
}

// enumValue is a string flag that accepts only the allowed values.
type enumValue struct {
	p       *string
	allowed []string
}

func (e *enumValue) String() string {
	if e.p == nil {
		return ""
	}
	return *e.p
}

func (e *enumValue) Set(v string) error {
	if !slices.Contains(e.allowed, v) {
		return fmt.Errorf("want one of %q", e.allowed)
	}
	*e.p = v
	return nil
}

func (e *enumValue) Type() string { return "string" }

// ReportFormatFlags adds --output-format (text or json) and --json, its
// shorthand, as probe and check take them.
func ReportFormatFlags(cmd *cobra.Command, format *string, json *bool) {
	fl := cmd.Flags()
	fl.StringVar(format, "output-format", "text", "report format: text or json")
	fl.BoolVar(json, "json", false, "write the report as JSON (same as --output-format json)")
	_ = cmd.RegisterFlagCompletionFunc("output-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// ReportFormat applies --json to format and checks it.
func ReportFormat(format *string, json bool) error {
	if json {
		*format = "json"
	}
	return EnumFlag("output-format", *format, "text", "json")
}
