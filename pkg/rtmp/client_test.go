package rtmp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
)

// fakePublishServer answers one publisher like ffmpeg's `-listen 1`: a
// bare onFCPublish, then publishStatus as the onStatus of the publish.
// It writes raw messages, so it can send what gortmplib cannot parse.
type fakePublishServer struct {
	t  *testing.T
	nc net.Conn
	r  *message.Reader
	w  *rawmessage.Writer
}

func listenFake(t *testing.T) (net.Listener, *url.URL) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, &url.URL{Scheme: "rtmp", Host: ln.Addr().String(), Path: "/live/cam", RawQuery: "user=u&pass=secret"}
}

func acceptFake(t *testing.T, ln net.Listener) (*fakePublishServer, error) {
	nc, err := ln.Accept()
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	bc := bytecounter.NewReadWriter(nc)
	if _, _, err := handshake.DoServer(bc, false); err != nil {
		return nil, err
	}
	return &fakePublishServer{
		t: t, nc: nc,
		r: message.NewReader(bc, bc.Reader, func(uint32) error { return nil }),
		w: rawmessage.NewWriter(bc, bc.Writer, false),
	}, nil
}

// send writes an AMF0 command (or anything else AMF0) as is.
func (s *fakePublishServer) send(values ...any) error {
	body, err := amf0.Data(values).Marshal()
	if err != nil {
		return err
	}
	return s.w.Write(&rawmessage.Message{ChunkStreamID: 3, Type: uint8(message.TypeCommandAMF0), Body: body})
}

// until reads commands up to the one named name.
func (s *fakePublishServer) until(name string) (*message.CommandAMF0, error) {
	for {
		msg, err := s.r.Read()
		if err != nil {
			return nil, err
		}
		if cmd, ok := msg.(*message.CommandAMF0); ok && cmd.Name == name {
			return cmd, nil
		}
	}
}

func (s *fakePublishServer) run(publishStatus amf0.Object) error {
	if _, err := s.until("connect"); err != nil {
		return err
	}
	if err := s.send("_result", float64(1), nil, amf0.Object{
		{Key: "level", Value: "status"}, {Key: "code", Value: "NetConnection.Connect.Success"},
	}); err != nil {
		return err
	}
	if _, err := s.until("FCPublish"); err != nil {
		return err
	}
	if err := s.send("onFCPublish"); err != nil {
		return err
	}
	if _, err := s.until("createStream"); err != nil {
		return err
	}
	if err := s.send("_result", float64(4), nil, float64(1)); err != nil {
		return err
	}
	cmd, err := s.until("publish")
	if err != nil {
		return err
	}
	if key, _ := arg(cmd, 1).(string); key != "cam?user=u&pass=secret" {
		return errors.New("publish of key " + key)
	}
	return s.send("onStatus", float64(0), nil, publishStatus)
}

