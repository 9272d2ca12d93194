package engine

import (
	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/pkg/media"
)

// Discard is a sink that drops everything. It asks for access units, so a
// session with only Discard still measures frames and keyframes.
type Discard struct{}

// Open accepts any stream.
func (Discard) Open(*description.Session) error { return nil }

// Write drops the unit.
func (Discard) Write(*media.Unit) error { return nil }

// Close does nothing.
func (Discard) Close() error { return nil }

// Needs asks for decoded units.
func (Discard) Needs() Needs { return NeedAccessUnits }
