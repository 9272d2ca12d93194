package rtpcaptest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"
	"github.com/pion/rtp"
	psdp "github.com/pion/sdp/v3"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/media"
)

// Capture is what FFmpegCapture received.
type Capture struct {
	// SDP is ffmpeg's -sdp_file; Desc is it parsed.
	SDP  []byte
	Desc *description.Session
	// Ports are the RTP ports of the video and audio tracks.
	Ports [2]int
	// Units are the RTP datagrams, one unit each, in arrival order, as the
	// RTSP source emits them when no sink decodes.
	Units []*media.Unit
	// RTCP are the RTCP datagrams ffmpeg sent.
	RTCP []Datagram
}

// Datagram is one UDP datagram received.
type Datagram struct {
	Track    int
	RTCP     bool
	Bytes    []byte
	Received time.Time
}

// FFmpegCapture makes ffmpeg send 2 s of H.264 (testsrc2, 320x240, 25 fps,
// baseline, a keyframe a second) and AAC (48 kHz stereo sine) as RTP, at
// real-time pace, to 127.0.0.1 on two free port pairs, and receives the
// datagrams on UDP sockets. before, when set, runs once the ports are
// known and before ffmpeg starts (to start a packet capture).
func FFmpegCapture(t testing.TB, dir string, before func(ports [2]int)) *Capture {
	t.Helper()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	c := &Capture{}
	var conns []*net.UDPConn
	for i := range 2 {
		p := testpeer.FreeUDPPortPair(t)
		c.Ports[i] = p
		for j := range 2 {
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + j})
			if err != nil {
				t.Fatalf("listen on UDP %d: %v", p+j, err)
			}
			t.Cleanup(func() { conn.Close() })
			conns = append(conns, conn)
		}
	}
	if before != nil {
		before(c.Ports)
	}

	var mu sync.Mutex
	var grams []Datagram
	var wg sync.WaitGroup
	quiet := make(chan struct{})
	for k, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				select {
				case <-quiet:
					// ffmpeg is done: read what is left, until 300 ms of silence.
					_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				default:
					_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				}
				n, err := conn.Read(buf)
				now := time.Now()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						select {
						case <-quiet:
							return
						default:
							continue
						}
					}
					return
				}
				mu.Lock()
				grams = append(grams, Datagram{Track: k / 2, RTCP: k%2 == 1, Bytes: slices.Clone(buf[:n]), Received: now})
				mu.Unlock()
			}
		}()
	}

	sdpPath := filepath.Join(dir, "ffmpeg.sdp")
	ff := testpeer.StartCmd(t, exec.Command("timeout", "-k", "3", "30", "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-t", "2", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-re", "-t", "2", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-map", "0:v", "-c:v", "libx264", "-profile:v", "baseline", "-g", "25", "-pix_fmt", "yuv420p",
		"-f", "rtp", fmt.Sprintf("rtp://127.0.0.1:%d", c.Ports[0]),
		"-map", "1:a", "-c:a", "aac", "-ac", "2",
		"-f", "rtp", fmt.Sprintf("rtp://127.0.0.1:%d", c.Ports[1]),
		"-sdp_file", sdpPath), testpeer.ProcOptions{KillOnly: true})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := ff.Wait(ctx); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, ff.Output())
	}
	close(quiet)
	wg.Wait()

	b, err := os.ReadFile(sdpPath)
	if err != nil {
		t.Fatalf("ffmpeg wrote no SDP: %v", err)
	}
	c.SDP = b
	desc, ports, err := rtpcap.ParseSDP(b)
	if err != nil {
		t.Fatalf("ffmpeg's SDP: %v\n%s", err, b)
	}
	if len(desc.Medias) != 2 || ports[0] != c.Ports[0] || ports[1] != c.Ports[1] {
		t.Fatalf("unexpected SDP from ffmpeg:\n%s", b)
	}
	c.Desc = desc

	slices.SortStableFunc(grams, func(a, b Datagram) int { return a.Received.Compare(b.Received) })
	for _, g := range grams {
		if g.RTCP {
			c.RTCP = append(c.RTCP, g)
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(g.Bytes); err != nil {
			t.Fatalf("ffmpeg sent a bad RTP packet: %v", err)
		}
		m := desc.Medias[g.Track]
		f := m.Formats[0]
		if f.PayloadType() != p.PayloadType {
			t.Fatalf("track %d: PT %d, the SDP says %d", g.Track, p.PayloadType, f.PayloadType())
		}
		c.Units = append(c.Units, &media.Unit{Media: m, Format: f, NoDTS: true, Received: g.Received, Packets: []*rtp.Packet{&p}})
	}
	if len(c.Units) < 50 {
		t.Fatalf("only %d RTP packets from ffmpeg", len(c.Units))
	}
	return c
}