func TestPublishClientSkipsUnparsableCommands(t *testing.T) {
	ln, u := listenFake(t)
	done := make(chan error, 1)
	go func() {
		s, err := acceptFake(t, ln)
		if err == nil {
			err = s.run(amf0.Object{{Key: "level", Value: "status"}, {Key: "code", Value: "NetStream.Publish.Start"}})
		}
		if err == nil {
			// After the publish: two more unparsable messages, then a ping
			// the client must read and answer.
			bad := &rawmessage.Message{ChunkStreamID: 3, Type: uint8(message.TypeCommandAMF0), Body: []byte{0x0F, 0x00}}
			if err = s.send("onFCUnpublish"); err == nil {
				err = s.w.Write(bad)
			}
			if err == nil {
				err = s.w.Write(&rawmessage.Message{ChunkStreamID: 2, Type: uint8(message.TypeUserControl), Body: []byte{0, 6, 0, 0, 0, 42}})
			}
		}
		if err == nil {
			var msg message.Message
			msg, err = s.r.Read()
			if pong, ok := msg.(*message.UserControlPingResponse); err == nil && (!ok || pong.ServerTime != 42) {
				err = errors.New("no ping response")
			}
		}
		done <- err
	}()

	var skipped []string
	c := &client{URL: u, Publish: true, OnSkip: func(err error) { skipped = append(skipped, err.Error()) }}
	var _ gortmplib.Conn = c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		t.Fatalf("publish to a server that sends a bare onFCPublish: %v", err)
	}
	defer c.Close()
	_ = c.NetConn().SetDeadline(time.Now().Add(10 * time.Second))
	msg, err := c.Read()
	if _, ok := msg.(*message.UserControlPingRequest); err != nil || !ok {
		t.Fatalf("Read after two unparsable messages: %T %v", msg, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if len(skipped) != 3 || skipped[0] != "invalid command payload" || !strings.HasPrefix(skipped[2], "unsupported marker") {
		t.Errorf("skipped %q", skipped)
	}
	if c.BytesSent() == 0 || c.BytesReceived() == 0 {
		t.Errorf("byte counts %d sent, %d received", c.BytesSent(), c.BytesReceived())
	}
}

func TestPublishClientRefused(t *testing.T) {
	ln, u := listenFake(t)
	go func() {
		if s, err := acceptFake(t, ln); err == nil {
			_ = s.run(amf0.Object{
				{Key: "level", Value: "error"}, {Key: "code", Value: "NetStream.Publish.BadName"},
				{Key: "description", Value: "cam?user=u&pass=secret is already publishing"},
			})
		}
	}()
	c := &client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Initialize(ctx)
	var se *statusError
	if !errors.As(err, &se) || se.Code != "NetStream.Publish.BadName" {
		t.Fatalf("refused publish: %v", err)
	}
	err = refusal(se, "publish", "h:1", "cam?user=u&pass=secret")
	want := "server h:1 refused publish: NetStream.Publish.BadName (cam?user=u&pass=*** is already publishing)"
	if k, _ := fault.KindOf(err); k != fault.Network || err.Error() != want {
		t.Errorf("got %v (%v), want %q", err, k, want)
	}
	if err := refusal(&statusError{Code: "NetStream.Publish.Unauthorized"}, "publish", "h:1"); cmpKind(err) != fault.Auth {
		t.Errorf("unauthorized: %v", err)
	}
}

func cmpKind(err error) fault.Kind {
	k, _ := fault.KindOf(err)
	return k
}

// TestPublishClientAdobeAuth runs the two Adobe auth round trips against
// gortmplib's server.
func TestPublishClientAdobeAuth(t *testing.T) {
	ln, u := listenFake(t)
	published := make(chan string, 1)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				sc := &gortmplib.ServerConn{RW: nc}
				if sc.Initialize() != nil || sc.AcceptConnIfCredentialsMatch("pub", "s3cret") != nil || sc.AcceptAction() != nil {
					return
				}
				published <- sc.URL.String()
				_, _ = sc.Read() // until the client leaves
			}()
		}
	}()
	cases := []struct {
		user    *url.Userinfo
		wantErr string
	}{
		{url.UserPassword("pub", "s3cret"), ""},
		{url.UserPassword("pub", "wrong"), "authentication error"},
		{nil, "credentials are required"},
	}
	for _, ca := range cases {
		t.Run(ca.user.String(), func(t *testing.T) {
			cu := *u
			cu.User = ca.user
			c := &client{URL: &cu, Publish: true}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.Initialize(ctx)
			if ca.wantErr != "" {
				if err == nil || err.Error() != ca.wantErr {
					t.Fatalf("got %v, want %q", err, ca.wantErr)
				}
				if k := cmpKind(classify(err, "h:1", time.Second, false)); k != fault.Auth {
					t.Errorf("classified as %v, want auth", k)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if got := <-published; !strings.HasSuffix(got, "/live/cam?user=u&pass=secret") {
				t.Errorf("server saw %q", got)
			}
		})
	}
}

func openSource(t *testing.T, rawURL string, timeout time.Duration) (*Source, string, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	s := &Source{URL: u, Timeout: timeout, Logger: &logging.Logger{Out: &log, Verbose: true}}
	_, err = s.Open(context.Background())
	t.Cleanup(func() { _ = s.Close() })
	return s, log.String(), err
}

// TestStatusWithoutLevel: a server that answers publish or play with the
// start code and no "level" accepted it (judged by the code).
func TestStatusWithoutLevel(t *testing.T) {
	srv := testpeer.StartFakeRTMPServer(t, testpeer.RTMPQuirks{NoLevel: true})
	u, _ := url.Parse(srv.URL("rtmp", "live/cam"))
	c := &client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		t.Fatalf("publish answered NetStream.Publish.Start without level: %v", err)
	}
	c.Close()
	if _, _, err := openSource(t, srv.URL("rtmp", "live/cam"), 5*time.Second); err != nil {
		t.Fatalf("play answered NetStream.Play.Start without level: %v", err)
	}
}

