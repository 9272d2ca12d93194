package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/avcat/avcat/internal/testpeer"
)

// readerConn is a net.Conn that reads from r, at most max bytes per read.
type readerConn struct {
	net.Conn
	r   io.Reader
	max int
}

func (c *readerConn) Read(p []byte) (int, error) {
	if c.max > 0 && len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

// chunkStream builds what a peer sends after the handshake, chunked by
// gortmplib's own writer.
type chunkStream struct {
	buf bytes.Buffer
	w   *rawmessage.Writer
}

func newChunkStream() *chunkStream {
	s := &chunkStream{}
	s.w = rawmessage.NewWriter(&s.buf, bytecounter.NewWriter(io.Discard), false)
	return s
}

func (s *chunkStream) msg(csid byte, typ uint8, ts time.Duration, body []byte) *chunkStream {
	if err := s.w.Write(&rawmessage.Message{ChunkStreamID: csid, Type: typ, Timestamp: ts, Body: body}); err != nil {
		panic(err)
	}
	return s
}

func (s *chunkStream) setChunkSize(v uint32) *chunkStream {
	s.msg(2, 1, 0, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	if v >= 1 && v <= MaxMediaMessage {
		s.w.SetChunkSize(v)
	}
	return s
}

func (s *chunkStream) raw(b ...byte) *chunkStream {
	s.buf.Write(b)
	return s
}

func (s *chunkStream) bytes() []byte { return s.buf.Bytes() }

func handshakeBytes() []byte {
	b := make([]byte, handshakeLen)
	b[0] = 3
	return b
}

func command(name string, args ...any) []byte {
	b, err := amf0.Data(append([]any{name, float64(1)}, args...)).Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// guardRead reads the stream through a Guard into gortmplib's message reader
// and returns the messages and the error that ended it.
func guardRead(stream []byte, perRead int) (*Guard, []message.Message, error) {
	g := NewGuard(&readerConn{r: bytes.NewReader(append(handshakeBytes(), stream...)), max: perRead}, "client")
	if _, err := io.ReadFull(g, make([]byte, handshakeLen)); err != nil {
		return g, nil, err
	}
	bc := bytecounter.NewReader(g)
	r := message.NewReader(bc, bc, func(uint32) error { return nil })
	var msgs []message.Message
	for {
		m, err := r.Read()
		if err != nil {
			return g, msgs, err
		}
		msgs = append(msgs, m)
	}
}

func TestGuardPassesValidStreams(t *testing.T) {
	stream := func(video []byte, big int) []byte {
		big9 := append([]byte{0x17, 1, 0, 0, 0}, make([]byte, big-5)...)
		return newChunkStream().
			msg(3, 20, 0, command("connect", amf0.Object{{Key: "app", Value: "live"}})).
			msg(6, 9, 0, video). // many chunks at the default chunk size
			setChunkSize(65536).
			msg(6, 9, 40*time.Millisecond, video).
			msg(4, 8, 0xFFFFFF*time.Millisecond, bytes.Repeat([]byte{0xAF, 1}, 40_000)). // extended timestamps
			msg(4, 8, (0xFFFFFF+23)*time.Millisecond, bytes.Repeat([]byte{0xAF, 1}, 40_000)).
			setChunkSize(MaxMediaMessage).
			msg(6, 9, 80*time.Millisecond, big9).
			setChunkSize(128).
			msg(3, 18, 0, bytes.Repeat([]byte{5}, MaxCommandMessage)). // the largest data message (not valid AMF)
			bytes()
	}
	// Byte by byte on a small stream; the largest message in big reads.
	small := stream(bytes.Repeat([]byte{0x17, 1, 0, 0, 0}, 4000), 300_000)
	large := stream(bytes.Repeat([]byte{0x17, 1, 0, 0, 0}, 200_000), MaxMediaMessage)
	for _, c := range []struct {
		stream  []byte
		perRead int
	}{{small, 1}, {small, 7}, {large, 4096}, {large, 0}} {
		g, msgs, err := guardRead(c.stream, c.perRead)
		if !errors.Is(err, io.EOF) || len(msgs) != 10 {
			t.Fatalf("%d bytes per read: got %d messages, err %v (guard: %v)", c.perRead, len(msgs), err, g.Err())
		}
		if g.partial != 0 || g.chunkSize != 128 {
			t.Errorf("guard state after the stream: partial %d, chunk size %d", g.partial, g.chunkSize)
		}
	}
}

func TestGuardRefuses(t *testing.T) {
	nested := append(command("connect"), bytes.Repeat([]byte{3, 0, 1, 'a'}, 20_000)...)
	cases := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"chunk size 0", newChunkStream().setChunkSize(0).bytes(), "set chunk size 0 (allowed 128 to 16777215)"},
		{"chunk size 1", newChunkStream().setChunkSize(1).bytes(), "set chunk size 1 "},
		{"chunk size 127", newChunkStream().setChunkSize(127).bytes(), "set chunk size 127 "},
		{"chunk size 2^24", newChunkStream().setChunkSize(1 << 24).bytes(), "set chunk size 16777216 "},
		{"nested AMF0 command", newChunkStream().setChunkSize(1<<20).msg(3, 20, 0, nested).bytes(), "sent a 80019-byte AMF message of type 20 (limit 65536)"},
		{"large AMF3 data", newChunkStream().msg(3, 15, 0, make([]byte, MaxCommandMessage+1)).bytes(), "AMF message of type 15"},
		{"video over 10 MiB", newChunkStream().raw(3, 0, 0, 0, 0xA0, 0, 1, 9, 0, 0, 0, 0).bytes(), "sent a 10485761-byte message of type 9 (limit 10485760)"},
		{"multi-byte chunk stream ID", newChunkStream().raw(0, 10).bytes(), "multi-byte chunk stream ID"},
		{"type 3 on a new chunk stream", newChunkStream().raw(0xC5).bytes(), "type 3 chunk on a new chunk stream"},
		{"type 0 inside a message", newChunkStream().raw(3, 0, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0).raw(make([]byte, 128)...).raw(3).bytes(), "type 0 chunk inside"},
	}
	// 12 messages of 1 MiB left unfinished on 12 chunk streams
	var many bytes.Buffer
	many.Write(newChunkStream().setChunkSize(1 << 20).bytes())
	for cs := byte(3); cs < 16; cs++ {
		many.Write([]byte{cs, 0, 0, 0, 0x10, 0, 1, 9, 0, 0, 0, 0})
		many.Write(make([]byte, 1<<20))
	}
	cases = append(cases, struct {
		name   string
		stream []byte
		want   string
	}{"many streams", many.Bytes(), "left more than 12582912 bytes of messages unfinished"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, _, err := guardRead(c.stream, 0)
			var ge *GuardError
			if !errors.As(err, &ge) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a GuardError with %q", err, c.want)
			}
			if g.Err() != err || !strings.HasPrefix(err.Error(), "RTMP client ") {
				t.Errorf("Err() = %v", g.Err())
			}
		})
	}
}

