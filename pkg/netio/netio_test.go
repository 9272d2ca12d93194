package netio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the server's end.
func pair(t *testing.T) (net.Conn, net.Conn) { return pairAhead(t, 0) }

// pairAhead is pair with a read-ahead.
func pairAhead(t *testing.T, readAhead int) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	w := net.Conn(wrap(c, readAhead)) // Wrap is plain under -race
	t.Cleanup(func() { w.Close(); s.Close() })
	return w, s
}

func raw(t *testing.T) bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("raw socket calls are Linux only")
	}
	return true
}

func TestReadWrite(t *testing.T) {
	raw(t)
	c, s := pair(t)
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("Wrap returned %T, want *Conn", c)
	}
	msg := []byte("OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\n\r\n")
	if n, err := c.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if _, err := s.Write([]byte("RTSP/1.0 200 OK\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "RTSP/1.0 200 OK\r\n" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	s.Close()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v; want 0, EOF", n, err)
	}
}

// A write larger than the socket buffers completes once the peer reads,
// and TryWrite takes only what fits.
func TestWriteWaitsTryWriteDoesNot(t *testing.T) {
	raw(t)
	c, s := pair(t)
	big := bytes.Repeat([]byte{0x24, 1, 2, 3}, 4<<20) // 16 MiB
	done := make(chan error, 1)
	var read bytes.Buffer
	go func() {
		_, err := io.CopyN(&read, s, int64(len(big)))
		done <- err
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := <-done; err != nil || !bytes.Equal(read.Bytes(), big) {
		t.Fatalf("peer got %d bytes (%v), want the %d written", read.Len(), err, len(big))
	}

	// Nobody reads now: TryWrite fills the socket, then takes nothing.
	tw := c.(TryWriter)
	total, zero := 0, false
	for i := 0; i < 10000 && !zero; i++ {
		n, err := tw.TryWrite(big[:64<<10])
		if err != nil {
			t.Fatalf("TryWrite: %v", err)
		}
		total += n
		zero = n == 0
	}
	if !zero {
		t.Fatalf("TryWrite never found the socket full (%d bytes taken)", total)
	}
}

func TestDeadlineAndClose(t *testing.T) {
	raw(t)
	c, _ := pair(t)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline = %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("error %v: want a net.OpError named read", err)
	}
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
	}
}

func TestWriteToResetPeer(t *testing.T) {
	raw(t)
	c, s := pair(t)
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = c.Write(make([]byte, 1024))
	}
	var oe *net.OpError
	if err == nil || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write to a reset peer = %v, want a write OpError", err)
	}
}

func TestNoAllocs(t *testing.T) {
	raw(t)
	c, s := pair(t)
	go io.Copy(io.Discard, s) //nolint:errcheck // ends with the test
	p := make([]byte, 1400)
	if a := testing.AllocsPerRun(100, func() { c.Write(p) }); a != 0 { //nolint:errcheck
		t.Errorf("Write allocates %.1f times per call", a)
	}
}

func TestWrapLeavesOthers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a, 0) != a {
		t.Fatal("Wrap changed a connection that is not TCP")
	}
}

// With a read-ahead, small reads are served from one read(2) of the
// buffer, in order, and the end comes after what was buffered.
func TestReadAhead(t *testing.T) {
	raw(t)
	c, s := pairAhead(t, 64)
	var want []byte
	for i := range 200 {
		want = append(want, byte(i))
	}
	if _, err := s.Write(want); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var got []byte
	buf := make([]byte, 7)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > 7 {
			t.Fatalf("Read returned %d bytes into 7", n)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	if a := c.(*Conn).ahead; len(a) != 64 {
		t.Fatalf("read-ahead buffer of %d bytes, want 64", len(a))
	}

	// A read of at least the read-ahead goes straight to the caller.
	c2, s2 := pairAhead(t, 64)
	if _, err := s2.Write(want); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 256)
	n, err := io.ReadAtLeast(c2, big, len(want))
	if err != nil || !bytes.Equal(big[:n], want) {
		t.Fatalf("big read %d, %v", n, err)
	}
	if c2.(*Conn).ahead != nil {
		t.Fatal("a big read used the read-ahead buffer")
	}
}

// With a read batch, a sender's many small bursts are read in a few
// read(2) calls, all of them in order; a read that fills the read-ahead
// reads again at once.
func TestReadBatch(t *testing.T) {
	raw(t)
	c, s := pairAhead(t, 4096)
	c.(*Conn).SetReadBatch(50 * time.Millisecond)
	var want []byte
	go func() {
		for i := range 100 { // ~200 ms of 10-byte bursts
			msg := bytes.Repeat([]byte{byte(i)}, 10)
			if _, err := s.Write(msg); err != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		// then 5 read-aheads at once
		s.Write(bytes.Repeat([]byte{0xff}, 5*4096)) //nolint:errcheck // checked by the reader
		s.Close()
	}()
	for i := range 100 {
		want = append(want, bytes.Repeat([]byte{byte(i)}, 10)...)
	}
	want = append(want, bytes.Repeat([]byte{0xff}, 5*4096)...)
	got, err := io.ReadAll(&smallReader{c})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v), want the %d sent in order", len(got), err, len(want))
	}
	rc := c.(*Conn)
	// ~200 ms at one read per 50 ms, then the 20 KiB: a handful of reads,
	// where reading as data comes takes one per burst (~100).
	if rc.reads > 20 || rc.gathers > 10 {
		t.Fatalf("%d reads, %d batch waits for 100 bursts over ~200 ms and 20 KiB at once", rc.reads, rc.gathers)
	}
}

// smallReader reads in bufio-sized pieces, as gortsplib does.
type smallReader struct{ c net.Conn }

func (r *smallReader) Read(p []byte) (int, error) { return r.c.Read(p[:min(len(p), 512)]) }

// A plain TCP connection gets a TryWrite too (one write(2) through its
// RawConn): it takes what fits and never waits; a pipe gets none.
func TestTryWriterOfPlain(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no non-blocking write here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := <-accepted; s != nil {
		defer s.Close() // open and unread, so the socket fills
	}
	tw := TryWriterOf(c)
	if tw == nil {
		t.Fatal("no TryWriter for a TCP connection")
	}
	p := make([]byte, 64<<10)
	full := false
	for i := 0; i < 10000 && !full; i++ {
		n, err := tw.TryWrite(p)
		if err != nil {
			t.Fatalf("TryWrite: %v", err)
		}
		full = n < len(p)
	}
	if !full {
		t.Fatal("TryWrite never found the socket full")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if TryWriterOf(a) != nil {
		t.Fatal("a pipe got a TryWriter")
	}
}
