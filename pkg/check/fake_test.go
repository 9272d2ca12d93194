package check_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/check"
)

// notPassed lists "id=status" of every check that warned or failed.
func notPassed(r *check.Report) []string {
	var out []string
	for _, c := range r.Checks {
		// Jitter measures the loaded test machine as much as the peer.
		if c.ID == "rtp.jitter" && c.Status == check.Warn {
			continue
		}
		if c.Status == check.Warn || c.Status == check.Fail {
			out = append(out, c.ID+"="+c.Status.String())
		}
	}
	sort.Strings(out)
	return out
}

func runCheck(t *testing.T, url, transport string, dur time.Duration) *check.Report {
	t.Helper()
	r, err := check.Run(context.Background(), check.Config{
		URL: url, Timeout: 5 * time.Second, Duration: dur, Transport: transport,
	})
	if err != nil {
		t.Fatalf("check.Run: %v", err)
	}
	return r
}

// Each fake breaks one rule; exactly the check for that rule must catch it.
func TestFakeCameras(t *testing.T) {
	cases := []struct {
		name      string
		faults    testpeer.CameraFaults
		transport string
		want      []string
	}{
		{"clean udp", testpeer.CameraFaults{}, "udp", nil},
		{"clean tcp", testpeer.CameraFaults{}, "tcp", nil},
		{"one session at a time", testpeer.CameraFaults{OneSession: true}, "auto", nil},
		{"one session at a time, tcp", testpeer.CameraFaults{OneSession: true}, "tcp", nil},
		{"public lists a method that 501s", testpeer.CameraFaults{PublicLies: true}, "auto", []string{"options.public-truth=fail"}},
		{"bare LF", testpeer.CameraFaults{BareLF: true}, "auto", []string{"rtsp.line-endings=fail"}},
		{"302 on DESCRIBE", testpeer.CameraFaults{Redirect: true}, "auto", []string{"describe.redirect=warn"}},
		{"duplicate payload types", testpeer.CameraFaults{DupPT: true}, "auto", []string{"sdp.payload-types=fail"}},
		{"sprop disagrees with in-band SPS", testpeer.CameraFaults{SpropMismatch: true}, "auto", []string{"rtp.sps-inband=fail"}},
		{"timestamps jump backwards", testpeer.CameraFaults{TSBackwards: true}, "tcp", []string{"rtp.timestamp=fail"}},
		{"no RTCP", testpeer.CameraFaults{NoRTCP: true}, "auto", []string{"rtcp.sr=warn"}},
		{"malformed Range", testpeer.CameraFaults{BadRange: true}, "tcp", []string{"play.range=fail"}},
		{"REDIRECT from the server", testpeer.CameraFaults{SendsRedirect: true}, "tcp", []string{"rtsp.server-requests=warn"}},
		{"digest", testpeer.CameraFaults{Digest: true}, "auto", nil},
		{"digest, stale=TRUE", testpeer.CameraFaults{Digest: true, StaleFlag: true}, "tcp", nil},
		{"digest accepting any nonce", testpeer.CameraFaults{Digest: true, AnyNonce: true}, "auto", []string{"auth.stale-nonce=fail"}},
		{"digest, 401 without challenge", testpeer.CameraFaults{Digest: true, BareRefusal: true}, "auto", []string{"auth.stale-nonce=warn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cam := testpeer.StartFakeCamera(t, c.faults)
			dur := 2 * time.Second
			if c.faults.NoRTCP {
				dur = 5 * time.Second // a shorter run cannot tell (RFC 3550 §6.2)
			}
			url := cam.URL("rtsp", "cam")
			if c.faults.Digest {
				url = strings.Replace(url, "://", "://"+testpeer.CameraUser+":"+testpeer.CameraPass+"@", 1)
			}
			r := runCheck(t, url, c.transport, dur)
			got := notPassed(r)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				var b strings.Builder
				_ = check.WriteText(&b, r, false)
				t.Fatalf("caught %v, want %v\n%s", got, c.want, b.String())
			}
			seen := map[string]bool{}
			for _, ch := range r.Checks {
				key := ch.ID
				if ch.Track != nil {
					key += fmt.Sprint("#", *ch.Track)
				}
				if seen[key] {
					t.Errorf("%s reported twice", key)
				}
				seen[key] = true
			}
			if c.faults.SendsRedirect {
				if a := cam.Answers(); len(a) == 0 || a[0] != "RTSP/1.0 501 Not Implemented CSeq: 1" {
					t.Errorf("the REDIRECT was answered %q", a)
				}
			}
			if r.Failed() != strings.Contains(strings.Join(c.want, " "), "=fail") {
				t.Errorf("Failed() = %v", r.Failed())
			}
		})
	}
}

