package rtmp

import (
	"errors"
	"fmt"
	"net"

	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/fault"
)

// Limits the Guard enforces on what an RTMP peer sends (docs/limits.md).
const (
	// MinChunkSize and MaxChunkSize bound a peer's SetChunkSize. SRS also
	// refuses chunk sizes below 128; the top is the 24-bit message length.
	MinChunkSize = 128
	MaxChunkSize = 0xFFFFFF
	// MaxCommandMessage bounds AMF command, data and shared-object messages
	// (types 15 to 20), as the FLV reader bounds script tags. It also
	// bounds AMF0 nesting, which gortmplib decodes by recursion.
	MaxCommandMessage = flv.MaxScriptTag
	// MaxMediaMessage bounds every other message: gortmplib v1.0.2's own
	// limit (4K keyframes fit; nginx-rtmp's max_message defaults to 1 MB).
	MaxMediaMessage = 10 << 20
	// MaxPartialBytes bounds the bytes of unfinished messages buffered on
	// one connection, over all its chunk streams: one largest message
	// plus interleaved audio and commands.
	MaxPartialBytes = MaxMediaMessage + 2<<20
)

// handshakeLen is C0+C1+C2 (or S0+S1+S2), what gortmplib reads before
// the first chunk.
const handshakeLen = 1 + 1536 + 1536

// GuardError is an RTMP peer exceeding a limit or breaking the chunk
// stream; the connection is unusable after it.
type GuardError struct {
	Peer   string // "client" or "server"
	Reason string
}

func (e *GuardError) Error() string { return "RTMP " + e.Peer + " " + e.Reason }

// Guard wraps the connection gortmplib reads from and follows the chunk
// stream as it passes, the way gortmplib v1.0.2's rawmessage reader does,
// failing the read before gortmplib buffers what the limits refuse. It
// keeps fixed state and allocates nothing per chunk.
type Guard struct {
	net.Conn
	peer string
	err  error

	handshake int // handshake bytes still to pass
	state     uint8
	hdr       [15]byte // message header plus extended timestamp
	hdrLen    int
	hdrNeed   int
	extRead   bool // hdrNeed includes the extended timestamp
	ctype     uint8
	cur       *guardStream
	body      uint32 // body bytes left in the current chunk
	completes bool   // the current chunk ends its message
	ctl       [4]byte
	ctlLen    int
	capture   bool // keep the body: a SetChunkSize or Abort message

	chunkSize uint32
	partial   uint64 // sum of streams[i].recv
	streams   [64]guardStream
}

// guardStream mirrors gortmplib's readerChunkStream.
type guardStream struct {
	bodyLen uint32
	recv    uint32
	typ     uint8
	tsAvail bool
	extTS   bool
}

const (
	gsBasic uint8 = iota
	gsHeader
	gsBody
)

// NewGuard wraps nc, which gortmplib will use from the handshake on; peer
// names the other side in errors ("client" or "server").
func NewGuard(nc net.Conn, peer string) *Guard {
	return &Guard{Conn: nc, peer: peer, handshake: handshakeLen, chunkSize: 128}
}

// Err is the limit the peer broke, or nil.
func (g *Guard) Err() error { return g.err }

// Read reads from the connection and checks what arrived; on a violation
// it returns the *GuardError, now and on every later read.
func (g *Guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if n > 0 {
		if gerr := g.observe(p[:n]); gerr != nil {
			return 0, gerr
		}
	}
	return n, err
}

func (g *Guard) fail(format string, args ...any) error {
	g.err = &GuardError{Peer: g.peer, Reason: fmt.Sprintf(format, args...)}
	return g.err
}

