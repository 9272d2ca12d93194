package media

import "testing"

// TestReorderDTS derives DTS from PTS with a reorder depth of 2
// (I P B B P B B…): evenly spaced, at most the PTS, strictly increasing.
func TestReorderDTS(t *testing.T) {
	r := reorderDTS{k: 2, frameDur: 3600}
	frames := []int64{0, 3, 1, 2, 6, 4, 5, 9, 7, 8}
	want := []int64{-2, -1, 0, 1, 2, 3, 4, 5, 6, 7}
	for i, f := range frames {
		if got := r.next(f * 3600); got != want[i]*3600 {
			t.Errorf("frame %d: dts %d, want %d", i, got/3600, want[i])
		}
	}
}
