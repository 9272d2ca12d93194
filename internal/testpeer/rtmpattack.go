package testpeer

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// RTMP attacks of issue 14: the chunk stream a hostile peer sends after
// the handshake. Each is about 8 MB.
const (
	// AttackNestedAMF0: SetChunkSize 10485760, then one 8 MB connect
	// command of 2 000 000 nested AMF0 objects.
	AttackNestedAMF0 = "nested-amf0"
	// AttackChunkSize0: SetChunkSize 0, a 1 MB video header on chunk
	// stream 3, then 8 MB of empty type-3 chunks (0xC3).
	AttackChunkSize0 = "chunk-size-0"
	// AttackChunkSize1: SetChunkSize 1, then a 4 MB video message sent
	// one byte per chunk.
	AttackChunkSize1 = "chunk-size-1"
	// AttackPartialFlood: 61 unfinished 10 MiB video messages at chunk
	// size 128, interleaved, 14 MiB in all: each message within its limit.
	AttackPartialFlood = "partial-flood"
)

// RTMPAttacks lists the attack names.
var RTMPAttacks = []string{AttackNestedAMF0, AttackChunkSize0, AttackChunkSize1, AttackPartialFlood}

// rtmpChunk0 is a type-0 chunk header on chunk stream csid.
func rtmpChunk0(csid byte, bodyLen int, typ byte) []byte {
	h := []byte{csid, 0, 0, 0, byte(bodyLen >> 16), byte(bodyLen >> 8), byte(bodyLen), typ, 0, 0, 0, 0}
	return h
}

func rtmpSetChunkSize(v uint32) []byte {
	b := rtmpChunk0(2, 4, 1)
	return binary.BigEndian.AppendUint32(b, v)
}

// RTMPAttack returns the chunk stream of the named attack.
func RTMPAttack(name string) []byte {
	var b bytes.Buffer
	switch name {
	case AttackNestedAMF0:
		body := []byte{0x02, 0x00, 0x07}
		body = append(body, "connect"...)
		body = append(body, 0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0)
		body = append(body, bytes.Repeat([]byte{0x03, 0x00, 0x01, 'a'}, 2_000_000)...)
		b.Write(rtmpSetChunkSize(10485760))
		b.Write(rtmpChunk0(3, len(body), 20))
		b.Write(body)
	case AttackChunkSize0:
		b.Write(rtmpSetChunkSize(0))
		b.Write(rtmpChunk0(3, 1<<20, 9))
		b.Write(bytes.Repeat([]byte{0xC3}, 8<<20))
	case AttackChunkSize1:
		const size = 4 << 20
		b.Write(rtmpSetChunkSize(1))
		b.Write(rtmpChunk0(3, size, 9))
		b.WriteByte(0x17)
		b.Write(bytes.Repeat([]byte{0xC3, 0x01}, size-1))
	case AttackPartialFlood:
		for cs := byte(3); cs < 64; cs++ {
			b.Write(rtmpChunk0(cs, 10<<20, 9))
			b.Write(make([]byte, 128))
		}
		for i := 0; i < (14<<20)/(61*128); i++ {
			for cs := byte(3); cs < 64; cs++ {
				b.WriteByte(0xC0 | cs)
				b.Write(make([]byte, 128))
			}
		}
	default:
		panic("testpeer: unknown RTMP attack " + name)
	}
	return b.Bytes()
}

// RTMPClientHandshake does a plain RTMP handshake as a client on c.
func RTMPClientHandshake(c net.Conn) error {
	c1 := make([]byte, 1+1536)
	c1[0] = 3
	if _, err := c.Write(c1); err != nil {
		return err
	}
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(c, s); err != nil {
		return fmt.Errorf("reading S0S1S2: %w", err)
	}
	if s[0] != 3 {
		return fmt.Errorf("server answered RTMP version %d", s[0])
	}
	_, err := c.Write(s[1 : 1+1536]) // C2 echoes S1
	return err
}

// rtmpServerHandshake does a plain RTMP handshake as a server on c.
func rtmpServerHandshake(c net.Conn) error {
	c01 := make([]byte, 1+1536)
	if _, err := io.ReadFull(c, c01); err != nil {
		return err
	}
	s := make([]byte, 1+1536+1536)
	s[0] = 3
	copy(s[1+1536:], c01[1:])
	if _, err := c.Write(s); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1536))
	return err
}

// RTMPAttackServer is an RTMP server that completes the handshake and then
// sends attack (RTMPAttack) instead of answering connect, while draining
// what the client sends. The returned channel gets, per connection, the
// error that ended the send (nil if all of it was written).
func RTMPAttackServer(t testing.TB, attack []byte) (*FakeServer, <-chan error) {
	t.Helper()
	return rtmpAttackServer(t, attack, nil)
}

// RTMPSAttackServer is RTMPAttackServer over TLS, with a self-signed
// certificate for 127.0.0.1 (clients need --insecure).
func RTMPSAttackServer(t testing.TB, attack []byte) (*FakeServer, <-chan error) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{SelfSigned(t)}}
	return rtmpAttackServer(t, attack, cfg)
}

func rtmpAttackServer(t testing.TB, attack []byte, cfg *tls.Config) (*FakeServer, <-chan error) {
	sent := make(chan error, 16)
	s := startFakeServer(t, func(c net.Conn) {
		if cfg != nil {
			c = tls.Server(c, cfg)
		}
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		if err := rtmpServerHandshake(c); err != nil {
			sent <- err
			return
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
		_, err := c.Write(attack)
		select {
		case sent <- err:
		default:
		}
	})
	return s, sent
}
