package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/mediaurl"
)

// References for the RTSP steps.
const (
	refOptions   = "RFC 2326 §10.1"
	refPublic    = "RFC 2326 §12.28"
	refDescribe  = "RFC 2326 §10.2"
	refRedirect  = "RFC 2326 §11.3.3"
	refAuth      = "RFC 2617 §2, RFC 7826 §19.1"
	refAuthSHA   = "RFC 7616 §3.3"
	refStale     = "RFC 2617 §3.2.1, RFC 7616 §3.3"
	refSetup     = "RFC 2326 §10.4, §12.39"
	refSessionTO = "RFC 2326 §12.37"
	refPlay      = "RFC 2326 §10.5"
	refRTPInfo   = "RFC 2326 §12.33"
	refRange     = "RFC 2326 §12.29"
	refPause     = "RFC 2326 §10.6"
	refTeardown  = "RFC 2326 §10.7"
	refGetParam  = "RFC 2326 §10.8"
	refSetParam  = "RFC 2326 §10.9"
	refKeepalive = "RFC 2326 §12.37"
	refCSeq      = "RFC 2326 §12.17"
	refCRLF      = "RFC 2326 §4, RFC 7826 §20"
	refRTPSeq    = "RFC 3550 §5.1"
	refRTPTS     = "RFC 3550 §5.1"
	refSSRC      = "RFC 3550 §8"
	refMarker    = "RFC 6184 §5.1"
	refInband    = "RFC 6184 §8.2.2"
	refSR        = "RFC 3550 §6.4.1"
	refLoss      = "RFC 3550 §6.4.1, A.3"
	refJitter    = "RFC 3550 §6.4.1, A.8"
)

// Config is what a check run needs.
type Config struct {
	URL       string
	User      string // overrides the URL's
	Pass      string
	UserAgent string
	Insecure  bool
	Timeout   time.Duration // connect and every response
	Duration  time.Duration // media received after PLAY
	Transport string        // media transport: auto, udp or tcp
	Full      bool          // also wait out session timeouts
	Trace     func(string)  // -v trace, credentials redacted; may be nil
}

// Defaults.
const (
	DefaultDuration = 5 * time.Second
	stopGrace       = 300 * time.Millisecond // in-flight packets after PAUSE/TEARDOWN
	stopWindow      = time.Second            // then nothing may arrive for this long
	maxRedirects    = 5
	rtpInfoSlack    = 5 // packets RTP-Info seq may be off before it fails
	maxJitterMs     = 50
	minSRWindow     = 5 * time.Second // RFC 3550 §6.2: minimum RTCP interval
)

// ErrUnsupportedScheme is returned for URLs that are neither RTSP nor RTMP.
var ErrUnsupportedScheme = errors.New("check needs an rtsp://, rtsps://, rtmp:// or rtmps:// URL")

// Run checks cfg.URL. The error is non-nil only when nothing could be
// checked (bad URL, no connection); everything else is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	scheme, _, _ := strings.Cut(cfg.URL, "://")
	var r *Report
	var err error
	switch strings.ToLower(scheme) {
	case "rtsp", "rtsps":
		r, err = runRTSP(ctx, cfg)
	case "rtmp", "rtmps":
		r, err = runRTMP(ctx, cfg)
	default:
		return nil, ErrUnsupportedScheme
	}
	if ctx.Err() != nil {
		// An interrupted run judged steps it cut short: no report.
		return nil, ctx.Err()
	}
	return r, err
}

type rtspRun struct {
	ctx     context.Context
	cfg     Config
	r       *Report
	u       *base.URL
	conns   []*rtspConn
	public  map[string]bool
	hasPub  bool
	codes   map[string]base.StatusCode
	timeout time.Duration // session timeout announced
}

func runRTSP(ctx context.Context, cfg Config) (*Report, error) {
	u, err := base.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("bad URL %s: %w", redactText(cfg.URL), err)
	}
	if cfg.User == "" && u.User != nil {
		cfg.User = u.User.Username()
		cfg.Pass, _ = u.User.Password()
	}
	run := &rtspRun{ctx: ctx, cfg: cfg, u: u, r: &Report{URL: cfg.URL, Protocol: u.Scheme},
		codes: map[string]base.StatusCode{}, timeout: 60 * time.Second}
	c, dt, err := run.dial(u)
	if err != nil {
		return nil, fault.Wrap(fault.Network, err) // refused, unreachable, TLS
	}
	run.r.Add("connect", Pass, "", "connected in %s", ms(dt))
	defer run.closeAll()
	if err := run.steps(c); err != nil {
		return nil, err
	}
	run.finish()
	return run.r, nil
}

