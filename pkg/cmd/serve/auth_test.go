package serve_test

// Access control of `avcat serve` (issue 3): --user, --publish-user and
// --read-user over RTSP (Basic and Digest) and RTMP (query credentials), and
// --allow-from. Unauthenticated requests get 401 and never any media.

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

// withCreds puts user:pass into an rtsp:// URL.
func withCreds(url, user, pass string) string {
	return strings.Replace(url, "://", "://"+user+":"+pass+"@", 1)
}

var digestParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// digestAuth answers an MD5 Digest challenge (RFC 2617 without qop, as
// RTSP uses it).
func digestAuth(challenges []string, method, uri, user, pass string) (string, error) {
	for _, c := range challenges {
		if !strings.HasPrefix(c, "Digest ") {
			continue
		}
		params := map[string]string{}
		for _, m := range digestParam.FindAllStringSubmatch(c, -1) {
			params[m[1]] = m[2]
		}
		if alg := params["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
			continue
		}
		h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
		resp := h(h(user+":"+params["realm"]+":"+pass) + ":" + params["nonce"] + ":" + h(method+":"+uri))
		return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
			user, params["realm"], params["nonce"], uri, resp), nil
	}
	return "", fmt.Errorf("no MD5 Digest challenge in %q", challenges)
}

