// Package netio reads and writes TCP sockets with plain read(2) and
// write(2) calls, outside the runtime's system call bookkeeping.
//
// Go's sockets are non-blocking, so these calls never block. But every
// call through the syscall package enters the runtime's syscall state:
// it wakes sysmon when it sleeps, and sysmon then polls every 20 µs and,
// with one P, hands the P of a call that lasts one poll (a loopback write
// of a frame does) to another thread. A paced push or a relay is asleep
// nearly all the time and wakes ~50 times a second; that wake-up of
// sysmon and the thread hand-off cost more CPU than the writes
// (docs/decisions.md, "Raw socket calls"). Waiting for the socket still
// goes through the netpoller, so deadlines and Close work as with
// net.Conn.
package netio

import (
	"net"
	"syscall"
)

// ReadAhead is the read-ahead a client connection gets: a 3 Mbit/s key
// frame (~40 KB) then comes in one read(2) instead of ten of bufio's 4 KiB.
const ReadAhead = 64 << 10

// Wrap returns c with raw reads and writes when it is a TCP connection
// on a system that has them, and c itself otherwise (and under the race
// detector, see raceEnabled). With readAhead > 0,
// reads smaller than it fill a buffer of that size (allocated on the
// first read) and are served from it: for the few connections of a
// client, not for each of a server's many readers.
func Wrap(c net.Conn, readAhead int) net.Conn {
	if raceEnabled {
		return c
	}
	if w := wrap(c, readAhead); w != nil {
		return w
	}
	return c
}

// tcpRaw is c's TCP connection and its RawConn, or ok false.
func tcpRaw(c net.Conn) (tc *net.TCPConn, rc syscall.RawConn, ok bool) {
	tc, ok = c.(*net.TCPConn)
	if !ok {
		return nil, nil, false
	}
	rc, err := tc.SyscallConn()
	return tc, rc, err == nil
}

// TryWriter is a connection that can write without waiting.
type TryWriter interface {
	// TryWrite makes one write and returns how much the socket took:
	// less than len(p), possibly 0, when it is full. It never waits.
	TryWrite(p []byte) (int, error)
}
