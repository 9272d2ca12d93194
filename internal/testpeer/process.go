package testpeer

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const (
	defaultTermGrace = 2 * time.Second
	outputKeep       = 256 << 10 // bytes of output kept per process
	outputDump       = 8 << 10   // bytes of output logged when a test fails
)

// ProcOptions tunes how StartCmd stops a process.
type ProcOptions struct {
	// TermGrace is how long to wait after SIGTERM before SIGKILL. Zero means 2s.
	TermGrace time.Duration
	// KillOnly sends SIGKILL straight away. Use it for ffmpeg 5.1, which
	// ignores the first SIGTERM while blocked on a read.
	KillOnly bool
}

// Process is a peer started by Start or StartCmd. It runs in its own process
// group, which is killed in t.Cleanup.
type Process struct {
	name   string
	cmd    *exec.Cmd
	opts   ProcOptions
	out    *tailBuffer
	exited chan struct{} // closed when the leader has exited; it stays unreaped until stop

	stopOnce sync.Once
	waitErr  error
}

// Start starts name with args as a background peer; see StartCmd.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartCmd(t, exec.Command(name, args...), ProcOptions{})
}

// StartCmd starts cmd in a new process group with stdout and stderr captured
// (unless the caller set them). In t.Cleanup the group gets SIGTERM, then
// SIGKILL after opts.TermGrace, and the tail of the output is logged if the
// test failed. cmd must not have been started.
func StartCmd(t testing.TB, cmd *exec.Cmd, opts ProcOptions) *Process {
	t.Helper()
	if opts.TermGrace <= 0 {
		opts.TermGrace = defaultTermGrace
	}
	p := &Process{
		name:   cmd.Path,
		cmd:    cmd,
		opts:   opts,
		out:    &tailBuffer{max: outputKeep},
		exited: make(chan struct{}),
	}
	if len(cmd.Args) > 0 {
		p.name = cmd.Args[0]
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	// Bound Wait even if a grandchild escaped the group with our pipes.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("testpeer: start %s: %v", p.name, err)
	}
	go p.watch()
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			out := p.out.Tail(outputDump)
			if out == "" {
				out = "(no output)"
			}
			t.Logf("testpeer: %s (pid %d, %v) output tail:\n%s", p.name, p.Pid(), p.cmd.ProcessState, out)
		}
	})
	return p
}

// watch closes p.exited when the leader exits, without reaping it: while the
// zombie exists its PID, and so the process group ID, cannot be reused, so
// signalling the group can never hit a stranger.
func (p *Process) watch() {
	const pPID = 1 // P_PID
	var siginfo [16]uint64
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(p.cmd.Process.Pid),
			uintptr(unsafe.Pointer(&siginfo[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if e != syscall.EINTR {
			break
		}
	}
	close(p.exited)
}

// Pid returns the process ID, which is also its process group ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Output returns the captured output kept so far (stdout and stderr
// interleaved, the last 256 KiB).
func (p *Process) Output() string { return p.out.String() }

// Wait waits for the process to exit by itself, then kills what is left of its
// group and returns its exit status. It returns ctx.Err() and leaves the process
// running if ctx ends first.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.exited:
		return p.Stop()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop kills the process group (SIGTERM, then SIGKILL after the grace period,
// or SIGKILL at once with KillOnly), reaps the process and returns its exit
// status. It is idempotent and is called by t.Cleanup.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		select {
		case <-p.exited:
		default:
			if !p.opts.KillOnly {
				_ = syscall.Kill(-pgid, syscall.SIGTERM)
				select {
				case <-p.exited:
				case <-time.After(p.opts.TermGrace):
				}
			}
		}
		// The leader is alive or a zombie, so the group is still ours: kill
		// any leftovers, then reap.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
		p.waitErr = p.cmd.Wait()
	})
	return p.waitErr
}

// ExitCode returns the exit code once Wait or Stop has returned, or -1 if the
// process was killed by a signal.
func (p *Process) ExitCode() int {
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// String names the process for messages.
func (p *Process) String() string { return fmt.Sprintf("%s (pid %d)", p.name, p.Pid()) }

// tailBuffer is a goroutine-safe writer that keeps the last max bytes.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Tail returns the last n bytes.
func (b *tailBuffer) Tail(n int) string { return tail(b.String(), n) }
