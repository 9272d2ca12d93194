package testpeer

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvPeersDir names the directory where .ci/install-extra-peers puts the
// peers that are not Debian packages (lalserver, node-media-server). It is
// outside the module tree so that go tooling never walks node_modules.
const EnvPeersDir = "AVCAT_PEERS_DIR"

// DefaultPeersDir is used when AVCAT_PEERS_DIR is unset.
const DefaultPeersDir = "/opt/avcat-peers"

// Versions installed by .ci/install-extra-peers.
const (
	LalServerVersion       = "v0.37.4"
	NodeMediaServerVersion = "4.4.3"
)

func peersDir() string {
	if d := os.Getenv(EnvPeersDir); d != "" {
		return d
	}
	return DefaultPeersDir
}

// lalServerPath finds lalserver in the peers directory, then on PATH (a
// `go install` into GOBIN).
func lalServerPath() (string, error) {
	p := filepath.Join(peersDir(), "bin", "lalserver")
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p, nil
	}
	if q, err := exec.LookPath("lalserver"); err == nil {
		return q, nil
	}
	return "", fmt.Errorf("not in %s nor on PATH", p)
}

// nodeMediaServerModule returns the installed node-media-server package
// directory (the one with package.json), checking its version.
func nodeMediaServerModule() (string, error) {
	dir := filepath.Join(peersDir(), "node-media-server", "node_modules", "node-media-server")
	if _, err := os.Stat(filepath.Join(dir, "src", "index.js")); err != nil {
		return "", fmt.Errorf("not installed in %s", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("%s/package.json: %v", dir, err)
	}
	if pkg.Version != NodeMediaServerVersion {
		return "", fmt.Errorf("%s is version %s, want %s", dir, pkg.Version, NodeMediaServerVersion)
	}
	return dir, nil
}
