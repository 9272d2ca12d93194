package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// readerQueueSize bounds each RTMP reader's queue, in units.
const readerQueueSize = 512

// stream is what a publisher feeds: it fans units out to RTSP readers
// (through gortsplib's ServerStream, which keeps a bounded queue per
// reader) and to RTMP readers (each with its own bounded queue). RTP from
// an RTSP publisher is forwarded untouched; conversions happen only for
// the side that needs them.
type stream struct {
	desc *description.Session
	rtsp *gortsplib.ServerStream

	// packetizers serve units without RTP (RTMP or file publishers).
	packetizers map[format.Format]*media.Packetizer

	mu        sync.RWMutex
	readers   map[*unitReader]struct{}
	closeOnce sync.Once

	bytesIn atomic.Uint64
	// rtpWritten counts the RTP packets of writeUnit, for fileSession.drain.
	rtpWritten atomic.Uint64
	// dropped counts units that unit readers (RTMP) had no room for.
	dropped atomic.Uint64
}

func newStream(srv *gortsplib.Server, desc *description.Session) (*stream, error) {
	st := &stream{desc: desc, readers: make(map[*unitReader]struct{})}
	st.rtsp = &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := st.rtsp.Initialize(); err != nil {
		return nil, err
	}
	return st, nil
}

// writePacket forwards one RTP packet from an RTSP publisher: the hot path.
func (st *stream) writePacket(medi *description.Media, forma format.Format, pkt *rtp.Packet, ntp time.Time, pts int64) {
	st.bytesIn.Add(uint64(pkt.MarshalSize()))
	_ = st.rtsp.WritePacketRTPWithNTP(medi, pkt, ntp)
	st.mu.RLock()
	if len(st.readers) > 0 {
		it := readerItem{medi: medi, forma: forma, pkt: pkt, pts: pts, ntp: ntp}
		for r := range st.readers {
			if !r.push(it) {
				st.dropped.Add(1)
			}
		}
	}
	st.mu.RUnlock()
}

// writeUnit publishes an access unit (from RTMP or a file). A unit that
// came as RTP (a pcap or rtpdump capture) is forwarded as its packets,
// payloads untouched: re-packetizing would need a payload it does not have.
func (st *stream) writeUnit(u *media.Unit) {
	st.bytesIn.Add(uint64(u.Size()))
	pkts := u.Packets
	if len(pkts) == 0 {
		if p := st.packetizer(u.Format); p != nil {
			pkts, _ = p.Packetize(u)
		}
	}
	if len(pkts) > 0 {
		ntp := u.NTP
		if ntp.IsZero() {
			ntp = time.Now()
		}
		for _, pkt := range pkts {
			if st.rtsp.WritePacketRTPWithNTP(u.Media, pkt, ntp) == nil {
				st.rtpWritten.Add(1)
			}
		}
	}
	st.mu.RLock()
	for r := range st.readers {
		if !r.push(readerItem{unit: u}) {
			st.dropped.Add(1)
		}
	}
	st.mu.RUnlock()
}

func (st *stream) packetizer(f format.Format) *media.Packetizer {
	// Only the publisher's goroutine calls writeUnit; no lock needed.
	if st.packetizers == nil {
		st.packetizers = make(map[format.Format]*media.Packetizer)
	}
	p, ok := st.packetizers[f]
	if !ok {
		p, _ = media.NewPacketizer(f)
		st.packetizers[f] = p
	}
	return p
}

func (st *stream) addReader(r *unitReader) {
	st.mu.Lock()
	st.readers[r] = struct{}{}
	st.mu.Unlock()
}

func (st *stream) removeReader(r *unitReader) {
	st.mu.Lock()
	delete(st.readers, r)
	st.mu.Unlock()
}

// close ends the stream: RTSP readers are disconnected, unit readers see
// their queue closed.
func (st *stream) close() {
	st.closeOnce.Do(st.doClose)
}

func (st *stream) doClose() {
	st.rtsp.Close()
	st.mu.Lock()
	for r := range st.readers {
		r.end()
	}
	st.readers = map[*unitReader]struct{}{}
	st.mu.Unlock()
}

// unitReader is a non-RTSP reader (RTMP play) with a bounded queue: when
// it falls behind, units are dropped and counted, and the publisher never
// waits for it.
type unitReader struct {
	ch   chan readerItem
	once sync.Once

	scratch media.Unit
	one     [1]*rtp.Packet
}

// readerItem is a queued unit, or the fields of one RTP packet: forwarding
// a packet to a unit reader allocates nothing on the publisher's side.
type readerItem struct {
	unit  *media.Unit
	medi  *description.Media
	forma format.Format
	pkt   *rtp.Packet
	pts   int64
	ntp   time.Time
}

func newUnitReader() *unitReader {
	return &unitReader{ch: make(chan readerItem, readerQueueSize)}
}

// push queues an item, or reports false when the reader is too far behind.
func (r *unitReader) push(it readerItem) bool {
	select {
	case r.ch <- it:
		return true
	default:
		return false
	}
}

// unit turns an item into a unit; for packets it reuses one scratch unit,
// valid until the next call.
func (r *unitReader) unit(it readerItem) *media.Unit {
	if it.unit != nil {
		return it.unit
	}
	r.one[0] = it.pkt
	r.scratch = media.Unit{
		Media: it.medi, Format: it.forma, PTS: it.pts, DTS: it.pts, NoDTS: true, NTP: it.ntp,
		Received: time.Now(), Packets: r.one[:],
	}
	return &r.scratch
}

func (r *unitReader) end() {
	r.once.Do(func() { close(r.ch) })
}
