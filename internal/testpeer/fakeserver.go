package testpeer

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeServer is an in-process TCP server on 127.0.0.1 that misbehaves in one
// fixed way, for error-path tests. It is closed in t.Cleanup.
type FakeServer struct {
	Addr string // "127.0.0.1:PORT"
	Port int

	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// URL returns scheme://127.0.0.1:PORT/path.
func (s *FakeServer) URL(scheme, path string) string {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	return fmt.Sprintf("%s://%s/%s", scheme, s.Addr, path)
}

// SilentTCPServer accepts connections, reads and discards everything, and
// never answers: a client must time out.
func SilentTCPServer(t testing.TB) *FakeServer {
	t.Helper()
	return startFakeServer(t, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
	})
}

// HTTPServer answers whatever arrives first on a connection with a plain
// "HTTP/1.1 200 OK" response and closes it: a server speaking HTTP instead of
// RTSP or RTMP.
func HTTPServer(t testing.TB) *FakeServer {
	t.Helper()
	const body = "<html><body>It works!</body></html>\n"
	resp := "HTTP/1.1 200 OK\r\nServer: testpeer\r\nContent-Type: text/html\r\n" +
		fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return startFakeServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = io.WriteString(c, resp)
		closeGracefully(c)
	})
}

// GarbageServer sends 64 KiB of random bytes (from a fixed seed, with the
// first byte's high bit set so that it is neither ASCII nor an RTMP version)
// as soon as a client connects, then closes the connection.
func GarbageServer(t testing.TB) *FakeServer {
	t.Helper()
	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(0x61766361, 0x74))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	garbage[0] |= 0x80
	return startFakeServer(t, func(c net.Conn) {
		// Drain what the client sends, so closing does not turn into a reset
		// that hides the garbage.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(io.Discard, c)
		}()
		_, _ = c.Write(garbage)
		closeGracefully(c)
		<-done
	})
}

// closeGracefully half-closes c, drains the client for up to 2 s so that no
// RST discards what was sent, and closes it.
func closeGracefully(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, c)
	_ = c.Close()
}

func startFakeServer(t testing.TB, handle func(net.Conn)) *FakeServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testpeer: listen: %v", err)
	}
	s := &FakeServer{
		Addr:  ln.Addr().String(),
		Port:  ln.Addr().(*net.TCPAddr).Port,
		ln:    ln,
		conns: make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				_ = c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				handle(c)
				_ = c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

// close stops accepting, closes every open connection and waits for the
// handlers.
func (s *FakeServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// HTTPStatusServer answers every HTTP request with status and an HTML
// body, keeping the connection for the next request: a web server, or a
// proxy that refuses a tunnel (404, 401).
func HTTPStatusServer(t testing.TB, status int) *FakeServer {
	t.Helper()
	body := fmt.Sprintf("<html><body>%d %s</body></html>\n", status, http.StatusText(status))
	resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nServer: testpeer\r\nContent-Type: text/html\r\n", status, http.StatusText(status))
	if status == http.StatusUnauthorized {
		resp += "WWW-Authenticate: Basic realm=\"testpeer\"\r\n"
	}
	resp += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	return startFakeServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_ = req.Body.Close()
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
}

// TunnelDropServer accepts an RTSP-over-HTTP tunnel (the GET answered 200
// application/x-rtsp-tunnelled, then the POST) and closes one of its two
// connections: "get" right after its answer, "post" once the first
// tunnelled request arrives. The other one stays open and silent.
func TunnelDropServer(t testing.TB, drop string) *FakeServer {
	t.Helper()
	return startFakeServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Method == http.MethodGet {
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\nCache-Control: no-cache\r\n\r\n")
		}
		if strings.EqualFold(req.Method, drop) {
			if req.Method == http.MethodPost {
				_, _ = br.ReadByte() // the first tunnelled request
			}
			return
		}
		_, _ = io.Copy(io.Discard, br)
	})
}
