package rtmp

import (
	"context"
	"crypto/md5" //nolint:gosec // Adobe auth is defined with MD5
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/avcat/avcat/pkg/netio"
)

// client is an RTMP client connection that plays or publishes. It sends
// what gortmplib.Client sends, and it also copes with what gortmplib
// cannot:
//   - ffmpeg's `-listen 1` server answers FCPublish with a bare
//     "onFCPublish" that is not a valid command message;
//   - a publish or play is judged by its onStatus code: some servers send
//     NetStream.Publish.Start without a level;
//   - a server whose AMF0 reader has no strict array ignores a play's
//     connect that carries the enhanced-RTMP fourCcList: when such a
//     connect gets no answer within AnswerWait, it is sent again on a new
//     connection without the enhanced-RTMP fields;
//   - a stream key that is only a query (rtmp://host/app?user=a&pass=b)
//     is sent the way ffmpeg sends it (see target).
//
// It implements gortmplib.Conn, so gortmplib's Reader and Writer work on it.
type client struct {
	// URL is the user's rtmp[s]://[user:pass@]host[:port]/app[/key][?query].
	// The user and password also answer Adobe authentication.
	URL         *url.URL
	Publish     bool
	TLSConfig   *tls.Config
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// AnswerWait bounds the wait for the answer to a connect that carries
	// the enhanced-RTMP fields; 0 waits as long as ctx allows, no retry.
	AnswerWait time.Duration
	// OnSkip is told about each message that could not be parsed and was
	// skipped.
	OnSkip func(error)
	// OnCommand is told about each command the server sends during setup.
	OnCommand func(*message.CommandAMF0)
	// OnPlainRetry is told when a connect is sent again without the
	// enhanced-RTMP fields.
	OnPlainRetry func()

	nconn   net.Conn
	bc      *bytecounter.ReadWriter
	r       *message.Reader
	w       *message.Writer
	writeMu sync.Mutex

	plain         bool // connect without the enhanced-RTMP fields
	authState     int
	authSalt      string
	authChallenge string
}

// errAuthRetry asks for a new connection with the next Adobe auth step.
var errAuthRetry = errors.New("adobe auth: retry")

// errPlainRetry asks for a new connection without the enhanced-RTMP fields.
var errPlainRetry = errors.New("no answer to connect: retry without enhanced RTMP")

// statusError is the server's refusal: the code and description of its
// _error or onStatus answer.
type statusError struct {
	// Cmd is the command refused: connect, createStream, publish or play.
	Cmd         string
	Code        string
	Description string
}

func (e *statusError) Error() string {
	if e.Description == "" || e.Description == e.Code {
		return e.Code
	}
	return e.Code + " (" + e.Description + ")"
}

// Initialize connects and publishes or plays; it returns once the server
// accepted (see accepted).
func (c *client) Initialize(ctx context.Context) error {
	if c.DialContext == nil {
		c.DialContext = (&net.Dialer{}).DialContext
	}
	if c.OnSkip == nil {
		c.OnSkip = func(error) {}
	}
	if c.OnCommand == nil {
		c.OnCommand = func(*message.CommandAMF0) {}
	}
	if c.OnPlainRetry == nil {
		c.OnPlainRetry = func() {}
	}
	for {
		err := c.connect(ctx)
		switch {
		case errors.Is(err, errAuthRetry):
			c.authState++
			continue
		case errors.Is(err, errPlainRetry) && !c.plain:
			c.plain = true
			c.OnPlainRetry()
			continue
		}
		return err
	}
}

func (c *client) connect(ctx context.Context) error {
	nc, err := c.DialContext(ctx, "tcp", c.URL.Host)
	if err != nil {
		return err
	}
	nc = netio.Wrap(nc, netio.ReadAhead) // a TCP connection the caller did not wrap
	if c.URL.Scheme == "rtmps" {
		cfg := c.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = c.URL.Hostname()
		}
		nc = tls.Client(nc, cfg)
	}
	c.nconn = NewGuard(nc, "server")
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if err := c.setup(ctx); err != nil {
		nc.Close()
		return err
	}
	return nil
}