func ms(d time.Duration) string {
	prec := 0
	if d < 10*time.Millisecond {
		prec = 1
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', prec, 64) + " ms"
}

func (run *rtspRun) dial(u *base.URL) (*rtspConn, time.Duration, error) {
	c, dt, err := dialRTSP(run.ctx, u, &run.cfg)
	if err == nil {
		run.conns = append(run.conns, c)
	}
	return c, dt, err
}

func (run *rtspRun) closeAll() {
	for _, c := range run.conns {
		c.close()
	}
}

func header(h base.Header, key string) string {
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func statusText(res *reply) string {
	return fmt.Sprintf("%d %s in %s", res.StatusCode, res.StatusMessage, ms(res.rtt))
}

// steps runs the checks; an error means the server never answered RTSP.
func (run *rtspRun) steps(c *rtspConn) error {
	r := run.r
	// OPTIONS
	res, err := c.do(base.Options, run.u, nil)
	if err != nil {
		return fault.Wrap(fault.Network, fmt.Errorf("%s: %w", mediaurl.HostPort((*url.URL)(run.u)), err))
	}
	r.Server = header(res.Header, "Server")
	if res.StatusCode != base.StatusOK {
		r.Add("options.status", Fail, refOptions, "%s", statusText(res))
	} else {
		r.Add("options.status", Pass, refOptions, "%s", statusText(res))
	}
	run.public = map[string]bool{}
	if p := header(res.Header, "Public"); p != "" {
		run.hasPub = true
		var list []string
		for _, m := range strings.Split(p, ",") {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
				run.public[m] = true
				list = append(list, m)
			}
		}
		r.Add("options.public", Pass, refPublic, "%s", strings.Join(list, ", "))
	} else if res.StatusCode == base.StatusOK {
		r.Add("options.public", Warn, refPublic, "no Public header")
	}

	// DESCRIBE, following redirects.
	cur := run.u
	redirected := false
	for i := 0; ; i++ {
		res, err = c.do(base.Describe, cur, base.Header{"Accept": base.HeaderValue{"application/sdp"}})
		if err != nil {
			run.authChecks(c)
			r.Add("describe.status", Fail, refDescribe, "%v", err)
			return nil
		}
		if !isRedirect(res.StatusCode) {
			break
		}
		loc := header(res.Header, "Location")
		nu, perr := base.ParseURL(loc)
		if loc == "" || perr != nil || i >= maxRedirects {
			r.Add("describe.redirect", Fail, refRedirect, "%s with Location %q: cannot follow", statusText(res), loc)
			return nil
		}
		r.Add("describe.redirect", Warn, refRedirect, "%s to %s: followed", statusText(res), nu.CloneWithoutCredentials())
		redirected = true
		if nu.Host != cur.Host {
			nc, _, err := run.dial(nu)
			if err != nil {
				r.Add("describe.status", Fail, refDescribe, "redirect target: %v", err)
				return nil
			}
			c = nc
		}
		cur = nu
	}
	if !redirected {
		r.Add("describe.redirect", Pass, refRedirect, "none")
	}
	run.u = cur
	run.authChecks(c)
	if res.StatusCode == base.StatusUnauthorized {
		return nil // auth.login says why
	}
	if res.StatusCode != base.StatusOK {
		r.Add("describe.status", Fail, refDescribe, "%s", statusText(res))
		return nil
	}
	ct := header(res.Header, "Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		r.Add("describe.status", Fail, refDescribe, "200 with Content-Type %q, want application/sdp", ct)
		return nil
	}
	r.Add("describe.status", Pass, refDescribe, "%s, %d bytes of SDP", statusText(res), len(res.Body))
	cbase := cur
	if cb := header(res.Header, "Content-Base"); cb != "" {
		if bu, err := base.ParseURL(cb); err == nil {
			cbase = bu
			r.Add("describe.content-base", Pass, refControl, "%s", bu.CloneWithoutCredentials())
		} else {
			r.Add("describe.content-base", Fail, refControl, "Content-Base %q does not parse", cb)
		}
	} else if cl := header(res.Header, "Content-Location"); cl != "" {
		if bu, err := base.ParseURL(cl); err == nil {
			cbase = bu
		}
		r.Add("describe.content-base", Pass, refControl, "Content-Location %s", cl)
	} else {
		r.Add("describe.content-base", Warn, refControl, "no Content-Base: relative controls resolve against the request URL")
	}

	tracks := checkSDP(r, res.Body, cbase)
	if tracks == nil {
		return nil
	}
	run.media(c, tracks)
	return nil
}

func isRedirect(code base.StatusCode) bool {
	return code == 301 || code == 302 || code == 303 || code == 305 || code == 307
}

// authChecks reports what authentication the server asked for.
func (run *rtspRun) authChecks(c *rtspConn) {
	r := run.r
	var www base.HeaderValue
	for _, cc := range run.conns {
		if cc.wwwAuth != nil {
			www = cc.wwwAuth
			break
		}
	}
	if www == nil {
		r.Add("auth.schemes", Pass, refAuth, "no authentication asked")
		return
	}
	var schemes []string
	basic, digest, sha := false, false, false
	for _, v := range www {
		var a headers.Authenticate
		if err := a.Unmarshal(base.HeaderValue{v}); err != nil {
			schemes = append(schemes, "unparsable: "+strings.SplitN(v, " ", 2)[0])
			continue
		}
		switch {
		case a.Method == headers.AuthMethodBasic:
			basic = true
			schemes = append(schemes, "Basic")
		case a.Algorithm != nil && *a.Algorithm == headers.AuthAlgorithmSHA256:
			sha, digest = true, true
			schemes = append(schemes, "Digest SHA-256")
		default:
			digest = true
			schemes = append(schemes, "Digest MD5")
		}
	}
	list := strings.Join(schemes, ", ")
	switch {
	case basic && run.u.Scheme != "rtsps":
		r.Add("auth.schemes", Warn, refAuth, "%s: Basic sends the password in clear without TLS", list)
	case !sha && !basic:
		r.Add("auth.schemes", Pass, refAuthSHA, "%s (no SHA-256 offered)", list)
	default:
		r.Add("auth.schemes", Pass, refAuth, "%s", list)
	}
	switch {
	case run.cfg.User == "":
		r.Add("auth.login", Fail, refAuth, "401 and no credentials given (--user/--pass)")
		r.Add("auth.stale-nonce", Skip, refStale, "no credentials")
	case c.sender == nil:
		r.Add("auth.login", Fail, refAuth, "no usable scheme among: %s", list)
		r.Add("auth.stale-nonce", Skip, refStale, "no login")
	default:
		code := c.methodCodes[string(base.Describe)]
		if code == base.StatusUnauthorized || code == base.StatusForbidden {
			r.Add("auth.login", Fail, refAuth, "credentials refused (%d)", code)
			r.Add("auth.stale-nonce", Skip, refStale, "no login")
			return
		}
		r.Add("auth.login", Pass, refAuth, "accepted")
		switch {
		case !digest:
			r.Add("auth.stale-nonce", Skip, refStale, "no Digest offered")
		case code != base.StatusOK:
			r.Add("auth.stale-nonce", Skip, refStale, "DESCRIBE did not succeed")
		default:
			run.staleNonce()
		}
	}
}

// staleNonce logs in on a new connection, then sends a DESCRIBE whose Digest
// response is right but for a nonce the server never issued. The server
// must refuse it with a fresh challenge (stale=TRUE is for a nonce it did
// issue and let expire; for an unknown one a plain 401 is enough), and
// answering that challenge must work.
func (run *rtspRun) staleNonce() {
	const id = "auth.stale-nonce"
	r := run.r
	c, _, err := run.dial(run.u)
	if err != nil {
		r.Add(id, Warn, refStale, "second connection: %v", err)
		return
	}
	defer c.close()
	accept := base.Header{"Accept": base.HeaderValue{"application/sdp"}}
	res, err := c.do(base.Describe, run.u, accept)
	switch {
	case err != nil:
		r.Add(id, Warn, refStale, "login on a second connection: %v", err)
		return
	case c.sender == nil:
		r.Add(id, Skip, refStale, "DESCRIBE on a second connection needs no credentials (%s)", statusText(res))
		return
	case res.StatusCode != base.StatusOK:
		r.Add(id, Skip, refStale, "login on a second connection: %s", statusText(res))
		return
	}
	nonce, err := auth.GenerateNonce()
	if err != nil {
		r.Add(id, Skip, refStale, "%v", err)
		return
	}
	var forged base.HeaderValue
	issued := map[string]bool{}
	for _, v := range c.wwwAuth {
		var a headers.Authenticate
		if a.Unmarshal(base.HeaderValue{v}) == nil && a.Method == headers.AuthMethodDigest {
			issued[a.Nonce] = true
			a.Nonce, a.Stale = nonce, nil
			forged = append(forged, a.Marshal()...)
		}
	}
	good := c.sender
	if !c.answerChallenge(forged) {
		r.Add(id, Skip, refStale, "no Digest challenge on the second connection")
		return
	}
	res, err = c.doOnce(base.Describe, run.u, accept)
	c.sender = good
	switch {
	case err != nil:
		r.Add(id, Warn, refStale, "a response for a nonce it never issued got no answer: %v", err)
		return
	case res.StatusCode >= 200 && res.StatusCode < 300:
		r.Add(id, Fail, refStale, "%s for a nonce it never issued: forged or replayed nonces are accepted", statusText(res))
		return
	case res.StatusCode != base.StatusUnauthorized:
		r.Add(id, Warn, refStale, "%s for a nonce it never issued: no fresh challenge, a client must ask for the password again", statusText(res))
		return
	}
	fresh, stale := "", false
	for _, v := range res.Header["WWW-Authenticate"] {
		var a headers.Authenticate
		if a.Unmarshal(base.HeaderValue{v}) == nil && a.Method == headers.AuthMethodDigest {
			fresh = a.Nonce
			stale = stale || a.Stale != nil && strings.EqualFold(*a.Stale, "true")
		}
	}
	switch {
	case fresh == "":
		// RFC 7826 §17.4.2 wants a challenge with every 401; without one a
		// client has to reconnect to log in again.
		after := "the connection stays open"
		if _, err := c.doOnce(base.Options, run.u, nil); err != nil {
			after = "then it closed the connection"
		}
		r.Add(id, Warn, refStale, "401 for a nonce it never issued, but with no Digest challenge, %s: a client must reconnect to log in again", after)
		return
	case fresh == nonce:
		r.Add(id, Fail, refStale, "401 for a nonce it never issued, challenging with that same nonce: it adopts nonces clients make up")
		return
	}
	flag := "stale=TRUE"
	if !stale {
		flag = "no stale flag (fine for a nonce it never issued)"
	}
	if issued[fresh] {
		flag = "the nonce of the login, " + flag
	} else {
		flag = "a new nonce, " + flag
	}
	if !c.answerChallenge(res.Header["WWW-Authenticate"]) {
		r.Add(id, Fail, refStale, "401 with %s, that the credentials cannot answer", flag)
		return
	}
	again, err := c.doOnce(base.Describe, run.u, accept)
	switch {
	case err != nil:
		r.Add(id, Fail, refStale, "401 with %s; answering it: %v", flag, err)
	case again.StatusCode != base.StatusOK:
		r.Add(id, Fail, refStale, "401 with %s; answering it: %s, a client cannot recover", flag, statusText(again))
	default:
		r.Add(id, Pass, refStale, "401 with %s; answering it: %s", flag, statusText(again))
	}
}

// media runs SETUP (UDP, TCP, multicast), PLAY, PAUSE, keepalive and
// TEARDOWN.
func (run *rtspRun) media(c *rtspConn, tracks []sdpTrack) {
	r := run.r
	formats := make([]format.Format, len(tracks))
	for i, t := range tracks {
		formats[i] = t.forma
	}

	// One session at a time (some cameras allow only one): TCP and
	// multicast are tried and torn down, then UDP on the DESCRIBE
	// connection; the media part runs on UDP, or on a new TCP session.
	tcpOK := false
	if tcpSess := run.tcpSession(tracks, formats); tcpSess != nil {
		tcpOK = true
		run.teardown(tcpSess)
	}
	run.setupMulticast(tracks)
	udpSess := run.setupUDP(c, tracks, formats)

	var sess *playSession
	switch {
	case run.cfg.Transport == "udp" || run.cfg.Transport != "tcp" && udpSess != nil:
		sess = udpSess
	case tcpOK:
		if udpSess != nil {
			run.teardown(udpSess)
			udpSess = nil
		}
		// Already graded: set up again without adding checks.
		saved := run.r
		run.r = &Report{}
		sess = run.tcpSession(tracks, formats)
		run.r = saved
	}
	if udpSess != nil && sess != udpSess {
		run.teardown(udpSess)
	}
	if sess == nil {
		r.Add("play.status", Skip, refPlay, "no transport could be set up")
		return
	}
	defer sess.stop()
	run.timeout = sess.timeout
	run.play(sess, tracks)
}

// tcpSession sets up a TCP session on a new connection.
func (run *rtspRun) tcpSession(tracks []sdpTrack, formats []format.Format) *playSession {
	tc, _, err := run.dial(run.u)
	if err != nil {
		run.r.Add("setup.tcp", Fail, refSetup, "connect: %v", err)
		return nil
	}
	return run.setupTCP(tc, tracks, formats)
}

func (run *rtspRun) teardown(s *playSession) {
	_, _ = s.conn.do(base.Teardown, run.u, nil)
	s.stop()
}

// playSession is one set-up session and where its packets go.
type playSession struct {
	conn      *rtspConn
	transport string
	col       *collector
	timeout   time.Duration
	udp       []*net.UDPConn
	ssrcs     []*uint32
	srvPorts  []int // announced server_port (RTP) per track, 0 when none
}

func (s *playSession) stop() {
	for _, u := range s.udp {
		_ = u.Close()
	}
}

func sessionTimeout(res *reply) (time.Duration, bool) {
	var sh headers.Session
	if err := sh.Unmarshal(res.Header["Session"]); err != nil || sh.Timeout == nil {
		return 60 * time.Second, false
	}
	return time.Duration(*sh.Timeout) * time.Second, true
}

// listenPair opens an even/odd UDP port pair on ip.
func listenPair(ip net.IP) (*net.UDPConn, *net.UDPConn, error) {
	for range 50 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, nil, err
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			_ = a.Close()
			continue
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p + 1})
		if err != nil {
			_ = a.Close()
			continue
		}
		return a, b, nil
	}
	return nil, nil, errors.New("no free UDP port pair")
}

