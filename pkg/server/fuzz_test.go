package server

import (
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/logging"
)

var fuzzServer struct {
	once sync.Once
	s    *Server
	err  error
}

// fuzzTarget is one TCP-only server with a live path /live, shared by
// every input of a fuzzing process.
func fuzzTarget(t *testing.T) *Server {
	fuzzServer.once.Do(func() {
		s := &Server{Config: Config{
			RTSPAddress: "127.0.0.1:0",
			ReadTimeout: 2 * time.Second,
			Logger:      &logging.Logger{},
			MaxSessions: -1,
			MaxConns:    -1,
		}}
		if fuzzServer.err = s.Start(); fuzzServer.err != nil {
			return
		}
		st, err := newStream(s.rtsp, benchDesc())
		if err == nil {
			pub := new(int)
			if err = s.publish("live", pub, "fuzz"); err == nil {
				err = s.startStream("live", pub, st)
			}
		}
		fuzzServer.s, fuzzServer.err = s, err
	})
	if fuzzServer.err != nil {
		t.Fatal(fuzzServer.err)
	}
	return fuzzServer.s
}

// FuzzServerRequests sends a byte stream to the RTSP server as a client
// would, then half-closes: the server must answer or close without a
// panic, and its heap must stay bounded.
func FuzzServerRequests(f *testing.F) {
	for _, s := range framerSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte("OPTIONS rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 1\r\n\r\n" +
		"DESCRIBE rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 2\r\n\r\n" +
		"SETUP rtsp://127.0.0.1/live/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n" +
		"PLAY rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 4\r\n\r\n$\x01\x00\x08\x81\xc9\x00\x01\x00\x00\x00\x01" +
		"TEARDOWN rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 5\r\n\r\n"))
	f.Add([]byte("ANNOUNCE rtsp://127.0.0.1/p RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 140\r\n\r\n" +
		string(sdpWithTracks(1))[:140]))
	f.Add([]byte("SETUP rtsp://127.0.0.1/live/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;interleaved=300-301\r\n\r\n"))
	f.Add([]byte("GET /live HTTP/1.1\r\nAccept: application/x-rtsp-tunnelled\r\nX-Sessioncookie: a\r\n\r\n"))
	f.Add([]byte("PLAY rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 1\r\nSession: 0123456789abcdef\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		s := fuzzTarget(t)
		nc, err := net.DialTimeout("tcp", s.RTSPAddr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		// A tunnel's GET half waits 5 s for its POST: do not wait as long.
		_ = nc.SetDeadline(time.Now().Add(time.Second))
		go func() {
			_, _ = nc.Write(data)
			_ = nc.(*net.TCPConn).CloseWrite()
		}()
		// Read until the server closes; a playing session streams, so
		// stop after 1 MB.
		_, _ = io.CopyN(io.Discard, nc, 1<<20)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > 512<<20 {
			t.Fatalf("heap at %d MB", ms.HeapAlloc>>20)
		}
	})
}
