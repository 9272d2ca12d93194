package netio

import (
	"context"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Timer is a one-shot timer that the netpoller waits on (a timerfd),
// armed and read with raw calls. Waiting on it involves no runtime timer:
// sysmon sleeps until the next runtime timer, so each one wakes it (two
// more system calls and context switches per wake-up of a paced push).
type Timer struct {
	f      *os.File
	fd     uintptr
	rc     syscall.RawConn
	readFn func(uintptr) bool
	ctx    context.Context
	stop   func() bool   // stops watching ctx
	woke   chan struct{} // closed once ctx's end set the deadline
}

// NewTimer makes a Timer; it fails where the system has no timerfd.
func NewTimer() (*Timer, error) {
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, 1 /* CLOCK_MONOTONIC */, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil, os.NewSyscallError("timerfd_create", e)
	}
	f := os.NewFile(fd, "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &Timer{f: f, fd: fd, rc: rc}
	t.readFn = t.read
	return t, nil
}

// Sleep waits d, or until ctx ends; it reports whether d elapsed.
func (t *Timer) Sleep(ctx context.Context, d time.Duration) bool {
	if ctx != t.ctx { // wake the wait when ctx ends
		t.unwatch()
		t.ctx = ctx
		_ = t.f.SetReadDeadline(time.Time{}) // a former ctx may have ended
		woke := make(chan struct{})
		t.woke = woke
		t.stop = context.AfterFunc(ctx, func() {
			_ = t.f.SetReadDeadline(time.Unix(1, 0))
			close(woke)
		})
	}
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	spec := [4]int64{0, 0, int64(d / time.Second), int64(d % time.Second)} // interval, value
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, t.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		time.Sleep(d) // cannot happen with a valid fd and time
		return ctx.Err() == nil
	}
	if err := t.rc.Read(t.readFn); err != nil {
		return false // the deadline set when ctx ended, or closed
	}
	return ctx.Err() == nil
}

// read takes the expiry count; false (wait) until the timer fired.
func (t *Timer) read(fd uintptr) bool {
	var n uint64
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&n)), 8)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}

// unwatch stops watching the last ctx, waiting for its wake-up to be
// done if it had begun.
func (t *Timer) unwatch() {
	if t.stop != nil && !t.stop() {
		<-t.woke
	}
	t.stop = nil
}

// Close releases the timer.
func (t *Timer) Close() error {
	t.unwatch()
	return t.f.Close()
}
