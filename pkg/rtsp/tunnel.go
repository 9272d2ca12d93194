package rtsp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/bluenviron/gortsplib/v5"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/mediaurl"
)

// Tunnels accepted by --tunnel.
var Tunnels = []string{"none", "http", "websocket"}

// maxTunnelHead bounds the HTTP response head a tunnel peer may send.
const maxTunnelHead = 16 << 10

// tunnel picks gortsplib's tunnel and scheme for the URL and --tunnel:
// rtsph:// is GStreamer's name for RTSP in an HTTP tunnel. A tunnel is
// used only when asked for; the auto transport never picks one.
func (c *Config) tunnel() (gortsplib.Tunnel, string, error) {
	scheme := c.URL.Scheme
	t := strings.ToLower(c.Tunnel)
	if scheme == mediaurl.SchemeRTSPH {
		scheme = mediaurl.SchemeRTSP
		if t == "" || t == "none" {
			t = "http"
		}
		if t != "http" {
			return 0, "", fault.New(fault.Usage, "rtsph:// is RTSP in an HTTP tunnel: it cannot use --tunnel %s", c.Tunnel)
		}
	}
	var tu gortsplib.Tunnel
	switch t {
	case "", "none":
		return gortsplib.TunnelNone, scheme, nil
	case "http":
		tu = gortsplib.TunnelHTTP
	case "websocket":
		tu = gortsplib.TunnelWebSocket
	default:
		return 0, "", fault.New(fault.Usage, "unknown tunnel %q (want none, http or websocket)", c.Tunnel)
	}
	switch strings.ToLower(c.Transport) {
	case "", "auto", "tcp":
	default:
		return 0, "", fault.New(fault.Usage, "a tunnel carries RTP in the RTSP connection: --transport %s cannot be used with it", c.Transport)
	}
	return tu, scheme, nil
}

// tunnelState is what the HTTP side of a tunnel said, for -v and errors.
type tunnelState struct {
	mu          sync.Mutex
	status      int
	reason      string
	contentType string
	body        []byte // the first bytes after the head of the GET answer
}

// tunnelConn is one of a tunnel's HTTP connections: it traces the HTTP
// head each way, records the answer for error messages, and counts the
// RTP it carries once the tunnel is up.
type tunnelConn struct {
	net.Conn
	c         *Config
	ws        bool
	headSent  bool
	headDone  bool
	head      []byte
	bodyTaken bool
	// refused ends the answer after its head: a refusal's body may never
	// end (no length, connection kept), and nothing in it is needed.
	refused bool
}

func (t *tunnelConn) Write(p []byte) (int, error) {
	if !t.headSent {
		t.headSent = true
		head := getWithoutLength(p)
		if _, err := t.Conn.Write(head); err != nil {
			return 0, err
		}
		if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
			head = head[:i]
		}
		t.c.traceHTTP("> ", head)
		return len(p), nil
	}
	n, err := t.Conn.Write(p)
	if err != nil {
		return n, err
	}
	if first := t.firstBytes(p); first != nil {
		t.c.wire.stream(first)
	}
	return n, nil
}

// getWithoutLength drops the Content-Length that gortsplib v5.6.4 puts on
// the tunnel's GET: GstRtspServer then waits for a 30000-byte body and
// never answers. A GET has no body (QuickTime's tunnel sends none).
func getWithoutLength(p []byte) []byte {
	if !bytes.HasPrefix(p, []byte("GET ")) {
		return p
	}
	end := bytes.Index(p, []byte("\r\n\r\n"))
	if end < 0 {
		return p
	}
	var out []byte
	for _, line := range bytes.SplitAfter(p[:end+2], []byte("\r\n")) {
		if !bytes.HasPrefix(bytes.ToLower(line), []byte("content-length:")) {
			out = append(out, line...)
		}
	}
	return append(out, p[end+2:]...)
}

