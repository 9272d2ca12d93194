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
