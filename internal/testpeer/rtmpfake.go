package testpeer

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// RTMPQuirks make a FakeRTMPServer behave like a peer that avcat must cope
// with.
type RTMPQuirks struct {
	// NoLevel leaves "level" out of the onStatus that answers a publish
	// or play (the code alone says NetStream.Publish.Start).
	NoLevel bool
	// NoStrictArray is an AMF0 reader without the strict-array type (0x0A):
	// a connect that carries one (the enhanced-RTMP fourCcList) is dropped
	// without an answer, and the connection stays open.
	NoStrictArray bool
	// NegativeTimestamps starts a play's frames at -200 ms (RTMP
	// timestamps 0xFFFFFF38 ...), as a muxer with a bad start offset does.
	NegativeTimestamps bool
}

// RTMPConnect is what a client sent on one connection.
type RTMPConnect struct {
	App, TcURL string
	FourCcList bool
	Answered   bool
	// Action is "play" or "publish", Key its stream name.
	Action, Key string
}

// FakeRTMPServer is an in-process RTMP server on 127.0.0.1 with quirks. A
// player gets a few H.264 frames; a publisher is read until it leaves.
type FakeRTMPServer struct {
	*FakeServer
	quirks RTMPQuirks

	mu       sync.Mutex
	connects []RTMPConnect
}

// StartFakeRTMPServer starts the server; it is closed in t.Cleanup.
func StartFakeRTMPServer(t testing.TB, q RTMPQuirks) *FakeRTMPServer {
	t.Helper()
	s := &FakeRTMPServer{quirks: q}
	s.FakeServer = startFakeServer(t, s.handle)
	return s
}

// Connects returns what each connection sent so far.
func (s *FakeRTMPServer) Connects() []RTMPConnect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RTMPConnect(nil), s.connects...)
}

func (s *FakeRTMPServer) update(i int, f func(*RTMPConnect)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.connects[i])
}

// rtmpPeerConn is one side of a raw RTMP connection: it implements
// gortmplib.Conn, so gortmplib.Writer can send media on it.
type rtmpPeerConn struct {
	bc *bytecounter.ReadWriter
	r  *message.Reader
	w  *message.Writer
}

func newRTMPPeerConn(nc net.Conn, server bool) (*rtmpPeerConn, error) {
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	bc := bytecounter.NewReadWriter(nc)
	var err error
	if server {
		_, _, err = handshake.DoServer(bc, false)
	} else {
		_, _, err = handshake.DoClient(bc, false, false)
	}
	if err != nil {
		return nil, err
	}
	return &rtmpPeerConn{
		bc: bc,
		r:  message.NewReader(bc, bc.Reader, func(uint32) error { return nil }),
		w:  message.NewWriter(bc, bc.Writer, false),
	}, nil
}

func (c *rtmpPeerConn) BytesReceived() uint64           { return c.bc.Reader.Count() }
func (c *rtmpPeerConn) BytesSent() uint64               { return c.bc.Writer.Count() }
func (c *rtmpPeerConn) Read() (message.Message, error)  { return c.r.Read() }
func (c *rtmpPeerConn) Write(msg message.Message) error { return c.w.Write(msg) }
func (c *rtmpPeerConn) command(name string) (*message.CommandAMF0, error) {
	for {
		msg, err := c.r.Read()
		if err != nil {
			return nil, err
		}
		if cmd, ok := msg.(*message.CommandAMF0); ok && (name == "" || cmd.Name == name) {
			return cmd, nil
		}
	}
}

