package engine

import (
	"context"
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Selection picks tracks: only video, only audio, or by index (0-based,
// in description order). The zero value keeps everything.
type Selection struct {
	VideoOnly bool
	AudioOnly bool
	Tracks    []int
}

// IsZero reports whether the selection keeps every track.
func (s Selection) IsZero() bool { return !s.VideoOnly && !s.AudioOnly && len(s.Tracks) == 0 }

// Select wraps a source and drops the tracks a Selection leaves out.
type Select struct {
	Source
	Selection Selection

	keep map[format.Format]bool
}

// Open filters the description; no track left is a usage error.
func (s *Select) Open(ctx context.Context) (*description.Session, error) {
	desc, err := s.Source.Open(ctx)
	if err != nil {
		return nil, err
	}
	out := &description.Session{Title: desc.Title, BaseURL: desc.BaseURL, FECGroups: desc.FECGroups}
	s.keep = make(map[format.Format]bool)
	for i, m := range desc.Medias {
		if !s.wants(i, m) {
			continue
		}
		out.Medias = append(out.Medias, m)
		for _, f := range m.Formats {
			s.keep[f] = true
		}
	}
	for _, t := range s.Selection.Tracks {
		if t < 0 || t >= len(desc.Medias) {
			s.Source.Close()
			return nil, fault.New(fault.Usage, "--track %d: the input has %d tracks (0 to %d)", t, len(desc.Medias), len(desc.Medias)-1)
		}
	}
	if len(out.Medias) == 0 {
		s.Source.Close()
		return nil, fault.New(fault.Usage, "no track left after selection (%s)", s.describe())
	}
	return out, nil
}

func (s *Select) wants(i int, m *description.Media) bool {
	sel := s.Selection
	if sel.VideoOnly && m.Type != description.MediaTypeVideo {
		return false
	}
	if sel.AudioOnly && m.Type != description.MediaTypeAudio {
		return false
	}
	if len(sel.Tracks) > 0 {
		for _, t := range sel.Tracks {
			if t == i {
				return true
			}
		}
		return false
	}
	return true
}

func (s *Select) describe() string {
	switch {
	case s.Selection.VideoOnly:
		return "--video-only"
	case s.Selection.AudioOnly:
		return "--audio-only"
	}
	return fmt.Sprintf("--track %v", s.Selection.Tracks)
}

// Run drops units of the tracks left out.
func (s *Select) Run(ctx context.Context, emit func(*media.Unit)) error {
	return s.Source.Run(ctx, func(u *media.Unit) {
		if s.keep[u.Format] {
			emit(u)
		}
	})
}
