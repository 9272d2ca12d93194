package mp4w

import (
	"bytes"
	"testing"

	gomp4 "github.com/abema/go-mp4"
)

// TestTables checks the sample tables of a track whose chunks lie past
// 4 GB (co64) and whose composition offsets go negative (ctts version 1),
// by reading them back with go-mp4.
func TestTables(t *testing.T) {
	tt := &tableTrack{
		count:   4,
		sizes:   []uint32{10, 20, 30, 40},
		stts:    []sttsRun{{count: 3, delta: 3600}, {count: 1, delta: 1800}},
		ctts:    []int32{3600, -1800, -1800, 0},
		stss:    []uint32{1},
		offsets: []uint64{1 << 20, 5 << 30},
		stsc:    []stscRun{{first: 1, perChunk: 2}},
	}
	var bb boxes
	bb.start("stbl")
	tt.tables(&bb)
	bb.end()
	if bb.err != nil {
		t.Fatal(bb.err)
	}
	got := map[string]gomp4.IBox{}
	_, err := gomp4.ReadBoxStructure(bytes.NewReader(bb.b), func(h *gomp4.ReadHandle) (any, error) {
		if h.BoxInfo.Type.String() == "stbl" {
			return h.Expand()
		}
		box, _, err := h.ReadPayload()
		if err != nil {
			return nil, err
		}
		got[h.BoxInfo.Type.String()] = box
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["stco"]; ok {
		t.Error("stco with an offset past 4 GB")
	}
	co64, ok := got["co64"].(*gomp4.Co64)
	if !ok || len(co64.ChunkOffset) != 2 || co64.ChunkOffset[1] != 5<<30 {
		t.Errorf("co64 %+v", got["co64"])
	}
	ctts, ok := got["ctts"].(*gomp4.Ctts)
	if !ok || ctts.Version != 1 || len(ctts.Entries) != 3 ||
		ctts.Entries[1].SampleCount != 2 || ctts.Entries[1].SampleOffsetV1 != -1800 {
		t.Errorf("ctts %+v", got["ctts"])
	}
	if stts, ok := got["stts"].(*gomp4.Stts); !ok || len(stts.Entries) != 2 || stts.Entries[0].SampleCount != 3 {
		t.Errorf("stts %+v", got["stts"])
	}
	if stss, ok := got["stss"].(*gomp4.Stss); !ok || len(stss.SampleNumber) != 1 {
		t.Errorf("stss %+v", got["stss"])
	}
	if stsz, ok := got["stsz"].(*gomp4.Stsz); !ok || len(stsz.EntrySize) != 4 || stsz.EntrySize[3] != 40 {
		t.Errorf("stsz %+v", got["stsz"])
	}
	if stsc, ok := got["stsc"].(*gomp4.Stsc); !ok || len(stsc.Entries) != 1 || stsc.Entries[0].SamplesPerChunk != 2 {
		t.Errorf("stsc %+v", got["stsc"])
	}
}

// TestTablesSmall: offsets under 4 GB use stco, non-negative offsets
// ctts version 0, and an all-sync track has no stss.
func TestTablesSmall(t *testing.T) {
	tt := &tableTrack{
		count:   2,
		sizes:   []uint32{1, 2},
		stts:    []sttsRun{{count: 2, delta: 1024}},
		ctts:    []int32{0, 512},
		stss:    []uint32{1, 2},
		offsets: []uint64{48},
		stsc:    []stscRun{{first: 1, perChunk: 2}},
	}
	var bb boxes
	tt.tables(&bb)
	for _, typ := range []string{"stco", "ctts"} {
		b, ok := findBox(bb.b, typ)
		if !ok {
			t.Fatalf("no %s", typ)
		}
		if typ == "ctts" && b[8] != 0 {
			t.Errorf("ctts version %d", b[8])
		}
	}
	for _, typ := range []string{"co64", "stss"} {
		if _, ok := findBox(bb.b, typ); ok {
			t.Errorf("unexpected %s", typ)
		}
	}
}
