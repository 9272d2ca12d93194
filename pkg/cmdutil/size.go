package cmdutil

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a flag value in bytes that takes a unit: 100M, 1.5G, 512k,
// 64MiB. K, M, G and T are powers of 1000, as in ffmpeg; Ki, Mi, Gi and Ti
// powers of 1024; a trailing B is allowed.
type ByteSize int64

// String writes the size in bytes.
func (b *ByteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Type names the value in help.
func (b *ByteSize) Type() string { return "size" }

// Set parses a size.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize parses 100M, 1.5G, 512k, 64MiB or a plain byte count.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "b")
	mult := 1.0
	if strings.HasSuffix(strings.ToLower(t), "i") && len(t) >= 2 {
		if m, ok := unit(t[len(t)-2], 1024); ok {
			mult, t = m, t[:len(t)-2]
		}
	} else if len(t) >= 1 {
		if m, ok := unit(t[len(t)-1], 1000); ok {
			mult, t = m, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsNaN(n) || n*mult > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with K, M, G or T (e.g. 100M)", s)
	}
	return int64(n * mult), nil
}

func unit(c byte, base float64) (float64, bool) {
	switch c {
	case 'k', 'K':
		return base, true
	case 'm', 'M':
		return base * base, true
	case 'g', 'G':
		return base * base * base, true
	case 't', 'T':
		return base * base * base * base, true
	}
	return 0, false
}
