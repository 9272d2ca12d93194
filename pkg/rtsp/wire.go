package rtsp

import (
	"net"
	"sync/atomic"
)

// wireCount counts the RTP packets that reached a socket. gortsplib v5
// counts a packet as sent when it is queued, and Close drops what is still
// queued, so a push waits on this count before it closes.
type wireCount struct{ rtp atomic.Uint64 }

// stream notes one write on an RTSP connection: gortsplib writes each
// request and each interleaved frame in one call, RTP on even channels.
func (w *wireCount) stream(p []byte) {
	if len(p) >= 2 && p[0] == '$' && p[1]%2 == 0 {
		w.rtp.Add(1)
	}
}

// datagram notes one UDP datagram: RTP (or SRTP, whose header is in
// clear) rather than RTCP, whose packet types are 200-207.
func (w *wireCount) datagram(p []byte) {
	if len(p) >= 12 && p[0]>>6 == 2 && (p[1] < 200 || p[1] > 207) {
		w.rtp.Add(1)
	}
}

// countConn counts what is written on an RTSP connection.
type countConn struct {
	net.Conn
	w *wireCount
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil {
		c.w.stream(p)
	}
	return n, err
}

// countPacketConn counts the datagrams written on a UDP socket. It embeds
// *net.UDPConn because gortsplib needs its SyscallConn and SetReadBuffer.
type countPacketConn struct {
	*net.UDPConn
	w *wireCount
}

func (c *countPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.UDPConn.WriteTo(p, addr)
	if err == nil {
		c.w.datagram(p)
	}
	return n, err
}
