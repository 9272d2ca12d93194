package rtsp

import (
	"testing"
	"time"
)

var nptCases = []struct {
	in   string
	want time.Duration
	ok   bool
}{
	{"npt=2-", 2 * time.Second, true},
	{"npt=1.5-10", 1500 * time.Millisecond, true},
	{"npt=0:01:02.5-", 62500 * time.Millisecond, true},
	{"12", 12 * time.Second, true},
	{"npt=now-", 0, false},
	{"npt=-5", 0, false},
	{"npt=x-", 0, false},
	{"npt=1:2:3:4-", 0, false},
	{"npt=-1-", 0, false},
}

func TestParseNPTStart(t *testing.T) {
	for _, c := range nptCases {
		got, ok := ParseNPTStart(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseNPTStart(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseNPTStart(f *testing.F) {
	for _, c := range nptCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if d, ok := ParseNPTStart(in); ok && d < 0 {
			t.Fatalf("negative start %v from %q", d, in)
		}
	})
}