// setup runs gortmplib.Client's publish or play sequence on c.nconn.
func (c *client) setup(ctx context.Context) error {
	c.bc = bytecounter.NewReadWriter(c.nconn)
	if _, _, err := handshake.DoClient(c.bc, false, false); err != nil {
		return err
	}
	c.w = message.NewWriter(c.bc, c.bc.Writer, false)
	c.r = message.NewReader(c.bc, c.bc.Reader, func(count uint32) error {
		return c.Write(&message.Acknowledge{Value: count})
	})

	for _, m := range []message.Message{
		&message.SetWindowAckSize{Value: 2500000},
		&message.SetPeerBandwidth{Value: 2500000, Type: 2},
		&message.SetChunkSize{Value: 65536},
	} {
		if err := c.Write(m); err != nil {
			return err
		}
	}

	tcURL, app, key := c.connectParams()
	err := c.Write(&message.CommandAMF0{
		ChunkStreamID: 3,
		Name:          "connect",
		CommandID:     1,
		Arguments:     []any{c.connectObject(tcURL, app)},
	})
	if err != nil {
		return err
	}
	wait := !c.Publish && !c.plain && c.AnswerWait > 0
	if wait {
		_ = c.nconn.SetReadDeadline(time.Now().Add(c.AnswerWait))
	}
	res, err := c.readResult(1)
	if wait {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			return errPlainRetry
		}
		dl, _ := ctx.Deadline()
		_ = c.nconn.SetReadDeadline(dl)
	}
	if err != nil {
		return err
	}
	if res.Name != "_result" {
		return c.connectError(res)
	}
	if c.Publish {
		return c.publish(key)
	}
	return c.play(key)
}

// connectObject is the connect command's object. A player announces its
// codecs as gortmplib.Client does, the enhanced-RTMP fourCcList included
// unless c.plain.
func (c *client) connectObject(tcURL, app string) amf0.Object {
	o := amf0.Object{
		{Key: "app", Value: app},
		{Key: "flashVer", Value: "LNX 9,0,124,2"},
		{Key: "tcUrl", Value: tcURL},
		{Key: "objectEncoding", Value: float64(0)},
	}
	if c.Publish {
		return o
	}
	// RTMP 1.0 section 7.2.1.1: none, MP3, G.711 A and µ, AAC; H.264.
	o = append(o,
		amf0.ObjectEntry{Key: "fpad", Value: false},
		amf0.ObjectEntry{Key: "capabilities", Value: float64(15)},
		amf0.ObjectEntry{Key: "audioCodecs", Value: float64(0x0001 | 0x0004 | 0x0080 | 0x0100 | 0x0400)},
		amf0.ObjectEntry{Key: "videoCodecs", Value: float64(0x0080)},
		amf0.ObjectEntry{Key: "videoFunction", Value: float64(0)},
	)
	if c.plain {
		return o
	}
	var list amf0.StrictArray
	for _, f := range []message.FourCC{
		message.FourCCAV1, message.FourCCVP9, message.FourCCHEVC, message.FourCCAVC,
		message.FourCCOpus, message.FourCCFLAC, message.FourCCAC3, message.FourCCMP4A, message.FourCCMP3,
	} {
		list = append(list, string([]byte{byte(f >> 24), byte(f >> 16), byte(f >> 8), byte(f)}))
	}
	return append(o, amf0.ObjectEntry{Key: "fourCcList", Value: list})
}

func (c *client) publish(key string) error {
	for _, cmd := range []*message.CommandAMF0{
		{ChunkStreamID: 3, Name: "releaseStream", CommandID: 2, Arguments: []any{nil, key}},
		{ChunkStreamID: 3, Name: "FCPublish", CommandID: 3, Arguments: []any{nil, key}},
		{ChunkStreamID: 3, Name: "createStream", CommandID: 4, Arguments: []any{nil}},
	} {
		if err := c.Write(cmd); err != nil {
			return err
		}
	}
	res, err := c.readResult(4)
	if err != nil {
		return err
	}
	if id, _ := arg(res, 1).(float64); res.Name != "_result" || id != 1 {
		return c.answerError("createStream", res)
	}
	err = c.Write(&message.CommandAMF0{
		ChunkStreamID:   4,
		MessageStreamID: 0x1000000,
		Name:            "publish",
		CommandID:       5,
		Arguments:       []any{nil, key, "live"},
	})
	if err != nil {
		return err
	}
	res, err = c.readStatus(5)
	if err != nil {
		return err
	}
	if !accepted(res, "NetStream.Publish.Start") {
		return c.answerError("publish", res)
	}
	return nil
}