func (run *rtspRun) setupUDP(c *rtspConn, tracks []sdpTrack, formats []format.Format) *playSession {
	r := run.r
	ip := c.nc.LocalAddr().(*net.TCPAddr).IP
	s := &playSession{conn: c, transport: "udp", col: newCollector(formats)}
	var notes []string
	status := Pass
	for i, t := range tracks {
		a, b, err := listenPair(ip)
		if err != nil {
			r.Add("setup.udp", Fail, refSetup, "%v", err)
			s.stop()
			return nil
		}
		s.udp = append(s.udp, a, b)
		cp := a.LocalAddr().(*net.UDPAddr).Port
		th := headers.Transport{
			Protocol: headers.TransportProtocolUDP, Delivery: ptr(headers.TransportDeliveryUnicast),
			ClientPorts: &[2]int{cp, cp + 1}, Mode: ptr(headers.TransportModePlay),
		}
		res, err := c.do(base.Setup, t.url, base.Header{"Transport": th.Marshal()})
		if err != nil {
			r.Add("setup.udp", Fail, refSetup, "track %d: %v", i, err)
			s.stop()
			return nil
		}
		if res.StatusCode != base.StatusOK {
			st := Fail
			if res.StatusCode == base.StatusUnsupportedTransport {
				st = Skip // not offered: the server's choice
			}
			r.Add("setup.udp", st, refSetup, "track %d: %s", i, statusText(res))
			s.stop()
			return nil
		}
		var rt headers.Transport
		if err := rt.Unmarshal(res.Header["Transport"]); err != nil {
			r.Add("setup.udp", Fail, refSetup, "track %d: Transport in the response: %v", i, err)
			s.stop()
			return nil
		}
		if rt.ServerPorts == nil {
			s.srvPorts = append(s.srvPorts, 0)
			status = max(status, Warn)
			notes = append(notes, fmt.Sprintf("#%d no server_port", i))
		} else {
			s.srvPorts = append(s.srvPorts, rt.ServerPorts[0])
			notes = append(notes, fmt.Sprintf("#%d server_port %d-%d", i, rt.ServerPorts[0], rt.ServerPorts[1]))
		}
		if rt.ClientPorts != nil && rt.ClientPorts[0] != cp {
			status = Fail
			notes = append(notes, fmt.Sprintf("client_port changed to %d", rt.ClientPorts[0]))
		}
		s.ssrcs = append(s.ssrcs, rt.SSRC)
		if i == 0 {
			s.timeout, _ = sessionTimeout(res)
			if len(run.r.Find("setup.session-timeout")) == 0 {
				run.sessionTimeoutCheck(res)
			}
		}
		go readUDP(a, s.col, i, true)
		go readUDP(b, s.col, i, false)
	}
	r.Add("setup.udp", status, refSetup, "200, %s", strings.Join(notes, ", "))
	return s
}