// observe advances the parser over b.
func (g *Guard) observe(b []byte) error {
	for len(b) > 0 {
		if g.handshake > 0 {
			if g.handshake == handshakeLen && b[0] == 6 {
				return g.fail("asked for RTMPE (encrypted RTMP), which avcat does not support: use rtmps://")
			}
			k := min(g.handshake, len(b))
			g.handshake -= k
			b = b[k:]
			continue
		}
		switch g.state {
		case gsBasic:
			if err := g.basic(b[0]); err != nil {
				return err
			}
			b = b[1:]
		case gsHeader:
			k := copy(g.hdr[g.hdrLen:g.hdrNeed], b)
			g.hdrLen += k
			b = b[k:]
			if g.hdrLen == g.hdrNeed {
				if err := g.header(); err != nil {
					return err
				}
			}
		case gsBody:
			k := uint32(min(uint64(g.body), uint64(len(b))))
			if g.capture {
				g.ctlLen += copy(g.ctl[g.ctlLen:], b[:k])
			}
			g.body -= k
			b = b[k:]
			if g.body == 0 {
				if err := g.endChunk(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// basic handles a chunk's basic header byte.
func (g *Guard) basic(c byte) error {
	g.ctype = c >> 6
	csid := c & 0x3F
	if csid < 2 {
		return g.fail("used a multi-byte chunk stream ID, which gortmplib does not support")
	}
	s := &g.streams[csid]
	g.cur = s
	switch g.ctype {
	case 0:
		if s.recv != 0 {
			return g.fail("sent a type 0 chunk inside an unfinished message")
		}
		g.hdrNeed = 11
	case 1, 2:
		if !s.tsAvail {
			return g.fail("sent a type %d chunk on a new chunk stream", g.ctype)
		}
		if s.recv != 0 {
			return g.fail("sent a type %d chunk inside an unfinished message", g.ctype)
		}
		g.hdrNeed = 7
		if g.ctype == 2 {
			g.hdrNeed = 3
		}
	default:
		if s.recv == 0 && !s.tsAvail {
			return g.fail("sent a type 3 chunk on a new chunk stream")
		}
		g.hdrNeed = 0
		if s.extTS {
			g.hdrNeed = 4
		}
	}
	g.hdrLen = 0
	g.extRead = false
	g.state = gsHeader
	if g.hdrNeed == 0 {
		return g.header()
	}
	return nil
}

func be24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// header handles a complete message header (and extended timestamp).
func (g *Guard) header() error {
	s := g.cur
	if g.ctype != 3 && !g.extRead && be24(g.hdr[:3]) == 0xFFFFFF {
		// gortmplib reads an extended timestamp and keeps the flag for
		// type 3 chunks only if its value is 0xFFFFFF or more.
		g.extRead = true
		g.hdrNeed += 4
		return nil
	}
	ts := be24(g.hdr[:3])
	if g.extRead {
		ts = be32(g.hdr[g.hdrNeed-4 : g.hdrNeed])
	}
	var chunkBody uint32
	switch g.ctype {
	case 0, 1:
		bodyLen := be24(g.hdr[3:6])
		typ := g.hdr[6]
		if err := g.checkSize(typ, bodyLen); err != nil {
			return err
		}
		s.typ = typ
		s.bodyLen = bodyLen
		s.extTS = ts >= 0xFFFFFF
		if g.ctype == 0 {
			s.tsAvail = true
		}
		chunkBody = min(bodyLen, g.chunkSize)
		g.completes = chunkBody == bodyLen
	case 2:
		s.extTS = ts >= 0xFFFFFF
		chunkBody = min(s.bodyLen, g.chunkSize)
		g.completes = chunkBody == s.bodyLen
	default:
		chunkBody = min(s.bodyLen-s.recv, g.chunkSize)
		g.completes = s.recv+chunkBody == s.bodyLen
	}
	if !g.completes {
		g.partial += uint64(chunkBody)
		if g.partial > MaxPartialBytes {
			return g.fail("left more than %d bytes of messages unfinished", MaxPartialBytes)
		}
		s.recv += chunkBody
	}
	g.capture = g.completes && s.recv == 0 && s.bodyLen == 4 && (s.typ == 1 || s.typ == 2)
	g.ctlLen = 0
	g.body = chunkBody
	g.state = gsBody
	if chunkBody == 0 {
		return g.endChunk()
	}
	return nil
}

func (g *Guard) checkSize(typ uint8, bodyLen uint32) error {
	if typ >= 15 && typ <= 20 {
		if bodyLen > MaxCommandMessage {
			return g.fail("sent a %d-byte AMF message of type %d (limit %d)", bodyLen, typ, MaxCommandMessage)
		}
	} else if bodyLen > MaxMediaMessage {
		return g.fail("sent a %d-byte message of type %d (limit %d)", bodyLen, typ, MaxMediaMessage)
	}
	return nil
}

// endChunk runs after a chunk's last body byte: it finishes the message
// and applies SetChunkSize and Abort the way gortmplib's message reader
// does.
func (g *Guard) endChunk() error {
	g.state = gsBasic
	if !g.completes {
		return nil
	}
	s := g.cur
	g.partial -= uint64(s.recv)
	s.recv = 0
	if !g.capture {
		return nil
	}
	g.capture = false
	v := be32(g.ctl[:])
	switch s.typ {
	case 1:
		if v < MinChunkSize || v > MaxChunkSize {
			return g.fail("set chunk size %d (allowed %d to %d)", v, MinChunkSize, MaxChunkSize)
		}
		// gortmplib refuses (and does not apply) more than its limit.
		if v <= MaxMediaMessage {
			g.chunkSize = v
		}
	case 2:
		if v >= 2 && v <= 63 {
			a := &g.streams[v]
			if a.recv != 0 {
				g.partial -= uint64(a.recv)
				a.recv = 0
				a.bodyLen = 0
			}
		}
	}
	return nil
}

// guardFault is the one-line network fault for a *GuardError in err.
func guardFault(err error, hostPort string) (error, bool) {
	var ge *GuardError
	if !errors.As(err, &ge) {
		return nil, false
	}
	return fault.Wrap(fault.Network, fmt.Errorf("%s: %w", hostPort, ge)), true
}
