package testpeer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NginxOptions configures StartNginxRTMP.
type NginxOptions struct {
	// Apps are the RTMP applications, each "live on; record off;". Zero
	// means just "live".
	Apps []string
	// AppDirectives are extra nginx-rtmp directives added to every
	// application, e.g. "deny play all;".
	AppDirectives string
}

// NginxRTMP is a running nginx with the nginx-rtmp module on 127.0.0.1.
type NginxRTMP struct {
	Port    int
	Dir     string // prefix directory: nginx.conf, error.log, access.log, nginx.pid
	Process *Process
}

// URL returns rtmp://127.0.0.1:PORT/app/key.
func (n *NginxRTMP) URL(app, key string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s/%s", n.Port, app, key)
}

// ErrorLog returns the current content of nginx's error log.
func (n *NginxRTMP) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	return string(b)
}

// StartNginxRTMP starts nginx in the foreground as a single process (daemon
// off, master_process off, so it never switches user and works as root or
// not) with only an rtmp block on a free port of 127.0.0.1, and all its files
// in a temporary directory. It waits until nginx has written its pid file and
// accepts TCP connections.
func StartNginxRTMP(t testing.TB, opts NginxOptions) *NginxRTMP {
	t.Helper()
	return startNginxRTMP(t, opts, FreePort)
}

// startNginxRTMP takes the port picker as a parameter so that tests can
// exercise the retry after a lost port race.
func startNginxRTMP(t testing.TB, opts NginxOptions, pickPort func(testing.TB) int) *NginxRTMP {
	t.Helper()
	Require(t, PeerNginxRTMP)
	nginx, err := lookPath("nginx")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	module, err := nginxRTMPModule()
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if len(opts.Apps) == 0 {
		opts.Apps = []string{"live"}
	}

	const attempts = 5
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		n := &NginxRTMP{Port: pickPort(t), Dir: dir}
		conf := filepath.Join(dir, "nginx.conf")
		errLog := filepath.Join(dir, "error.log")
		pidFile := filepath.Join(dir, "nginx.pid")
		if err := os.WriteFile(conf, []byte(nginxConf(module, n.Port, dir, opts)), 0o644); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		// -e sets the error log used before the config is read, so nginx
		// never touches /var/log/nginx.
		p := StartCmd(t, exec.Command(nginx, "-c", conf, "-p", dir+"/", "-e", errLog), ProcOptions{})
		n.Process = p

		err = poll(15*time.Second, p.Exited(), func() error {
			// nginx writes its pid file after binding its listeners; checking it
			// first avoids mistaking a stranger on a raced port for our nginx.
			b, err := os.ReadFile(pidFile)
			if err != nil {
				return err
			}
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid != p.Pid() {
				return fmt.Errorf("pid file says %q, want %d", b, p.Pid())
			}
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.Port), time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		})
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("testpeer: nginx error.log tail:\n%s", tail(n.ErrorLog(), outputDump))
				}
			})
			return n
		}
		if errors.Is(err, errExited) {
			_ = p.Stop()
			if strings.Contains(n.ErrorLog()+p.Output(), "Address already in use") && attempt < attempts {
				continue // lost the port race; try another port
			}
		}
		t.Fatalf("testpeer: nginx-rtmp on port %d: %v\noutput:\n%s\nerror.log:\n%s",
			n.Port, err, p.out.Tail(outputDump), tail(n.ErrorLog(), outputDump))
	}
}

// nginxConf renders a config with no http block (so nginx needs no temp
// directories under /var) and one rtmp server. nginx-rtmp's access log
// defaults to /var/log/nginx/access.log, so it is moved into dir too.
func nginxConf(module string, port int, dir string, opts NginxOptions) string {
	var apps strings.Builder
	for _, app := range opts.Apps {
		fmt.Fprintf(&apps, "        application %s {\n            live on;\n            record off;\n", app)
		if opts.AppDirectives != "" {
			fmt.Fprintf(&apps, "            %s\n", opts.AppDirectives)
		}
		apps.WriteString("        }\n")
	}
	return fmt.Sprintf(`# written by avcat's internal/testpeer
load_module %s;
daemon off;
master_process off;
pid %s;
error_log %s info;
events {
    worker_connections 256;
}
rtmp {
    access_log %s;
    server {
        listen 127.0.0.1:%d;
        chunk_size 4096;
%s    }
}
`, module, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"),
		filepath.Join(dir, "access.log"), port, apps.String())
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
