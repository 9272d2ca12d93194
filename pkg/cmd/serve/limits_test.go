package serve_test

// serve's limit flags (issue 14, item 4): --max-sessions, --max-conns and
// --session-timeout are honoured, and refusals reach --stats-json.

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
)

func rawRequest(method, url string, cseq int, extra string) []byte {
	return []byte(fmt.Sprintf("%s %s RTSP/1.0\r\nCSeq: %d\r\n%s\r\n", method, url, cseq, extra))
}

func TestServeMaxSessions(t *testing.T) {
	t.Parallel()
	stats := filepath.Join(t.TempDir(), "stats.ndjson")
	srv := clitest.StartServe(t, "--max-sessions", "1", "--session-timeout", "7s", "--stats-json", stats)
	url := srv.RTSP("demo")
	setup := rawRequest("SETUP", url+"/trackID=0", 1, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")

	a := dial(t, srv.RTSPPort)
	write(t, a, setup)
	code, text := readResponse(a)
	if code != 200 || !strings.Contains(text, ";timeout=7") {
		t.Fatalf("first SETUP: want 200 announcing timeout=7:\n%s", text)
	}
	b := dial(t, srv.RTSPPort)
	write(t, b, setup)
	if code, text := readResponse(b); code != 453 {
		t.Fatalf("second SETUP: want 453 Not Enough Bandwidth:\n%s", text)
	}
	// RTMP players share the bound.
	r := clitest.Run(t, 30*time.Second, "probe", srv.RTMP("demo"))
	if r.Code == 0 || !strings.Contains(r.Stderr, "server full") {
		t.Errorf("RTMP probe beyond --max-sessions: want a refusal naming it:\n%s", r)
	}
	t.Logf("RTMP probe: exit %d: %s", r.Code, r.ErrLine())
	evs := waitEvents(t, stats, "refused", 1, 10*time.Second)
	for _, ev := range evs["refused"] {
		if ev["reason"] != "max-sessions" {
			t.Errorf("refused event %v", ev)
		}
	}
}

func TestServeMaxConns(t *testing.T) {
	t.Parallel()
	stats := filepath.Join(t.TempDir(), "stats.ndjson")
	srv := clitest.StartServe(t, "--max-conns", "1", "--stats-json", stats)
	url := srv.RTSP("demo")
	// StartServe's readiness probes hold the slot until the server sees
	// them go.
	var a net.Conn
	for i := 0; ; i++ {
		a = dial(t, srv.RTSPPort)
		write(t, a, rawRequest("OPTIONS", url, 1, ""))
		if code, _ := readResponse(a); code == 200 {
			break
		}
		if i == 100 {
			t.Fatal("no connection slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := dial(t, srv.RTSPPort)
	write(t, b, rawRequest("OPTIONS", url, 1, ""))
	if code, text := readResponse(b); code != 0 {
		t.Fatalf("second connection: want it closed, got:\n%s", text)
	}
	waitEvents(t, stats, "refused", 1, 10*time.Second)
}