func (s *FakeRTMPServer) handle(nc net.Conn) {
	c, err := newRTMPPeerConn(nc, true)
	if err != nil {
		return
	}
	connect, err := c.command("connect")
	if err != nil {
		return
	}
	var rec RTMPConnect
	if o, ok := connect.Arguments[0].(amf0.Object); ok {
		rec.App, _ = o.GetString("app")
		rec.TcURL, _ = o.GetString("tcUrl")
		v, _ := o.Get("fourCcList")
		_, rec.FourCcList = v.(amf0.StrictArray)
	}
	s.mu.Lock()
	s.connects = append(s.connects, rec)
	i := len(s.connects) - 1
	s.mu.Unlock()
	if rec.FourCcList && s.quirks.NoStrictArray {
		_, _ = c.Read() // until the client gives up
		return
	}
	s.update(i, func(r *RTMPConnect) { r.Answered = true })
	err = c.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "_result", CommandID: connect.CommandID, Arguments: []any{
		amf0.Object{{Key: "fmsVer", Value: "FMS/3,0,1,123"}},
		amf0.Object{{Key: "level", Value: "status"}, {Key: "code", Value: "NetConnection.Connect.Success"}},
	}})
	if err != nil {
		return
	}
	for {
		cmd, err := c.command("")
		if err != nil {
			return
		}
		switch cmd.Name {
		case "createStream":
			err = c.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "_result", CommandID: cmd.CommandID, Arguments: []any{nil, float64(1)}})
		case "play", "publish":
			key, _ := cmd.Arguments[1].(string)
			s.update(i, func(r *RTMPConnect) { r.Action, r.Key = cmd.Name, key })
			code := "NetStream.Play.Start"
			if cmd.Name == "publish" {
				code = "NetStream.Publish.Start"
			}
			status := amf0.Object{{Key: "code", Value: code}, {Key: "description", Value: key}}
			if !s.quirks.NoLevel {
				status = append(amf0.Object{{Key: "level", Value: "status"}}, status...)
			}
			err = c.Write(&message.CommandAMF0{ChunkStreamID: 5, MessageStreamID: 0x1000000, Name: "onStatus",
				CommandID: cmd.CommandID, Arguments: []any{nil, status}})
			if err == nil && cmd.Name == "play" {
				var start time.Duration
				if s.quirks.NegativeTimestamps {
					start = -200 * time.Millisecond
				}
				err = sendRTMPFrames(c, 75, start) // 3 s: gortmplib reads 2 s to find the tracks
			}
			if err == nil {
				for err == nil {
					_, err = c.Read() // until the client leaves
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Test H.264 parameter sets (baseline) and an IDR slice.
var (
	rtmpTestSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x3d, 0xa1, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2e, 0x48}
	rtmpTestPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
	rtmpTestIDR = []byte{0x65, 0x88, 0x84, 0x00, 0x33, 0xff}
)

// SendRTMPFrames sends the H.264 sequence header and n IDR frames, 40 ms
// apart, on a gortmplib.Conn.
func SendRTMPFrames(conn gortmplib.Conn, n int) error {
	return sendRTMPFrames(conn, n, 0)
}

func sendRTMPFrames(conn gortmplib.Conn, n int, start time.Duration) error {
	track := &gortmplib.Track{Codec: &codecs.H264{SPS: rtmpTestSPS, PPS: rtmpTestPPS}}
	w := &gortmplib.Writer{Conn: conn, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		return err
	}
	for i := range n {
		ts := start + time.Duration(i)*40*time.Millisecond
		if err := w.WriteH264(track, ts, ts, [][]byte{rtmpTestSPS, rtmpTestPPS, rtmpTestIDR}); err != nil {
			return err
		}
	}
	return nil
}

// RTMPPublishRaw publishes n H.264 frames to addr with the connect and
// publish fields given as they are (go2rtc and node-media-server, for
// instance, repeat the stream name in tcUrl), and keeps the connection
// open until the returned stop is called.
func RTMPPublishRaw(t testing.TB, addr, app, tcURL, key string, n int) (stop func()) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("testpeer: dial %s: %v", addr, err)
	}
	fail := func(err error) func() {
		nc.Close()
		t.Fatalf("testpeer: publish %s %s: %v", app, key, err)
		return nil
	}
	c, err := newRTMPPeerConn(nc, false)
	if err != nil {
		return fail(err)
	}
	steps := []*message.CommandAMF0{
		{ChunkStreamID: 3, Name: "connect", CommandID: 1, Arguments: []any{amf0.Object{
			{Key: "app", Value: app}, {Key: "type", Value: "nonprivate"}, {Key: "flashVer", Value: "FMLE/3.0"},
			{Key: "tcUrl", Value: tcURL},
		}}},
		{ChunkStreamID: 3, Name: "createStream", CommandID: 2, Arguments: []any{nil}},
		{ChunkStreamID: 4, MessageStreamID: 0x1000000, Name: "publish", CommandID: 3, Arguments: []any{nil, key, "live"}},
	}
	for _, cmd := range steps {
		if err := c.Write(cmd); err != nil {
			return fail(err)
		}
		res, err := c.command("")
		if err != nil {
			return fail(err)
		}
		o, _ := res.Arguments[len(res.Arguments)-1].(amf0.Object)
		if lvl, _ := o.GetString("level"); res.Name == "_error" || lvl == "error" {
			code, _ := o.GetString("code")
			return fail(fmt.Errorf("%s refused: %s", cmd.Name, code))
		}
	}
	if err := SendRTMPFrames(c, n); err != nil {
		return fail(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { nc.Close() }) }
	t.Cleanup(stop)
	return stop
}
