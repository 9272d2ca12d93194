// Package rtmppeer holds in-process RTMP servers that misbehave in one
// fixed way, built on gortmplib's server connection (testpeer itself
// imports no avcat package).
package rtmppeer

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/rtmp"
)

// Server is an RTMP server on 127.0.0.1; it is closed in t.Cleanup.
type Server struct {
	Addr string
	ln   net.Listener
	wg   sync.WaitGroup
}

// URL is rtmp://ADDR/path.
func (s *Server) URL(path string) string { return "rtmp://" + s.Addr + "/" + path }

// DyingServer plays the first units of an FLV file to every player, then
// closes the connection with no end-of-stream message: a server that dies.
func DyingServer(t testing.TB, flvFile string, units int) *Server {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				play(nc, flvFile, units)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func play(nc net.Conn, flvFile string, units int) {
	sc := &gortmplib.ServerConn{RW: nc}
	if sc.Initialize() != nil || sc.AcceptConn() != nil || sc.Publish {
		return
	}
	src := &flv.Source{Path: flvFile}
	desc, err := src.Open(context.Background())
	if err != nil {
		return
	}
	defer src.Close()
	w, _, err := rtmp.NewWriter(sc, desc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_ = src.Run(ctx, func(u *media.Unit) {
		if n >= units {
			cancel()
			return
		}
		n++
		if w.WriteUnit(u) != nil {
			cancel()
		}
	})
}
