package server

// Benchmarks of the RTSP → RTSP forwarding path (issue 3: "zero per-packet
// heap allocations on the RTSP → RTSP forwarding path").
//
// One b.N iteration is one RTP packet published; allocs/op is therefore
// allocations per forwarded packet, summed over its N readers.
//
//   - BenchmarkStreamWritePacket calls stream.writePacket, the fan-out hot
//     path, directly. Readers are real RTSP/TCP sessions (DESCRIBE, SETUP,
//     PLAY over loopback) whose client side is a hand-rolled reader that
//     parses interleaved frames out of a bufio.Reader without allocating,
//     so allocs/op counts only the server: our code, gortsplib's
//     ServerStream and each session's writer goroutine. The "rtmp" case
//     adds one unit reader (the RTMP play queue) to show what it costs.
//   - BenchmarkForwardRTSP runs the whole path: a publisher doing ANNOUNCE,
//     SETUP, RECORD over TCP, the server's ingest (interleaved read, RTP
//     unmarshal, the OnPacketRTPAny callback with PTS/NTP) and the fan-out.
//     The "gortsplib" cases use gortsplib Clients on both ends, as a real
//     deployment would; their allocations are in the same process and are
//     counted too. The "raw" cases use the zero-allocation publisher and
//     readers, so allocs/op there is the server's whole per-packet cost.
//
// Both keep the server's per-reader queues from overflowing (a bounded
// window of packets in flight): a queue-full drop takes an error path that
// is not the steady state being measured.
//
// Per-packet allocations seen with gortsplib v4.16.2 (TCP publisher, N
// RTSP/TCP readers): 5 + N, none of them in avcat's code.
//   - ingest: pkg/base/interleaved_frame.go:26 (header array escapes through
//     io.ReadFull) and :40 (payload), server_session_media.go:196 (decodeRTP's
//     rtp.Packet), pkg/rtcpreceiver/rtcpreceiver.go:260 ([]*rtp.Packet{pkt});
//   - fan-out: server_stream_format.go:99 (the MaxPacketSize marshal buffer,
//     once per packet) and server_session_format.go:196 (the closure queued
//     to each reader's writer, once per packet per reader).
//
// With gortsplib v5.6.4: 6 + N. The same, plus server_session_media.go:213
// (readPacketRTP's rtp.Header escapes) on ingest; fan-out moved to
// server_stream_format.go:106 and server_session_format.go:334.
//
// With RTMP readers on the path, path.go adds 2 (the media.Unit and its
// Packets slice), once per packet whatever the number of RTMP readers.
//
// Run: go test -run='^$' -bench=. -benchmem ./pkg/server
// Where: go test -run='^$' -bench=StreamWritePacket -benchmem -memprofile mem.out ./pkg/server &&
//        go tool pprof -sample_index=alloc_objects -top mem.out

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/logging"
)

const (
	// benchPayload is a typical H.264 FU-A packet of a 640x480 stream.
	benchPayload = 1200
	// benchPacketsPerFrame packets share one RTP timestamp.
	benchPacketsPerFrame = 8
	// benchWindow bounds the packets in flight per reader, well under the
	// server's WriteQueueSize (512) and the client's write queue (256).
	benchWindow = 128
)

var benchReaderCounts = []int{1, 10}

// benchDesc is one H.264 track, with a fresh Media each call (a
// description cannot be shared between a ServerStream and a client).
func benchDesc() *description.Session {
	return &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{
			PayloadTyp:        96,
			PacketizationMode: 1,
			SPS: []byte{
				0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x3d, 0xa1, 0x00, 0x00, 0x03,
				0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2e, 0x48,
			},
			PPS: []byte{0x68, 0xcb, 0x83, 0xcb, 0x20},
		}},
	}}}
}

// benchPackets are pre-built FU-A packets of one frame; seq and timestamp
// are set before each write.
func benchPackets() []*rtp.Packet {
	pkts := make([]*rtp.Packet, benchPacketsPerFrame)
	for i := range pkts {
		payload := make([]byte, benchPayload)
		payload[0] = 0x7c // FU-A, NRI 3
		payload[1] = 0x05 // IDR slice
		if i == 0 {
			payload[1] |= 0x80 // start
		}
		if i == len(pkts)-1 {
			payload[1] |= 0x40 // end
		}
		for j := 2; j < len(payload); j++ {
			payload[j] = byte(j)
		}
		pkts[i] = &rtp.Packet{
			Header: rtp.Header{
				Version: 2, PayloadType: 96, SSRC: 0x11223344,
				Marker: i == len(pkts)-1,
			},
			Payload: payload,
		}
	}
	return pkts
}

