package cmdutil

import "testing"

var sizeCases = []struct {
	in   string
	want int64
	bad  bool
}{
	{in: "1000", want: 1000},
	{in: "100M", want: 100_000_000},
	{in: "100MB", want: 100_000_000},
	{in: "1.5G", want: 1_500_000_000},
	{in: "512k", want: 512_000},
	{in: "64MiB", want: 64 << 20},
	{in: "2Ki", want: 2048},
	{in: "0", want: 0},
	{in: "-1M", bad: true},
	{in: "lots", bad: true},
	{in: "M", bad: true},
	{in: "", bad: true},
}

func TestParseByteSize(t *testing.T) {
	for _, c := range sizeCases {
		got, err := ParseByteSize(c.in)
		if c.bad != (err != nil) || (!c.bad && got != c.want) {
			t.Errorf("%q: %d, %v; want %d (bad %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, c := range sizeCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseByteSize(s); err == nil && v < 0 {
			t.Fatalf("%q gave %d", s, v)
		}
	})
}
