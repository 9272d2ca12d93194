package check_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avcat/avcat/pkg/check"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sampleReport has every status, session and track checks, a password in
// the URL and in an observed value, and a control character from a peer.
func sampleReport() *check.Report {
	r := &check.Report{URL: "rtsp://admin:hunter2@cam.example:554/stream1", Protocol: "rtsp", Server: "Cam\x1bOS 1.0"}
	r.Add("connect", check.Pass, "", "TCP connected in 3 ms")
	r.Add("options.status", check.Pass, "RFC 2326 §10.1", "200 OK")
	r.Add("describe.redirect", check.Warn, "RFC 2326 §11.3.3", "302 Found to rtsp://admin:hunter2@cam.example:554/real: followed")
	r.Add("sdp.payload-types", check.Fail, "RFC 4566 §6", "#0 lists payload type 96 twice")
	r.Add("setup.multicast", check.Skip, "RFC 2326 §10.4, §12.39", "not offered (461 Unsupported Transport)")
	r.AddTrack("rtp.timestamp", 0, check.Fail, "RFC 3550 §5.1", "jumped back 1 times, by up to 0.960 s")
	r.AddTrack("rtcp.sr", 1, check.Warn, "RFC 3550 §6.4.1", "no sender report in 5s (0 RTCP packets)")
	return r
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update):\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return check.WriteText(b, sampleReport(), false) }},
		{"report.color.txt", func(b *bytes.Buffer) error { return check.WriteText(b, sampleReport(), true) }},
		{"report.json", func(b *bytes.Buffer) error { return check.WriteJSON(b, sampleReport()) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.write(&b); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "hunter2") {
				t.Fatalf("password in the output:\n%s", b.String())
			}
			checkGolden(t, c.name, b.Bytes())
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := check.WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		SchemaVersion int           `json:"schema_version"`
		OK            bool          `json:"ok"`
		Checks        []check.Check `json:"checks"`
		Summary       check.Summary `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := sampleReport()
	if got.SchemaVersion != check.SchemaVersion || got.OK || got.Summary != want.Summary() || len(got.Checks) != len(want.Checks) {
		t.Fatalf("%+v", got)
	}
	for i, c := range got.Checks {
		if c.ID != want.Checks[i].ID || c.Status != want.Checks[i].Status {
			t.Errorf("check %d: %+v", i, c)
		}
	}
}

func TestEmptyReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := check.WriteJSON(&b, &check.Report{URL: "rtsp://h/x", Protocol: "rtsp"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"checks": []`) || !strings.Contains(b.String(), `"ok": true`) {
		t.Errorf("%s", b.String())
	}
}