// nextPacket stamps packet i of the stream and returns it.
func nextPacket(pkts []*rtp.Packet, i int) *rtp.Packet {
	p := pkts[i%len(pkts)]
	p.SequenceNumber = uint16(i)
	p.Timestamp = uint32(i/len(pkts)) * 3600 // 25 fps at 90 kHz
	return p
}

func startBenchServer(b *testing.B) *Server {
	b.Helper()
	s := &Server{Config: Config{
		RTSPAddress: "127.0.0.1:0", // TCP only: no UDP, no RTMP
		ReadTimeout: 10 * time.Second,
		Logger:      &logging.Logger{}, // no output
	}}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}

func (s *Server) benchURL(path string) string {
	return "rtsp://" + s.RTSPAddr().String() + "/" + path
}

// counter is what every bench reader exposes.
type counter interface {
	received() uint64
	lostPackets() uint64
}

// flow keeps at most benchWindow packets in flight to the slowest reader.
type flow struct {
	readers []counter
	// lowest is a cached lower bound of min(received).
	lowest uint64
}

func (f *flow) min() uint64 {
	m := ^uint64(0)
	for _, r := range f.readers {
		if v := r.received(); v < m {
			m = v
		}
	}
	return m
}

// wait blocks while more than window packets are in flight.
func (f *flow) wait(sent uint64, window uint64) {
	if len(f.readers) == 0 || sent < f.lowest+window {
		return
	}
	for spins := 0; ; spins++ {
		f.lowest = f.min()
		if sent < f.lowest+window {
			return
		}
		if spins < 50 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// drain waits until every reader got all sent packets, or lost some.
func (f *flow) drain(b *testing.B, sent uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for f.min() < sent {
		var lost uint64
		for _, r := range f.readers {
			lost += r.lostPackets()
		}
		if time.Now().After(deadline) {
			b.Fatalf("readers stalled: slowest got %d of %d packets (%d lost)", f.min(), sent, lost)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (f *flow) report(b *testing.B, published int, elapsed time.Duration) {
	var lost uint64
	for _, r := range f.readers {
		lost += r.lostPackets()
	}
	sec := elapsed.Seconds()
	if sec <= 0 {
		return
	}
	b.ReportMetric(float64(published)/sec, "pkts/s")
	b.ReportMetric(float64(published*len(f.readers))/sec, "delivered-pkts/s")
	b.ReportMetric(float64(lost), "lost")
}

// --- raw RTSP peers: hand-rolled, no allocation per packet ---

// rawConn speaks just enough RTSP to set up a session.
type rawConn struct {
	nc      net.Conn
	br      *bufio.Reader
	cseq    int
	session string
}

// hostOf is the host:port of an rtsp:// URL.
func hostOf(url string) string {
	host, _, _ := strings.Cut(strings.TrimPrefix(url, "rtsp://"), "/")
	return host
}

func dialRaw(b *testing.B, addr string) *rawConn {
	b.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 64*1024)}
}

func (c *rawConn) do(b *testing.B, method base.Method, url string, h base.Header, body []byte) *base.Response {
	b.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c.cseq++
	if h == nil {
		h = base.Header{}
	}
	h["CSeq"] = base.HeaderValue{strconv.Itoa(c.cseq)}
	if c.session != "" {
		h["Session"] = base.HeaderValue{c.session}
	}
	buf, err := base.Request{Method: method, URL: u, Header: h, Body: body}.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.nc.SetDeadline(time.Time{}) //nolint:errcheck
	if _, err := c.nc.Write(buf); err != nil {
		b.Fatal(err)
	}
	var res base.Response
	if err := res.Unmarshal(c.br); err != nil {
		b.Fatalf("%s: %v", method, err)
	}
	if res.StatusCode != base.StatusOK {
		b.Fatalf("%s %s: %d %s", method, url, res.StatusCode, res.StatusMessage)
	}
	if v := res.Header["Session"]; len(v) > 0 {
		c.session, _, _ = strings.Cut(v[0], ";")
	}
	return &res
}

// rawReader plays one path over TCP and counts RTP frames on channel 0.
type rawReader struct {
	packets atomic.Uint64
	lost    atomic.Uint64
	bytes   atomic.Uint64
}

func (r *rawReader) received() uint64    { return r.packets.Load() }
func (r *rawReader) lostPackets() uint64 { return r.lost.Load() }

func startRawReader(b *testing.B, url string) *rawReader {
	b.Helper()
	c := dialRaw(b, hostOf(url))
	c.do(b, base.Describe, url, base.Header{"Accept": base.HeaderValue{"application/sdp"}}, nil)
	c.do(b, base.Setup, url+"/trackID=0", base.Header{
		"Transport": base.HeaderValue{"RTP/AVP/TCP;unicast;interleaved=0-1"},
	}, nil)
	c.do(b, base.Play, url, nil, nil)
	r := &rawReader{}
	go r.run(c.br)
	return r
}

func (r *rawReader) run(br *bufio.Reader) {
	var last uint16
	first := true
	for {
		hdr, err := br.Peek(4)
		if err != nil {
			return
		}
		if hdr[0] != '$' {
			return // the server never sends requests to a TCP reader
		}
		ch := hdr[1]
		n := int(hdr[2])<<8 | int(hdr[3])
		if ch == 0 && n >= 12 {
			h, err := br.Peek(8)
			if err != nil {
				return
			}
			seq := uint16(h[6])<<8 | uint16(h[7])
			if !first && seq != last+1 {
				r.lost.Add(uint64(seq - last - 1))
			}
			first, last = false, seq
		}
		if _, err := br.Discard(4 + n); err != nil {
			return
		}
		r.bytes.Add(uint64(4 + n))
		if ch == 0 {
			r.packets.Add(1)
		}
	}
}

// rawPublisher records one H.264 track over TCP and writes pre-marshaled
// interleaved frames.
type rawPublisher struct {
	c     *rawConn
	frame []byte
}

func startRawPublisher(b *testing.B, url string) *rawPublisher {
	b.Helper()
	desc := benchDesc()
	desc.Medias[0].Control = "trackID=0"
	sdp, err := desc.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	c := dialRaw(b, hostOf(url))
	c.do(b, base.Announce, url, base.Header{"Content-Type": base.HeaderValue{"application/sdp"}}, sdp)
	c.do(b, base.Setup, url+"/trackID=0", base.Header{
		"Transport": base.HeaderValue{"RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"},
	}, nil)
	c.do(b, base.Record, url, nil, nil)
	return &rawPublisher{c: c, frame: make([]byte, 4+1500)}
}

func (p *rawPublisher) write(b *testing.B, pkt *rtp.Packet) {
	n, err := pkt.MarshalTo(p.frame[4:])
	if err != nil {
		b.Fatal(err)
	}
	p.frame[0], p.frame[1], p.frame[2], p.frame[3] = '$', 0, byte(n>>8), byte(n)
	if _, err := p.c.nc.Write(p.frame[:4+n]); err != nil {
		b.Fatal(err)
	}
}

// --- gortsplib client readers ---

type clientReader struct {
	c       *gortsplib.Client
	packets atomic.Uint64
	lost    atomic.Uint64
}

func (r *clientReader) received() uint64    { return r.packets.Load() }
func (r *clientReader) lostPackets() uint64 { return r.lost.Load() }

func startClientReader(b *testing.B, url string) *clientReader {
	b.Helper()
	tcp := gortsplib.ProtocolTCP
	u, err := base.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	r := &clientReader{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}}
	if err := r.c.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.c.Close)
	desc, _, err := r.c.Describe(u)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		b.Fatal(err)
	}
	var last uint16
	first := true
	r.c.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) {
		if !first && pkt.SequenceNumber != last+1 {
			r.lost.Add(uint64(pkt.SequenceNumber - last - 1))
		}
		first, last = false, pkt.SequenceNumber
		r.packets.Add(1)
	})
	r.c.OnPacketsLost = func(lost uint64) { r.lost.Add(lost) }
	r.c.OnDecodeError = func(error) {}
	if _, err := r.c.Play(nil); err != nil {
		b.Fatal(err)
	}
	return r
}

