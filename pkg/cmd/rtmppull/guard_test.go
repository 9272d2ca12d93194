package rtmppull_test

// Hostile RTMP servers of issue 14 (items 1 and 2): rtmp-pull must exit 3
// with one error line, allocating little, instead of crashing on nested
// AMF0 or buffering gigabytes of chunk-size-0/1 fragments.

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

func TestRTMPPullHostileServer(t *testing.T) {
	want := map[string]string{
		testpeer.AttackNestedAMF0:   "RTMP server sent a 8000019-byte AMF message of type 20 (limit 65536)",
		testpeer.AttackChunkSize0:   "RTMP server set chunk size 0 (allowed 128 to 16777215)",
		testpeer.AttackChunkSize1:   "RTMP server set chunk size 1 (allowed 128 to 16777215)",
		testpeer.AttackPartialFlood: "RTMP server left more than 12582912 bytes of messages unfinished",
	}
	for _, name := range testpeer.RTMPAttacks {
		t.Run(name, func(t *testing.T) {
			srv, _ := testpeer.RTMPAttackServer(t, testpeer.RTMPAttack(name))
			out := filepath.Join(t.TempDir(), "out.flv")
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := clitest.Run(t, 30*time.Second, "rtmp-pull", srv.URL("rtmp", "live/x"), "-o", out)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: exit %d, %.1f MB allocated: %s", name, r.Code, float64(alloc)/1e6, r.ErrLine())
			if r.Code != 3 {
				t.Errorf("exit %d, want 3:\n%s", r.Code, r)
			}
			if line := r.ErrLine(); !strings.Contains(line, srv.Addr+": "+want[name]) ||
				strings.Count(r.Stderr, "avcat: error:") != 1 {
				t.Errorf("want one error line with %q:\n%s", want[name], r.Stderr)
			}
			// Before the guard: a stack overflow crash (nested AMF0), or
			// 0.5 to 1.5 GB allocated.
			if alloc > 100<<20 {
				t.Errorf("%.1f MB allocated, want < 100 MB", float64(alloc)/1e6)
			}
		})
	}
}

// TestPullHostileRTMPSServer: over rtmps:// the guard reads above TLS.
func TestPullHostileRTMPSServer(t *testing.T) {
	srv, _ := testpeer.RTMPSAttackServer(t, testpeer.RTMPAttack(testpeer.AttackChunkSize0))
	out := filepath.Join(t.TempDir(), "out.flv")
	r := clitest.Run(t, 30*time.Second, "pull", "--insecure", srv.URL("rtmps", "live/x"), "-o", out)
	want := srv.Addr + ": RTMP server set chunk size 0 (allowed 128 to 16777215)"
	if r.Code != 3 || !strings.Contains(r.ErrLine(), want) {
		t.Errorf("want exit 3 and %q:\n%s", want, r)
	}
}