func ptr[T any](v T) *T { return &v }

func readUDP(pc *net.UDPConn, col *collector, track int, isRTP bool) {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		// The depacketizer keeps payloads until the access unit ends.
		b := append([]byte(nil), buf[:n]...)
		if isRTP {
			col.rtp(track, b, time.Now(), strconv.Itoa(from.Port))
		} else {
			col.rtcp(track, b, time.Now())
		}
	}
}

func (run *rtspRun) sessionTimeoutCheck(res *reply) {
	if d, ok := sessionTimeout(res); ok {
		run.r.Add("setup.session-timeout", Pass, refSessionTO, "%s", d)
	} else if len(res.Header["Session"]) == 0 {
		run.r.Add("setup.session-timeout", Fail, refSessionTO, "SETUP answered without a Session header")
	} else {
		run.r.Add("setup.session-timeout", Pass, refSessionTO, "not announced (60s by default)")
	}
}

func (run *rtspRun) setupTCP(c *rtspConn, tracks []sdpTrack, formats []format.Format) *playSession {
	r := run.r
	s := &playSession{conn: c, transport: "tcp", col: newCollector(formats)}
	channels := map[int]int{} // channel -> track*2 (+1 for RTCP)
	var notes []string
	status := Pass
	for i, t := range tracks {
		th := headers.Transport{
			Protocol: headers.TransportProtocolTCP, Delivery: ptr(headers.TransportDeliveryUnicast),
			InterleavedIDs: &[2]int{2 * i, 2*i + 1}, Mode: ptr(headers.TransportModePlay),
		}
		res, err := c.do(base.Setup, t.url, base.Header{"Transport": th.Marshal()})
		if err != nil {
			r.Add("setup.tcp", Fail, refSetup, "track %d: %v", i, err)
			return nil
		}
		if res.StatusCode != base.StatusOK {
			st := Fail
			if res.StatusCode == base.StatusUnsupportedTransport {
				st = Skip // not offered: the server's choice
			}
			r.Add("setup.tcp", st, refSetup, "track %d: %s", i, statusText(res))
			return nil
		}
		var rt headers.Transport
		if err := rt.Unmarshal(res.Header["Transport"]); err != nil || rt.InterleavedIDs == nil {
			r.Add("setup.tcp", Fail, refSetup, "track %d: no interleaved= in the response Transport", i)
			return nil
		}
		ids := *rt.InterleavedIDs
		if ids != [2]int{2 * i, 2*i + 1} {
			status = max(status, Warn)
			notes = append(notes, fmt.Sprintf("#%d interleaved=%d-%d (asked %d-%d)", i, ids[0], ids[1], 2*i, 2*i+1))
		} else {
			notes = append(notes, fmt.Sprintf("#%d interleaved=%d-%d", i, ids[0], ids[1]))
		}
		channels[ids[0]] = 2 * i
		channels[ids[1]] = 2*i + 1
		s.ssrcs = append(s.ssrcs, rt.SSRC)
		if i == 0 {
			s.timeout, _ = sessionTimeout(res)
			if len(run.r.Find("setup.session-timeout")) == 0 {
				run.sessionTimeoutCheck(res)
			}
		}
	}
	col := s.col
	c.setOnFrame(func(ch int, p []byte, at time.Time) {
		v, ok := channels[ch]
		if !ok {
			return
		}
		if v%2 == 0 {
			col.rtp(v/2, p, at, "")
		} else {
			col.rtcp(v/2, p, at)
		}
	})
	r.Add("setup.tcp", status, refSetup, "200, %s", strings.Join(notes, ", "))
	return s
}