// waitPublished polls until the path is live.
func waitPublished(b *testing.B, s *Server, path string) *stream {
	b.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := s.liveStream(path); err == nil {
			return st
		}
		if time.Now().After(deadline) {
			b.Fatalf("path %s never became live", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkStreamWritePacket measures stream.writePacket, the fan-out of
// one RTP packet from an RTSP publisher to every reader, with the server's
// side only: RTSP/TCP readers are zero-allocation raw clients.
func BenchmarkStreamWritePacket(b *testing.B) {
	cases := []struct {
		name string
		rtsp int
		rtmp int
	}{
		{"readers=0", 0, 0},
		{"readers=1", 1, 0},
		{"readers=10", 10, 0},
		{"readers=1+rtmp=1", 1, 1},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := startBenchServer(b)
			desc := benchDesc()
			st, err := newStream(s.rtsp, desc)
			if err != nil {
				b.Fatal(err)
			}
			pub := new(int) // a publisher token for the path table
			if err := s.publish("bench", pub, "bench"); err != nil {
				b.Fatal(err)
			}
			if err := s.startStream("bench", pub, st); err != nil {
				b.Fatal(err)
			}
			f := &flow{}
			for range tc.rtsp {
				f.readers = append(f.readers, startRawReader(b, s.benchURL("bench")))
			}
			for range tc.rtmp {
				q := st.addReader()
				go func() {
					for range q.C() { //nolint:revive // drain like an RTMP writer that keeps up
					}
				}()
			}
			medi, forma := desc.Medias[0], desc.Medias[0].Formats[0]
			pkts := benchPackets()
			ntp := time.Now()

			// Warm up: let every session's writer start and every reader see
			// the first packet before measuring.
			for i := range benchWindow {
				st.writePacket(medi, forma, nextPacket(pkts, i), ntp, int64(i))
			}
			f.drain(b, benchWindow)

			b.ReportAllocs()
			b.SetBytes(int64(12 + benchPayload))
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				seq := benchWindow + i
				f.wait(uint64(seq), benchWindow)
				st.writePacket(medi, forma, nextPacket(pkts, seq), ntp, int64(seq))
			}
			f.drain(b, uint64(benchWindow+b.N))
			b.StopTimer()
			f.report(b, b.N, time.Since(start))
		})
	}
}

