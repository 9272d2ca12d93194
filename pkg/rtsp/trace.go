package rtsp

import (
	"bytes"
	"regexp"
	"strings"
)

var (
	authHeader = regexp.MustCompile(`(?mi)^((?:Proxy-)?Authorization:\s*)(Basic|Digest)?\s*.*$`)
	digestResp = regexp.MustCompile(`(?i)response="[^"]*"`)
	urlCreds   = regexp.MustCompile(`(?i)(rtsp[sh]?://[^:/@\s]*):[^@/\s]*@`)
	// MIKEY messages carry SRTP master keys in clear (TLS protects them).
	keyMgmt = regexp.MustCompile(`(?mi)^((?:KeyMgmt:.*\bdata=")[^"]*|a=key-mgmt:\s*mikey\s+\S+)`)
)

// formatTrace prefixes every line of an RTSP message, with credentials
// hidden: Basic tokens are dropped, Digest keeps its non-secret fields.
func formatTrace(prefix string, msg []byte) string {
	text := strings.TrimRight(string(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))), "\n")
	text = authHeader.ReplaceAllStringFunc(text, func(line string) string {
		m := authHeader.FindStringSubmatch(line)
		if strings.EqualFold(m[2], "Digest") {
			return digestResp.ReplaceAllString(line, `response="***"`)
		}
		return m[1] + m[2] + " ***"
	})
	text = urlCreds.ReplaceAllString(text, "$1:***@")
	text = keyMgmt.ReplaceAllStringFunc(text, func(m string) string {
		if i := strings.Index(m, `data="`); i >= 0 {
			return m[:i+len(`data="`)] + "***"
		}
		return "a=key-mgmt:mikey ***"
	})
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
