// Package rtmppull implements `avcat rtmp-pull`.
package rtmppull

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmd/pull"
	"github.com/avcat/avcat/pkg/cmdutil"
)

// NewCmdRTMPPull builds `rtmp-pull`: pull over RTMP play.
func NewCmdRTMPPull(f *cmdutil.Factory, runF func(context.Context, *pull.Options) error) *cobra.Command {
	opts := &pull.Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints, RTMPOnly: true}
	cmd := &cobra.Command{
		Use:   "rtmp-pull URL [-o OUT]",
		Short: "Play an RTMP stream and write it to a file or stdout",
		Long: `Play an RTMP stream (handshake, connect, createStream, play) and write it out.

Outputs are those of pull. A file without a known extension gets FLV; stdout gets MPEG-TS,
or FLV with --format flv. --duration, --frames, --gap and signals stop it, and the output is
finalized on every exit path.`,
		Example: `  avcat rtmp-pull rtmp://127.0.0.1/live/key -o out.flv
  avcat rtmp-pull rtmp://127.0.0.1/live/key | ffplay -
  avcat rtmp-pull --format flv rtmp://127.0.0.1/live/key > out.flv`,
		Args: cmdutil.ExactArgs(1, "URL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if err := opts.Validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pull.Run(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}
