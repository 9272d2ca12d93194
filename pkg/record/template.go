// Package record splits a recording into segments named from a strftime
// template, with fields naming the source (ExpandSource).
package record

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/avcat/avcat/pkg/mediaurl"
)

// composite directives are POSIX shorthands for others.
var composite = map[byte]string{
	'F': "%Y-%m-%d", 'T': "%H:%M:%S", 'D': "%m/%d/%y", 'R': "%H:%M",
	'r': "%I:%M:%S %p", 'c': "%a %b %e %H:%M:%S %Y", 'x': "%m/%d/%y", 'X': "%H:%M:%S",
	'h': "%b",
}

// Expand fills a strftime-style template with every POSIX conversion
// (C locale): %a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %m %M %n %p
// %r %R %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%, plus %f
// (milliseconds) and %s (Unix seconds). Unknown directives are an error, so
// a typo does not silently produce one file name for every segment.
func Expand(tmpl string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(tmpl) {
			return "", fmt.Errorf("template %q ends with a lone %%", tmpl)
		}
		d := tmpl[i]
		if sub, ok := composite[d]; ok {
			v, _ := Expand(sub, t)
			b.WriteString(v)
			continue
		}
		if !conversion(&b, d, t) {
			return "", fmt.Errorf("template %q: unknown directive %%%c", tmpl, d)
		}
	}
	return b.String(), nil
}

// conversion writes one simple directive; false when d is not one.
func conversion(b *strings.Builder, d byte, t time.Time) bool {
	isoYear, isoWeek := t.ISOWeek()
	switch d {
	case 'Y':
		fmt.Fprintf(b, "%04d", t.Year())
	case 'y':
		fmt.Fprintf(b, "%02d", t.Year()%100)
	case 'C':
		fmt.Fprintf(b, "%02d", t.Year()/100)
	case 'G':
		fmt.Fprintf(b, "%04d", isoYear)
	case 'g':
		fmt.Fprintf(b, "%02d", isoYear%100)
	case 'm':
		fmt.Fprintf(b, "%02d", int(t.Month()))
	case 'd':
		fmt.Fprintf(b, "%02d", t.Day())
	case 'e':
		fmt.Fprintf(b, "%2d", t.Day())
	case 'H':
		fmt.Fprintf(b, "%02d", t.Hour())
	case 'I':
		fmt.Fprintf(b, "%02d", (t.Hour()+11)%12+1)
	case 'p':
		b.WriteString(t.Format("PM"))
	case 'M':
		fmt.Fprintf(b, "%02d", t.Minute())
	case 'S':
		fmt.Fprintf(b, "%02d", t.Second())
	case 'f':
		fmt.Fprintf(b, "%03d", t.Nanosecond()/1e6)
	case 'j':
		fmt.Fprintf(b, "%03d", t.YearDay())
	case 's':
		fmt.Fprintf(b, "%d", t.Unix())
	case 'u':
		fmt.Fprintf(b, "%d", (int(t.Weekday())+6)%7+1)
	case 'w':
		fmt.Fprintf(b, "%d", int(t.Weekday()))
	case 'U': // weeks starting on Sunday; days before the first are week 0
		fmt.Fprintf(b, "%02d", (t.YearDay()+6-int(t.Weekday()))/7)
	case 'W': // weeks starting on Monday
		fmt.Fprintf(b, "%02d", (t.YearDay()+6-(int(t.Weekday())+6)%7)/7)
	case 'V':
		fmt.Fprintf(b, "%02d", isoWeek)
	case 'b':
		b.WriteString(t.Format("Jan"))
	case 'B':
		b.WriteString(t.Format("January"))
	case 'a':
		b.WriteString(t.Format("Mon"))
	case 'A':
		b.WriteString(t.Format("Monday"))
	case 'Z':
		b.WriteString(t.Format("MST"))
	case 'z':
		b.WriteString(t.Format("-0700"))
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case '%':
		b.WriteByte('%')
	default:
		return false
	}
	return true
}

// HasTimeDirective reports whether the template changes with time, so
// segments get distinct names without a counter.
func HasTimeDirective(tmpl string) bool {
	for i := 0; i+1 < len(tmpl); i++ {
		if tmpl[i] == '%' {
			if strings.IndexByte("nt%", tmpl[i+1]) < 0 {
				return true
			}
			i++
		}
	}
	return false
}

// Source is one recorded source, for the source fields of a template:
// %{path} (the URL's path and query), %{host} (host and port as written)
// and %{index} (its 1-based position among the sources).
type Source struct {
	URL   string
	Index int
}

// MaxFieldLen bounds the bytes one source field adds to a file name.
const MaxFieldLen = 100

// ExpandSource replaces the source fields of tmpl with src's values, each
// made a safe file name (bytes other than A-Z a-z 0-9 . _ - become _,
// outer _ are trimmed, a leading . becomes _, "" becomes _, at most
// MaxFieldLen bytes), and leaves the strftime directives to Expand. A
// secret in the URL (password, token=...) never reaches a name.
func ExpandSource(tmpl string, src Source) (string, error) {
	if !strings.Contains(tmpl, "%{") {
		return tmpl, nil
	}
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			continue
		}
		if tmpl[i+1] != '{' {
			b.WriteString(tmpl[i : i+2]) // a strftime directive, or %%
			i++
			continue
		}
		end := strings.IndexByte(tmpl[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("template %q: %%{ without a closing }", tmpl)
		}
		name := tmpl[i+2 : i+end]
		v, ok := src.field(name)
		if !ok {
			return "", fmt.Errorf("template %q: unknown field %%{%s}: want %%{path}, %%{host} or %%{index}", tmpl, name)
		}
		b.WriteString(v)
		i += end
	}
	return b.String(), nil
}

func (s Source) field(name string) (string, bool) {
	switch name {
	case "index":
		return strconv.Itoa(s.Index), true
	case "path", "host":
	default:
		return "", false
	}
	// Redact first: a password or token never becomes part of a name.
	u, err := url.Parse(mediaurl.Redact(s.URL))
	if err != nil {
		return "_", true
	}
	if name == "host" {
		return SafeName(u.Host), true
	}
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return SafeName(p), true
}

// SafeName makes s one safe path element (see ExpandSource).
func SafeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	n := strings.Trim(string(b), "_")
	if len(n) > MaxFieldLen {
		n = n[:MaxFieldLen]
	}
	if strings.HasPrefix(n, ".") {
		n = "_" + n[1:] // never "", ".", ".." or a hidden file
	}
	if n == "" {
		n = "_"
	}
	return n
}

// HasSourceField reports whether tmpl names the source.
func HasSourceField(tmpl string) bool {
	for i := 0; i+1 < len(tmpl); i++ {
		if tmpl[i] == '%' {
			if tmpl[i+1] == '{' {
				return true
			}
			i++
		}
	}
	return false
}

// CheckDistinct returns an error when tmpl gives two of the sources the
// same file names: with several sources it must tell them apart.
func CheckDistinct(tmpl string, srcs []Source) error {
	seen := make(map[string]int, len(srcs))
	for i, s := range srcs {
		name, err := ExpandSource(tmpl, s)
		if err != nil {
			return err
		}
		if j, ok := seen[name]; ok {
			return fmt.Errorf("-o %q gives sources %d and %d (%s, %s) the same file names: name each source with %%{path}, %%{host} or %%{index}",
				tmpl, srcs[j].Index, s.Index, mediaurl.Redact(srcs[j].URL), mediaurl.Redact(s.URL))
		}
		seen[name] = i
	}
	return nil
}
