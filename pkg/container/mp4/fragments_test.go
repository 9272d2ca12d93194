package mp4

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/avcat/avcat/pkg/media"
)

// TestHostileFragments: truns that claim billions of default-size
// samples cost no more samples than the file has bytes.
func TestHostileFragments(t *testing.T) {
	b := local("opus_fragmented.mp4")(t)
	at := bytes.Index(b, []byte("moof")) - 4
	if at < 0 {
		t.Fatal("no moof in opus_fragmented.mp4")
	}
	file := append([]byte(nil), b[:at]...)
	be := binary.BigEndian
	box := func(typ string, payload ...[]byte) []byte {
		p := bytes.Join(payload, nil)
		return append(be.AppendUint32(nil, uint32(8+len(p))), append([]byte(typ), p...)...)
	}
	u32 := func(v uint32) []byte { return be.AppendUint32(nil, v) }
	tfhd := box("tfhd", u32(0x020018), u32(1), u32(960), u32(1)) // default-base-is-moof, duration, size
	trun := box("trun", u32(0), u32(0xFFFFFFFF))                 // no per-sample fields
	moof := box("moof", box("mfhd", u32(0), u32(1)), box("traf", tfhd, trun))
	for range 2000 {
		file = append(file, moof...)
	}
	file = append(file, box("mdat", make([]byte, 1000))...)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	s := &Source{Reader: bytes.NewReader(file), Path: "hostile.mp4"}
	if _, err := s.Open(ctx); err != nil {
		t.Logf("Open: %v", err)
		return
	}
	n := 0
	_ = s.Run(ctx, func(*media.Unit) { n++ })
	if n > len(file) {
		t.Errorf("%d units from %d bytes", n, len(file))
	}
	t.Logf("%d units from %d bytes in %v", n, len(file), time.Since(start))
}
