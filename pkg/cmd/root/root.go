// Package root wires the avcat command tree.
package root

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmd/check"
	"github.com/avcat/avcat/pkg/cmd/probe"
	"github.com/avcat/avcat/pkg/cmd/pull"
	"github.com/avcat/avcat/pkg/cmd/push"
	"github.com/avcat/avcat/pkg/cmd/record"
	"github.com/avcat/avcat/pkg/cmd/relay"
	"github.com/avcat/avcat/pkg/cmd/rtmppull"
	"github.com/avcat/avcat/pkg/cmd/rtmppush"
	"github.com/avcat/avcat/pkg/cmd/serve"
	"github.com/avcat/avcat/pkg/cmdutil"
	"github.com/avcat/avcat/pkg/iostreams"
)

// NewCmdRoot builds the root command and every verb.
func NewCmdRoot(f *cmdutil.Factory, version string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "avcat <command> [flags]",
		Short: "netcat for audio and video: RTSP and RTMP from the shell",
		Long: `avcat probes, pulls, pushes, records, relays and serves RTSP and RTMP streams.

stdout carries only payload (media, SDP, JSON); everything else goes to stderr.`,
		Example: `  avcat probe rtsp://127.0.0.1:8554/demo
  avcat probe --json rtsp://user:pass@camera/stream
  avcat probe --play 5s --transport tcp rtsp://camera/stream`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch iostreams.ColorMode(f.Global.Color) {
			case iostreams.ColorAuto, iostreams.ColorAlways, iostreams.ColorNever:
				f.IOStreams.SetColorMode(iostreams.ColorMode(f.Global.Color))
			default:
				return cmdutil.FlagErrorf("invalid --color %q: want auto, always or never", f.Global.Color)
			}
			if f.Global.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			return nil
		},
	}
	cmd.SetVersionTemplate("avcat {{.Version}}\n")
	cmd.SetFlagErrorFunc(cmdutil.FlagErrorFunc)
	// --help is the payload asked for: stdout, as gh and git do (so
	// 'avcat pull --help | less' works); errors stay on stderr.
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)

	pf := cmd.PersistentFlags()
	pf.BoolVarP(&f.Global.Verbose, "verbose", "v", false, "trace RTSP requests/responses and RTMP commands on stderr")
	pf.StringVar(&f.Global.Color, "color", "auto", "color human output: auto, always or never (NO_COLOR is honored)")
	pf.DurationVar(&f.Global.Timeout, "timeout", cmdutil.DefaultTimeout, "bound for connecting and for every read")
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions(
		[]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))

	cmd.AddCommand(probe.NewCmdProbe(f, nil))
	cmd.AddCommand(serve.NewCmdServe(f, nil))
	cmd.AddCommand(push.NewCmdPush(f, nil))
	cmd.AddCommand(pull.NewCmdPull(f, nil))
	cmd.AddCommand(record.NewCmdRecord(f, nil))
	cmd.AddCommand(rtmppull.NewCmdRTMPPull(f, nil))
	cmd.AddCommand(rtmppush.NewCmdRTMPPush(f, nil))
	cmd.AddCommand(relay.NewCmdRelay(f, nil))
	cmd.AddCommand(check.NewCmdCheck(f, nil))
	return cmd
}

// Main runs avcat and returns the process exit code.
func Main(version string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ios := iostreams.System()
	f := cmdutil.NewFactory(ios)
	f.Runtime = cmdutil.Runtime{MaxProcs: runtime.GOMAXPROCS, GCPercent: debug.SetGCPercent}
	cmd := NewCmdRoot(f, version)
	if _, err := cmd.ExecuteContextC(ctx); err != nil {
		PrintError(ios, ios.ErrOut, err)
		return ExitCode(err)
	}
	return 0
}

// ExitCode maps an error to the process exit code, including cobra's own
// usage errors (unknown command or flag).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if isCobraUsage(err) {
		return 2
	}
	return cmdutil.ExitCode(err)
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.HasPrefix(msg, "required flag")
}

// PrintError writes the one-line error message.
func PrintError(ios *iostreams.IOStreams, w io.Writer, err error) {
	msg := err.Error()
	prefix := ios.Paint(31, 1).Sprint("avcat: error:")
	// cobra's suggestions keep cobra's layout: the error line, then
	// "Did you mean this?" and one indented command per line.
	if head, rest, ok := strings.Cut(msg, "\n\nDid you mean this?\n"); ok && isCobraUsage(err) {
		fmt.Fprintf(w, "%s %s\n\nDid you mean this?\n%s\n\nRun '%s --help' for usage.\n",
			prefix, oneLine(head), strings.TrimRight(rest, "\n"), "avcat")
		return
	}
	var flagErr *cmdutil.FlagError
	if (errors.As(err, &flagErr) || isCobraUsage(err)) && !strings.Contains(msg, "--help") {
		msg += " (see --help)"
	}
	fmt.Fprintf(w, "%s %s\n", prefix, oneLine(msg))
}

// oneLine keeps errors to a single line, whatever a library put in them.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r\n", "; ")
	return strings.ReplaceAll(s, "\n", "; ")
}