// RewritePorts sets the m= ports of an SDP to ports.
func RewritePorts(t testing.TB, b []byte, ports []int) []byte {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	for i, md := range sd.MediaDescriptions {
		md.MediaName.Port = psdp.RangedPort{Value: ports[i]}
	}
	out, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ReplayToFFmpeg checks that a capture replays into ffmpeg: ffmpeg reads
// sdpText (the capture's sidecar SDP, with its ports moved to free ones)
// while src's packets are sent there over UDP, paced by their timestamps
// at speed times real time. ffmpeg must decode videoFrames frames. It
// returns ffmpeg's log, which lists the streams it found.
func ReplayToFFmpeg(t testing.TB, dir string, sdpText []byte, src engine.Source, speed float64, videoFrames int) string {
	t.Helper()
	testpeer.Require(t, testpeer.PeerFFmpeg, testpeer.PeerTimeout)
	desc, err := src.Open(context.Background())
	if err != nil {
		t.Fatalf("open the capture: %v", err)
	}
	defer src.Close()
	ports := make([]int, len(desc.Medias))
	for i := range ports {
		ports[i] = testpeer.FreeUDPPortPair(t)
	}
	sdpPath := filepath.Join(dir, "replay.sdp")
	if err := os.WriteFile(sdpPath, RewritePorts(t, sdpText, ports), 0o644); err != nil {
		t.Fatal(err)
	}
	ff := testpeer.StartCmd(t, exec.Command("timeout", "-k", "3", "30", "ffmpeg", "-hide_banner", "-nostdin",
		"-protocol_whitelist", "file,udp,rtp", "-i", sdpPath,
		"-map", "0:v", "-frames:v", strconv.Itoa(videoFrames), "-f", "framemd5", filepath.Join(dir, "frames.md5")),
		testpeer.ProcOptions{KillOnly: true})
	// Ready when ffmpeg has bound every RTP port (read from /proc, so that
	// probing does not race with its bind).
	deadline := time.Now().Add(15 * time.Second)
	for !udpBound(ports) {
		select {
		case <-ff.Exited():
			t.Fatalf("ffmpeg exited before listening: %s", ff.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg does not listen on %v: %s", ports, ff.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	index := make(map[*description.Media]int)
	for i, m := range desc.Medias {
		index[m] = i
	}
	pacer := &engine.Pacer{Speed: speed}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-ff.Exited()
		cancel()
	}()
	var sendErr error
	err = src.Run(ctx, func(u *media.Unit) {
		if sendErr != nil || !pacer.Wait(ctx, u) {
			return
		}
		for _, p := range u.Packets {
			b, err := p.Marshal()
			if err != nil {
				sendErr = err
				return
			}
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ports[index[u.Media]]}
			if _, err := conn.WriteToUDP(b, to); err != nil {
				sendErr = err
			}
		}
	})
	if err != nil || sendErr != nil {
		t.Fatalf("replay: %v %v", err, sendErr)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := ff.Wait(wctx); err != nil {
		t.Fatalf("ffmpeg did not decode %d frames of the replay: %v\n%s", videoFrames, err, ff.Output())
	}
	md5s, err := os.ReadFile(filepath.Join(dir, "frames.md5"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(md5s), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	if n != videoFrames {
		t.Fatalf("ffmpeg decoded %d frames, want %d\n%s", n, videoFrames, ff.Output())
	}
	return ff.Output()
}

// udpBound reports whether every port is bound by a UDP socket, from
// /proc/net/udp and udp6.
func udpBound(ports []int) bool {
	bound := make(map[int]bool)
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			_, port, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if v, err := strconv.ParseUint(port, 16, 16); err == nil {
				bound[int(v)] = true
			}
		}
		f.Close()
	}
	for _, p := range ports {
		if !bound[p] {
			return false
		}
	}
	return true
}
