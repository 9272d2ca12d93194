package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

// readerQueueSize bounds each RTMP reader's queue, in units.
const readerQueueSize = 512

// stream is what a publisher feeds: it fans units out to RTSP readers
// (through gortsplib's ServerStream, which keeps a bounded queue per
// reader) and to RTMP readers (through the engine's Fanout). RTP from
// an RTSP publisher is forwarded untouched; conversions happen only for
// the side that needs them.
type stream struct {
	desc *description.Session
	rtsp *gortsplib.ServerStream

	// packetizers serve units without RTP (RTMP or file publishers).
	packetizers map[format.Format]*media.Packetizer

	// readers are the RTMP readers; a slow one drops and counts.
	readers   engine.Fanout[readerItem]
	closeOnce sync.Once

	bytesIn atomic.Uint64
	// rtpWritten counts the RTP packets of writeUnit, for fileSession.drain.
	rtpWritten atomic.Uint64
}

func newStream(srv *gortsplib.Server, desc *description.Session) (*stream, error) {
	st := &stream{desc: desc}
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
	st.readers.Write(readerItem{medi: medi, forma: forma, pkt: pkt, pts: pts, ntp: ntp})
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
	st.readers.Write(readerItem{unit: u})
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

// addReader adds an RTMP reader: it receives from the queue's C until the
// stream ends, and calls removeReader when it leaves.
func (st *stream) addReader() *engine.Queue[readerItem] {
	return st.readers.Add(engine.QueueOptions[readerItem]{Size: readerQueueSize})
}

func (st *stream) removeReader(q *engine.Queue[readerItem]) { st.readers.Remove(q) }

// dropped counts the units RTMP readers had no room for.
func (st *stream) dropped() uint64 { return st.readers.Dropped() }

// close ends the stream: RTSP readers are disconnected, RTMP readers see
// their queue closed.
func (st *stream) close() {
	st.closeOnce.Do(func() {
		st.rtsp.Close()
		st.readers.Close()
	})
}

// readerItem is a queued unit, or the fields of one RTP packet: forwarding
// a packet to an RTMP reader allocates nothing on the publisher's side.
type readerItem struct {
	unit  *media.Unit
	medi  *description.Media
	forma format.Format
	pkt   *rtp.Packet
	pts   int64
	ntp   time.Time
}

// itemUnits turns a reader's items into units; for packets it reuses one
// scratch unit, valid until the next call.
type itemUnits struct {
	scratch media.Unit
	one     [1]*rtp.Packet
}

func (r *itemUnits) unit(it readerItem) *media.Unit {
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