func (run *rtspRun) setupMulticast(tracks []sdpTrack) {
	r := run.r
	c, _, err := run.dial(run.u)
	if err != nil {
		r.Add("setup.multicast", Fail, refSetup, "connect: %v", err)
		return
	}
	th := headers.Transport{
		Protocol: headers.TransportProtocolUDP, Delivery: ptr(headers.TransportDeliveryMulticast),
		Mode: ptr(headers.TransportModePlay),
	}
	res, err := c.do(base.Setup, tracks[0].url, base.Header{"Transport": th.Marshal()})
	switch {
	case err != nil:
		r.Add("setup.multicast", Fail, refSetup, "%v", err)
		return
	case res.StatusCode == base.StatusUnsupportedTransport:
		r.Add("setup.multicast", Skip, refSetup, "not offered (%s)", statusText(res))
		return
	case res.StatusCode != base.StatusOK:
		r.Add("setup.multicast", Warn, refSetup, "%s", statusText(res))
		return
	}
	var rt headers.Transport
	if err := rt.Unmarshal(res.Header["Transport"]); err != nil || rt.Destination2 == nil || rt.Ports == nil {
		r.Add("setup.multicast", Fail, refSetup, "200 without destination= and port= in Transport")
	} else if ip := net.ParseIP(*rt.Destination2); ip == nil || !ip.IsMulticast() {
		r.Add("setup.multicast", Fail, refSetup, "destination %s is not a multicast address", *rt.Destination2)
	} else {
		r.Add("setup.multicast", Pass, refSetup, "200, destination %s port %d-%d", *rt.Destination2, rt.Ports[0], rt.Ports[1])
	}
	_, _ = c.do(base.Teardown, run.u, nil)
}

// play runs PLAY, receives media, then PAUSE/PLAY, keepalive and TEARDOWN.
func (run *rtspRun) play(s *playSession, tracks []sdpTrack) {
	r := run.r
	c := s.conn
	start := time.Now()
	s.col.markResume()
	res, err := c.do(base.Play, run.u, base.Header{"Range": base.HeaderValue{"npt=0.000-"}})
	if err != nil {
		r.Add("play.status", Fail, refPlay, "%v", err)
		return
	}
	if res.StatusCode != base.StatusOK {
		r.Add("play.status", Fail, refPlay, "%s", statusText(res))
		return
	}
	r.Add("play.status", Pass, refPlay, "%s over %s", statusText(res), s.transport)
	if v := res.Header["Range"]; len(v) == 0 {
		r.Add("play.range", Skip, refRange, "no Range in the PLAY response (RFC 7826 §13.4 wants one, RFC 2326 does not)")
	} else {
		var rg headers.Range
		// gortsplib does not read RFC 2326 §3.6's "now" (live streams).
		if strings.HasPrefix(strings.TrimSpace(v[0]), "npt=now-") {
			r.Add("play.range", Pass, refRange, "%s (live)", v[0])
		} else if err := rg.Unmarshal(v); err != nil {
			r.Add("play.range", Fail, refRange, "Range %q does not parse: %v", v[0], err)
		} else {
			r.Add("play.range", Pass, refRange, "%s", v[0])
		}
	}

	run.wait(run.cfg.Duration)
	var first []*uint16
	for _, t := range s.col.snapshot() {
		first = append(first, t.resumeSeq)
	}
	run.rtpInfoCheck("play.rtp-info", res, tracks, first)
	run.mediaChecks(s, tracks, start)

	run.pauseResume(s, tracks)
	run.keepalive(s)

	// TEARDOWN
	res, err = c.do(base.Teardown, run.u, nil)
	switch {
	case err != nil:
		r.Add("teardown.status", Fail, refTeardown, "%v", err)
	case res.StatusCode != base.StatusOK:
		r.Add("teardown.status", Fail, refTeardown, "%s", statusText(res))
	default:
		r.Add("teardown.status", Pass, refTeardown, "%s", statusText(res))
	}
	if n := run.packetsAfter(s); n > 0 {
		r.Add("teardown.stops", Fail, refTeardown, "%d packets in %s after TEARDOWN", n, stopWindow)
	} else {
		r.Add("teardown.stops", Pass, refTeardown, "no packets in %s after TEARDOWN", stopWindow)
	}
	if run.cfg.Full {
		run.expiry(tracks)
	}
}

func (run *rtspRun) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-run.ctx.Done():
	}
}

// packetsAfter counts the packets that arrive after a grace period.
func (run *rtspRun) packetsAfter(s *playSession) uint64 {
	run.wait(stopGrace)
	n0 := s.col.count()
	run.wait(stopWindow)
	return s.col.count() - n0
}

