package record

import (
	"strings"
	"testing"
	"time"
)

var expandCases = []struct {
	tmpl, want, err string
}{
	{tmpl: "cam1/%Y-%m-%d/%H-%M-%S.mp4", want: "cam1/2026-03-04/05-06-07.mp4"},
	{tmpl: "%y%j-%s-%f.ts", want: "26063-1772600767-089.ts"},
	{tmpl: "100%%.mp4", want: "100%.mp4"},
	{tmpl: "%a %b.mp4", want: "Wed Mar.mp4"},
	{tmpl: "plain.mp4", want: "plain.mp4"},
	// POSIX conversions, checked against GNU date (LC_ALL=C).
	{tmpl: "%F %T|%e|%j|%D|%R|%r|%c|%C|%G|%g|%I|%p|%u|%w|%U|%W|%V|%A|%B|%h|%x|%X",
		want: "2026-03-04 05:06:07| 4|063|03/04/26|05:06|05:06:07 AM|Wed Mar  4 05:06:07 2026|20|2026|26|05|AM|3|3|09|09|10|Wednesday|March|Mar|03/04/26|05:06:07"},
	{tmpl: "a%nb%tc", want: "a\nb\tc"},
	{tmpl: "bad%Q.mp4", err: "unknown directive %Q"},
	{tmpl: "end%", err: "lone %"},
}

func TestExpand(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 89e6, time.UTC)
	for _, c := range expandCases {
		got, err := Expand(c.tmpl, at)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.tmpl, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q = %q (%v), want %q", c.tmpl, got, err, c.want)
		}
	}
	// A year boundary: ISO year 2026, week 53; Sunday/Monday weeks 00.
	end := time.Date(2027, 1, 1, 23, 59, 59, 0, time.UTC)
	want := "2027-01-01 23:59:59| 1|001|01/01/27|23:59|11:59:59 PM|Fri Jan  1 23:59:59 2027|20|2026|26|11|PM|5|5|00|00|53|Friday|January|Jan|01/01/27|23:59:59"
	if got, _ := Expand("%F %T|%e|%j|%D|%R|%r|%c|%C|%G|%g|%I|%p|%u|%w|%U|%W|%V|%A|%B|%h|%x|%X", end); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if !HasTimeDirective("%F.mp4") || !HasTimeDirective("%e.mp4") || HasTimeDirective("a%n.mp4") {
		t.Error("HasTimeDirective of POSIX directives")
	}
	if !HasTimeDirective("a/%H.mp4") || HasTimeDirective("a%%H.mp4") || HasTimeDirective("x.mp4") {
		t.Error("HasTimeDirective")
	}
}

func FuzzExpand(f *testing.F) {
	for _, c := range expandCases {
		f.Add(c.tmpl)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		out, err := Expand(tmpl, time.Unix(1e9, 0).UTC())
		if err == nil && !strings.Contains(tmpl, "%") && out != tmpl {
			t.Fatalf("template without directives changed: %q -> %q", tmpl, out)
		}
	})
}