// TestConnectRetryWithoutEnhancedRTMP: a server whose AMF0 reader has no
// strict array never answers a connect with fourCcList; the player sends
// it again without the enhanced-RTMP fields and says so in -v.
func TestConnectRetryWithoutEnhancedRTMP(t *testing.T) {
	srv := testpeer.StartFakeRTMPServer(t, testpeer.RTMPQuirks{NoStrictArray: true})
	_, log, err := openSource(t, srv.URL("rtmp", "live/cam"), 4*time.Second)
	if err != nil {
		t.Fatalf("play: %v\n%s", err, log)
	}
	got := srv.Connects()
	if len(got) != 2 || !got[0].FourCcList || got[0].Answered || got[1].FourCcList || got[1].Key != "cam" {
		t.Fatalf("connects %+v: want one with fourCcList (unanswered), then one without", got)
	}
	if !strings.Contains(log, "retrying without the enhanced-RTMP fields") {
		t.Errorf("-v does not tell about the retry:\n%s", log)
	}
	// A server that answers gets the enhanced connect once.
	srv2 := testpeer.StartFakeRTMPServer(t, testpeer.RTMPQuirks{})
	if _, _, err := openSource(t, srv2.URL("rtmp", "live/cam"), 4*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := srv2.Connects(); len(got) != 1 || !got[0].FourCcList {
		t.Errorf("connects %+v", got)
	}
}

// TestCredentialsInQuery: userinfo credentials (and --user/--pass, which
// set it) reach the server as ?user=&pass= on the stream name, or on the
// app for a one-segment URL; -v never shows the password.
func TestCredentialsInQuery(t *testing.T) {
	srv := testpeer.StartFakeRTMPServer(t, testpeer.RTMPQuirks{})
	cases := []struct{ path, app, key string }{
		{"live/cam", "live", "cam?user=v&pass=s3cret"},
		{"demo", "demo?user=v&pass=s3cret", ""},
	}
	for i, c := range cases {
		_, log, err := openSource(t, strings.Replace(srv.URL("rtmp", c.path), "://", "://v:s3cret@", 1), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		got := srv.Connects()[i]
		if got.App != c.app || got.Key != c.key || strings.Contains(got.TcURL, "@") {
			t.Errorf("%s: server saw app %q tcUrl %q key %q, want app %q key %q", c.path, got.App, got.TcURL, got.Key, c.app, c.key)
		}
		if strings.Contains(log, "s3cret") {
			t.Errorf("%s: -v shows the password:\n%s", c.path, log)
		}
	}
}

// syncBuffer is a bytes.Buffer for a logger written from two goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRefusalKinds: a refused play or publish for credentials is an
// authentication failure (exit 4), as avcat serve and gortmplib's
// RejectAction word it; a missing stream is not found; the rest network.
func TestRefusalKinds(t *testing.T) {
	cases := []struct {
		se   statusError
		kind fault.Kind
		want string
	}{
		{statusError{Cmd: "play", Code: "NetStream.Play.Failed", Description: "authentication failed"}, fault.Auth, "refused play"},
		{statusError{Cmd: "publish", Code: "NetStream.Publish.Unauthorized"}, fault.Auth, "refused publish"},
		{statusError{Cmd: "connect", Code: "NetConnection.Connect.Rejected", Description: "Unauthorized"}, fault.Auth, "refused connect"},
		{statusError{Cmd: "play", Code: "NetStream.Play.StreamNotFound"}, fault.NotFound, "refused play"},
		{statusError{Cmd: "play", Code: "NetStream.Play.Failed", Description: "busy"}, fault.Network, "refused play"},
	}
	for _, c := range cases {
		err := refusal(&c.se, "play", "h:1")
		if cmpKind(err) != c.kind || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v (%v), want %v and %q", c.se, err, cmpKind(err), c.kind, c.want)
		}
	}
}
