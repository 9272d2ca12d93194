// Package testpeer starts real interop peers (GStreamer's RTSP server, nginx-rtmp,
// ffmpeg, ffprobe) and small in-process fake servers for avcat's tests.
//
// Every peer listens on 127.0.0.1 on a free port, is polled for readiness (never
// a fixed sleep), runs in its own process group, and is killed by PID in
// t.Cleanup. Its output is captured and its tail is logged when the test fails.
//
// A test that needs a peer calls Require (the Start helpers call it too): a
// missing peer skips the test, or fails it when AVCAT_REQUIRE_PEERS=1 (CI).
package testpeer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Peer names understood by Require. Any other name is looked up as a binary.
const (
	PeerFFmpeg        = "ffmpeg"
	PeerFFprobe       = "ffprobe"
	PeerGstLaunch     = "gst-launch-1.0"
	PeerGstRTSPServer = "gst-rtsp-server" // /usr/bin/python3 with GstRtspServer 1.0 through python3-gi
	PeerNginxRTMP     = "nginx-rtmp"      // nginx plus the ngx_rtmp_module.so dynamic module
	PeerRTMPDump      = "rtmpdump"
	PeerVLC           = "vlc"
	PeerTimeout       = "timeout"           // coreutils timeout, used to bound peer clients
	PeerLalServer     = "lalserver"         // lal's lalserver, see EnvPeersDir
	PeerNodeMedia     = "node-media-server" // node plus the node-media-server npm package, see EnvPeersDir
)

// EnvRequirePeers turns a missing peer into a test failure when set to "1".
const EnvRequirePeers = "AVCAT_REQUIRE_PEERS"

// systemPython is the interpreter with python3-gi; the python3 first on PATH may
// be a pyenv build without gi.
const systemPython = "/usr/bin/python3"

// debianPackages names what to install for a peer, for skip messages.
func debianPackages(name string) string {
	switch name {
	case PeerFFmpeg, PeerFFprobe:
		return "ffmpeg"
	case PeerGstLaunch:
		return "gstreamer1.0-tools"
	case PeerGstRTSPServer:
		return "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"
	case PeerNginxRTMP:
		return "nginx libnginx-mod-rtmp"
	case PeerRTMPDump:
		return "rtmpdump"
	case PeerVLC:
		return "vlc-bin"
	case PeerTimeout:
		return "coreutils"
	}
	return ""
}

// installHint says how to install a peer that is not a Debian package.
func installHint(name string) string {
	switch name {
	case PeerLalServer, PeerNodeMedia:
		return " (run .ci/install-extra-peers; it installs into $" + EnvPeersDir + ", default " + DefaultPeersDir + ")"
	}
	return ""
}

// Require skips the test unless every named peer is installed. With
// AVCAT_REQUIRE_PEERS=1 a missing peer fails the test instead.
func Require(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, name := range names {
		if err := checkPeer(name); err != nil {
			msg := fmt.Sprintf("%s: %v", name, err)
			if pkg := debianPackages(name); pkg != "" {
				msg += " (Debian: apt-get install " + pkg + ")"
			}
			msg += installHint(name)
			missing = append(missing, msg)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "interop peer missing: " + strings.Join(missing, "; ")
	if os.Getenv(EnvRequirePeers) == "1" {
		t.Fatalf("%s [%s=1]", msg, EnvRequirePeers)
		return
	}
	t.Skipf("%s [set %s=1 to fail instead]", msg, EnvRequirePeers)
}

func checkPeer(name string) error {
	switch name {
	case PeerGstRTSPServer:
		if _, err := os.Stat(systemPython); err != nil {
			return err
		}
		out, err := exec.Command(systemPython, "-c",
			`import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer`).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s cannot import GstRtspServer 1.0: %v: %s", systemPython, err, lastLine(string(out)))
		}
		return nil
	case PeerNginxRTMP:
		if _, err := lookPath("nginx"); err != nil {
			return err
		}
		_, err := nginxRTMPModule()
		return err
	case PeerLalServer:
		_, err := lalServerPath()
		return err
	case PeerNodeMedia:
		if _, err := exec.LookPath("node"); err != nil {
			return err
		}
		_, err := nodeMediaServerModule()
		return err
	default:
		_, err := lookPath(name)
		return err
	}
}

// lookPath is exec.LookPath that also tries the sbin directories, which are not
// on PATH for non-root users (nginx lives in /usr/sbin).
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		c := dir + "/" + name
		if st, serr := os.Stat(c); serr == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", err
}

// nginxRTMPModule finds the nginx-rtmp dynamic module (Debian:
// /usr/lib/nginx/modules/ngx_rtmp_module.so).
func nginxRTMPModule() (string, error) {
	dirs := []string{"/usr/lib/nginx/modules", "/usr/lib64/nginx/modules", "/usr/share/nginx/modules"}
	for _, dir := range dirs {
		p := dir + "/ngx_rtmp_module.so"
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("ngx_rtmp_module.so not found in %s", strings.Join(dirs, ", "))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Peers
// that bind it may still race with another process; the Start helpers retry.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testpeer: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeUDPPortPair returns an even UDP port p on 127.0.0.1 such that p and p+1
// were both free a moment ago (an RTP/RTCP pair).
func FreeUDPPortPair(t testing.TB) int {
	t.Helper()
	for range 100 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testpeer: free UDP port: %v", err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		if p < 1024 || p+1 > 65535 {
			continue
		}
		a, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		b, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p+1))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatalf("testpeer: no free UDP port pair after 100 tries")
	return 0
}

// errExited reports that a peer died while being polled for readiness.
var errExited = errors.New("process exited")

// poll calls check until it succeeds, the timeout passes, or exited is closed
// (exited may be nil). It sleeps briefly between attempts and returns the last
// error of check, wrapped, when it gives up.
func poll(timeout time.Duration, exited <-chan struct{}, check func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 20 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("%w while waiting for readiness: %v", errExited, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Poll calls check until it succeeds and fails the test after limit: a
// readiness poll for tests (never a fixed sleep).
func Poll(t testing.TB, limit time.Duration, check func() error) {
	t.Helper()
	if err := poll(limit, nil, check); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
}
