package server

import (
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
