package rtsp

import (
	"strings"
	"testing"
)

func TestFormatTraceRedacts(t *testing.T) {
	msg := "DESCRIBE rtsp://admin:hunter22@cam/x RTSP/1.0\r\n" +
		"Authorization: Basic YWRtaW46aHVudGVyMjI=\r\n" +
		"CSeq: 3\r\n\r\n"
	got := formatTrace("> ", []byte(msg))
	for _, secret := range []string{"hunter22", "YWRtaW46aHVudGVyMjI="} {
		if strings.Contains(got, secret) {
			t.Fatalf("trace leaks %q:\n%s", secret, got)
		}
	}
	if !strings.Contains(got, "> Authorization: Basic ***") || !strings.Contains(got, "> CSeq: 3") {
		t.Fatalf("trace:\n%s", got)
	}

	digest := `Authorization: Digest username="admin", realm="r", nonce="n", uri="rtsp://cam/x", response="0123abcd"` + "\r\n"
	got = formatTrace("> ", []byte(digest))
	if strings.Contains(got, "0123abcd") || !strings.Contains(got, `username="admin"`) {
		t.Fatalf("digest trace:\n%s", got)
	}
}
