// Package record splits a recording into segments named from a strftime
// template.
package record

import (
	"fmt"
	"strings"
	"time"
)

// Expand fills a strftime-style template: %Y %m %d %H %M %S %j %s %f (ms)
// %y %b %a %Z %z and %%. Unknown directives are an error, so a typo does not
// silently produce one file name for every segment.
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
		switch tmpl[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'f':
			fmt.Fprintf(&b, "%03d", t.Nanosecond()/1e6)
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'b':
			b.WriteString(t.Format("Jan"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("template %q: unknown directive %%%c", tmpl, tmpl[i])
		}
	}
	return b.String(), nil
}

// HasTimeDirective reports whether the template changes with time, so
// segments get distinct names without a counter.
func HasTimeDirective(tmpl string) bool {
	for i := 0; i+1 < len(tmpl); i++ {
		if tmpl[i] == '%' {
			if strings.IndexByte("YymdHMSfjsbaZ", tmpl[i+1]) >= 0 {
				return true
			}
			i++
		}
	}
	return false
}
