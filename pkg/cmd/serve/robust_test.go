package serve_test

// Robustness tests for `avcat serve` (issue 3): hostile and broken clients
// must never crash the server or disturb other sessions; a slow reader is
// dropped or loses packets without stalling anyone; only --file entries are
// served.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// garbage returns n seeded random bytes.
func garbage(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x61766361))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// expectClosed reads c until the server closes it, for at most within, and
// returns what the server sent. It fails the test if the connection is
// still open then.
func expectClosed(t *testing.T, c net.Conn, within time.Duration, what string) []byte {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	var got []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the server kept the connection open for %v (got %d bytes: %q)", what, within, len(got), head(got))
			return got
		}
		t.Logf("%s: closed by the server after %v (%v), it sent %q", what, time.Since(start).Round(time.Millisecond), errName(err), head(got))
		return got
	}
}

func errName(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return err.Error()
}

func head(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// rtspStatus returns the status code of a raw response, or 0.
func rtspStatus(b []byte) int {
	line, _, _ := strings.Cut(string(b), "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "RTSP/1.0" {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func dial(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		// The server may close on the first bad bytes: that is fine.
		t.Logf("write: %v", err)
	}
}

// readResponse reads one raw RTSP response (status line and header) within
// 5 s and returns the status code and the text, or 0 if the connection
// ended or timed out first.
func readResponse(c net.Conn) (int, string) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(b), "\r\n\r\n") {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return rtspStatus(b), string(b)
}

type memSnapshot struct {
	heapInuse  uint64
	vmRSS      uint64 // bytes
	goroutines int
}

func snapshot() memSnapshot {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSnapshot{heapInuse: ms.HeapInuse, goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				s.vmRSS = kb << 10
			}
		}
	}
	return s
}

