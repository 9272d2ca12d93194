//go:build race

package netio

// raceEnabled turns raw calls off under the race detector: the standard
// library's socket reads and writes tell it that a write happens before
// the read of what it wrote (internal/poll's ioSync), and raw calls cannot,
// so in-process tests that hand data over a socket would report races
// that are not there. netio's own tests use wrap directly.
const raceEnabled = true
