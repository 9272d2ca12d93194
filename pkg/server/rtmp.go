package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/rtmp"
)

// rtmpConn is one RTMP client: a publisher or a player.
type rtmpConn struct {
	s    *Server
	nc   net.Conn
	once sync.Once
}

func (c *rtmpConn) close() {
	c.once.Do(func() { c.nc.Close() })
}

func (s *Server) acceptRTMP() {
	defer s.wg.Done()
	for {
		nc, err := s.rtmpLn.Accept()
		if err != nil {
			return
		}
		c := &rtmpConn{s: s, nc: nc}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			stop := context.AfterFunc(s.ctx, c.close)
			defer stop()
			err := c.run()
			c.close()
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.Logger.Debugf("rtmp: %s: %v", nc.RemoteAddr(), err)
			}
		}()
	}
}

// endOfStream tells a player the stream ended, the way ffmpeg and
// librtmp understand it, before the connection closes.
func endOfStream(sc *gortmplib.ServerConn) {
	for _, code := range []string{"NetStream.Play.UnpublishNotify", "NetStream.Play.Stop"} {
		_ = sc.Write(&message.CommandAMF0{
			ChunkStreamID:   5,
			MessageStreamID: 0x1000000,
			Name:            "onStatus",
			Arguments: []any{nil, amf0.Object{
				{Key: "level", Value: "status"},
				{Key: "code", Value: code},
				{Key: "description", Value: "stream ended"},
			}},
		})
	}
	_ = sc.Write(&message.UserControlStreamEOF{StreamID: 1})
}

// onStatusError sends an onStatus error that players and publishers understand.
func onStatusError(sc *gortmplib.ServerConn, code, desc string) {
	_ = sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000,
		Name:            "onStatus",
		Arguments: []any{nil, amf0.Object{
			{Key: "level", Value: "error"},
			{Key: "code", Value: code},
			{Key: "description", Value: desc},
		}},
	})
}

func (c *rtmpConn) run() error {
	s := c.s
	_ = c.nc.SetDeadline(time.Now().Add(s.ReadTimeout))
	sc := &gortmplib.ServerConn{RW: rtmp.NewGuard(c.nc, "client")}
	if err := sc.Initialize(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := sc.AcceptConn(); err != nil {
		return err
	}
	name, q := rtmp.ServerPath(sc)
	creds := s.ReadCreds
	if sc.Publish {
		creds = s.PublishCreds
	}
	if creds != nil && (q.Get("user") != creds.User || q.Get("pass") != creds.Pass) {
		_ = sc.RejectAction()
		return errors.New("authentication failed")
	}
	if !s.admitSession("rtmp", c.nc.RemoteAddr().String()) {
		code := "NetStream.Play.Failed"
		if sc.Publish {
			code = "NetStream.Publish.Denied"
		}
		onStatusError(sc, code, fmt.Sprintf("server full: %d sessions", s.sessions.max))
		return errors.New("refused: --max-sessions reached")
	}
	defer s.sessions.release()
	if sc.Publish {
		return c.publish(sc, name)
	}
	return c.play(sc, name)
}

func (c *rtmpConn) publish(sc *gortmplib.ServerConn, name string) error {
	s := c.s
	if err := s.publish(name, c, "rtmp"); err != nil {
		s.Logger.Warnf("refused RTMP publish of %q from %s: %v", name, c.nc.RemoteAddr(), err)
		onStatusError(sc, "NetStream.Publish.BadName", fmt.Sprintf("%s: %v", name, err))
		return err
	}
	defer s.unpublish(name, c, "publisher left")

	rd, err := rtmp.NewReader(sc, s.Logger)
	if err != nil {
		return err
	}
	if len(rd.Description().Medias) == 0 {
		return fmt.Errorf("publisher sent no supported track")
	}
	st, err := newStream(s.rtsp, rd.Description())
	if err != nil {
		return err
	}
	if err := s.startStream(name, c, st); err != nil {
		st.close()
		return err
	}
	rd.OnUnit(st.writeUnit)
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(s.ReadTimeout))
		if err := rd.Read(); err != nil {
			return err
		}
	}
}

func (c *rtmpConn) play(sc *gortmplib.ServerConn, name string) error {
	s := c.s
	remote := c.nc.RemoteAddr().String()
	if t, ok := s.templates[name]; ok {
		return c.playFile(sc, name, t, remote)
	}
	st, err := s.liveStream(name)
	if err != nil {
		onStatusError(sc, "NetStream.Play.StreamNotFound", name+": no stream on this path")
		return err
	}
	w, _, err := rtmp.NewWriter(sc, st.desc)
	if err != nil {
		onStatusError(sc, "NetStream.Play.Failed", err.Error())
		return err
	}
	q := st.addReader()
	defer st.removeReader(q)
	s.readerJoined(name, "rtmp", remote)
	defer s.readerLeft(name, "rtmp", remote)

	go c.drain()
	_ = c.nc.SetReadDeadline(time.Time{})
	var units itemUnits
	for it := range q.C() {
		_ = c.nc.SetWriteDeadline(time.Now().Add(s.ReadTimeout))
		if err := w.WriteUnit(units.unit(it)); err != nil {
			return err
		}
	}
	// The publisher left: tell the player the stream ended.
	endOfStream(sc)
	return nil
}

func (c *rtmpConn) playFile(sc *gortmplib.ServerConn, name string, t *fileTemplate, remote string) error {
	s := c.s
	w, _, err := rtmp.NewWriter(sc, t.stream.desc)
	if err != nil {
		onStatusError(sc, "NetStream.Play.Failed", err.Error())
		return err
	}
	t.readers.Add(1)
	defer t.readers.Add(-1)
	s.readerJoined(name, "rtmp", remote)
	defer s.readerLeft(name, "rtmp", remote)

	failed := make(chan error, 1)
	p := newPlayer(t.file, t.stream.desc, engine.NeedAccessUnits, func(u *media.Unit) {
		_ = c.nc.SetWriteDeadline(time.Now().Add(s.ReadTimeout))
		if err := w.WriteUnit(u); err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	})
	p.play(0, true)
	defer p.stop()
	gone := make(chan struct{})
	go func() {
		c.drain()
		close(gone)
	}()
	select {
	case err := <-failed:
		return err
	case <-gone:
		return nil
	case <-p.finished():
		endOfStream(sc)
		return nil
	}
}

// drain reads and discards what a player sends, until it leaves; then the
// connection is closed so the writer stops too.
func (c *rtmpConn) drain() {
	_ = c.nc.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			c.close()
			return
		}
	}
}
