package engine

import (
	"context"
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/media"
)

// Loop plays a source again and again, with timestamps that continue
// across iterations (a Timeline with the AfterEnd policy). Each iteration
// opens a fresh source from New; its tracks must match the first one's.
type Loop struct {
	New func() Source
	// Count is how many times to play; 0 means forever.
	Count int
	// OnLoop, when set, is told each time a new iteration starts.
	OnLoop func(iteration int)
	// Onto, when set, is the description whose formats (by index) every
	// unit is mapped onto, and the one Open returns; by default it is the
	// first iteration's.
	Onto *description.Session

	first     Source
	desc, ref *description.Session
	ran       bool
}

// Open opens the first iteration.
func (l *Loop) Open(ctx context.Context) (*description.Session, error) {
	l.first = l.New()
	desc, err := l.first.Open(ctx)
	if err != nil {
		return nil, err
	}
	l.desc, l.ref = desc, desc
	if l.Onto != nil {
		if err := NewTimeline(l.Onto, AfterEnd).Fits(desc); err != nil {
			return nil, fmt.Errorf("loop: the input does not fit its description: %w", err)
		}
		l.ref = l.Onto
	}
	return l.ref, nil
}

// Run plays the iterations back to back.
func (l *Loop) Run(ctx context.Context, emit func(*media.Unit)) error {
	l.ran = true
	tl := NewTimeline(l.ref, AfterEnd)
	src, cur := l.first, l.desc
	for i := 0; l.Count == 0 || i < l.Count; i++ {
		if i > 0 {
			src = l.New()
			desc, err := src.Open(ctx)
			if err == nil {
				if err = tl.Fits(desc); err != nil {
					err = fmt.Errorf("loop: the input changed its tracks: %w", err)
				}
			}
			if err != nil {
				src.Close()
				return err
			}
			if l.OnLoop != nil {
				l.OnLoop(i)
			}
			cur = desc
		}
		err := tl.Play(ctx, src, cur, emit)
		src.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
		if !tl.Advanced() {
			return nil // an empty input would loop forever
		}
	}
	return nil
}

// Close closes the first source if Run never took it over; otherwise each
// iteration has closed its own.
func (l *Loop) Close() error {
	if !l.ran && l.first != nil {
		return l.first.Close()
	}
	return nil
}