// rtpInfoCheck checks RTP-Info: one entry per track with seq and rtptime.
// first, when given, holds the seq of the first packet of each track.
func (run *rtspRun) rtpInfoCheck(id string, res *reply, tracks []sdpTrack, first []*uint16) {
	r := run.r
	v := res.Header["RTP-Info"]
	if len(v) == 0 {
		r.Add(id, Warn, refRTPInfo, "no RTP-Info: a client cannot map RTP time to the stream's start")
		return
	}
	var ri headers.RTPInfo
	if err := ri.Unmarshal(v); err != nil {
		r.Add(id, Fail, refRTPInfo, "RTP-Info does not parse: %v", err)
		return
	}
	var notes []string
	st := Pass
	for i, t := range tracks {
		var e *headers.RTPInfoEntry
		for _, x := range ri {
			if x.URL == t.url.String() || strings.HasSuffix(x.URL, "/"+t.media.Control) || len(tracks) == 1 {
				e = x
				break
			}
		}
		if e == nil {
			st = max(st, Warn)
			notes = append(notes, fmt.Sprintf("#%d no entry", i))
			continue
		}
		if e.SequenceNumber == nil || e.Timestamp == nil {
			st = max(st, Warn)
			notes = append(notes, fmt.Sprintf("#%d without seq or rtptime", i))
			continue
		}
		if first != nil && i < len(first) && first[i] != nil && *first[i] != *e.SequenceNumber {
			// A few packets off (a seq that was never sent, or that went
			// out just before the response) costs a client little; more
			// breaks its loss accounting and its timeline.
			d := int16(*first[i] - *e.SequenceNumber)
			if d < -rtpInfoSlack || d > rtpInfoSlack {
				st = Fail
			} else {
				st = max(st, Warn)
			}
			notes = append(notes, fmt.Sprintf("#%d seq=%d but the first packet has %d", i, *e.SequenceNumber, *first[i]))
			continue
		}
		notes = append(notes, fmt.Sprintf("#%d seq=%d rtptime=%d", i, *e.SequenceNumber, *e.Timestamp))
	}
	r.Add(id, st, refRTPInfo, "%s", strings.Join(notes, ", "))
}

func (run *rtspRun) mediaChecks(s *playSession, tracks []sdpTrack, start time.Time) {
	r := run.r
	snap := s.col.snapshot()
	for i, t := range snap {
		name := codecName(t.forma)
		if t.packets == 0 {
			r.AddTrack("media.first-packet", i, Fail, refPlay, "%s: no RTP packet in %s", name, run.cfg.Duration)
			continue
		}
		r.AddTrack("media.first-packet", i, Pass, refPlay, "%s: after %s, %d packets in %s",
			name, ms(t.first.Sub(start)), t.packets, run.cfg.Duration)
		if t.video {
			if t.firstKey.IsZero() {
				r.AddTrack("media.first-keyframe", i, Fail, refPlay, "no keyframe in %s", run.cfg.Duration)
			} else {
				r.AddTrack("media.first-keyframe", i, Pass, refPlay, "after %s", ms(t.firstKey.Sub(start)))
			}
		}
		if t.seqBackward > 0 {
			r.AddTrack("rtp.sequence", i, Warn, refRTPSeq, "%d packets out of order or duplicated", t.seqBackward)
		} else {
			r.AddTrack("rtp.sequence", i, Pass, refRTPSeq, "monotonic")
		}
		if t.tsBackward > 0 {
			r.AddTrack("rtp.timestamp", i, Fail, refRTPTS, "jumped back %d times, by up to %.3f s", t.tsBackward, t.worstBack)
		} else {
			r.AddTrack("rtp.timestamp", i, Pass, refRTPTS, "monotonic (reordering within %s allowed)", maxReorder)
		}
		ssrcCheck(r, i, t, s.ssrcs)
		if t.video {
			switch {
			case t.tsChanges >= 2 && t.markers == 0:
				r.AddTrack("rtp.marker", i, Fail, refMarker, "no marker bit in %d frames", t.tsChanges)
			case t.markers < t.tsChanges/2:
				r.AddTrack("rtp.marker", i, Warn, refMarker, "%d marker bits for %d frames", t.markers, t.tsChanges)
			default:
				r.AddTrack("rtp.marker", i, Pass, refMarker, "%d marker bits for %d timestamp changes", t.markers, t.tsChanges)
			}
			inbandCheck(r, i, t, tracks[i])
		}
		if s.transport == "udp" {
			exp := float64(t.packets) + float64(t.lost)
			pct := 100 * float64(t.lost) / exp
			st := Pass
			if pct > 1 {
				st = Warn
			}
			r.AddTrack("rtp.loss", i, st, refLoss, "%d lost (%.2f%%)", t.lost, pct)
			if i < len(s.srvPorts) && s.srvPorts[i] != 0 {
				if want := strconv.Itoa(s.srvPorts[i]); t.srcAddr != want {
					r.AddTrack("rtp.source-port", i, Warn, refSetup, "RTP came from port %s, SETUP announced server_port %s", t.srcAddr, want)
				} else {
					r.AddTrack("rtp.source-port", i, Pass, refSetup, "RTP from the announced server_port %s", want)
				}
			}
		}
		if t.clock > 0 {
			j := t.jitter / float64(t.clock) * 1000
			switch {
			case t.reordered > 0:
				// RTP carries presentation times: with B-frames the
				// interarrival jitter measures the reordering too.
				r.AddTrack("rtp.jitter", i, Pass, refJitter, "%.2f ms, B-frame reordering included", j)
			case j > maxJitterMs:
				r.AddTrack("rtp.jitter", i, Warn, refJitter, "%.2f ms", j)
			default:
				r.AddTrack("rtp.jitter", i, Pass, refJitter, "%.2f ms", j)
			}
		}
		srChecks(r, i, t, run.cfg.Duration)
	}
}

func ssrcCheck(r *Report, i int, t trackStat, announced []*uint32) {
	var list []string
	for k := range t.ssrcs {
		list = append(list, fmt.Sprintf("%08X", k))
	}
	switch {
	case len(t.ssrcs) > 1:
		r.AddTrack("rtp.ssrc", i, Fail, refSSRC, "changed: %d SSRCs (%s)", len(list), strings.Join(list, ", "))
	case i < len(announced) && announced[i] != nil && t.ssrcs[*announced[i]] == 0:
		r.AddTrack("rtp.ssrc", i, Fail, refSetup, "%s, but SETUP announced ssrc=%08X", list[0], *announced[i])
	default:
		r.AddTrack("rtp.ssrc", i, Pass, refSSRC, "%s, stable", list[0])
	}
}

