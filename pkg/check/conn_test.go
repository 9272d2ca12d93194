package check

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

var messageCases = []struct {
	name, in string
	code     int    // 0: an error is expected
	req      string // a request from the server
	bareLF   bool
}{
	{"ok", "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS\r\n\r\n", 200, "", false},
	{"body", "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 4\r\n\r\nv=0\n", 200, "", false},
	{"bare LF", "RTSP/1.0 404 Not Found\nCSeq: 3\n\n", 404, "", true},
	{"HTTP", "HTTP/1.1 200 OK\r\n\r\n", 0, "", false},
	{"huge body", "RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", 0, "", false},
	{"negative body", "RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", false},
	{"server request", "REDIRECT rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n\r\n", 0, "REDIRECT", false},
	{"truncated", "RTSP/1.0 200 OK\r\nCSeq: 1\r\n", 0, "", false},
	{"junk status", "RTSP/1.0 abc OK\r\n\r\n", 0, "", false},
}

func TestReadMessage(t *testing.T) {
	for _, c := range messageCases {
		t.Run(c.name, func(t *testing.T) {
			conn := &rtspConn{}
			res, req, err := conn.readMessage(bufio.NewReader(strings.NewReader(c.in)))
			switch {
			case c.req != "":
				if req != c.req || err != nil {
					t.Fatalf("req %q err %v", req, err)
				}
			case c.code == 0:
				if err == nil {
					t.Fatalf("no error: %+v", res)
				}
			default:
				if err != nil || int(res.StatusCode) != c.code {
					t.Fatalf("%+v %v", res, err)
				}
			}
			if (conn.bareLF > 0) != c.bareLF {
				t.Errorf("bareLF = %d", conn.bareLF)
			}
		})
	}
}

func TestReadMessageHeaderLimit(t *testing.T) {
	in := "RTSP/1.0 200 OK\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 100) + "\r\n"
	conn := &rtspConn{}
	if _, _, err := conn.readMessage(bufio.NewReaderSize(strings.NewReader(in), 64<<10)); err == nil {
		t.Fatal("a 100 KB header was accepted")
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, c := range messageCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		conn := &rtspConn{}
		br := bufio.NewReaderSize(bytes.NewReader(b), 64<<10)
		for range 4 {
			if _, _, err := conn.readMessage(br); err != nil {
				return
			}
		}
	})
}