// BenchmarkForwardRTSP measures the whole RTSP → RTSP path through the
// server: publisher over TCP, ingest, fan-out to N RTSP/TCP readers.
func BenchmarkForwardRTSP(b *testing.B) {
	for _, peers := range []string{"gortsplib", "raw"} {
		for _, n := range benchReaderCounts {
			b.Run(fmt.Sprintf("%s/readers=%d", peers, n), func(b *testing.B) {
				benchForward(b, peers == "raw", n)
			})
		}
	}
}

func benchForward(b *testing.B, raw bool, readers int) {
	s := startBenchServer(b)
	url := s.benchURL("bench")
	pkts := benchPackets()

	var write func(*rtp.Packet)
	if raw {
		p := startRawPublisher(b, url)
		write = func(pkt *rtp.Packet) { p.write(b, pkt) }
	} else {
		tcp := gortsplib.ProtocolTCP
		pub := &gortsplib.Client{Protocol: &tcp}
		desc := benchDesc()
		if err := pub.StartRecording(url, desc); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pub.Close)
		medi := desc.Medias[0]
		write = func(pkt *rtp.Packet) {
			if err := pub.WritePacketRTP(medi, pkt); err != nil {
				b.Fatal(err)
			}
		}
	}
	waitPublished(b, s, "bench")

	f := &flow{}
	for range readers {
		if raw {
			f.readers = append(f.readers, startRawReader(b, url))
		} else {
			f.readers = append(f.readers, startClientReader(b, url))
		}
	}

	for i := range benchWindow {
		write(nextPacket(pkts, i))
	}
	f.drain(b, benchWindow)

	b.ReportAllocs()
	b.SetBytes(int64(12 + benchPayload))
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		seq := benchWindow + i
		f.wait(uint64(seq), benchWindow)
		write(nextPacket(pkts, seq))
	}
	f.drain(b, uint64(benchWindow+b.N))
	b.StopTimer()
	f.report(b, b.N, time.Since(start))
}
