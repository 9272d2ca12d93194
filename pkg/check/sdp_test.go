package check

import (
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/avcat/avcat/internal/testpeer"
)

func statusOf(r *Report, id string) string {
	var out []string
	for _, c := range r.Find(id) {
		out = append(out, c.Status.String())
	}
	return strings.Join(out, ",")
}

var sdpCases = []struct {
	name, sdp string
	id, want  string
}{
	{"good", testpeer.SDPH264AAC, "sdp.payload-types", "pass"},
	{"no o=", strings.Replace(testpeer.SDPH264AAC, "o=- 1 1 IN IP4 127.0.0.1\r\n", "", 1), "sdp.origin", "fail"},
	{"no c=", testpeer.SDPH264AAC, "sdp.connection", "fail"},
	{"no t=", strings.Replace(testpeer.SDPH264AAC, "t=0 0\r\n", "", 1), "sdp.timing", "fail"},
	{"no control", strings.ReplaceAll(testpeer.SDPH264AAC, "a=control:trackID=1\r\n", ""), "sdp.control", "fail"},
	{"rtpmap twice", strings.Replace(testpeer.SDPH264AAC, "a=rtpmap:96 H264/90000\r\n", "a=rtpmap:96 H264/90000\r\na=rtpmap:96 H265/90000\r\n", 1), "sdp.payload-types", "fail"},
	{"bad sprop", strings.Replace(testpeer.SDPH264AAC, "Z0LAHtoCgPbAWoMDA1KAAAADAIAAABlHixdQ", "Z0LA", 1), "codec.params", "fail,pass"},
	{"profile differs", strings.Replace(testpeer.SDPH264AAC, "profile-level-id=42C01E", "profile-level-id=64001F", 1), "codec.profile-level-id", "fail"},
	{"level differs", strings.Replace(testpeer.SDPH264AAC, "profile-level-id=42C01E", "profile-level-id=42C028", 1), "codec.profile-level-id", "warn"},
	// gortsplib refuses the whole SDP: the RTSP stack cannot use it.
	{"bad AAC config", strings.Replace(testpeer.SDPH264AAC, "config=1190", "config=zz", 1), "sdp.parse", "fail"},
	{"too many media", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n" + strings.Repeat("m=audio 0 RTP/AVP 0\r\n", 17), "sdp.parse", "fail"},
}

func TestCheckSDP(t *testing.T) {
	u, _ := base.ParseURL("rtsp://127.0.0.1/cam/")
	for _, c := range sdpCases {
		t.Run(c.name, func(t *testing.T) {
			r := &Report{}
			checkSDP(r, []byte(c.sdp), u)
			if got := statusOf(r, c.id); got != c.want {
				var b strings.Builder
				_ = WriteText(&b, r, false)
				t.Fatalf("%s = %q, want %q\n%s", c.id, got, c.want, b.String())
			}
		})
	}
}

func FuzzCheckSDP(f *testing.F) {
	for _, c := range sdpCases {
		f.Add([]byte(c.sdp))
	}
	u, _ := base.ParseURL("rtsp://127.0.0.1/cam/")
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSDP(&Report{}, b, u)
	})
}
