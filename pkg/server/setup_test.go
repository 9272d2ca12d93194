package server

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/logging"
)

// freeUDPPair finds an even port whose successor is free too.
func freeUDPPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if p%2 != 0 || p > 65534 {
			continue
		}
		a, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		b, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		if err1 == nil && err2 == nil {
			return p
		}
	}
	t.Fatal("no free UDP port pair")
	return 0
}

// TestConcurrentSetups: readers that SETUP two tracks over UDP at the same
// time all play. gortsplib v5.6.4 still reads other readers' transport in
// ServerStream.readerAdd (under the stream's lock) while a session writes
// its own in SETUP (under the session's lock): without rtspHandler.setupMu
// `go test -race` reports that race here.
func TestConcurrentSetups(t *testing.T) {
	port := freeUDPPair(t)
	s := &Server{Config: Config{
		RTSPAddress:    "127.0.0.1:0",
		UDPRTPAddress:  fmt.Sprintf("127.0.0.1:%d", port),
		UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", port+1),
		ReadTimeout:    5 * time.Second,
		Logger:         &logging.Logger{},
	}}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	desc := benchDesc()
	desc.Medias = append(desc.Medias, &description.Media{
		Type:    description.MediaTypeAudio,
		Formats: []format.Format{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
	})
	st, err := newStream(s.rtsp, desc)
	if err != nil {
		t.Fatal(err)
	}
	pub := new(int)
	if err := s.publish("live", pub, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.startStream("live", pub, st); err != nil {
		t.Fatal(err)
	}
	u, err := base.ParseURL(s.benchURL("live"))
	if err != nil {
		t.Fatal(err)
	}

	const readers = 8
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			udp := gortsplib.ProtocolUDP
			c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &udp, ReadTimeout: 5 * time.Second}
			if err := c.Start(); err != nil {
				errs <- err
				return
			}
			defer c.Close()
			d, _, err := c.Describe(u)
			if err == nil {
				err = c.SetupAll(d.BaseURL, d.Medias)
			}
			if err == nil {
				_, err = c.Play(nil)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("reader: %v", err)
	}
}