func TestGuardRefusesRTMPE(t *testing.T) {
	hs := handshakeBytes()
	hs[0] = 6
	g := NewGuard(&readerConn{r: bytes.NewReader(hs)}, "client")
	_, err := g.Read(make([]byte, 4096))
	if err == nil || !strings.Contains(err.Error(), "RTMPE") {
		t.Fatalf("got %v", err)
	}
}

// TestGuardAbort: an Abort message drops the unfinished message from the
// count, as gortmplib drops its fragments.
func TestGuardAbort(t *testing.T) {
	s := newChunkStream().raw(3, 0, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0).raw(make([]byte, 128)...).
		msg(2, 2, 0, []byte{0, 0, 0, 3}).
		raw(3, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 1, 0) // SetChunkSize 256 on the aborted stream
	g, msgs, err := guardRead(s.bytes(), 1)
	if !errors.Is(err, io.EOF) || len(msgs) != 2 || g.partial != 0 || g.chunkSize != 256 {
		t.Fatalf("got %d messages, err %v, partial %d, chunk size %d", len(msgs), err, g.partial, g.chunkSize)
	}
}

// TestGuardReadAllocs: the guard allocates nothing as media passes.
func TestGuardReadAllocs(t *testing.T) {
	video := make([]byte, 1<<20)
	s := newChunkStream().setChunkSize(4096)
	for i := 0; i < 8; i++ {
		s.msg(6, 9, time.Duration(i)*40*time.Millisecond, video)
	}
	stream := append(handshakeBytes(), s.bytes()...)
	rd := bytes.NewReader(stream)
	g := NewGuard(&readerConn{r: rd}, "client")
	buf := make([]byte, 32<<10)
	allocs := testing.AllocsPerRun(10, func() {
		rd.Reset(stream)
		*g = Guard{Conn: g.Conn, peer: "client", handshake: handshakeLen, chunkSize: 128}
		for {
			if _, err := g.Read(buf); err != nil {
				break
			}
		}
	})
	if allocs != 0 || g.Err() != nil {
		t.Fatalf("%v allocations per 8 MB stream, err %v", allocs, g.Err())
	}
}

// TestGuardAttacks: the attacks of issue 14 stop at their first chunks.
func TestGuardAttacks(t *testing.T) {
	want := map[string]string{
		testpeer.AttackNestedAMF0:   "sent a 8000019-byte AMF message of type 20",
		testpeer.AttackChunkSize0:   "set chunk size 0",
		testpeer.AttackChunkSize1:   "set chunk size 1 ",
		testpeer.AttackPartialFlood: "left more than 12582912 bytes",
	}
	for _, name := range testpeer.RTMPAttacks {
		_, msgs, err := guardRead(testpeer.RTMPAttack(name), 4096)
		if err == nil || !strings.Contains(err.Error(), want[name]) || len(msgs) > 1 {
			t.Errorf("%s: %d messages, err %v", name, len(msgs), err)
		}
	}
}

