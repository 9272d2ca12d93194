package endpoint

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/avcat/avcat/pkg/engine"
)

// Every input that is not RTP gives each track its own payload type: an
// RTSP server that dispatches by PT (lalserver) breaks on two 96s.
func TestUniquePayloadTypes(t *testing.T) {
	r := NewResolver(Config{})
	dir := filepath.Join("..", "..", "testdata", "media")
	files := []string{"h264_aac.ts", "h264_aac.flv", "h264_baseline_aac.mp4"}
	for _, name := range files {
		path := filepath.Join(dir, name)
		t.Run(name, func(t *testing.T) {
			open, err := r.FileSource(path, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkPayloadTypes(t, open())
		})
		t.Run("stdin-"+name, func(t *testing.T) {
			if filepath.Ext(name) == ".mp4" {
				t.Skip("mp4 cannot be read from a pipe")
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			src, err := StdinSource(f, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			checkPayloadTypes(t, src)
		})
	}
}

func checkPayloadTypes(t *testing.T, src engine.Source) {
	t.Helper()
	desc, err := src.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if len(desc.Medias) < 2 {
		t.Fatalf("%d tracks, want video and audio", len(desc.Medias))
	}
	seen := map[uint8]bool{}
	for _, m := range desc.Medias {
		pt := m.Formats[0].PayloadType()
		if seen[pt] {
			t.Fatalf("payload type %d announced twice", pt)
		}
		seen[pt] = true
	}
}
