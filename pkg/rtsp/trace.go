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
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