func (c *client) play(key string) error {
	err := c.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "createStream", CommandID: 2, Arguments: []any{nil}})
	if err != nil {
		return err
	}
	res, err := c.readResult(2)
	if err != nil {
		return err
	}
	if id, _ := arg(res, 1).(float64); res.Name != "_result" || id != 1 {
		return c.answerError("createStream", res)
	}
	if err := c.Write(&message.UserControlSetBufferLength{BufferLength: 0x64}); err != nil {
		return err
	}
	err = c.Write(&message.CommandAMF0{
		ChunkStreamID:   4,
		MessageStreamID: 0x1000000,
		Name:            "play",
		CommandID:       3,
		Arguments:       []any{nil, key},
	})
	if err != nil {
		return err
	}
	res, err = c.readStatus(3)
	if err != nil {
		return err
	}
	if !accepted(res, "NetStream.Play.Start") {
		return c.answerError("play", res)
	}
	return nil
}

// accepted judges the onStatus that answers a publish or play by its code:
// the start code is a yes with or without a level (some servers send
// none); any other code is a yes at level "status" (NetStream.Play.Reset
// comes before NetStream.Play.Start).
func accepted(res *message.CommandAMF0, start string) bool {
	if res.Name != "onStatus" {
		return false
	}
	o, _ := objectOrArray(arg(res, 1))
	code, _ := o.GetString("code")
	return code == start || levelOf(o) == "status"
}

// connectParams gives the tcUrl, app and stream key of the connect and
// publish or play commands, with the Adobe auth step's query.
func (c *client) connectParams() (tcURL, app, key string) {
	tcURL, app, key = target(c.URL)

	var auth string
	user := c.URL.User.Username()
	switch c.authState {
	case 1:
		auth = "?authmod=adobe&user=" + user
	case 2:
		pass, _ := c.URL.User.Password()
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		challenge := hex.EncodeToString(b)
		auth = fmt.Sprintf("?authmod=adobe&user=%s&challenge=%s&response=%s",
			user, challenge, adobeResponse(user, pass, c.authSalt, c.authChallenge, challenge))
	}
	return tcURL + auth, app + auth, key
}

// connectError handles a refused connect: the two Adobe auth challenges
// ask for a new connection, anything else is a refusal.
func (c *client) connectError(res *message.CommandAMF0) error {
	o, _ := objectOrArray(arg(res, 1))
	desc, _ := o.GetString("description")
	switch {
	case res.Name != "_error":
	case desc == "code=403 need auth; authmod=adobe":
		if c.URL.User == nil {
			return errors.New("credentials are required")
		}
		if c.authState != 0 {
			return errors.New("authentication error")
		}
		return errAuthRetry
	case strings.HasPrefix(desc, "authmod=adobe ?"):
		vals := queryDecode(strings.TrimPrefix(desc, "authmod=adobe ?"))
		if vals["reason"] == "needauth" && vals["salt"] != "" && vals["challenge"] != "" {
			if c.authState != 1 {
				return errors.New("authentication error")
			}
			c.authSalt, c.authChallenge = vals["salt"], vals["challenge"]
			return errAuthRetry
		}
		if vals["reason"] == "authfailed" {
			return errors.New("authentication error")
		}
	}
	return c.answerError("connect", res)
}

// answerError is the error for an unexpected answer to cmd. Credentials
// the server echoes are redacted by the caller (refusal) or here.
func (c *client) answerError(cmd string, res *message.CommandAMF0) error {
	o, _ := objectOrArray(arg(res, 1))
	code, _ := o.GetString("code")
	desc, _ := o.GetString("description")
	if code != "" {
		return &statusError{Cmd: cmd, Code: code, Description: desc}
	}
	_, app, key := target(c.URL)
	return fmt.Errorf("unexpected answer to %s: %s %s", cmd, res.Name, redactEcho(describeArgs(res.Arguments), key, app))
}