func inbandCheck(r *Report, i int, t trackStat, tr sdpTrack) {
	if t.inbandSPS == nil {
		if tr.sps == nil {
			r.AddTrack("rtp.sps-inband", i, Fail, refInband, "no SPS in the SDP nor in-band")
		} else {
			r.AddTrack("rtp.sps-inband", i, Pass, refInband, "none in-band; the SDP's applies")
		}
		return
	}
	in, err := spsSummary(t.forma, t.inbandSPS)
	if err != nil {
		r.AddTrack("rtp.sps-inband", i, Fail, refInband, "in-band SPS does not parse: %v", err)
		return
	}
	if tr.sps == nil {
		r.AddTrack("rtp.sps-inband", i, Pass, refInband, "in-band %s", in)
		return
	}
	sdpSPS, _ := spsSummary(t.forma, tr.sps)
	if sdpSPS != in {
		r.AddTrack("rtp.sps-inband", i, Fail, refInband, "in-band %s, SDP %s", in, sdpSPS)
		return
	}
	r.AddTrack("rtp.sps-inband", i, Pass, refInband, "agrees with the SDP (%s)", in)
}

func srChecks(r *Report, i int, t trackStat, dur time.Duration) {
	if len(t.srs) == 0 {
		if dur < minSRWindow {
			// RTCP's minimum interval is 5 s, the first report may come
			// after half of it: a shorter run proves nothing.
			r.AddTrack("rtcp.sr", i, Skip, refSR, "none in %s; senders may wait up to %s (use --duration %s)", dur, minSRWindow, minSRWindow)
			return
		}
		r.AddTrack("rtcp.sr", i, Warn, refSR, "no sender report in %s (%d RTCP packets)", dur, t.rtcpPackets)
		return
	}
	r.AddTrack("rtcp.sr", i, Pass, refSR, "%d sender reports in %s", t.srCount, dur)
	if len(t.srs) < 2 || t.clock == 0 {
		a := t.srs[0]
		if a.havePrev && t.clock > 0 {
			off := float64(int32(a.rtp-a.lastRTP)) / float64(t.clock)
			if off < -2 || off > 2 {
				r.AddTrack("rtcp.ntp-mapping", i, Fail, refSR, "SR rtptime is %.3f s away from the packets' timestamps", off)
				return
			}
			r.AddTrack("rtcp.ntp-mapping", i, Pass, refSR, "SR rtptime within %.3f s of the packets'", off)
			return
		}
		r.AddTrack("rtcp.ntp-mapping", i, Skip, refSR, "one sender report: nothing to compare")
		return
	}
	a, b := t.srs[0], t.srs[len(t.srs)-1]
	dNTP := float64(int64(b.ntp-a.ntp)) / (1 << 32)
	dRTP := float64(int32(b.rtp-a.rtp)) / float64(t.clock)
	if diff := dNTP - dRTP; diff > 0.05+0.01*dNTP || diff < -0.05-0.01*dNTP {
		r.AddTrack("rtcp.ntp-mapping", i, Fail, refSR, "NTP advanced %.3f s, RTP %.3f s between sender reports", dNTP, dRTP)
		return
	}
	r.AddTrack("rtcp.ntp-mapping", i, Pass, refSR, "NTP %.3f s, RTP %.3f s between sender reports", dNTP, dRTP)
}

func (run *rtspRun) pauseResume(s *playSession, tracks []sdpTrack) {
	r := run.r
	c := s.conn
	res, err := c.do(base.Pause, run.u, nil)
	switch {
	case err != nil:
		r.Add("pause.status", Fail, refPause, "%v", err)
		return
	case res.StatusCode == base.StatusNotImplemented || res.StatusCode == base.StatusMethodNotAllowed ||
		res.StatusCode == base.StatusMethodNotValidInThisState:
		r.Add("pause.status", Warn, refPause, "%s: PAUSE not supported", statusText(res))
		return
	case res.StatusCode != base.StatusOK:
		r.Add("pause.status", Fail, refPause, "%s", statusText(res))
		return
	}
	r.Add("pause.status", Pass, refPause, "%s", statusText(res))
	if n := run.packetsAfter(s); n > 0 {
		r.Add("pause.stops", Fail, refPause, "%d packets in %s after PAUSE", n, stopWindow)
	} else {
		r.Add("pause.stops", Pass, refPause, "no packets in %s after PAUSE", stopWindow)
	}
	s.col.markResume()
	res, err = c.do(base.Play, run.u, nil)
	switch {
	case err != nil:
		r.Add("pause.resume", Fail, refPause, "PLAY: %v", err)
		return
	case res.StatusCode != base.StatusOK:
		r.Add("pause.resume", Fail, refPause, "PLAY: %s", statusText(res))
		return
	}
	deadline := time.Now().Add(run.cfg.Timeout)
	var first []*uint16
	for time.Now().Before(deadline) && run.ctx.Err() == nil {
		first = first[:0]
		all := true
		for _, t := range s.col.snapshot() {
			first = append(first, t.resumeSeq)
			if t.resumeSeq == nil {
				all = false
			}
		}
		if all {
			break
		}
		run.wait(50 * time.Millisecond)
	}
	got := 0
	for _, f := range first {
		if f != nil {
			got++
		}
	}
	if got < len(tracks) {
		r.Add("pause.resume", Fail, refPause, "PLAY 200 but %d of %d tracks resumed within %s", got, len(tracks), run.cfg.Timeout)
	} else {
		r.Add("pause.resume", Pass, refPause, "%s, media resumed", statusText(res))
	}
	run.rtpInfoCheck("pause.rtp-info", res, tracks, first)
}