// TestServeRobustness runs the hostile clients one after the other
// while an RTSP/TCP and an RTMP ffmpeg reader play /demo for the whole test:
// both must get every frame. The server runs in-process, so its memory and
// goroutines are measured directly. Not parallel: the measurement must see
// only this server.
func TestServeRobustness(t *testing.T) {
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	const readSecs = 18
	stats := filepath.Join(t.TempDir(), "stats.ndjson")
	srv := clitest.StartServe(t, "--timeout", "2s", "--stats-json", stats)
	rtspAddr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	demo := srv.RTSP("demo")

	type readerResult struct {
		name string
		r    *testpeer.ClientResult
		p    testpeer.FFmpegProgress
		at   time.Time
	}
	results := make(chan readerResult, 2)
	startReader := func(name string, args ...string) {
		full := append([]string{"-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-v", "error"}, args...)
		full = append(full, "-t", strconv.Itoa(readSecs), "-f", "null", "-")
		go func() {
			r := testpeer.RunBounded(readSecs*time.Second+30*time.Second, nil, "ffmpeg", full...)
			results <- readerResult{name, r, testpeer.ParseFFmpegProgress(r.Stdout), time.Now()}
		}()
	}
	startReader("RTSP/TCP reader", "-rtsp_transport", "tcp", "-i", demo)
	startReader("RTMP reader", "-rw_timeout", "10000000", "-i", srv.RTMP("demo"))
	// Both readers play once they joined.
	waitEvents(t, stats, "reader_join", 2, 30*time.Second)
	before := snapshot()

	t.Run("garbage", func(t *testing.T) {
		c := dial(t, srv.RTSPPort)
		write(t, c, append(garbage(64<<10, 1), "\r\n\r\n"...))
		got := expectClosed(t, c, 5*time.Second, "64 KiB of random bytes")
		if code := rtspStatus(got); code != 0 && code < 400 {
			t.Errorf("garbage answered with %d", code)
		}
	})
	t.Run("request_line_100KB", func(t *testing.T) {
		c := dial(t, srv.RTSPPort)
		write(t, c, []byte("OPTIONS rtsp://"+rtspAddr+"/"+strings.Repeat("a", 100<<10)+" RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
		got := expectClosed(t, c, 5*time.Second, "a 100 KB request line")
		if code := rtspStatus(got); code != 0 && code < 400 {
			t.Errorf("a 100 KB request line answered with %d", code)
		}
	})
	t.Run("missing_cseq", func(t *testing.T) {
		c := dial(t, srv.RTSPPort)
		write(t, c, []byte("OPTIONS "+demo+" RTSP/1.0\r\n\r\n"))
		if code, resp := readResponse(c); code != 400 {
			t.Errorf("OPTIONS without CSeq: want 400, got %d %q", code, resp)
		}
	})
	t.Run("wrong_cseq", func(t *testing.T) {
		c := dial(t, srv.RTSPPort)
		// Not a number, then numbers going backwards: each response must
		// echo its request's CSeq, or refuse it.
		for _, cseq := range []string{"abc", "5", "3", "-1"} {
			write(t, c, []byte("OPTIONS "+demo+" RTSP/1.0\r\nCSeq: "+cseq+"\r\n\r\n"))
			code, resp := readResponse(c)
			if code == 0 {
				t.Logf("CSeq %q: connection closed", cseq)
				return
			}
			if code == 200 && !strings.Contains(resp, "CSeq: "+cseq+"\r\n") {
				t.Errorf("CSeq %q: answered 200 with another CSeq: %q", cseq, resp)
			}
			t.Logf("CSeq %q: %d", cseq, code)
		}
	})
	t.Run("setup_before_describe", func(t *testing.T) {
		c := dial(t, srv.RTSPPort)
		// DESCRIBE is optional in RTSP: a SETUP straight away is legal, on
		// a path that exists or not; a PLAY without SETUP is not.
		for _, req := range []struct{ method, url, transport string }{
			{"PLAY", demo, ""},
			{"SETUP", srv.RTSP("nothing/trackID=0"), "RTP/AVP/TCP;unicast;interleaved=0-1"},
			{"SETUP", demo + "/trackID=0", "RTP/AVP/TCP;unicast;interleaved=0-1"},
			{"SETUP", demo + "/trackID=0", "RTP/AVP/TCP;unicast;interleaved=0-1"}, // twice
			{"TEARDOWN", demo, ""},
		} {
			h := "CSeq: 1\r\n"
			if req.transport != "" {
				h += "Transport: " + req.transport + "\r\n"
			}
			write(t, c, []byte(req.method+" "+req.url+" RTSP/1.0\r\n"+h+"\r\n"))
			code, resp := readResponse(c)
			switch {
			case code == 0:
				t.Logf("%s %s: connection closed", req.method, req.url)
				return
			case code == 500 || code > 501:
				t.Errorf("%s %s: server error %q", req.method, req.url, resp)
			}
			t.Logf("%s %s: %d", req.method, req.url, code)
		}
	})
	t.Run("interleaved_unknown_channel", func(t *testing.T) {
		// Before any session: a "$" frame is junk.
		c := dial(t, srv.RTSPPort)
		junk := append([]byte{'$', 5, 0, 16}, garbage(16, 2)...)
		write(t, c, append([]byte("OPTIONS "+demo+" RTSP/1.0\r\nCSeq: 1\r\n\r\n"), junk...))
		if code, _ := readResponse(c); code != 200 {
			t.Errorf("OPTIONS: %d", code)
		}
		write(t, c, []byte("OPTIONS "+demo+" RTSP/1.0\r\nCSeq: 2\r\n\r\n"))
		if code, resp := readResponse(c); code == 0 {
			t.Logf("interleaved frame outside a session: connection closed")
		} else if code != 200 {
			t.Errorf("OPTIONS after a stray frame: %q", resp)
		}

		// In a TCP session playing channels 0-1: frames for channels 9 and
		// 200 are ignored, and the session goes on.
		rc, err := testpeer.DialRTSP(rtspAddr, 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := rc.SetupPlayTCP(demo, true, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		ch := rc.Stream()
		frames := 0
		count := func(f *testpeer.InterleavedFrame) {
			if f.Channel == 0 && f.RTPMarker() {
				frames++
			}
		}
		if err := readFrames(ch, 10*time.Second, 0, count, func() bool { return frames >= 5 }); err != nil || frames < 5 {
			t.Fatalf("before the junk: %d frames, %v", frames, err)
		}
		for _, chn := range []byte{9, 200, 1} {
			write(t, rc.Conn, append([]byte{'$', chn, 0, 64}, garbage(64, uint64(chn))...))
		}
		resp, err := rc.DoStream(ch, "OPTIONS", demo, nil, 5*time.Second, count)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("OPTIONS after frames for channels 9, 200 and junk RTCP on 1: %v %v", resp, err)
		}
		at := frames
		if err := readFrames(ch, 10*time.Second, 0, count, func() bool { return frames >= at+25 }); err != nil {
			t.Errorf("the session stopped after the junk frames: %d frames, %v", frames, err)
		}
	})
	t.Run("disconnect_mid_request", func(t *testing.T) {
		for i := range 50 {
			c := dial(t, srv.RTSPPort)
			msg := "DESCRIBE " + demo + " RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"
			write(t, c, []byte(msg[:1+i*len(msg)/50]))
			if tc, ok := c.(*net.TCPConn); ok && i%2 == 0 {
				_ = tc.SetLinger(0) // half of them with a reset
			}
			c.Close()
		}
		resp, err := testpeer.RTSPRequest(rtspAddr, "OPTIONS", demo, nil, 5*time.Second)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("OPTIONS after 50 aborted requests: %v %v", resp, err)
		}
	})
	t.Run("burst_500_connections", func(t *testing.T) {
		const n, workers = 500, 50
		var dialErrs, optionsErrs, optionsOK atomic.Int64
		var firstErr atomic.Value
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					c, err := net.DialTimeout("tcp", rtspAddr, 5*time.Second)
					if err != nil {
						dialErrs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					switch i % 4 {
					case 0: // open and close
					case 1: // a partial request
						_, _ = c.Write([]byte("OPTIONS " + demo + " RTSP/1.0\r\nCSe"))
					case 2: // a whole request
						_, _ = c.Write([]byte("OPTIONS " + demo + " RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
						if code, resp := readResponse(c); code == 200 {
							optionsOK.Add(1)
						} else {
							optionsErrs.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("OPTIONS: %q", resp))
						}
					case 3: // garbage
						_, _ = c.Write(garbage(1024, uint64(i)))
					}
					c.Close()
				}
			}()
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if dialErrs.Load() > 0 || optionsErrs.Load() > 0 {
			t.Errorf("burst of %d connections: %d failed to connect, %d OPTIONS failed (first: %v)",
				n, dialErrs.Load(), optionsErrs.Load(), firstErr.Load())
		}
		t.Logf("burst of %d connections: %d OPTIONS answered 200", n, optionsOK.Load())
	})
	t.Run("rtmp_garbage", func(t *testing.T) {
		c := dial(t, srv.RTMPPort)
		g := garbage(16<<10, 3)
		g[0] = 0x03 // a valid version byte, then junk
		write(t, c, g)
		expectClosed(t, c, 8*time.Second, "RTMP: 16 KiB of random bytes")
		c2 := dial(t, srv.RTMPPort)
		write(t, c2, garbage(16<<10, 4))
		expectClosed(t, c2, 8*time.Second, "RTMP: random bytes with a bad version")
	})
	// Clients that stall: --timeout 2s bounds every read, so each must be
	// dropped, or enough of them exhaust the server's file descriptors.
	// They wait in parallel.
	t.Run("stalled_clients_dropped", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			port  int
			bytes []byte
		}{
			{"rtsp_sends_nothing", srv.RTSPPort, nil},
			{"rtsp_request_never_ends", srv.RTSPPort, []byte("DESCRIBE " + demo + " RTSP/1.0\r\nCSeq: 1\r\nAccept: app")},
			{"rtsp_garbage_without_newline", srv.RTSPPort, []byte(strings.ReplaceAll(strings.ReplaceAll(string(garbage(4096, 6)), "\n", "x"), "\r", "x"))},
			{"rtmp_sends_nothing", srv.RTMPPort, nil},
			{"rtmp_handshake_stops_halfway", srv.RTMPPort, append([]byte{0x03}, garbage(700, 5)...)}, // C0 and half of C1
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				conn := dial(t, c.port)
				if c.bytes != nil {
					write(t, conn, c.bytes)
				}
				expectClosed(t, conn, 8*time.Second, strings.ReplaceAll(c.name, "_", " "))
			})
		}
	})

	hostileDone := time.Now()
	t.Run("still_serving", func(t *testing.T) {
		resp, err := testpeer.RTSPRequest(rtspAddr, "OPTIONS", demo, nil, 5*time.Second)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Public"), "DESCRIBE") {
			t.Fatalf("OPTIONS after the hostile clients: %v %v", resp, err)
		}
		r := clitest.Run(t, 30*time.Second, "probe", srv.RTMP("demo"))
		if r.Code != 0 || !strings.Contains(r.Stdout, "640x480") {
			t.Errorf("RTMP probe after the hostile clients:\n%s", r)
		}
	})

	for range 2 {
		res := <-results
		r, p := res.r, res.p
		if res.at.Before(hostileDone) {
			t.Errorf("%s ended before the hostile clients were done: it did not read for the whole test:\n%s", res.name, r)
		}
		if r.Code != 0 || !p.Ended {
			t.Errorf("%s: want exit 0:\n%s", res.name, r)
			continue
		}
		if s := strings.TrimSpace(r.Stderr); s != "" {
			t.Errorf("%s printed errors:\n%s", res.name, s)
		}
		// /demo loops a 100-frame clip: every frame of readSecs seconds.
		if p.Frames < readSecs*fps-2 || p.Frames > readSecs*fps+3 {
			t.Errorf("%s: %d frames in %d s of media, want %d (every frame)", res.name, p.Frames, readSecs, readSecs*fps)
		}
		t.Logf("%s: %d frames, %v of media, exit 0, nothing on stderr", res.name, p.Frames, p.OutTime)
	}

	// Memory stays bounded and the hostile connections' goroutines are
	// gone once the readers left.
	var after memSnapshot
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = snapshot()
		if after.goroutines <= before.goroutines+10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("heap in use %.1f → %.1f MB, VmRSS %.1f → %.1f MB, goroutines %d → %d",
		float64(before.heapInuse)/1e6, float64(after.heapInuse)/1e6, float64(before.vmRSS)/1e6, float64(after.vmRSS)/1e6,
		before.goroutines, after.goroutines)
	if after.heapInuse > before.heapInuse+50<<20 {
		t.Errorf("heap in use grew by %.1f MB", float64(after.heapInuse-before.heapInuse)/1e6)
	}
	if after.vmRSS > before.vmRSS+100<<20 {
		t.Errorf("VmRSS grew by %.1f MB", float64(after.vmRSS-before.vmRSS)/1e6)
	}
	if after.goroutines > before.goroutines+10 {
		t.Errorf("goroutines: %d before the hostile clients, %d after (a leak per connection?)", before.goroutines, after.goroutines)
	}
}

