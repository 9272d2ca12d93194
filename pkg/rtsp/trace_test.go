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

func TestFormatTraceHidesSRTPKeys(t *testing.T) {
	msg := "SETUP rtsps://cam/x/trackID=0 RTSP/1.0\r\n" +
		`KeyMgmt: prot=mikey;uri="rtsps://cam/x/trackID=0";data="AQAFAFO+m94BAADVv1Ut"` + "\r\n" +
		"Transport: RTP/SAVP;unicast;client_port=5000-5001\r\n\r\n" +
		"m=video 0 RTP/SAVP 96\r\na=key-mgmt:mikey AQAFAJRLQMsBAAC07tSL\r\n"
	got := formatTrace("> ", []byte(msg))
	if strings.Contains(got, "AQAFA") {
		t.Fatalf("trace leaks a MIKEY message:\n%s", got)
	}
	for _, want := range []string{`> KeyMgmt: prot=mikey;uri="rtsps://cam/x/trackID=0";data="***"`, "> a=key-mgmt:mikey ***", "> Transport: RTP/SAVP;unicast"} {
		if !strings.Contains(got, want) {
			t.Fatalf("trace lacks %q:\n%s", want, got)
		}
	}
}
