package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds of a --sources list (docs/limits.md).
const (
	MaxSources    = 1000
	MaxSourceLine = 8 << 10
)

// ParseSources reads a --sources list: one URL a line; blank lines and
// lines starting with # are skipped, and so is a trailing " #comment".
// A line holding more than one word, a line longer than MaxSourceLine
// and more than MaxSources sources are errors naming the line.
func ParseSources(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxSourceLine)
	var out []string
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if i := strings.Index(line, "\t#"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.ContainsAny(line, " \t\r\v\f") {
			return nil, fmt.Errorf("line %d: one URL a line, got %q", n, line)
		}
		if len(out) == MaxSources {
			return nil, fmt.Errorf("line %d: more than %d sources", n, MaxSources)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", n+1, MaxSourceLine)
		}
		return nil, err
	}
	return out, nil
}
