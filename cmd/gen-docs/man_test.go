package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManSections: every man page has EXIT STATUS and ENVIRONMENT, before
// SEE ALSO, as man-pages(7) orders them.
func TestManSections(t *testing.T) {
	dir := t.TempDir()
	if err := run([]string{"--man-dir", dir}); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(pages) < 9 {
		t.Fatalf("%d man pages", len(pages))
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		exit, env, see := strings.Index(s, ".SH EXIT STATUS"), strings.Index(s, ".SH ENVIRONMENT"), strings.Index(s, ".SH SEE ALSO")
		if exit < 0 || env < exit || (see >= 0 && see < env) || !strings.Contains(s, "NO_COLOR") {
			t.Errorf("%s: EXIT STATUS at %d, ENVIRONMENT at %d, SEE ALSO at %d", filepath.Base(p), exit, env, see)
		}
	}
}