// TestServeAuthUser: --user u:p protects reading and publishing.
func TestServeAuthUser(t *testing.T) {
	t.Parallel()
	srv := clitest.StartServe(t, "--user", "u:p")
	addr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	demo := srv.RTSP("demo")

	t.Run("rtsp_without_credentials_401_no_media", func(t *testing.T) {
		t.Parallel()
		resp, err := testpeer.RTSPRequest(addr, "DESCRIBE", demo, nil, 5*time.Second)
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("DESCRIBE without credentials: want 401, got %v %v", resp, err)
		}
		if len(resp.Body) != 0 {
			t.Errorf("401 carries a body (an SDP?):\n%s", resp.Body)
		}
		ch := strings.Join(resp.Header.Values("Www-Authenticate"), " | ")
		if !strings.Contains(ch, "Basic ") || !strings.Contains(ch, "Digest ") {
			t.Errorf("WWW-Authenticate: want Basic and Digest offered, got %q", ch)
		}
		// SETUP and PLAY without DESCRIBE, without credentials: no media.
		c, err := testpeer.DialRTSP(addr, 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		resp, err = c.Do("SETUP", demo+"/trackID=0", map[string]string{"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, 5*time.Second, nil)
		if err == nil && resp.StatusCode == 200 {
			t.Errorf("SETUP without credentials: 200")
		}
		frames := 0
		resp, err = c.Do("PLAY", demo, nil, 5*time.Second, func(*testpeer.InterleavedFrame) { frames++ })
		if err == nil && resp.StatusCode == 200 {
			t.Errorf("PLAY without credentials: 200")
		}
		if err == nil {
			_ = readFrames(c.Stream(), time.Second, 0, func(*testpeer.InterleavedFrame) { frames++ }, nil)
		}
		if frames > 0 {
			t.Errorf("%d interleaved frames sent without credentials", frames)
		}
		// The RTMP side is protected too.
		r := clitest.Run(t, 20*time.Second, "probe", srv.RTMP("demo"))
		if r.Code == 0 {
			t.Errorf("RTMP play without credentials succeeded:\n%s", r)
		}
	})

	t.Run("rtsp_basic", func(t *testing.T) {
		t.Parallel()
		resp, err := testpeer.RTSPRequest(addr, "DESCRIBE", demo, basic("u", "p"), 5*time.Second)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(resp.Body), "m=video") {
			t.Fatalf("DESCRIBE with Basic u:p: want 200 and an SDP, got %v %v", resp, err)
		}
		for _, bad := range [][2]string{{"u", "x"}, {"x", "p"}, {"u", ""}} {
			resp, err := testpeer.RTSPRequest(addr, "DESCRIBE", demo, basic(bad[0], bad[1]), 5*time.Second)
			if err != nil || resp.StatusCode != 401 || len(resp.Body) != 0 {
				t.Errorf("DESCRIBE with Basic %s:%s: want 401 and no body, got %v %v", bad[0], bad[1], resp, err)
			}
		}
	})

	t.Run("rtsp_digest", func(t *testing.T) {
		t.Parallel()
		// The nonce belongs to the connection; a wrong answer closes it.
		for _, pass := range []string{"p", "x"} {
			c, err := testpeer.DialRTSP(addr, 5*time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, err := c.Do("DESCRIBE", demo, nil, 5*time.Second, nil)
			if err != nil || resp.StatusCode != 401 {
				t.Fatalf("DESCRIBE: want 401, got %v %v", resp, err)
			}
			auth, err := digestAuth(resp.Header.Values("Www-Authenticate"), "DESCRIBE", demo, "u", pass)
			if err != nil {
				t.Fatal(err)
			}
			resp, err = c.Do("DESCRIBE", demo, map[string]string{"Authorization": auth}, 5*time.Second, nil)
			switch {
			case pass == "p" && (err != nil || resp.StatusCode != 200 || !strings.Contains(string(resp.Body), "m=video")):
				t.Errorf("Digest MD5 u:p: want 200 and an SDP, got %v %v", resp, err)
			case pass == "x" && err == nil && resp.StatusCode != 401:
				t.Errorf("Digest MD5 with a wrong password: %s", resp.StatusLine)
			}
		}
	})

	t.Run("ffprobe_with_credentials", func(t *testing.T) {
		t.Parallel()
		testpeer.Require(t, testpeer.PeerFFprobe, testpeer.PeerTimeout)
		// ffmpeg answers Digest when it is offered. ffmpeg 5.1 keeps the
		// last Digest challenge only and cannot answer algorithm=SHA-256:
		// a server offering SHA-256 last locks it out.
		r := probeFrames(t, withCreds(demo, "u", "p"), 2, "-rtsp_transport", "tcp")
		checkProbe(t, "ffprobe rtsp://u:p@…/demo", r, fileWant("h264", "aac", 2))
		_, err := testpeer.FFprobe(20*time.Second, "-rtsp_transport", "tcp", withCreds(demo, "u", "wrong"))
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("ffprobe with a wrong password: want 401, got %v", err)
		}
	})

	t.Run("rtsp_publish", func(t *testing.T) {
		t.Parallel()
		testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
		baseline := clip(t, "h264_baseline_aac.mp4")
		r := testpeer.RunClient(t, 20*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", baseline,
			"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", srv.RTSP("live/anon"))
		if r.Code == 0 || r.TimedOut() || !strings.Contains(r.Stderr, "401") {
			t.Errorf("publishing without credentials: want a refusal with 401:\n%s", r)
		}
		pub := testpeer.FFmpegPublishRTSP(t, baseline, withCreds(srv.RTSP("live/x"), "u", "p"), "tcp", true)
		waitLive(t, srv, "live/x", pub, basic("u", "p"))
		checkProbe(t, "reader of the authenticated publisher", probeFrames(t, withCreds(srv.RTSP("live/x"), "u", "p"), 3, "-rtsp_transport", "tcp"),
			liveWant("h264", "aac", 3))
	})

	t.Run("rtmp_query_credentials", func(t *testing.T) {
		t.Parallel()
		testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
		baseline := clip(t, "h264_baseline_aac.mp4")
		for _, q := range []string{"", "?user=u&pass=wrong"} {
			r := testpeer.RunClient(t, 20*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", baseline,
				"-c", "copy", "-f", "flv", srv.RTMP("live/r"+q))
			if r.Code == 0 || r.TimedOut() {
				t.Errorf("RTMP publish with %q: want a quick refusal:\n%s", q, r)
			}
		}
		pub := testpeer.FFmpegPublishRTMP(t, baseline, srv.RTMP("live/r?user=u&pass=p"), true)
		waitLive(t, srv, "live/r", pub, basic("u", "p"))
		checkProbe(t, "RTMP play with ?user=u&pass=p", probeFrames(t, srv.RTMP("live/r?user=u&pass=p"), 3), liveWant("h264", "aac", 3))
		for _, q := range []string{"", "?user=u&pass=wrong", "?user=x&pass=p"} {
			if _, err := testpeer.FFprobe(20*time.Second, "-rw_timeout", "5000000", srv.RTMP("live/r"+q)); err == nil {
				t.Errorf("RTMP play with %q: want a refusal", q)
			}
		}
	})
}

// TestServeAuthSplit: --publish-user and --read-user each protect one action,
// and neither user can do the other's.
func TestServeAuthSplit(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := clitest.StartServe(t, "--publish-user", "pub:pp", "--read-user", "rd:rp")
	addr := fmt.Sprintf("127.0.0.1:%d", srv.RTSPPort)
	baseline := clip(t, "h264_baseline_aac.mp4")

	t.Run("rtsp", func(t *testing.T) {
		t.Parallel()
		r := testpeer.RunClient(t, 20*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", baseline,
			"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", withCreds(srv.RTSP("live/s"), "rd", "rp"))
		if r.Code == 0 || r.TimedOut() || !strings.Contains(r.Stderr, "401") {
			t.Errorf("RTSP publish with the read user: want 401:\n%s", r)
		}
		// The read side, on a path published over RTMP (pub's query
		// credentials), with raw Basic requests.
		pub := testpeer.FFmpegPublishRTMP(t, baseline, srv.RTMP("live/s?user=pub&pass=pp"), true)
		waitLive(t, srv, "live/s", pub, basic("rd", "rp"))
		for _, c := range []struct {
			user, pass string
			want       int
		}{{"", "", 401}, {"pub", "pp", 401}, {"rd", "wrong", 401}, {"rd", "rp", 200}} {
			h := map[string]string{}
			if c.user != "" {
				h = basic(c.user, c.pass)
			}
			resp, err := testpeer.RTSPRequest(addr, "DESCRIBE", srv.RTSP("live/s"), h, 5*time.Second)
			if err != nil || resp.StatusCode != c.want {
				t.Errorf("DESCRIBE as %q: want %d, got %v %v", c.user, c.want, resp, err)
			}
		}
		if _, err := testpeer.FFprobe(20*time.Second, "-rtsp_transport", "tcp", withCreds(srv.RTSP("live/s"), "pub", "pp")); err == nil ||
			!strings.Contains(err.Error(), "401") {
			t.Errorf("ffprobe with the publish user: want 401, got %v", err)
		}
		checkProbe(t, "ffprobe with the read user", probeFrames(t, withCreds(srv.RTSP("live/s"), "rd", "rp"), 3, "-rtsp_transport", "tcp"),
			liveWant("h264", "aac", 3))
		// ffmpeg publishing over RTSP with the publish user.
		pub2 := testpeer.FFmpegPublishRTSP(t, baseline, withCreds(srv.RTSP("live/s2"), "pub", "pp"), "tcp", true)
		waitLive(t, srv, "live/s2", pub2, basic("rd", "rp"))
	})

	t.Run("rtmp", func(t *testing.T) {
		t.Parallel()
		r := testpeer.RunClient(t, 20*time.Second, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", baseline,
			"-c", "copy", "-f", "flv", srv.RTMP("live/m?user=rd&pass=rp"))
		if r.Code == 0 || r.TimedOut() {
			t.Errorf("RTMP publish with the read user: want a refusal:\n%s", r)
		}
		pub := testpeer.FFmpegPublishRTMP(t, baseline, srv.RTMP("live/m?user=pub&pass=pp"), true)
		waitLive(t, srv, "live/m", pub, basic("rd", "rp"))
		checkProbe(t, "RTMP play with the read user", probeFrames(t, srv.RTMP("live/m?user=rd&pass=rp"), 3), liveWant("h264", "aac", 3))
		if _, err := testpeer.FFprobe(20*time.Second, "-rw_timeout", "5000000", srv.RTMP("live/m?user=pub&pass=pp")); err == nil {
			t.Errorf("RTMP play with the publish user: want a refusal")
		}
	})
}

// TestServeAllowFrom: --allow-from closes connections from other addresses
// at once, on both listeners.
func TestServeAllowFrom(t *testing.T) {
	t.Parallel()
	t.Run("loopback_not_allowed", func(t *testing.T) {
		t.Parallel()
		srv := clitest.StartServe(t, "--allow-from", "10.0.0.0/8")
		for _, c := range []struct {
			name  string
			port  int
			hello []byte
		}{
			{"RTSP", srv.RTSPPort, []byte("OPTIONS " + srv.RTSP("demo") + " RTSP/1.0\r\nCSeq: 1\r\n\r\n")},
			{"RTMP", srv.RTMPPort, append([]byte{3}, make([]byte, 1536)...)},
		} {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), 5*time.Second)
			if err != nil {
				t.Logf("%s: connect refused: %v", c.name, err)
				continue
			}
			defer conn.Close()
			_, _ = conn.Write(c.hello)
			if got := expectClosed(t, conn, 2*time.Second, c.name+" from 127.0.0.1 with --allow-from 10.0.0.0/8"); len(got) > 0 {
				t.Errorf("%s: the server answered %q", c.name, head(got))
			}
		}
		if r := clitest.Run(t, 20*time.Second, "probe", srv.RTSP("demo")); r.Code == 0 {
			t.Errorf("probe from a refused address succeeded:\n%s", r)
		}
	})
	t.Run("loopback_allowed", func(t *testing.T) {
		t.Parallel()
		srv := clitest.StartServe(t, "--allow-from", "127.0.0.1/32")
		for _, url := range []string{srv.RTSP("demo"), srv.RTMP("demo")} {
			if r := clitest.Run(t, 20*time.Second, "probe", url); r.Code != 0 || !strings.Contains(r.Stdout, "640x480") {
				t.Errorf("probe %s with --allow-from 127.0.0.1/32:\n%s", url, r)
			}
		}
	})
}