func (run *rtspRun) keepalive(s *playSession) {
	r := run.r
	c := s.conn
	getOK := false
	res, err := c.do(base.GetParameter, run.u, nil)
	switch {
	case err != nil:
		r.Add("keepalive.get-parameter", Fail, refGetParam, "%v", err)
	case res.StatusCode == base.StatusOK:
		getOK = true
		r.Add("keepalive.get-parameter", Pass, refGetParam, "%s", statusText(res))
	case res.StatusCode == base.StatusNotImplemented || res.StatusCode == base.StatusMethodNotAllowed:
		r.Add("keepalive.get-parameter", Warn, refGetParam, "%s: clients must keep the session alive with OPTIONS", statusText(res))
	default:
		r.Add("keepalive.get-parameter", Fail, refGetParam, "%s", statusText(res))
	}
	res, err = c.do(base.SetParameter, run.u, nil)
	switch {
	case err != nil:
		r.Add("keepalive.set-parameter", Fail, refSetParam, "%v", err)
	case res.StatusCode == base.StatusOK:
		r.Add("keepalive.set-parameter", Pass, refSetParam, "%s", statusText(res))
	case res.StatusCode == base.StatusNotImplemented || res.StatusCode == base.StatusMethodNotAllowed ||
		res.StatusCode == base.StatusParameterNotUnderstood || res.StatusCode == base.StatusBadRequest:
		r.Add("keepalive.set-parameter", Skip, refSetParam, "%s", statusText(res))
	default:
		r.Add("keepalive.set-parameter", Fail, refSetParam, "%s", statusText(res))
	}

	to := s.timeout
	if !run.cfg.Full && to+2*time.Second > run.cfg.Duration {
		r.Add("keepalive.survives", Skip, refKeepalive, "session timeout %s is longer than --duration; use --full", to)
		return
	}
	method := base.Options
	if getOK {
		method = base.GetParameter
	}
	end := time.Now().Add(to + 2*time.Second)
	for time.Now().Before(end) && run.ctx.Err() == nil {
		run.wait(min(to/3, time.Until(end)))
		if _, err := c.do(method, run.u, nil); err != nil {
			r.Add("keepalive.survives", Fail, refKeepalive, "%v", err)
			return
		}
	}
	n0 := s.col.count()
	run.wait(time.Second)
	res, err = c.do(method, run.u, nil)
	switch {
	case err != nil:
		r.Add("keepalive.survives", Fail, refKeepalive, "after %s: %v", to+2*time.Second, err)
	case res.StatusCode != base.StatusOK:
		r.Add("keepalive.survives", Fail, refKeepalive, "after %s with %s keepalives: %s", to+2*time.Second, method, statusText(res))
	case s.col.count() == n0:
		r.Add("keepalive.survives", Fail, refKeepalive, "session answered but media stopped after %s", to+2*time.Second)
	default:
		r.Add("keepalive.survives", Pass, refKeepalive, "alive %s past the %s timeout with %s keepalives", 2*time.Second, to, method)
	}
}

// expiry sets up a session and sends nothing: the server should drop it
// once its timeout has passed.
func (run *rtspRun) expiry(tracks []sdpTrack) {
	r := run.r
	c, _, err := run.dial(run.u)
	if err != nil {
		r.Add("keepalive.expires", Fail, refKeepalive, "connect: %v", err)
		return
	}
	ip := c.nc.LocalAddr().(*net.TCPAddr).IP
	a, b, err := listenPair(ip)
	if err != nil {
		r.Add("keepalive.expires", Fail, refKeepalive, "%v", err)
		return
	}
	defer a.Close()
	defer b.Close()
	cp := a.LocalAddr().(*net.UDPAddr).Port
	th := headers.Transport{Protocol: headers.TransportProtocolUDP, Delivery: ptr(headers.TransportDeliveryUnicast),
		ClientPorts: &[2]int{cp, cp + 1}, Mode: ptr(headers.TransportModePlay)}
	res, err := c.do(base.Setup, tracks[0].url, base.Header{"Transport": th.Marshal()})
	if err != nil || res.StatusCode != base.StatusOK {
		r.Add("keepalive.expires", Skip, refKeepalive, "UDP SETUP failed")
		return
	}
	to, _ := sessionTimeout(res)
	wait := to + 5*time.Second
	run.wait(wait)
	if run.ctx.Err() != nil {
		return
	}
	res, err = c.do(base.GetParameter, run.u, nil)
	switch {
	case err != nil:
		r.Add("keepalive.expires", Pass, refKeepalive, "dropped after %s without keepalives (%v)", wait, err)
	case res.StatusCode == base.StatusSessionNotFound:
		r.Add("keepalive.expires", Pass, refKeepalive, "dropped after %s without keepalives (454)", wait)
	case res.StatusCode == base.StatusOK:
		r.Add("keepalive.expires", Warn, refKeepalive, "still alive %s after SETUP without keepalives (timeout %s)", wait, to)
	default:
		r.Add("keepalive.expires", Pass, refKeepalive, "%s after %s without keepalives", statusText(res), wait)
	}
}

// finish adds the checks that look at the whole conversation.
func (run *rtspRun) finish() {
	r := run.r
	bare, cseqBad := 0, 0
	var serverReqs []string
	for _, c := range run.conns {
		b, cb, reqs, codes := c.stats()
		bare += b
		cseqBad += cb
		serverReqs = append(serverReqs, reqs...)
		for k, v := range codes {
			if old, ok := run.codes[k]; !ok || old != base.StatusOK {
				run.codes[k] = v
			}
		}
	}
	if run.public != nil && run.hasPub {
		var lies, hidden, tried []string
		for m, code := range run.codes {
			tried = append(tried, m)
			switch {
			case run.public[m] && (code == base.StatusNotImplemented || code == base.StatusMethodNotAllowed):
				lies = append(lies, fmt.Sprintf("%s listed but %d", m, code))
			case !run.public[m] && code == base.StatusOK && m != string(base.Options):
				hidden = append(hidden, m+" works but is not listed")
			}
		}
		sortStrings(lies)
		sortStrings(hidden)
		switch {
		case len(lies) > 0:
			r.Add("options.public-truth", Fail, refPublic, "%s", strings.Join(append(lies, hidden...), "; "))
		case len(hidden) > 0:
			r.Add("options.public-truth", Warn, refPublic, "%s", strings.Join(hidden, "; "))
		default:
			r.Add("options.public-truth", Pass, refPublic, "%d methods tried, all as listed", len(tried))
		}
	}
	if cseqBad > 0 {
		r.Add("rtsp.cseq", Fail, refCSeq, "%d responses with a wrong or missing CSeq", cseqBad)
	} else {
		r.Add("rtsp.cseq", Pass, refCSeq, "every response echoes its request's CSeq")
	}
	if bare > 0 {
		r.Add("rtsp.line-endings", Fail, refCRLF, "%d responses with bare LF line ends", bare)
	} else {
		r.Add("rtsp.line-endings", Pass, refCRLF, "CRLF")
	}
	if len(serverReqs) > 0 {
		r.Add("rtsp.server-requests", Warn, "RFC 2326 §10.15", "the server sent %s", strings.Join(serverReqs, ", "))
	}
}
