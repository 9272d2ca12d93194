// Package rtmppush implements `avcat rtmp-push`.
package rtmppush

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/avcat/avcat/pkg/cmd/push"
	"github.com/avcat/avcat/pkg/cmdutil"
)

// NewCmdRTMPPush builds `rtmp-push`: push over RTMP publish.
func NewCmdRTMPPush(f *cmdutil.Factory, runF func(context.Context, *push.Options) error) *cobra.Command {
	opts := &push.Options{IO: f.IOStreams, Logger: f.Logger, Endpoints: f.Endpoints, RTMP: true}
	cmd := &cobra.Command{
		Use:   "rtmp-push INPUT rtmp://host[:port]/app/key",
		Short: "Publish a file or stdin to an RTMP server",
		Long: `Publish INPUT to an RTMP server: handshake, connect, createStream, publish,
@setDataFrame/onMetaData, then audio and video messages at real-time pace.

Inputs are those of push (MP4, MPEG-TS, FLV, raw H.264/H.265, ADTS, stdin), as are --loop,
--speed and --no-pace. H.264 and AAC use classic FLV tags; H.265, AV1 and Opus use enhanced
RTMP. rtmps:// selects RTMPS. The stream key may carry a query such as ?user=NAME&pass=PASS.
A refused publish shows the server's onStatus code and description.`,
		Example: `  avcat rtmp-push clip.mp4 rtmp://127.0.0.1/live/key
  avcat rtmp-push --loop clip.flv 'rtmp://server/live/key?user=me&pass=secret'`,
		Args: cmdutil.ExactArgs(2, "INPUT and URL arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input, opts.URL = args[0], args[1]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return push.Run(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}
