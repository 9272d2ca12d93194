// Package inputtest runs a demuxer to its end and checks its errors, for
// the tests of the container sources. It is for tests only.
package inputtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Result is what one demux gave.
type Result struct {
	Desc  *description.Session
	Units []*media.Unit
	// Hashes are the payload hashes taken inside emit, in unit order.
	Hashes  []string
	OpenErr error
	RunErr  error
}

// HashUnit is a short hash of a unit's payload.
func HashUnit(u *media.Unit) string {
	h := sha256.New()
	for _, p := range u.Payload {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Demux opens and runs src to its end (20 s at most), then closes it.
func Demux(t testing.TB, src engine.Source) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r Result
	defer func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	r.Desc, r.OpenErr = src.Open(ctx)
	if r.OpenErr != nil {
		return r
	}
	r.RunErr = src.Run(ctx, func(u *media.Unit) {
		r.Units = append(r.Units, u)
		r.Hashes = append(r.Hashes, HashUnit(u))
	})
	if ctx.Err() != nil {
		t.Fatalf("demux did not finish")
	}
	return r
}

// CheckErr requires no error when want is empty, else a one-line error
// containing want, of kind.
func CheckErr(t *testing.T, what string, err error, want string, kind fault.Kind) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", what, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %v, want %q", what, err, want)
	}
	if k, ok := fault.KindOf(err); !ok || k != kind {
		t.Fatalf("%s: kind %v (%v), want %v", what, k, ok, kind)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("%s: multi-line error %q", what, err)
	}
}

// TypeName is a format's type name: "H264", "MPEG4Audio"...
func TypeName(f format.Format) string { return strings.TrimPrefix(fmt.Sprintf("%T", f), "*format.") }
