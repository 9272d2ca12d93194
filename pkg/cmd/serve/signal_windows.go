package serve

import "os"

// dumpSignals is empty: Windows has no SIGUSR1.
var dumpSignals []os.Signal
