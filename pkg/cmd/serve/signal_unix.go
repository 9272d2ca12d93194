//go:build !windows

package serve

import (
	"os"
	"syscall"
)

// dumpSignals ask serve to print its path table.
var dumpSignals = []os.Signal{syscall.SIGUSR1}
