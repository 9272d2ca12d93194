package mp4

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens the fuzzer's minimization of new inputs to 5 s unless
// -fuzzminimizetime is given. Every input that reaches a moov takes a
// few hundred microseconds (go-mp4 decodes by reflection), and Go's
// minimizer tries O(n²) candidates, so with the default of 60 s a
// one-minute run spends nearly all of its time minimizing instead of
// fuzzing.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.fuzzminimizetime" {
			set = true
		}
	})
	if !set {
		if err := flag.Set("test.fuzzminimizetime", "5s"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