func TestFakeRTMP(t *testing.T) {
	cases := []struct {
		name   string
		quirks testpeer.RTMPQuirks
		want   []string
	}{
		{"clean", testpeer.RTMPQuirks{}, nil},
		{"negative timestamps", testpeer.RTMPQuirks{NegativeTimestamps: true}, []string{"rtmp.timestamps=fail"}},
		{"connect with fourCcList unanswered", testpeer.RTMPQuirks{NoStrictArray: true}, []string{"rtmp.enhanced=warn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := testpeer.StartFakeRTMPServer(t, c.quirks)
			r, err := check.Run(context.Background(), check.Config{
				URL: srv.URL("rtmp", "live/key"), Timeout: 4 * time.Second, Duration: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := notPassed(r)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				var b strings.Builder
				_ = check.WriteText(&b, r, false)
				t.Fatalf("caught %v, want %v\n%s", got, c.want, b.String())
			}
			if len(r.Find("rtmp.timestamps")) != 1 || len(r.Find("rtmp.sequence-headers")) != 1 {
				t.Errorf("RTMP checks missing:\n%+v", r.Checks)
			}
		})
	}
}

// auth.stale-nonce: what the camera answered a right Digest response for a
// nonce it never issued, and skipped when it cannot run.
func TestFakeCameraStaleNonce(t *testing.T) {
	creds := testpeer.CameraUser + ":" + testpeer.CameraPass + "@"
	for _, c := range []struct {
		name   string
		faults testpeer.CameraFaults
		creds  string
		status check.Status
		says   string
	}{
		{"plain 401", testpeer.CameraFaults{Digest: true}, creds, check.Pass, "401 with a new nonce, no stale flag (fine for a nonce it never issued); answering it: 200 OK"},
		{"stale=TRUE", testpeer.CameraFaults{Digest: true, StaleFlag: true}, creds, check.Pass, "401 with a new nonce, stale=TRUE; answering it: 200 OK"},
		{"any nonce", testpeer.CameraFaults{Digest: true, AnyNonce: true}, creds, check.Fail, "200 OK in "},
		{"401 without challenge", testpeer.CameraFaults{Digest: true, BareRefusal: true}, creds, check.Warn,
			"401 for a nonce it never issued, but with no Digest challenge, then it closed the connection"},
		{"no credentials", testpeer.CameraFaults{Digest: true}, "", check.Skip, "no credentials"},
		{"no authentication", testpeer.CameraFaults{}, creds, -1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cam := testpeer.StartFakeCamera(t, c.faults)
			url := strings.Replace(cam.URL("rtsp", "cam"), "://", "://"+c.creds, 1)
			r := runCheck(t, url, "tcp", 500*time.Millisecond)
			var b strings.Builder
			_ = check.WriteText(&b, r, false)
			if strings.Contains(b.String(), testpeer.CameraPass) {
				t.Fatalf("password in the report:\n%s", b.String())
			}
			cs := r.Find("auth.stale-nonce")
			if c.status < 0 {
				if len(cs) != 0 {
					t.Fatalf("reported without authentication:\n%s", b.String())
				}
				return
			}
			if len(cs) != 1 || cs[0].Status != c.status || !strings.HasPrefix(cs[0].Observed, c.says) || cs[0].Ref != "RFC 2617 §3.2.1, RFC 7616 §3.3" {
				t.Fatalf("auth.stale-nonce: %+v\n%s", cs, b.String())
			}
		})
	}
}

// --full waits out a 2 s session timeout: with keepalives the session
// survives; without them the camera drops it, unless it never does.
func TestFakeCameraTimeout(t *testing.T) {
	for _, c := range []struct {
		name   string
		faults testpeer.CameraFaults
		want   []string
	}{
		{"honoured", testpeer.CameraFaults{SessionTimeout: 2}, nil},
		{"ignored", testpeer.CameraFaults{SessionTimeout: 2, KeepsSessions: true}, []string{"keepalive.expires=warn"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cam := testpeer.StartFakeCamera(t, c.faults)
			r, err := check.Run(context.Background(), check.Config{
				URL: cam.URL("rtsp", "cam"), Timeout: 5 * time.Second, Duration: time.Second, Full: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			_ = check.WriteText(&b, r, false)
			if got := notPassed(r); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("caught %v, want %v\n%s", got, c.want, b.String())
			}
			for _, id := range []string{"keepalive.survives", "keepalive.expires"} {
				if cs := r.Find(id); len(cs) != 1 || cs[0].Status == check.Skip {
					t.Errorf("%s did not run:\n%s", id, b.String())
				}
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	cam := testpeer.StartFakeCamera(t, testpeer.CameraFaults{})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := check.Run(ctx, check.Config{URL: cam.URL("rtsp", "cam"), Timeout: 5 * time.Second, Duration: 10 * time.Second})
	if r != nil || err == nil || time.Since(start) > 8*time.Second {
		t.Fatalf("report %v, err %v after %s", r != nil, err, time.Since(start))
	}
}
