package server

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/netio"
)

// A slow RTMP reader drops and counts; the publisher and the other
// readers go on; when the stream ends each reader gets what it queued,
// then the end.
func TestStreamSlowRTMPReader(t *testing.T) {
	s, _ := startHostile(t, Config{})
	st, err := s.liveStream("live")
	if err != nil {
		t.Fatal(err)
	}
	slow, fast := st.addReader(), st.addReader()
	medi := st.desc.Medias[0]
	pkts := benchPackets()
	const n = 3 * readerQueueSize
	var units itemUnits
	for i := range n {
		st.writePacket(medi, medi.Formats[0], nextPacket(pkts, i), time.Now(), int64(i))
		select {
		case it := <-fast.C():
			if u := units.unit(it); u.PTS != int64(i) || len(u.Packets) != 1 {
				t.Fatalf("packet %d: the fast reader got PTS %d, %d packets", i, u.PTS, len(u.Packets))
			}
		default:
			t.Fatalf("packet %d did not reach the fast reader", i)
		}
	}
	if got, want := slow.Dropped(), uint64(n-readerQueueSize); got != want {
		t.Errorf("slow reader dropped %d, want %d", got, want)
	}
	if fast.Dropped() != 0 {
		t.Errorf("fast reader dropped %d", fast.Dropped())
	}
	if got := st.dropped(); got != uint64(n-readerQueueSize) {
		t.Errorf("path reports %d dropped, want %d", got, n-readerQueueSize)
	}

	st.close()
	queued := 0
	for range slow.C() {
		queued++
	}
	if queued != readerQueueSize {
		t.Errorf("after the end the slow reader got %d units, want %d", queued, readerQueueSize)
	}
	if _, ok := <-fast.C(); ok {
		t.Error("the fast reader's queue is open after the end")
	}
	// A reader that joins as the stream ends sees the end at once.
	if _, ok := <-st.addReader().C(); ok {
		t.Error("a reader added after the end got a unit")
	}
}

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	set []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.set = append(c.set, t)
	return nil
}

// gortsplib sets a write deadline before each packet: the socket's moves
// only when it must, and never to before what was asked.
func TestWriteDeadlineArmedLazily(t *testing.T) {
	const timeout = 8 * time.Second
	slack := timeout / 8
	dc := &deadlineConn{}
	c := &idleConn{Conn: dc, timeout: timeout}
	now := time.Unix(1000, 0)
	for i := range 1000 { // one packet a millisecond for a second
		want := now.Add(time.Duration(i)*time.Millisecond + timeout)
		if err := c.SetWriteDeadline(want); err != nil {
			t.Fatal(err)
		}
		if c.armed.Before(want) || c.armed.Sub(want) > slack {
			t.Fatalf("asked %v, armed %v", want, c.armed)
		}
	}
	if len(dc.set) != 1 {
		t.Errorf("the socket's deadline moved %d times in a second, want 1", len(dc.set))
	}
	// An earlier deadline and no deadline are applied as asked.
	early := now.Add(time.Second)
	_ = c.SetWriteDeadline(early)
	_ = c.SetDeadline(time.Time{})
	if n := len(dc.set); n != 3 || !dc.set[1].Equal(early) || !dc.set[2].IsZero() {
		t.Errorf("deadlines set: %v", dc.set)
	}
}

// tcpPair returns a streaming server side (an idleConn over TCP, its
// batcher not running: the test drives it) and the client side.
func tcpPair(t *testing.T) (*idleConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc = netio.Wrap(sc, 0) // as allowListener does
	c := &idleConn{Conn: sc, timeout: 5 * time.Second, onClose: func() {}, batch: newFrameBatcher(), raw: rawConnOf(sc)}
	t.Cleanup(func() { c.Close() })
	c.coalesce.Store(true)
	return c, cl
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A streaming connection's frames wait for the batcher's round and go out
// together, in order; a response goes after the frames before it.
func TestStreamingFramesBatched(t *testing.T) {
	c, cl := tcpPair(t)
	frame := func(i byte) []byte { return []byte{'$', 0, 0, 1, i} }
	var want []byte
	for i := range byte(10) {
		if _, err := c.Write(frame(i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, frame(i)...)
	}
	if len(c.batch.conns) != 1 || len(c.pend) != len(want) {
		t.Fatalf("batcher holds %d connections, %d bytes pending; want 1, %d", len(c.batch.conns), len(c.pend), len(want))
	}
	if c.flushNow() {
		t.Fatal("flushNow wants another round after writing everything")
	}
	if got := readN(t, cl, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}

	_, _ = c.Write(frame(10))
	res := []byte("RTSP/1.0 200 OK\r\n\r\n")
	if _, err := c.Write(res); err != nil {
		t.Fatal(err)
	}
	if got, want := readN(t, cl, 5+len(res)), append(frame(10), res...); !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// When the socket does not take a round whole, the rest stays first and
// the reader's writer flushes it with its next frame, waiting for the
// socket; a failed write fails the next Write.
func TestStreamingFramesSocketFull(t *testing.T) {
	c, cl := tcpPair(t)
	_ = c.Conn.(interface{ SetWriteBuffer(int) error }).SetWriteBuffer(4096)
	frame := make([]byte, 1000)
	frame[0] = '$'
	var sent []byte
	for round := 0; !c.stuck; round++ {
		for i := range 8 {
			frame[1], frame[2] = byte(round), byte(i)
			if _, err := c.Write(frame); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, frame...)
		}
		if c.flushNow() {
			t.Fatal("flushNow wants another round")
		}
		if round > 1000 {
			t.Fatal("the socket never filled")
		}
	}
	if len(c.pend) == 0 || c.queued {
		t.Fatalf("socket full: %d bytes kept, queued %v", len(c.pend), c.queued)
	}
	frame[1] = 0xff
	sent = append(sent, frame...)
	done := make(chan []byte)
	go func() {
		got := make([]byte, len(sent))
		_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.ReadFull(cl, got)
		done <- got
	}()
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	if got := <-done; !bytes.Equal(got, sent) {
		t.Fatal("the bytes read differ from the frames written")
	}
	if c.stuck || len(c.pend) != 0 {
		t.Fatalf("after the writer's flush: stuck %v, %d bytes pending", c.stuck, len(c.pend))
	}

	cl.Close()
	c.Conn.Close()
	_, _ = c.Write(frame)
	c.flushNow()
	if _, err := c.Write(frame); err == nil {
		t.Fatal("a frame after a failed write was accepted")
	}
}