// statsEvents reads a --stats-json file and returns its events by type.
// Every line must be a JSON object with an "event" field.
func statsEvents(t testing.TB, file string) map[string][]map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]map[string]any)
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			if i == strings.Count(string(b), "\n") { // a line being written
				break
			}
			t.Fatalf("--stats-json line %d is not JSON: %v: %q", i+1, err, line)
		}
		name, _ := ev["event"].(string)
		if name == "" {
			t.Fatalf("--stats-json line %d has no event: %q", i+1, line)
		}
		out[name] = append(out[name], ev)
	}
	return out
}

// waitPathEvents polls a --stats-json file until it holds n events of a
// type for path.
func waitPathEvents(t testing.TB, file, event, path string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := 0
		for _, ev := range statsEvents(t, file)[event] {
			if ev["path"] == path {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("--stats-json: %d %s events for %s after %v, want %d", got, event, path, limit, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEvents polls a --stats-json file until it holds n events of a type.
func waitEvents(t testing.TB, file, event string, n int, limit time.Duration) map[string][]map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		evs := statsEvents(t, file)
		if len(evs[event]) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("--stats-json: %d %s events after %v, want %d", len(evs[event]), event, limit, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeSlowReader: an RTSP/TCP reader does SETUP and PLAY and then never
// reads its socket. The publisher and another reader must not stall, and
// the slow one is dropped or loses packets (bounded queue). The stream is
// about 8 Mbit/s, so that the slow reader overflows the server's queue and
// the kernel's socket buffers within seconds.
func TestServeSlowReader(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	heavy := filepath.Join(t.TempDir(), "8mbit.mp4")
	if r := testpeer.RunClient(t, 60*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25,noise=alls=40:allf=t", "-t", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "8M", "-maxrate", "8M", "-bufsize", "2M",
		"-pix_fmt", "yuv420p", heavy); r.Code != 0 {
		t.Fatalf("make an 8 Mbit/s clip:\n%s", r)
	}
	srv := clitest.StartServe(t, "--timeout", "3s")
	pub := publishRTSP(t, srv, heavy, "live/slow", "tcp")

	// A receive buffer of a few KiB, so that the server's writes block soon.
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	slow, err := testpeer.DialRTSP(fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort), 5*time.Second, d)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.SetupPlayTCP(srv.RTSP("live/slow"), true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// From here on the slow reader reads nothing, while another reader
	// plays for 10 s.
	const secs = 10
	r, p := ffmpegRead(t, secs*time.Second+30*time.Second, "-v", "error", "-rtsp_transport", "tcp", "-i", srv.RTSP("live/slow"),
		"-t", strconv.Itoa(secs), "-f", "null", "-")
	if r.Code != 0 || !p.Ended {
		t.Fatalf("the other reader: want exit 0:\n%s", r)
	}
	if p.Frames < secs*fps-fps-4 {
		t.Errorf("the other reader got %d frames in %d s of media, want about %d: it was stalled by the slow reader", p.Frames, secs, secs*fps)
	}
	if s := strings.TrimSpace(r.Stderr); s != "" {
		t.Logf("the other reader printed (live, joined mid-GOP):\n%s", s)
	}
	t.Logf("the other reader: %d frames, %v of media, in %v", p.Frames, p.OutTime, r.Took.Round(time.Millisecond))
	select {
	case <-pub.Exited():
		t.Errorf("the publisher exited while a reader was slow:\n%s", pub.Output())
	default:
	}

	// Now drain the slow reader for up to 5 s: the server must have dropped
	// it (the connection ends) or dropped packets (RTP sequence gaps).
	var got, gaps, packets int
	var lastSeq uint16
	first := true
	_ = slow.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var end error
	for {
		_, fr, err := slow.ReadMessage()
		if err != nil {
			end = err
			break
		}
		if fr == nil || fr.Channel != 0 || len(fr.Payload) < 12 {
			continue
		}
		got += len(fr.Payload)
		packets++
		seq := binary.BigEndian.Uint16(fr.Payload[2:4])
		if !first && seq != lastSeq+1 {
			gaps++
		}
		first, lastSeq = false, seq
	}
	var ne net.Error
	switch {
	case !errors.As(end, &ne) || !ne.Timeout():
		t.Logf("slow reader: dropped by the server (%v) after %d video RTP packets (%d bytes), %d sequence gaps", errName(end), packets, got, gaps)
	case gaps > 0:
		t.Logf("slow reader: kept, with %d sequence gaps in %d video RTP packets (%d bytes)", gaps, packets, got)
	default:
		t.Errorf("slow reader: neither dropped nor missing packets after %d s without reading (%d video RTP packets, %d bytes, no gap)", secs, packets, got)
	}
}

// TestServePathTraversal: only --file entries are served; no URL reaches
// the file system.
func TestServePathTraversal(t *testing.T) {
	t.Parallel()
	file := clip(t, "h264_baseline_aac.mp4")
	srv := clitest.StartServe(t, "--file", "clip="+file)
	addr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	base := fmt.Sprintf("rtsp://%s", addr)

	if resp, err := testpeer.RTSPRequest(addr, "DESCRIBE", srv.RTSP("clip"), nil, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("DESCRIBE of the --file entry: %v %v", resp, err)
	}
	for _, p := range []string{
		"/../../etc/passwd",
		"/../../../../../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
		"/clip/../../../etc/passwd",
		"/..%2f..%2fetc%2fpasswd",
		"/etc/passwd",
		"//etc/passwd",
		file,                     // the absolute file name
		"/" + file,               // and with a doubled slash
		"/h264_baseline_aac.mp4", // the real file name
		"/testdata/media/h264_baseline_aac.mp4",
		"/../../../testdata/media/h264_baseline_aac.mp4",
		"/demo", // not served when --file is given
		"/clip%00.mp4",
		"/clip/../clip2",
	} {
		url := base + p
		for _, method := range []string{"DESCRIBE", "SETUP"} {
			h := map[string]string{}
			u := url
			if method == "SETUP" {
				u += "/trackID=0"
				h["Transport"] = "RTP/AVP/TCP;unicast;interleaved=0-1"
			}
			resp, err := testpeer.RTSPRequest(addr, method, u, h, 5*time.Second)
			if err != nil {
				t.Logf("%s %s: %v", method, u, err)
				continue
			}
			if resp.StatusCode != 404 && resp.StatusCode != 400 {
				t.Errorf("%s %s: %s, want 404", method, u, resp.StatusLine)
			}
			if len(resp.Body) > 0 {
				t.Errorf("%s %s: answered with a body:\n%s", method, u, resp.Body)
			}
		}
	}
	// RTMP play of the same names: not found.
	for _, p := range []string{"../../etc/passwd", "h264_baseline_aac.mp4", "etc/passwd", "demo"} {
		r := clitest.Run(t, 20*time.Second, "probe", fmt.Sprintf("rtmp://127.0.0.1:%d/%s", srv.RTMPPort, p))
		if r.Code != 5 {
			t.Errorf("RTMP play %q: want not found (exit 5):\n%s", p, r)
		}
	}
}

// TestServeQuietUDPReader: a UDP reader's control connection is quiet
// while the media flows; it must outlive the idle-client timeout, so the
// reader's closing requests are answered.
func TestServeQuietUDPReader(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerGstLaunch)
	testpeer.RequireGstElements(t, "rtspsrc", "rtph264depay", "h264parse", "fakesink")
	srv := clitest.StartServe(t, "--timeout", "2s")
	// 125 frames at 25 fps: 5 s, more than twice the timeout.
	r := testpeer.GstLaunch(t, 30*time.Second, strings.Fields("rtspsrc location="+srv.RTSP("demo")+
		" protocols=udp ! rtph264depay ! h264parse ! fakesink num-buffers=125")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Got EOS") {
		t.Fatalf("gst-launch rtspsrc protocols=udp: want exit 0 at EOS:\n%s", r)
	}
	if out := r.Stdout + r.Stderr; strings.Contains(out, "server closed the connection") {
		t.Fatalf("the server dropped the quiet control connection of a playing UDP reader:\n%s", r)
	}
}
