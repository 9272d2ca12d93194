package clitest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/testpeer"
)

// Serve is an `avcat serve` running in-process on free loopback ports.
type Serve struct {
	RTSPPort int
	RTMPPort int
	RTPPort  int

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	res    *Result
}

// RTSP returns rtsp://127.0.0.1:PORT/path.
func (s *Serve) RTSP(path string) string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/%s", s.RTSPPort, strings.TrimPrefix(path, "/"))
}

// RTMP returns rtmp://127.0.0.1:PORT/path.
func (s *Serve) RTMP(path string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s", s.RTMPPort, strings.TrimPrefix(path, "/"))
}

// StartServe runs `avcat serve` with free ports plus args, waits until both
// listeners accept connections, and stops it (like Ctrl-C) in Cleanup.
func StartServe(t testing.TB, args ...string) *Serve {
	t.Helper()
	return StartServeAt(t, testpeer.FreePort(t), testpeer.FreePort(t), testpeer.FreeUDPPortPair(t), args...)
}

// StartServeAt is StartServe on given ports, e.g. to restart a server
// where clients expect it.
func StartServeAt(t testing.TB, rtspPort, rtmpPort, rtpPort int, args ...string) *Serve {
	t.Helper()
	s := &Serve{
		RTSPPort: rtspPort,
		RTMPPort: rtmpPort,
		RTPPort:  rtpPort,
		done:     make(chan struct{}),
	}
	full := append([]string{"serve",
		"--rtsp", "127.0.0.1:" + strconv.Itoa(s.RTSPPort),
		"--rtmp", "127.0.0.1:" + strconv.Itoa(s.RTMPPort),
		"--rtp-port", strconv.Itoa(s.RTPPort),
	}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		r := RunContext(ctx, full...)
		s.mu.Lock()
		s.res = r
		s.mu.Unlock()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range []int{s.RTSPPort, s.RTMPPort} {
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				t.Fatalf("avcat serve exited early:\n%s", s.Result())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("avcat serve: port %d not ready", port)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("avcat serve output:\n%s", s.Result())
		}
	})
	return s
}

// Stop interrupts the server and waits for it to exit.
func (s *Serve) Stop() *Result {
	s.cancel()
	<-s.done
	return s.Result()
}

// Result is the run's result once it stopped (nil before).
func (s *Serve) Result() *Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}
