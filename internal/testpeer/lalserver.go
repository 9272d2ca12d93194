package testpeer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LalOptions configures StartLalServer.
type LalOptions struct {
	// RecordFLV makes lalserver record every published stream to
	// RecordDir/<stream>-<unix>.flv.
	RecordFLV bool
}

// LalServer is a running lal lalserver (its own RTMP and RTSP code) on
// 127.0.0.1. lalserver names a stream by the last path segment of the URL;
// its RTSP server picks UDP ports in 30000-60000 (fine on loopback).
type LalServer struct {
	RTMPPort  int
	RTSPPort  int
	APIPort   int
	Dir       string // config and log
	RecordDir string // FLV recordings when RecordFLV
	Process   *Process
}

// RTMP returns rtmp://127.0.0.1:PORT/app/stream.
func (l *LalServer) RTMP(app, stream string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s/%s", l.RTMPPort, app, stream)
}

// RTSP returns rtsp://127.0.0.1:PORT/app/stream.
func (l *LalServer) RTSP(app, stream string) string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/%s/%s", l.RTSPPort, app, stream)
}

// StartLalServer starts lalserver with a config in a temporary directory,
// every listener but RTMP, RTSP and the HTTP API off, all on free loopback
// ports, and waits until the three accept connections.
func StartLalServer(t testing.TB, opts LalOptions) *LalServer {
	t.Helper()
	Require(t, PeerLalServer)
	bin, err := lalServerPath()
	if err != nil {
		t.Fatalf("testpeer: lalserver: %v", err)
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		l := &LalServer{RTMPPort: FreePort(t), RTSPPort: FreePort(t), APIPort: FreePort(t), Dir: dir,
			RecordDir: filepath.Join(dir, "record")}
		conf := filepath.Join(dir, "lalserver.conf.json")
		if err := os.WriteFile(conf, lalConf(l, opts), 0o644); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		cmd := exec.Command(bin, "-c", conf, "-p", dir)
		cmd.Dir = dir
		p := StartCmd(t, cmd, ProcOptions{})
		l.Process = p
		err = poll(15*time.Second, p.Exited(), func() error {
			for _, port := range []int{l.RTMPPort, l.RTSPPort, l.APIPort} {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
				if err != nil {
					return err
				}
				c.Close()
			}
			// A stranger may hold a raced port: the API must be lalserver's.
			_, err := l.api("GET", "/api/stat/lal_info", nil)
			return err
		})
		if err == nil {
			return l
		}
		_ = p.Stop()
		if strings.Contains(p.Output(), "address already in use") && attempt < attempts {
			continue
		}
		t.Fatalf("testpeer: lalserver: %v\noutput:\n%s", err, p.out.Tail(outputDump))
	}
}

// StartRelayPull asks lalserver (HTTP API start_relay_pull) to pull url
// (rtmp:// or rtsp://, RTSP over TCP) into its stream name, retrying forever.
func (l *LalServer) StartRelayPull(t testing.TB, url, stream string) {
	t.Helper()
	body, err := l.api("POST", "/api/ctrl/start_relay_pull", map[string]any{
		"url": url, "stream_name": stream, "pull_timeout_ms": 10000, "pull_retry_num": -1,
		"auto_stop_pull_after_no_out_ms": -1, "rtsp_mode": 0,
	})
	if err != nil {
		t.Fatalf("testpeer: lalserver start_relay_pull %s: %v", url, err)
	}
	t.Logf("lalserver start_relay_pull %s: %s", url, strings.TrimSpace(body))
}

// Recordings returns the FLV files lalserver recorded so far.
func (l *LalServer) Recordings() []string {
	m, _ := filepath.Glob(filepath.Join(l.RecordDir, "*.flv"))
	return m
}

// api calls lalserver's HTTP API and returns the body when error_code is 0.
func (l *LalServer) api(method, path string, req any) (string, error) {
	var rd io.Reader
	if req != nil {
		b, _ := json.Marshal(req)
		rd = bytes.NewReader(b)
	}
	r, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", l.APIPort, path), rd)
	if err != nil {
		return "", err
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var res struct {
		Code int    `json:"error_code"`
		Desp string `json:"desp"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("%s %s: not lalserver's answer: %q", method, path, tail(string(b), 200))
	}
	if res.Code != 0 {
		return string(b), errors.New(res.Desp)
	}
	return string(b), nil
}

func lalConf(l *LalServer, opts LalOptions) []byte {
	addr := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	conf := map[string]any{
		"conf_version": "v0.4.1",
		"rtmp": map[string]any{"enable": true, "addr": addr(l.RTMPPort), "rtmps_enable": false,
			"gop_num": 1, "merge_write_size": 0},
		"in_session":   map[string]any{"add_dummy_audio_enable": false},
		"default_http": map[string]any{"http_listen_addr": "", "https_listen_addr": ""},
		"httpflv":      map[string]any{"enable": false, "enable_https": false},
		"hls":          map[string]any{"enable": false, "enable_https": false, "out_path": filepath.Join(l.Dir, "hls")},
		"httpts":       map[string]any{"enable": false, "enable_https": false},
		"rtsp": map[string]any{"enable": true, "addr": addr(l.RTSPPort), "rtsps_enable": false,
			"out_wait_key_frame_flag": true, "auth_enable": false, "ws_rtsp_enable": false},
		"record": map[string]any{"enable_flv": opts.RecordFLV, "flv_out_path": l.RecordDir,
			"enable_mpegts": false, "mpegts_out_path": filepath.Join(l.Dir, "ts")},
		"relay_push":        map[string]any{"enable": false, "addr_list": []string{}},
		"static_relay_pull": map[string]any{"enable": false, "addr": ""},
		"http_api":          map[string]any{"enable": true, "addr": addr(l.APIPort)},
		"server_id":         "1",
		"http_notify":       map[string]any{"enable": false},
		"simple_auth":       map[string]any{},
		"pprof":             map[string]any{"enable": false},
		"log": map[string]any{"level": 2, "filename": filepath.Join(l.Dir, "lalserver.log"), "is_to_stdout": true,
			"is_rotate_daily": false, "short_file_flag": true, "timestamp_flag": true,
			"timestamp_with_ms_flag": true, "level_flag": true, "assert_behavior": 1},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return b
}

// WaitRecordDone waits until lalserver closed the FLV recording of stream
// (its group is disposed about a second after the publisher left) and
// returns the file.
func (l *LalServer) WaitRecordDone(t testing.TB, stream string, limit time.Duration) string {
	t.Helper()
	var file string
	err := poll(limit, l.Process.Exited(), func() error {
		m, _ := filepath.Glob(filepath.Join(l.RecordDir, stream+"-*.flv"))
		if len(m) == 0 {
			return errors.New("no recording yet")
		}
		if !strings.Contains(l.Process.Output(), lalPubStopped) {
			return errors.New("publisher still in")
		}
		file = m[len(m)-1]
		return nil
	})
	if err != nil {
		t.Fatalf("testpeer: lalserver recording of %s: %v", stream, err)
	}
	return file
}

// lalPubStopped is logged (level info) once the group of a stream whose
// publisher left is disposed, which closes its recording.
const lalPubStopped = "lifecycle dispose group."
