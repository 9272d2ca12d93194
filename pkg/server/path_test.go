package server

import (
	"net"
	"testing"
	"time"
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
