package testpeer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NodeMediaOptions configures StartNodeMediaServer.
type NodeMediaOptions struct {
	// Record makes node-media-server record every published stream to
	// RecordDir/<app>/<stream>/<ms>.flv.
	Record bool
	// Relays are pull tasks (rtsp:// or rtmp:// source → local stream path
	// such as "/live/x") added at start; they reconnect until the source is up.
	Relays []NodeMediaRelay
}

// NodeMediaRelay is one node-media-server relay task.
type NodeMediaRelay struct {
	URL        string `json:"url"`
	StreamPath string `json:"streamPath"`
	Mode       string `json:"mode"` // "pull" (the default) or "push"
}

// NodeMediaServer is a running node-media-server (a Node.js RTMP server) on
// 127.0.0.1, RTMP only (no HTTP, no RTMPS).
type NodeMediaServer struct {
	Port      int
	Dir       string
	RecordDir string
	Process   *Process
}

// URL returns rtmp://127.0.0.1:PORT/app/stream.
func (n *NodeMediaServer) URL(app, stream string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s/%s", n.Port, app, stream)
}

// Recordings returns the FLV files recorded so far for app/stream.
func (n *NodeMediaServer) Recordings(app, stream string) []string {
	m, _ := filepath.Glob(filepath.Join(n.RecordDir, app, stream, "*.flv"))
	return m
}

// WaitRecordDone waits until node-media-server has closed the recording of
// app/stream (when the publisher left) and returns it.
func (n *NodeMediaServer) WaitRecordDone(t testing.TB, app, stream string, limit time.Duration) string {
	t.Helper()
	key := "avcat-launcher: record closed /" + app + "/" + stream + " "
	var file string
	err := poll(limit, nil, func() error {
		out := n.Process.Output()
		i := strings.LastIndex(out, key)
		if i < 0 {
			return errors.New("recording not closed yet")
		}
		file = strings.TrimSpace(strings.SplitN(out[i+len(key):], "\n", 2)[0])
		return nil
	})
	if err != nil {
		t.Fatalf("testpeer: node-media-server recording of %s/%s: %v", app, stream, err)
	}
	return file
}

// nodeMediaLauncher runs node-media-server from its package directory with a
// config file and adds the relay tasks listed in it (node-media-server 4.4
// only takes relays through its API).
const nodeMediaLauncher = `// written by avcat's internal/testpeer
"use strict";
const fs = require("fs");
const path = require("path");
const NodeMediaServer = require(process.argv[2]);
const Context = require(path.join(process.argv[2], "src", "core", "context.js"));
const configPath = process.argv[3];
const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
const nms = new NodeMediaServer(config, configPath);
// A publisher that leaves keeps its stream (and recording) open for a 30 s
// grace period, in case it comes back; tests want the file at once.
nms.on("postPublish", (session) => {
  const b = Context.broadcasts.get(session.streamPath);
  if (b) { b.publishGraceMs = config.avcatPublishGraceMs; }
});
// "done record" is logged before the file is flushed and closed.
nms.on("doneRecord", (session) => {
  const say = () => console.log("avcat-launcher: record closed " + session.streamPath + " " + session.filePath);
  if (session.fileStream.closed) { say(); } else { session.fileStream.once("close", say); }
});
nms.run().then(() => {
  for (const task of config.avcatRelays || []) {
    nms.relayServer.addTask(task);
  }
  console.log("avcat-launcher: ready");
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => { nms.stop().finally(() => process.exit(0)); });
}
`

// StartNodeMediaServer starts node-media-server on a free loopback port
// with its config, store and recordings in a temporary directory, and waits
// until it accepts RTMP connections.
func StartNodeMediaServer(t testing.TB, opts NodeMediaOptions) *NodeMediaServer {
	t.Helper()
	Require(t, PeerNodeMedia)
	mod, err := nodeMediaServerModule()
	if err != nil {
		t.Fatalf("testpeer: node-media-server: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	for i := range opts.Relays {
		if opts.Relays[i].Mode == "" {
			opts.Relays[i].Mode = "pull"
		}
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		n := &NodeMediaServer{Port: FreePort(t), Dir: dir, RecordDir: filepath.Join(dir, "record")}
		conf := map[string]any{
			"bind":        "127.0.0.1",
			"rtmp":        map[string]any{"port": n.Port},
			"store":       map[string]any{"path": filepath.Join(dir, "data")},
			"record":      map[string]any{"auto": opts.Record, "path": n.RecordDir},
			"avcatRelays": opts.Relays,
			// The publisher's grace period, so that WaitRecordDone is quick.
			"avcatPublishGraceMs": 200,
		}
		b, _ := json.MarshalIndent(conf, "", "  ")
		confPath, launcher := filepath.Join(dir, "config.json"), filepath.Join(dir, "launch.js")
		if err := os.WriteFile(confPath, b, 0o644); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		if err := os.WriteFile(launcher, []byte(nodeMediaLauncher), 0o644); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		cmd := exec.Command(node, launcher, mod, confPath)
		cmd.Dir = dir
		p := StartCmd(t, cmd, ProcOptions{})
		n.Process = p
		err = poll(15*time.Second, p.Exited(), func() error {
			// The listening line proves the port is ours, not a stranger's.
			if !strings.Contains(p.Output(), fmt.Sprintf("Rtmp Server listening on port 127.0.0.1:%d", n.Port)) ||
				!strings.Contains(p.Output(), "avcat-launcher: ready") {
				return errors.New("not listening yet")
			}
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.Port), time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		})
		if err == nil {
			return n
		}
		_ = p.Stop()
		if strings.Contains(p.Output(), "already in use") && attempt < attempts {
			continue
		}
		t.Fatalf("testpeer: node-media-server: %v\noutput:\n%s", err, p.out.Tail(outputDump))
	}
}
