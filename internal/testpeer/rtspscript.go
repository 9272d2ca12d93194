package testpeer

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// DescribeOnlyServer is a fake RTSP server that answers OPTIONS, DESCRIBE
// (with sdp) and SETUP (echoing the offered transport) like a working
// camera, and closes the connection without an answer as soon as it
// receives closeOn (e.g. "SETUP" or "PLAY"; anything else gets a plain
// 200). It models a source that dies before PLAY; it never sends media.
type DescribeOnlyServer struct {
	*FakeServer
	closes atomic.Int64
}

// Closes reports how many times the server hung up on closeOn.
func (s *DescribeOnlyServer) Closes() int { return int(s.closes.Load()) }

// StartDescribeOnlyServer starts a DescribeOnlyServer on 127.0.0.1; it is
// closed in t.Cleanup.
func StartDescribeOnlyServer(t testing.TB, sdp, closeOn string) *DescribeOnlyServer {
	t.Helper()
	return startDescribeOnlyServer(t, sdp, closeOn, "\r\n")
}

// StartBareLFServer is a DescribeOnlyServer (closing on closeOn) that ends
// every line of its responses, SDP included, with a bare "\n" instead of
// "\r\n", as the RTSP servers of some old camera firmware do.
func StartBareLFServer(t testing.TB, sdp, closeOn string) *DescribeOnlyServer {
	t.Helper()
	return startDescribeOnlyServer(t, sdp, closeOn, "\n")
}

func startDescribeOnlyServer(t testing.TB, sdp, closeOn, eol string) *DescribeOnlyServer {
	t.Helper()
	sdp = strings.ReplaceAll(sdp, "\r\n", eol)
	s := &DescribeOnlyServer{}
	s.FakeServer = startFakeServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			method, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			cseq, transport := "", ""
			for {
				h, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if k, v, ok := strings.Cut(h, ":"); ok {
					switch strings.ToLower(strings.TrimSpace(k)) {
					case "cseq":
						cseq = strings.TrimSpace(v)
					case "transport":
						transport = strings.TrimSpace(v)
					}
				}
				if h == "\r\n" || h == "\n" {
					break
				}
			}
			if method == "" {
				continue
			}
			if strings.EqualFold(method, closeOn) {
				s.closes.Add(1)
				return // the handler's return closes the connection
			}
			resp := "RTSP/1.0 200 OK\r\nCSeq: " + cseq + "\r\nServer: testpeer-describe-only\r\n"
			switch method {
			case "OPTIONS":
				resp += "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
			case "SETUP":
				// Accept the client's transport as offered (UDP gets
				// server ports that nothing listens on: no media flows).
				if strings.Contains(transport, "client_port") && !strings.Contains(transport, "server_port") {
					transport += ";server_port=9;ssrc=0BADF00D"
				}
				resp += "Transport: " + transport + "\r\nSession: 0BADF00D;timeout=60\r\n\r\n"
			case "DESCRIBE":
				resp += fmt.Sprintf("Content-Base: rtsp://%s/cam/\r\nContent-Type: application/sdp\r\nContent-Length: %s\r\n\r\n%s",
					c.LocalAddr(), strconv.Itoa(len(sdp)), sdp)
			default:
				resp += "\r\n"
			}
			// The SDP already has its line ends; only the head changes.
			head, body, _ := strings.Cut(resp, "\r\n\r\n")
			resp = strings.ReplaceAll(head, "\r\n", eol) + eol + eol + body
			if _, err := c.Write([]byte(resp)); err != nil {
				return
			}
		}
	})
	return s
}

// SDPH264AAC is a valid SDP for an H.264 (640x480) + AAC 48 kHz stereo
// stream, as a camera sends it in DESCRIBE.
const SDPH264AAC = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n" +
	"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets=Z0LAHtoCgPbAWoMDA1KAAAADAIAAABlHixdQ,aM48gA==\r\n" +
	"a=control:trackID=0\r\n" +
	"m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/48000/2\r\n" +
	"a=fmtp:97 config=1190;indexdeltalength=3;indexlength=3;mode=AAC-hbr;profile-level-id=1;sizelength=13;streamtype=5\r\n" +
	"a=control:trackID=1\r\n"
