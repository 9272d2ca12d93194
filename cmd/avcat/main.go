// Command avcat is netcat for audio and video: RTSP and RTMP from the shell.
package main

import (
	"os"

	"github.com/avcat/avcat/pkg/cmd/root"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(root.Main(version))
}
