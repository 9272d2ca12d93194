package mediaurl

import (
	"net/url"
	"strings"
)

// redacted replaces every secret.
const redacted = "***"

// secretParams are query parameters whose values are redacted.
var secretParams = map[string]bool{
	"pass":          true,
	"passwd":        true,
	"password":      true,
	"pwd":           true,
	"token":         true,
	"access_token":  true,
	"secret":        true,
	"auth":          true,
	"authorization": true,
	"apikey":        true,
	"api_key":       true,
}

// Redact replaces the password in raw's userinfo with "***", keeping
// the user name, and the values of query parameters named like secrets
// (pass, password, pwd, token, secret ...). It works on the text, so the
// rest of the URL stays byte for byte as given, and it never fails: on
// input that does not parse as a URL (a password with "@", "/" or "?" in
// it, no scheme) it redacts everything from the first ":" of the userinfo
// to the last "@", so a password never leaks even if more is hidden.
func Redact(raw string) string {
	return redactQuery(redactUserinfo(raw))
}

func redactUserinfo(s string) string {
	start := authorityStart(s)
	rest := s[start:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	var at int
	if strings.IndexByte(rest[end:], '@') < 0 {
		// RFC 3986: the userinfo ends at the last "@" of the authority.
		at = strings.LastIndexByte(rest[:end], '@')
	} else {
		// An "@" after the authority: either a password holding "/", "?"
		// or "#", or an "@" in the path or query. Assume the former.
		at = strings.LastIndexByte(rest, '@')
	}
	if at < 0 {
		return s
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return s // a user name alone
	}
	return s[:start] + rest[:colon+1] + redacted + rest[at:]
}

// authorityStart finds where the authority begins: after "scheme://", after
// a leading "//", or, for text that is no URL, after the first "://" or at
// the start.
func authorityStart(s string) int {
	if strings.HasPrefix(s, "//") {
		return 2
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			if i > 0 && strings.HasPrefix(s[i:], "://") {
				return i + 3
			}
			break
		}
		if !isSchemeChar(s[i]) {
			break
		}
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return i + 3
	}
	return 0
}

func redactQuery(s string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	query, frag := s[q+1:], ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	pairs := strings.Split(query, "&")
	changed := false
	for i, p := range pairs {
		k, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		key := k
		if u, err := url.QueryUnescape(k); err == nil {
			key = u
		}
		if secretParams[strings.ToLower(strings.TrimSpace(key))] {
			pairs[i] = k + "=" + redacted
			changed = true
		}
	}
	if !changed {
		return s
	}
	return s[:q+1] + strings.Join(pairs, "&") + frag
}

// RedactText applies Redact to every URL ("scheme://...") found in s,
// such as the a=control and Content-Base values of an SDP or the text of an
// error. Text without URLs is returned unchanged.
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		j += i
		start := j
		for start > i && isSchemeChar(s[start-1]) {
			start--
		}
		end := j + 3
		for end < len(s) && !isURLTerminator(s[end]) {
			end++
		}
		b.WriteString(s[i:start])
		b.WriteString(Redact(s[start:end]))
		i = end
	}
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func isURLTerminator(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', '<', '>', '`':
		return true
	}
	return c < 0x20 || c == 0x7f
}
