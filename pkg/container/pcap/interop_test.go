package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/avcat/avcat/internal/testpeer"
	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap"
	"github.com/avcat/avcat/pkg/container/rtpdump/rtpcap/rtpcaptest"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

const peerTshark = "tshark"

// tsharkFields runs tshark on file and returns its field lines.
func tsharkFields(t *testing.T, file string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", file}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v: %s", args, err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// decodeAs is tshark's -d for every track of a capture written by Sink.
func decodeAs(tracks int) []string {
	var args []string
	for i := range tracks {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,rtp", rtpcap.Port(i)))
	}
	return args
}

// TestTshark: Wireshark's dissectors decode every packet the Sink wrote
// as RTP with the right payload type and arrival time, and the RTCP as
// RTCP.
func TestTshark(t *testing.T) {
	testpeer.Require(t, peerTshark)
	desc, units := rtpcaptest.Session(t, rtpcaptest.Options{})
	p := filepath.Join(t.TempDir(), "out.pcap")
	s := &Sink{Path: p}
	if err := s.Open(desc); err != nil {
		t.Fatal(err)
	}
	sr := []byte{0x80, 200, 0, 6, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 99}
	rtcpSent := 0
	for i, u := range units {
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
		if i%40 == 0 {
			if err := s.WriteRTCP(u.Media, sr, u.Received); err != nil {
				t.Fatal(err)
			}
			rtcpSent++
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := rtpcaptest.Flatten(t, desc, units)

	// The command of the issue, once per track.
	lines := tsharkFields(t, p, append(decodeAs(2), "-Y", "rtp", "-T", "fields",
		"-e", "udp.dstport", "-e", "rtp.seq", "-e", "rtp.p_type", "-e", "frame.time_epoch")...)
	if len(lines) != len(want) {
		t.Fatalf("tshark decodes %d RTP packets, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		w := want[i]
		wantPT := strconv.Itoa(int(w.PT))
		if f[0] != strconv.Itoa(rtpcap.Port(w.Track)) || f[2] != wantPT {
			t.Fatalf("packet %d: tshark says port %s PT %s, want %d and %s", i, f[0], f[2], rtpcap.Port(w.Track), wantPT)
		}
		if wantTime := fmt.Sprintf("%d.%06d", w.Received.Unix(), w.Received.Nanosecond()/1000); !strings.HasPrefix(f[3], wantTime) {
			t.Fatalf("packet %d: time %s, want %s", i, f[3], wantTime)
		}
	}
	t.Logf("tshark: %d RTP packets, payload types and times right", len(lines))

	rtcp := tsharkFields(t, p, "-d", fmt.Sprintf("udp.port==%d,rtcp", rtpcap.Port(0)+1), "-d", fmt.Sprintf("udp.port==%d,rtcp", rtpcap.Port(1)+1),
		"-Y", "rtcp.pt == 200", "-T", "fields", "-e", "rtcp.senderssrc")
	if len(rtcp) != rtcpSent {
		t.Fatalf("tshark decodes %d RTCP sender reports, want %d", len(rtcp), rtcpSent)
	}
	// editcap rewrites it with nanosecond timestamps, and as pcapng.
	testpeer.Require(t, "editcap")
	ns := filepath.Join(filepath.Dir(p), "ns.pcap")
	if out, err := exec.Command("editcap", "-F", "nsecpcap", p, ns).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v: %s", err, out)
	}
	_, back, _ := readRTP(t, ns, rtpcap.SidecarPath(p))
	rtpcaptest.Compare(t, back, want, time.Unix(0, 0), time.Microsecond)
	ng := filepath.Join(filepath.Dir(p), "ng.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", p, ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v: %s", err, out)
	}
	_, _, err := rtpcaptest.Read(t, &Source{Path: ng, SDP: rtpcap.SidecarPath(p)})
	checkErr(t, "pcapng from editcap", err, "ng.pcapng: a pcapng file; convert it to pcap first: editcap -F pcap ng.pcapng out.pcap", fault.Unsupported)

	// No malformed frames anywhere.
	if bad := tsharkFields(t, p, append(decodeAs(2), "-Y", "_ws.malformed || _ws.expert.severity >= error", "-T", "fields", "-e", "frame.number")...); len(bad) != 0 {
		t.Fatalf("tshark finds malformed frames: %v", bad)
	}
}

// dumpcap starts a capture of the UDP traffic to ports, and waits for it
// to run. It skips the test when the system does not allow capturing.
func dumpcap(t *testing.T, iface, linkType, file string, ports [2]int) *testpeer.Process {
	t.Helper()
	filter := fmt.Sprintf("udp and (dst port %d or dst port %d or dst port %d or dst port %d)", ports[0], ports[0]+1, ports[1], ports[1]+1)
	args := []string{"-i", iface, "-P", "-q", "-f", filter, "-w", file}
	if linkType != "" {
		args = append(args, "-y", linkType)
	}
	p := testpeer.StartCmd(t, exec.Command("dumpcap", args...), testpeer.ProcOptions{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(file); err == nil && st.Size() >= fileHeaderSize {
			return p
		}
		select {
		case <-p.Exited():
			out := strings.TrimSpace(p.Output())
			if strings.Contains(out, "ermission") || strings.Contains(out, "not permitted") {
				t.Skipf("dumpcap cannot capture on %s here: %s", iface, out)
			}
			t.Fatalf("dumpcap -i %s exited: %s", iface, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dumpcap -i %s did not start: %s", iface, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func onTrack(pkts []rtpcaptest.Packet, track int) []rtpcaptest.Packet {
	var out []rtpcaptest.Packet
	for _, p := range pkts {
		if p.Track == track {
			out = append(out, p)
		}
	}
	return out
}

// readRTP reads the RTP of a capture with Source, as packets.
func readRTP(t *testing.T, path, sdpPath string) (*description.Session, []rtpcaptest.Packet, []*media.Unit) {
	t.Helper()
	desc, units, err := rtpcaptest.Read(t, &Source{Path: path, SDP: sdpPath})
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	return desc, rtpcaptest.Flatten(t, desc, units), units
}

// TestFFmpegCapture records ffmpeg's RTP (H.264 + AAC, with RTCP) three
// ways at once: with Sink, from what avcat's UDP sockets receive, and with
// dumpcap on lo (Ethernet) and on any (Linux cooked SLL and SLL2). Then:
//   - tshark decodes all of the Sink's RTP and RTCP;
//   - Source reads the Sink's capture back byte for byte, and each of
//     dumpcap's real captures with ffmpeg's SDP (tracks by port): the same
//     packets;
//   - the Sink's capture, replayed to ffmpeg over UDP with the sidecar SDP,
//     decodes (the sidecar SDP is what ffprobe/ffplay read).
func TestFFmpegCapture(t *testing.T) {
	testpeer.Require(t, peerTshark, "dumpcap")
	dir := t.TempDir()
	type capture struct {
		name, iface, link, file string
		linkType                uint32
		proc                    *testpeer.Process
	}
	caps := []*capture{
		{name: "lo (Ethernet)", iface: "lo", linkType: linkEthernet},
		{name: "any (SLL)", iface: "any", link: "LINUX_SLL", linkType: linkSLL},
		{name: "any (SLL2)", iface: "any", link: "LINUX_SLL2", linkType: linkSLL2},
	}
	c := rtpcaptest.FFmpegCapture(t, dir, func(ports [2]int) {
		for i, cp := range caps {
			cp.file = filepath.Join(dir, fmt.Sprintf("dumpcap%d.pcap", i))
			cp.proc = dumpcap(t, cp.iface, cp.link, cp.file, ports)
		}
	})
	got := rtpcaptest.Flatten(t, c.Desc, c.Units)
	t.Logf("ffmpeg sent %d RTP and %d RTCP packets", len(got), len(c.RTCP))

	// The Sink's capture.
	p := filepath.Join(dir, "ffmpeg.pcap")
	s := &Sink{Path: p}
	if err := s.Open(c.Desc); err != nil {
		t.Fatal(err)
	}
	ri := 0
	for _, u := range c.Units {
		for ri < len(c.RTCP) && !c.RTCP[ri].Received.After(u.Received) {
			if err := s.WriteRTCP(c.Desc.Medias[c.RTCP[ri].Track], c.RTCP[ri].Bytes, c.RTCP[ri].Received); err != nil {
				t.Fatal(err)
			}
			ri++
		}
		if err := s.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	lines := tsharkFields(t, p, append(decodeAs(2), "-Y", "rtp", "-T", "fields", "-e", "udp.dstport", "-e", "rtp.p_type")...)
	if len(lines) != len(got) {
		t.Fatalf("tshark decodes %d RTP packets in the Sink's capture, want %d", len(lines), len(got))
	}
	for i, l := range lines {
		want := fmt.Sprintf("%d\t%d", rtpcap.Port(got[i].Track), got[i].PT)
		if l != want {
			t.Fatalf("tshark packet %d: %q, want %q", i, l, want)
		}
	}
	rtcp := tsharkFields(t, p, "-d", fmt.Sprintf("udp.port==%d,rtcp", rtpcap.Port(0)+1), "-d", fmt.Sprintf("udp.port==%d,rtcp", rtpcap.Port(1)+1),
		"-Y", "rtcp", "-T", "fields", "-e", "frame.number")
	if len(rtcp) != ri {
		t.Fatalf("tshark decodes %d RTCP packets, want %d", len(rtcp), ri)
	}

	_, back, _ := readRTP(t, p, "")
	rtpcaptest.Compare(t, back, got, time.Unix(0, 0), time.Microsecond)

	// dumpcap's captures: wait until each holds every packet, then stop it.
	sdpPath := filepath.Join(dir, "ffmpeg.sdp")
	for _, cp := range caps {
		var pkts []rtpcaptest.Packet
		deadline := time.Now().Add(10 * time.Second)
		for {
			src := &Source{Path: cp.file, SDP: sdpPath}
			desc, units, err := rtpcaptest.Read(t, src)
			if err == nil {
				pkts = rtpcaptest.Flatten(t, desc, units)
			}
			if len(pkts) >= len(got) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cp.proc.Stop()
		if hdr, err := os.ReadFile(cp.file); err != nil || len(hdr) < fileHeaderSize || binary.LittleEndian.Uint32(hdr[20:]) != cp.linkType {
			t.Fatalf("%s: dumpcap did not write a pcap of link type %d (%v)", cp.name, cp.linkType, err)
		}
		_, pkts, _ = readRTP(t, cp.file, sdpPath)
		if len(pkts) != len(got) {
			t.Fatalf("%s: %d RTP packets in dumpcap's capture, want %d", cp.name, len(pkts), len(got))
		}
		// The order of the tracks may differ between the sockets and the
		// capture; within a track it is the same.
		for track := range 2 {
			a, b := onTrack(pkts, track), onTrack(got, track)
			for i := range b {
				if i >= len(a) || !bytes.Equal(a[i].Bytes, b[i].Bytes) {
					t.Fatalf("%s: packet %d of track %d differs from what the socket received", cp.name, i, track)
				}
			}
		}
		t.Logf("%s: dumpcap's capture holds the same %d RTP packets", cp.name, len(pkts))
	}

	// The sidecar SDP and the Sink's capture replay into ffmpeg.
	sidecar, err := os.ReadFile(rtpcap.SidecarPath(p))
	if err != nil {
		t.Fatal(err)
	}
	out := rtpcaptest.ReplayToFFmpeg(t, dir, sidecar, &Source{Path: p}, 2, 25)
	t.Logf("ffmpeg decoded the replay:\n%s", out)
	for _, want := range []string{"Video: h264", "320x240", "Audio: aac", "48000 Hz"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ffmpeg's log of the replay lacks %q:\n%s", want, out)
		}
	}
}