// readResult waits for the _result or _error of command id.
func (c *client) readResult(id int) (*message.CommandAMF0, error) {
	return c.readCommand(func(cmd *message.CommandAMF0) bool {
		return cmd.CommandID == id || cmd.CommandID == 0 && (cmd.Name == "_result" || cmd.Name == "_error")
	})
}

// readStatus waits for the onStatus that answers command id.
func (c *client) readStatus(id int) (*message.CommandAMF0, error) {
	return c.readCommand(func(cmd *message.CommandAMF0) bool {
		return cmd.CommandID == id || cmd.CommandID == 0 && cmd.Name == "onStatus"
	})
}

func (c *client) readCommand(match func(*message.CommandAMF0) bool) (*message.CommandAMF0, error) {
	for {
		msg, err := c.Read()
		if err != nil {
			return nil, err
		}
		if cmd, ok := msg.(*message.CommandAMF0); ok {
			c.OnCommand(cmd)
			if match(cmd) {
				return cmd, nil
			}
		}
	}
}

// Read reads the next message, answering pings and acknowledging what it
// received. It skips messages whose body it cannot parse: message.Reader
// fails only after it read the whole message, so the chunk stream stays in
// step.
func (c *client) Read() (message.Message, error) {
	for {
		msg, err := c.r.Read()
		if err != nil {
			if unparsable(err) {
				c.OnSkip(err)
				continue
			}
			return nil, err
		}
		if ping, ok := msg.(*message.UserControlPingRequest); ok {
			if err := c.Write(&message.UserControlPingResponse{ServerTime: ping.ServerTime}); err != nil {
				return nil, err
			}
		}
		return msg, nil
	}
}

// unparsable tells whether err is about the body of a whole message that
// was read (an AMF0 command or data message) rather than about the
// connection or the chunk stream. The texts are gortmplib v1.0.2's.
func unparsable(err error) bool {
	msg := err.Error()
	return msg == "invalid command payload" ||
		msg == "buffer is too short" ||
		msg == "object end not found" ||
		strings.HasPrefix(msg, "unsupported marker ")
}

// Write writes a message. Reads and writes may run on two goroutines: the
// reader's acknowledgements and ping answers share the lock.
func (c *client) Write(msg message.Message) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.w.Write(msg)
}

// BytesReceived returns the number of bytes received.
func (c *client) BytesReceived() uint64 { return c.bc.Reader.Count() }

// BytesSent returns the number of bytes sent.
func (c *client) BytesSent() uint64 { return c.bc.Writer.Count() }

// NetConn returns the underlying connection.
func (c *client) NetConn() net.Conn { return c.nconn }

// Close closes the connection.
func (c *client) Close() { c.nconn.Close() }

func arg(cmd *message.CommandAMF0, i int) any {
	if i < len(cmd.Arguments) {
		return cmd.Arguments[i]
	}
	return nil
}

func objectOrArray(v any) (amf0.Object, bool) {
	switch o := v.(type) {
	case amf0.Object:
		return o, true
	case amf0.ECMAArray:
		return amf0.Object(o), true
	}
	return nil, false
}

func levelOf(o amf0.Object) string {
	l, _ := o.GetString("level")
	return l
}

// queryDecode splits an Adobe auth query; its values are not URL-encoded.
func queryDecode(q string) map[string]string {
	vals := make(map[string]string)
	for _, kv := range strings.Split(q, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vals[k] = v
		}
	}
	return vals
}

// adobeResponse is the answer to an Adobe auth challenge.
func adobeResponse(user, pass, salt, challenge, clientChallenge string) string {
	h := md5.Sum([]byte(user + salt + pass)) //nolint:gosec
	h = md5.Sum([]byte(base64.StdEncoding.EncodeToString(h[:]) + challenge + clientChallenge))
	return base64.StdEncoding.EncodeToString(h[:])
}
