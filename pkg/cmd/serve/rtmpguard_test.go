package serve_test

// Hostile RTMP clients of issue 14 (items 1 and 2): nested AMF0 that
// overflowed gortmplib's decoder stack, and chunk sizes 0 and 1 that made
// it buffer one slice per empty or 1-byte chunk. serve must close each
// such connection with a clear error, allocate little, and keep serving.

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

func TestServeRTMPHostileChunkStreams(t *testing.T) {
	srv := clitest.StartServe(t, "-v")
	want := map[string]string{
		testpeer.AttackNestedAMF0:   "RTMP client sent a 8000019-byte AMF message of type 20 (limit 65536)",
		testpeer.AttackChunkSize0:   "RTMP client set chunk size 0 (allowed 128 to 16777215)",
		testpeer.AttackChunkSize1:   "RTMP client set chunk size 1 (allowed 128 to 16777215)",
		testpeer.AttackPartialFlood: "RTMP client left more than 12582912 bytes of messages unfinished",
	}
	for _, name := range testpeer.RTMPAttacks {
		t.Run(name, func(t *testing.T) {
			attack := testpeer.RTMPAttack(name)
			c := dial(t, srv.RTMPPort)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := testpeer.RTMPClientHandshake(c); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			go func() { _, _ = c.Write(attack) }()
			expectClosed(t, c, 10*time.Second, name)
			runtime.ReadMemStats(&after)
			// Before the guard: nested AMF0 killed the process (stack
			// overflow); chunk size 0 allocated about 1.5 GB, 1 about 2 GB.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %.1f MB allocated while the attack ran", name, float64(alloc)/1e6)
			if alloc > 64<<20 {
				t.Errorf("%s: %.1f MB allocated, want < 64 MB", name, float64(alloc)/1e6)
			}
		})
	}
	// Still serving.
	if r := clitest.Run(t, 30*time.Second, "probe", srv.RTMP("demo")); r.Code != 0 {
		t.Errorf("RTMP probe after the attacks:\n%s", r)
	}
	res := srv.Stop()
	for _, name := range testpeer.RTMPAttacks {
		if !strings.Contains(res.Stderr, want[name]) {
			t.Errorf("%s: serve's log does not say %q:\n%s", name, want[name], res.Stderr)
		}
	}
}
