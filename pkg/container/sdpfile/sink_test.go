package sdpfile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"

	"github.com/avcat/avcat/pkg/container/mux/muxtest"
	"github.com/avcat/avcat/pkg/container/sdpfile"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
)

// TestSink writes the SDP of each clip to a file and to a writer; it
// parses back to the same formats, and units are ignored.
func TestSink(t *testing.T) {
	for _, c := range []muxtest.Case{muxtest.Cases[0], muxtest.Cases[3], muxtest.Cases[5]} {
		t.Run(c.Name, func(t *testing.T) {
			desc, units := c.Units(t)
			path := filepath.Join(t.TempDir(), "out.sdp")
			var buf bytes.Buffer
			for _, s := range []*sdpfile.Sink{{Path: path}, {W: &buf}} {
				if err := s.Open(desc); err != nil {
					t.Fatal(err)
				}
				for _, u := range units[:10] {
					if err := s.Write(u); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, buf.Bytes()) {
				t.Errorf("file and writer differ")
			}
			var sd sdp.SessionDescription
			if err := sd.Unmarshal(b); err != nil {
				t.Fatalf("parse: %v\n%s", err, b)
			}
			var back description.Session
			if err := back.Unmarshal(&sd); err != nil {
				t.Fatalf("describe: %v", err)
			}
			if len(back.Medias) != len(desc.Medias) {
				t.Fatalf("%d medias, want %d", len(back.Medias), len(desc.Medias))
			}
			for i, m := range back.Medias {
				if got, want := m.Formats[0].Codec(), desc.Medias[i].Formats[0].Codec(); got != want {
					t.Errorf("media %d: %s, want %s", i, got, want)
				}
			}
			if !strings.Contains(string(b), "sprop-") && c.Video != "" {
				t.Errorf("no parameter sets in the SDP:\n%s", b)
			}
		})
	}
}

// TestSinkNeeds: the sink wants no units.
func TestSinkNeeds(t *testing.T) {
	var s engine.NeedsReporter = &sdpfile.Sink{}
	if s.Needs() != 0 {
		t.Errorf("Needs %v", s.Needs())
	}
}

// TestSinkErrors: an empty description, a missing directory, a full disk.
func TestSinkErrors(t *testing.T) {
	s := &sdpfile.Sink{W: &bytes.Buffer{}}
	err := s.Open(&description.Session{})
	if k, _ := fault.KindOf(err); err == nil || k != fault.Unsupported {
		t.Errorf("empty description: %v", err)
	}
	s.Close()
	desc := &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}
	s = &sdpfile.Sink{Path: filepath.Join(t.TempDir(), "no", "x.sdp")}
	if err := s.Open(desc); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("missing directory: %v", err)
	}
	s.Close()
	s = &sdpfile.Sink{W: &muxtest.FullWriter{Limit: 10}}
	err = s.Open(desc)
	if err == nil || err.Error() != "write output: no space left on device" {
		t.Errorf("full disk: %v", err)
	}
	s.Close()
}
