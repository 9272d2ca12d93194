package rtmp

import (
	"net"
	"testing"
)

// writeLog is a net.Conn that records each write.
type writeLog struct {
	net.Conn
	writes [][]byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestCorkConnOneWritePerUnit(t *testing.T) {
	log := &writeLog{}
	c := &corkConn{Conn: log}
	_, _ = c.Write([]byte("hs"))
	c.cork()
	_, _ = c.Write([]byte("ab"))
	_, _ = c.Write([]byte("cd"))
	if len(log.writes) != 1 {
		t.Fatalf("corked writes reached the connection: %q", log.writes)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if err := c.uncork(); err != nil { // nothing held: no write
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("ef"))
	want := []string{"hs", "abcd", "ef"}
	if len(log.writes) != len(want) {
		t.Fatalf("writes %q, want %q", log.writes, want)
	}
	for i, w := range want {
		if string(log.writes[i]) != w {
			t.Fatalf("writes %q, want %q", log.writes, want)
		}
	}
}
