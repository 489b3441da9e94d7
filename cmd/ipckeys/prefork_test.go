package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/reftool"
)

// Real pre-fork servers, run as operators run them: nginx's master with
// two workers and apache2's prefork MPM with two children, each started
// as root in private network, pid, mount and IPC namespaces, loopback
// only. The workers share the master's listener; none of the descriptor
// checks may call that a finding, and ls --sockets names exactly the
// holders ss and lsof name.

// needServer returns the path of a server program the Debian package pkg
// provides. Without it the test skips, or fails when reference programs
// or the root tests are required.
func needServer(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv(nstest.RequireEnv) != "" && !reftool.Required() {
		t.Fatalf("%s is not installed: apt-get install %s (%s is set)", name, pkg, nstest.RequireEnv)
	}
	return reftool.Need(t, name, pkg)
}

// serverDir makes a directory for a server's configuration, logs and pid
// file that its workers (running as nobody) can enter.
func serverDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeConf(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lsHolders returns the holders ls --sockets -o json names for the TCP
// listener on local, as comm/pid/fd, sorted.
func lsHolders(t *testing.T, local string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if c := run([]string{"ls", "--sockets", "-o", "json"}, nil, &stdout, &stderr); c != exitClean {
		t.Fatalf("ls --sockets -o json: exit %d %s", c, stderr.String())
	}
	var doc struct {
		Sockets []struct {
			Proto   string `json:"proto"`
			State   string `json:"state"`
			Local   string `json:"local"`
			Holders []struct {
				PID  int    `json:"pid"`
				FD   int    `json:"fd"`
				Comm string `json:"comm"`
			} `json:"holders"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("ls --sockets -o json: %v\n%s", err, stdout.String())
	}
	var got []string
	rows := 0
	for _, s := range doc.Sockets {
		if s.Local != local || s.State != "LISTEN" || !strings.HasPrefix(s.Proto, "tcp") {
			continue
		}
		rows++
		for _, h := range s.Holders {
			got = append(got, fmt.Sprintf("%s/%d/%d", h.Comm, h.PID, h.FD))
		}
	}
	if rows != 1 {
		t.Errorf("ls --sockets: %d listening rows for %s, want 1\n%s", rows, local, stdout.String())
	}
	slices.Sort(got)
	return got
}

// checkPrefork waits until ss shows the master and its workers (n holders
// of the listener on 127.0.0.1:port, every one running comm), then holds
// scan --sockets --live to no finding and ls --sockets, explain, ss and
// lsof to the same holders.
func checkPrefork(t *testing.T, port, n int, comm string) {
	t.Helper()
	local := fmt.Sprintf("127.0.0.1:%d", port)
	var ss []string
	nstest.Eventually(t, fmt.Sprintf("%d %s processes holding %s", n, comm, local), func() bool {
		ss = sorted(nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), local))
		if len(ss) != n {
			return false
		}
		for _, u := range ss {
			if !strings.HasPrefix(u, comm+"/") {
				return false
			}
		}
		return true
	})

	t.Logf("ss: holders of %s: %v", local, ss)
	code, rep, out := scanJSON(t, "--sockets", "--live")
	if code != exitClean || len(rep.Findings) != 0 {
		t.Errorf("scan --sockets --live: exit %d, findings %v\n%s", code, codes(rep), out)
	}
	if got := lsHolders(t, local); !equal(got, ss) {
		t.Errorf("ls --sockets names holders %v of %s, ss says %v", got, local, ss)
	}
	// explain against ss and lsof (pid/fd); and nothing changed meanwhile.
	if got := checkHolders(t, port); !equal(got, ss) {
		t.Errorf("explain names holders %v of %s, ss said %v before", got, local, ss)
	}
	if again := sorted(nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), local)); !equal(again, ss) {
		t.Fatalf("the holders of %s changed during the test: ss said %v, then %v", local, ss, again)
	}
}

// TestNginxPreforkNoFinding: nginx's master opens the listener and forks
// two workers that accept on it, none of them with close-on-exec (nginx
// keeps listeners open across its binary upgrade). Not a finding.
func TestNginxPreforkNoFinding(t *testing.T) {
	nginx := needServer(t, "nginx", "nginx")
	if !nstest.RunIsolated(t) {
		return
	}
	const port = 7400
	dir := serverDir(t)
	conf := filepath.Join(dir, "nginx.conf")
	writeConf(t, conf, fmt.Sprintf(`master_process on;
worker_processes 2;
daemon off;
user nobody nogroup;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server { listen 127.0.0.1:%[2]d; }
}
`, dir, port))
	nstest.StartProc(t, nil, nil, nil, nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
	checkPrefork(t, port, 3, "nginx")
}

// TestApache2PreforkNoFinding: apache2 with the prefork MPM, started as
// root in the foreground: the parent opens the listener and keeps two
// children (running as nobody) that accept on it. Not a finding.
func TestApache2PreforkNoFinding(t *testing.T) {
	apache2 := needServer(t, "apache2", "apache2")
	const prefork = "/usr/lib/apache2/modules/mod_mpm_prefork.so"
	if _, err := os.Stat(prefork); err != nil {
		if os.Getenv(nstest.RequireEnv) != "" || reftool.Required() {
			t.Fatalf("apache2's prefork module: %v (apt-get install apache2)", err)
		}
		t.Skipf("apache2's prefork module: %v (apt-get install apache2)", err)
	}
	if !nstest.RunIsolated(t) {
		return
	}
	const port = 7401
	dir := serverDir(t)
	conf := filepath.Join(dir, "apache2.conf")
	// MaxRequestWorkers holds the children at two, so the holders do not
	// change while the test compares them.
	writeConf(t, conf, fmt.Sprintf(`ServerRoot %[1]s
ServerName localhost
LoadModule mpm_prefork_module %[3]s
StartServers 2
MinSpareServers 1
MaxSpareServers 2
ServerLimit 2
MaxRequestWorkers 2
User nobody
Group nogroup
Listen 127.0.0.1:%[2]d
PidFile %[1]s/apache2.pid
ErrorLog %[1]s/error.log
Mutex file:%[1]s default
DocumentRoot %[1]s
`, dir, port, prefork))
	nstest.StartProc(t, nil, nil, nil, apache2, "-d", dir, "-f", conf, "-DFOREGROUND")
	checkPrefork(t, port, 3, "apache2")
}
