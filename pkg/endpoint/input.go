package endpoint

import (
	"io"
	"os"

	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/engine"
)

// InputOptions say how a file (or stdin) input is played.
type InputOptions struct {
	FileOptions
	// Loop plays a file this many times; 0 loops forever, 1 (or less)
	// plays it once. OnLoop hears each new pass.
	Loop   int
	OnLoop func(i int)
	// Selection keeps some tracks only.
	Selection engine.Selection
	// Pace plays in real time, at Speed (0 means 1).
	Pace  bool
	Speed float64
}

// Input builds the source chain of a file, or of stdin when path is "-"
// and stdin is given: the input, its loop, the track selection, pacing.
func (r *Resolver) Input(path string, stdin io.Reader, o InputOptions) (engine.Source, error) {
	var src engine.Source
	if path == "-" && stdin != nil {
		s, err := StdinSource(stdin, o.Format, o.FileOptions.FPS)
		if err != nil {
			return nil, err
		}
		src = s
	} else {
		open, err := r.FileSource(path, o.FileOptions)
		if err != nil {
			return nil, err
		}
		if o.Loop == 1 {
			src = open()
		} else {
			src = &engine.Loop{New: open, Count: o.Loop, OnLoop: o.OnLoop}
		}
	}
	if !o.Selection.IsZero() {
		src = &engine.Select{Source: src, Selection: o.Selection}
	}
	if o.Pace {
		src = &engine.Paced{Source: src, Speed: o.Speed}
	}
	return src, nil
}

// RemoveOutput removes an output file that got nothing, with the SDP
// sidecar of an rtpdump or pcap output; "-" (stdout) is left alone.
func RemoveOutput(path, format string) {
	if path == "-" {
		return
	}
	_ = os.Remove(path)
	if format == OutRTPDump || format == OutPcap {
		_ = os.Remove(rtpcap.SidecarPath(path))
	}
}
