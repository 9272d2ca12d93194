package push_test

import (
	"context"
	"crypto/sha256"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/pkg/container/pcap"
	"github.com/avcat/avcat/pkg/container/rtpdump"
	"github.com/avcat/avcat/pkg/engine"
	avmedia "github.com/avcat/avcat/pkg/media"
)

// recordServer is an in-process gortsplib RECORD target that hashes the
// RTP payloads it receives, per track (media index).
type recordServer struct {
	mu     sync.Mutex
	hashes map[int][]byte
	counts map[int]int
	desc   *description.Session
	done   chan struct{}
}

func (h *recordServer) OnAnnounce(*gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *recordServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

func (h *recordServer) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	desc := ctx.Session.AnnouncedDescription()
	index := make(map[*description.Media]int)
	for i, m := range desc.Medias {
		index[m] = i
	}
	ctx.Session.OnPacketRTPAny(func(m *description.Media, _ format.Format, pkt *rtp.Packet) {
		h.add(index[m], pkt.Payload)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *recordServer) OnSessionClose(*gortsplib.ServerHandlerOnSessionCloseCtx) {
	select {
	case <-h.done:
	default:
		close(h.done)
	}
}

func (h *recordServer) add(track int, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sum := sha256.Sum256(append(h.hashes[track], payload...))
	h.hashes[track] = sum[:]
	h.counts[track]++
}

func startRecordServer(t *testing.T) (*recordServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &recordServer{hashes: make(map[int][]byte), counts: make(map[int]int), done: make(chan struct{})}
	s := &gortsplib.Server{Handler: h, RTSPAddress: addr}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return h, "rtsp://" + addr + "/rec"
}

// captureHashes reads a capture the way push does and hashes its payloads.
func captureHashes(t *testing.T, src engine.Source) (map[int][]byte, map[int]int) {
	t.Helper()
	desc, err := src.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	index := make(map[*description.Media]int)
	for i, m := range desc.Medias {
		index[m] = i
	}
	h := &recordServer{hashes: make(map[int][]byte), counts: make(map[int]int)}
	if err := src.Run(context.Background(), func(u *avmedia.Unit) {
		for _, p := range u.Packets {
			h.add(index[u.Media], p.Payload)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return h.hashes, h.counts
}

// TestPushReplaysCaptures: a pcap and an rtpdump made by pull, pushed back,
// reproduce the same RTP payloads at the server, packet for packet.
func TestPushReplaysCaptures(t *testing.T) {
	srv := clitest.StartServe(t)
	dir := t.TempDir()
	for _, name := range []string{"cap.pcap", "cap.rtpdump"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name)
			r := clitest.Run(t, 30*time.Second, "pull", "--transport", "tcp", "--duration", "2s", "-o", out, srv.RTSP("demo"))
			if r.Code != 0 {
				t.Fatalf("pull:\n%s", r)
			}
			var src engine.Source = &pcap.Source{Path: out}
			if name == "cap.rtpdump" {
				src = &rtpdump.Source{Path: out}
			}
			want, wantN := captureHashes(t, src)
			if len(want) != 2 || wantN[0] < 20 || wantN[1] < 20 {
				t.Fatalf("the capture holds too little: %v packets per track", wantN)
			}

			rec, url := startRecordServer(t)
			r = clitest.Run(t, 30*time.Second, "push", "--speed", "4", out, url)
			if r.Code != 0 {
				t.Fatalf("push of the capture:\n%s", r)
			}
			select {
			case <-rec.done:
			case <-time.After(10 * time.Second):
				t.Fatal("the push never ended its session")
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for track := range want {
				if rec.counts[track] != wantN[track] || string(rec.hashes[track]) != string(want[track]) {
					t.Errorf("track %d: the server got %d packets (hash %x), the capture holds %d (hash %x)",
						track, rec.counts[track], rec.hashes[track][:6], wantN[track], want[track][:6])
				}
			}
			t.Logf("replayed %v packets per track, payloads identical", wantN)
		})
	}
}
