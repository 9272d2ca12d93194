package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLicenseShipped: the repository has its MIT LICENSE, and every
// release archive carries it.
func TestLicenseShipped(t *testing.T) {
	lic, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
	if err != nil || !strings.HasPrefix(string(lic), "MIT License") {
		t.Fatalf("LICENSE: %v, want the MIT license", err)
	}
	gr, err := os.ReadFile(filepath.Join("..", "..", ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s+files:\n(\s+- .*\n)*\s+- LICENSE\n`).Match(gr) {
		t.Fatal(".goreleaser.yaml: the archives' files do not include LICENSE")
	}
}
