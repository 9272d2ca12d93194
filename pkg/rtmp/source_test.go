package rtmp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/avcat/avcat/pkg/logging"
)

// TestWatchConnTraceHidesKeyCredentials: a play trace (-v) never shows
// the password of a stream key that the server echoes back.
func TestWatchConnTraceHidesKeyCredentials(t *testing.T) {
	const key = "cam?user=u&pass=secret"
	var out bytes.Buffer
	status := &message.CommandAMF0{Name: "onStatus", Arguments: []any{nil, amf0.Object{
		{Key: "level", Value: "status"},
		{Key: "code", Value: "NetStream.Play.Start"},
		{Key: "description", Value: "Started playing " + key},
	}}}
	c := &watchConn{
		Conn:   &scriptConn{msgs: []message.Message{status}},
		onData: func(amf0.Data) {},
		logger: &logging.Logger{Out: &out, Verbose: true},
		keys:   []string{key},
	}
	if _, err := c.Read(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "secret") || !strings.Contains(got, "NetStream.Play.Start") {
		t.Fatalf("trace %q: want the status without the password", got)
	}
}