// FuzzGuard runs chunk streams through the guard and gortmplib's reader,
// one byte per read so the two stay in step, and checks that every message
// gortmplib returns is within the limits and that the guard agrees with it
// on the chunk size and the message boundaries.
func FuzzGuard(f *testing.F) {
	f.Add(newChunkStream().msg(3, 20, 0, command("connect")).bytes())
	f.Add(newChunkStream().msg(6, 9, 0, make([]byte, 300)).msg(6, 9, 40*time.Millisecond, make([]byte, 300)).bytes())
	f.Add(newChunkStream().setChunkSize(200).msg(4, 8, 0xFFFFFF*time.Millisecond, make([]byte, 500)).
		msg(4, 8, 0x1000010*time.Millisecond, make([]byte, 500)).bytes())
	f.Add(newChunkStream().raw(3, 0, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0).raw(make([]byte, 128)...).
		msg(2, 2, 0, []byte{0, 0, 0, 3}).raw(0xC3, 1, 2).bytes())
	for _, v := range []uint32{0, 1, 127, 128, 1 << 24} {
		f.Add(newChunkStream().setChunkSize(v).msg(3, 9, 0, make([]byte, 300)).bytes())
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		g := NewGuard(&readerConn{r: bytes.NewReader(stream), max: 1}, "client")
		g.handshake = 0
		bc := bytecounter.NewReader(g)
		r := message.NewReader(bc, bc, func(uint32) error { return nil })
		for {
			m, err := r.Read()
			if g.partial > MaxPartialBytes || g.chunkSize < MinChunkSize {
				t.Fatalf("guard state: partial %d, chunk size %d", g.partial, g.chunkSize)
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || g.Err() != nil {
					return
				}
				// A message gortmplib cannot parse leaves the chunk
				// stream in step; callers may read on.
				if g.state != gsBasic {
					return
				}
				continue
			}
			if g.state != gsBasic {
				t.Fatalf("gortmplib returned %T with the guard inside a chunk", m)
			}
			if sc, ok := m.(*message.SetChunkSize); ok && sc.Value != g.chunkSize {
				t.Fatalf("gortmplib chunk size %d, guard %d", sc.Value, g.chunkSize)
			}
			if c, ok := m.(*message.CommandAMF0); ok {
				b, _ := amf0.Data(append([]any{c.Name, float64(c.CommandID)}, c.Arguments...)).Marshal()
				if len(b) > MaxCommandMessage+16 {
					t.Fatalf("a %d-byte command passed", len(b))
				}
			}
		}
	})
}

// FuzzAMF0Command decodes command bodies as avcat receives them: at most
// MaxCommandMessage bytes, which bounds AMF0 nesting.
func FuzzAMF0Command(f *testing.F) {
	f.Add(command("connect", amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}}))
	f.Add(append(command("connect"), bytes.Repeat([]byte{3, 0, 1, 'a'}, 100)...))
	f.Add(append(command("play"), bytes.Repeat([]byte{0x0A, 0, 0, 0, 1}, 100)...))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > MaxCommandMessage {
			body = body[:MaxCommandMessage]
		}
		s := newChunkStream().setChunkSize(MaxCommandMessage).msg(3, 20, 0, body).bytes()
		_, _, err := guardRead(s, 0)
		if g := (*GuardError)(nil); errors.As(err, &g) {
			t.Fatalf("a %d-byte command was refused: %v", len(body), err)
		}
	})
}

// TestAMF0DeepestCommand: the deepest nesting that fits in a command
// (16 000 levels) is decoded to its end without exhausting the stack.
func TestAMF0DeepestCommand(t *testing.T) {
	body := command("connect")
	body = append(body, bytes.Repeat([]byte{3, 0, 1, 'a'}, (MaxCommandMessage-len(body))/4)...)
	s := newChunkStream().setChunkSize(MaxCommandMessage).msg(3, 20, 0, body).bytes()
	_, msgs, err := guardRead(s, 0)
	var ge *GuardError
	if errors.As(err, &ge) || len(msgs) != 1 || err == nil || err.Error() != "buffer is too short" {
		t.Fatalf("got %d messages, err %v", len(msgs), err)
	}
}

// BenchmarkGuard is the guard's cost per byte of media, at serve's
// chunk size and at the smallest one allowed.
func BenchmarkGuard(b *testing.B) {
	for _, cs := range []uint32{65536, 128} {
		s := newChunkStream().setChunkSize(cs)
		for i := 0; i < 8; i++ {
			s.msg(6, 9, time.Duration(i)*40*time.Millisecond, make([]byte, 1<<20))
		}
		stream := append(handshakeBytes(), s.bytes()...)
		b.Run(fmt.Sprintf("chunk%d", cs), func(b *testing.B) {
			rd := bytes.NewReader(stream)
			g := NewGuard(&readerConn{r: rd}, "client")
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rd.Reset(stream)
				*g = Guard{Conn: g.Conn, peer: "client", handshake: handshakeLen, chunkSize: 128}
				for {
					if _, err := g.Read(buf); err != nil {
						break
					}
				}
			}
		})
	}
}