// firstBytes recovers the first two bytes of the RTSP data in one write:
// the HTTP tunnel writes each RTSP write as one base64 chunk, WebSocket as
// one masked binary frame.
func (t *tunnelConn) firstBytes(p []byte) []byte {
	if !t.ws {
		if len(p) < 4 {
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(string(p[:4]))
		if err != nil {
			return nil
		}
		return b
	}
	if len(p) < 2 || p[1]&0x80 == 0 {
		return nil
	}
	off := 2
	switch p[1] & 0x7f {
	case 126:
		off += 2
	case 127:
		off += 8
	}
	if len(p) < off+6 {
		return nil
	}
	key := p[off : off+4]
	return []byte{p[off+4] ^ key[0], p[off+5] ^ key[1]}
}

func (t *tunnelConn) Read(p []byte) (int, error) {
	if t.refused {
		return 0, io.EOF
	}
	n, err := t.Conn.Read(p)
	if n > 0 && !t.bodyTaken {
		t.note(p[:n])
	}
	return n, err
}

// note collects the answer's head (bounded) and the first body bytes.
func (t *tunnelConn) note(p []byte) {
	if t.headDone {
		t.takeBody(p)
		return
	}
	t.head = append(t.head, p...)
	i := bytes.Index(t.head, []byte("\r\n\r\n"))
	if i < 0 {
		if len(t.head) > maxTunnelHead {
			t.headDone, t.bodyTaken = true, true
			t.c.tunnelAnswered(0, "", "", t.head[:16])
		}
		return
	}
	t.headDone = true
	head, rest := t.head[:i], t.head[i+4:]
	t.head = nil
	t.c.traceHTTP("< ", head)
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))), nil)
	if err != nil {
		t.bodyTaken = true
		t.c.tunnelAnswered(0, "", "", head[:min(16, len(head))])
		return
	}
	res.Body.Close()
	reason := strings.TrimSpace(strings.TrimPrefix(res.Status, strconv.Itoa(res.StatusCode)))
	t.c.tunnelAnswered(res.StatusCode, reason, res.Header.Get("Content-Type"), nil)
	ok := http.StatusOK
	if t.ws {
		ok = http.StatusSwitchingProtocols
	}
	t.refused = res.StatusCode != ok
	if t.ws {
		t.bodyTaken = true // WebSocket frames follow: nothing to sniff
		return
	}
	t.takeBody(rest)
}

func (t *tunnelConn) takeBody(p []byte) {
	if len(p) == 0 {
		return
	}
	ts := &t.c.tun
	ts.mu.Lock()
	ts.body = append(ts.body, p[:min(len(p), 16-len(ts.body))]...)
	t.bodyTaken = len(ts.body) >= 16
	ts.mu.Unlock()
}

func (c *Config) tunnelAnswered(status int, reason, contentType string, junk []byte) {
	c.tun.mu.Lock()
	defer c.tun.mu.Unlock()
	if c.tun.status != 0 && status == 0 {
		return
	}
	c.tun.status, c.tun.reason, c.tun.contentType = status, reason, contentType
	if junk != nil {
		c.tun.body = append([]byte(nil), junk...)
	}
}

func (c *Config) traceHTTP(prefix string, head []byte) {
	if c.Logger == nil || !c.Logger.Verbose {
		return
	}
	c.Logger.Debugf("%s", formatTrace(prefix, head))
}

// tunnelFail explains a failure on the HTTP side of a tunnel with the
// same messages and exit codes as plain RTSP; it returns nil when the
// HTTP side was fine.
func (c *Config) tunnelFail(target, hostPort string) error {
	c.tun.mu.Lock()
	status, reason, ct, body := c.tun.status, c.tun.reason, c.tun.contentType, append([]byte(nil), c.tun.body...)
	c.tun.mu.Unlock()
	kind := "HTTP"
	if c.tunnelKind == gortsplib.TunnelWebSocket {
		kind = "WebSocket"
	}
	switch {
	case status == 0 && bytes.HasPrefix(body, []byte("RTSP/")):
		return fault.New(fault.Network, "%s answered plain RTSP to the %s tunnel: it does not serve RTSP tunnels", hostPort, kind)
	case status == 0 && len(body) > 0:
		return fault.New(fault.Network, "%s is not an RTSP server: its %s tunnel answered %q", hostPort, kind, printable(body))
	case status == 0:
		return nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fault.New(fault.Auth, "authentication required by the %s tunnel (HTTP %d %s)", kind, status, reason)
	case status == http.StatusNotFound:
		return fault.New(fault.NotFound, "stream not found: %s (HTTP %d %s)", target, status, reason)
	case status == http.StatusSwitchingProtocols:
		return nil
	case status != http.StatusOK:
		return fault.New(fault.Network, "%s refused the %s tunnel: HTTP %d %s", hostPort, kind, status, reason)
	case c.tunnelKind == gortsplib.TunnelWebSocket:
		return fault.New(fault.Network, "%s is not an RTSP server: it answered HTTP %d %s to a WebSocket upgrade", hostPort, status, reason)
	case len(body) > 0 && !bytes.HasPrefix(body, []byte("RTSP/")) && body[0] != '$' && !bytes.HasPrefix([]byte("RTSP/"), body):
		what := printable(body)
		if strings.Contains(strings.ToLower(ct), "html") {
			what = "an HTML page"
		} else {
			what = "\"" + what + "\""
		}
		return fault.New(fault.Network, "%s is not an RTSP server: its HTTP tunnel answered %s", hostPort, what)
	}
	return nil
}
