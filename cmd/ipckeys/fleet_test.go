package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/oracle"
)

// TestAnsiblePlaybook runs the repository's playbook (ansible/ipckeys-fleet.yml)
// for real with ansible-playbook, as docs/fleet.md shows it (-b, a relative
// playbook and a relative ipckeys_local_binary, the default output
// directory), against twelve inventory hosts: eleven on this machine
// (local connections, each host with its own --root holding the same
// key-file layout, host05's root with a real low-16-bit inode collision
// made now, host11 with a malformed manifest so its scan cannot run) and
// host12 over ssh to a loopback port that refuses. The binary the playbook
// copies to the hosts is this test binary, which is ipckeys when called
// so. The play must fail with the fleet summary and mark host05, host11
// and host12 failed in the recap; host12's marker must hold Ansible's
// reason; the fleet JSON must name the collision on host05 alone, with
// the C library's key, and host11 and host12 as not checked; ipckeys fleet
// over the fetched reports exits 2, 1 with --allow-unchecked, 0 without
// host05. A second run whose fleet step fails must show fleet's error and
// name no page.
//
// Without ansible-playbook the test is skipped, unless
// IPCKEYS_REQUIRE_ROOT_TESTS is set (CI), where a skip would hide it.
func TestAnsiblePlaybook(t *testing.T) {
	playbookCmd, err := exec.LookPath("ansible-playbook")
	if err != nil {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatalf("%s is set but ansible-playbook is missing (apt-get install ansible-core)", nstest.RequireEnv)
		}
		t.Skip("ansible-playbook is not installed (apt-get install ansible-core)")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatal("ssh is missing (apt-get install openssh-client): the unreachable host needs it")
	}
	playbook, err := os.ReadFile(filepath.Join("..", "..", "ansible", "ipckeys-fleet.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The checkout as the command of docs/fleet.md sees it: the playbook under
	// ansible/, the binary built into dist/, run from there.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ansible", "ipckeys-fleet.yml"), string(playbook))
	copyExecutable(t, filepath.Join(dir, "dist", "ipckeys"))

	manifest := filepath.Join(dir, "app.manifest")
	writeFile(t, manifest, "orders /srv/app/orders.key l\naudit  /srv/app/audit.key  l\n")
	bad := filepath.Join(dir, "bad.manifest")
	writeFile(t, bad, "orders /srv/app/orders.key lx\n")

	type hostVars struct {
		Args   []string `json:"ipckeys_scan_args,omitempty"`
		Binary string   `json:"ipckeys_remote_binary,omitempty"`
		Report string   `json:"ipckeys_remote_report,omitempty"`
		// Local hosts: -b becomes root with su, which root may without a
		// password; another user cannot become anyone, so does not.
		Become       *bool  `json:"ansible_become,omitempty"`
		BecomeMethod string `json:"ansible_become_method,omitempty"`
		Connection   string `json:"ansible_connection,omitempty"`
		Interpreter  string `json:"ansible_python_interpreter,omitempty"`
		// host12: ssh to a loopback port nothing listens on.
		Address string `json:"ansible_host,omitempty"`
		Port    int    `json:"ansible_port,omitempty"`
		User    string `json:"ansible_user,omitempty"`
	}
	become := hostVars{Connection: "local", Interpreter: "{{ ansible_playbook_python }}", BecomeMethod: "su"}
	if os.Geteuid() != 0 {
		no := false
		become.BecomeMethod, become.Become = "", &no
	}
	hosts := map[string]hostVars{}
	var collisionKey string
	for i := 1; i <= 11; i++ {
		name := fmt.Sprintf("host%02d", i)
		root := filepath.Join(dir, "roots", name)
		keys := filepath.Join(root, "srv", "app")
		if err := os.MkdirAll(keys, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "hosts", name), 0o755); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			a, b, n, err := makeCollision(keys, "orders.key", "audit.key")
			if err != nil {
				t.Fatal(err)
			}
			k := oracle.Keys(t, []int{'l'}, []string{a, b})
			if k[0].Key != k[1].Key {
				t.Fatalf("the C library gives %#x and %#x: no collision", uint32(k[0].Key), uint32(k[1].Key))
			}
			collisionKey = fmt.Sprintf("0x%08x", uint32(k[0].Key))
			t.Logf("host05: collision after %d files, key %s", n, collisionKey)
		} else {
			makeApart(t, keys)
		}
		m := manifest
		if i == 11 {
			m = bad
		}
		hv := become
		hv.Args = []string{"--no-live", "--root", root, "-m", m}
		hv.Binary = filepath.Join(dir, "hosts", name, "ipckeys")
		hv.Report = filepath.Join(dir, "hosts", name, "report.json")
		hosts[name] = hv
	}
	hosts["host12"] = hostVars{Connection: "ssh", Address: "127.0.0.2", Port: 1, User: "root"}
	inv, err := json.Marshal(map[string]any{"all": map[string]any{"hosts": hosts}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "inventory"), string(inv))
	fleetDir := filepath.Join(dir, "ipckeys-fleet") // the default: in the current directory

	// The command of docs/fleet.md, but for the scan arguments, which differ per
	// host here (host_vars).
	code, log := runPlaybook(t, playbookCmd, dir, "-b", "-i", "inventory", "ansible/ipckeys-fleet.yml", "-e", "ipckeys_local_binary=dist/ipckeys")
	// Ansible exits 2 when a task failed: the hosts that did not pass and
	// the controller's last task, with the fleet summary.
	if code != 2 {
		t.Fatalf("ansible-playbook: exit %d, want 2 (the play failed on the fleet):\n%s", code, log)
	}
	for _, want := range []string{
		"ipckeys fleet exited 2 (1: findings, 2: hosts not checked); the page: " + fleetDir + "/fleet.html",
		"finding: error key-collision: channel orders, channel audit: on 1 of 10 checked hosts: host05",
		`not checked: host11: scan failed: ipckeys: ` + bad + `:1: field 3 (proj): proj id \"lx\" is not a proj id`,
		`not checked: host12: unreachable: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.2 port 1: Connection refused`,
		"FAIL: 12 hosts: 1 failing (host05), 9 passing, 2 not checked (host11, host12); 1 error, 0 warnings, 0 info (--fail-on error)",
		`fatal: [host05]: FAILED! => {"changed": false, "msg": "failing: worst error (1 errors, 0 warnings, 0 info)"}`,
		`fatal: [host11]: FAILED! => {"changed": false, "msg": "not checked (scan-failed): scan failed: ipckeys: ` + bad,
		`fatal: [host12]: FAILED! => {"changed": false, "msg": "not checked (unreachable): unreachable: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.2 port 1: Connection refused"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the play's output lacks %q", want)
		}
	}
	// The hosts that passed are ok; those that did not are failed, host11
	// and host12 after their markers were written; localhost failed on
	// the fleet.
	for name := range hosts {
		failed := "0"
		if name == "host05" || name == "host11" || name == "host12" {
			failed = "1"
		}
		if !regexp.MustCompile(`(?m)^` + name + ` +: ok=\d+ +changed=\d+ +unreachable=0 +failed=` + failed + ` `).MatchString(log) {
			t.Errorf("the recap of %s is not failed=%s", name, failed)
		}
	}
	for _, name := range []string{"host11", "host12"} {
		if !regexp.MustCompile(`(?m)^` + name + ` +: .* rescued=1 `).MatchString(log) {
			t.Errorf("the recap of %s does not show its failure rescued into a marker", name)
		}
	}
	if !regexp.MustCompile(`(?m)^localhost +: ok=\d+ +changed=0 +unreachable=0 +failed=1 `).MatchString(log) {
		t.Error("the recap of localhost does not show the fleet task failing")
	}
	marker, err := os.ReadFile(filepath.Join(fleetDir, "hosts", "host12.failed"))
	if err != nil || !regexp.MustCompile(`^unreachable: Failed to connect to the host via ssh: ssh: connect to host 127\.0\.0\.2 port 1: Connection refused\n$`).Match(marker) {
		t.Errorf("host12's marker %q (%v): want Ansible's reason after unreachable:", marker, err)
	}
	if t.Failed() {
		t.Fatalf("ansible-playbook output:\n%s", log)
	}

	// The fleet JSON the play wrote.
	var doc struct {
		Summary struct {
			Hosts, Checked, Unchecked, Failing, Passing, Findings, Errors int
			ExitStatus                                                    int `json:"exit_status"`
		}
		Hosts []struct {
			Name       string
			Checked    bool
			Status     string
			Reason     string
			ReasonCode string `json:"reason_code"`
			Source     string
		}
		Findings []struct {
			Code    string
			Hosts   []string
			Of      int
			PerHost []struct {
				Host, Key string
			} `json:"per_host"`
		}
		Channels []struct {
			ID        string
			Differing []string
		}
	}
	raw, err := os.ReadFile(filepath.Join(fleetDir, "fleet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Summary
	if s.Hosts != 12 || s.Checked != 10 || s.Unchecked != 2 || s.Failing != 1 || s.Passing != 9 || s.Findings != 1 || s.Errors != 1 || s.ExitStatus != 2 {
		t.Errorf("summary %+v", s)
	}
	if len(doc.Findings) != 1 {
		t.Fatalf("findings: %s", raw)
	}
	f := doc.Findings[0]
	if f.Code != "key-collision" || !reflect.DeepEqual(f.Hosts, []string{"host05"}) || f.Of != 10 || len(f.PerHost) != 1 || f.PerHost[0].Key != collisionKey {
		t.Errorf("finding %+v, want key-collision on host05 alone with key %s", f, collisionKey)
	}
	for _, h := range doc.Hosts {
		switch {
		case h.Name == "host11":
			if h.Checked || h.Status != "unchecked" || h.ReasonCode != "scan-failed" || !strings.HasPrefix(h.Reason, "scan failed: ipckeys: "+bad+":1: field 3 (proj)") || h.Source != filepath.Join(fleetDir, "hosts", "host11.failed") {
				t.Errorf("host11 %+v", h)
			}
		case h.Name == "host12":
			if h.Checked || h.Status != "unchecked" || h.ReasonCode != "unreachable" || !strings.HasSuffix(h.Reason, "Connection refused") {
				t.Errorf("host12 %+v", h)
			}
		case !h.Checked:
			t.Errorf("%s not checked: %s", h.Name, h.Reason)
		case h.Name == "host05" && h.Status != "fail", h.Name != "host05" && h.Status != "pass":
			t.Errorf("%s: status %s", h.Name, h.Status)
		}
	}
	for _, name := range []string{"fleet.html", "fleet.sarif", "fleet.xml", "fleet-hosts.jsonl", "hosts/host01.json", "hosts/host11.failed"} {
		if st, err := os.Stat(filepath.Join(fleetDir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}

	// ipckeys fleet over the fetched reports: 2, 1 with the unchecked host
	// allowed, 0 without host05's report.
	reports := filepath.Join(fleetDir, "hosts")
	var clean []string
	for i := 1; i <= 10; i++ {
		if i != 5 {
			clean = append(clean, filepath.Join(reports, fmt.Sprintf("host%02d.json", i)))
		}
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"fleet", "-o", "text", reports}, 2},
		{[]string{"fleet", "-o", "text", "--allow-unchecked", reports}, 1},
		{append([]string{"fleet", "-o", "text"}, clean...), 0},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, nil, &stdout, &stderr); got != tc.want {
			t.Errorf("ipckeys %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), got, tc.want, stdout.String(), stderr.String())
		}
	}

	// When fleet itself fails, the play shows its error and names no
	// page: the one of the run before is removed first.
	code, log = runPlaybook(t, playbookCmd, dir, "-b", "-i", "inventory", "ansible/ipckeys-fleet.yml", "-e", "ipckeys_local_binary=dist/ipckeys",
		"-e", "ipckeys_targets=host01", "-e", `{"ipckeys_fleet_args": ["--max-age", "-1h"]}`)
	if code != 2 || !strings.Contains(log, "ipckeys fleet exited 2 and wrote no page: ipckeys: fleet: --max-age -1h0m0s: give a positive duration") || strings.Contains(log, "the page:") {
		t.Errorf("ansible-playbook with a failing fleet: exit %d, want 2 with fleet's error and no page:\n%s", code, log)
	}
	if _, err := os.Stat(filepath.Join(fleetDir, "fleet.html")); err == nil {
		t.Error("the page of the first run is left behind")
	}

	// A relative ipckeys_local_binary that is not there stops the run at
	// once, naming where it was looked for.
	code, log = runPlaybook(t, playbookCmd, dir, "-i", "inventory", "ansible/ipckeys-fleet.yml", "-e", "ipckeys_local_binary=build/ipckeys", "-e", "ipckeys_targets=host01")
	if want := "ipckeys_local_binary build/ipckeys: " + filepath.Join(dir, "build", "ipckeys") + " is not a file"; code != 2 || !strings.Contains(log, want) {
		t.Errorf("ansible-playbook with a missing binary: exit %d, want 2 and %q:\n%s", code, want, log)
	}
}

// runPlaybook runs ansible-playbook ARGS in dir as a shell started there
// would (PWD is dir), and returns its exit status and output.
func runPlaybook(t *testing.T, playbookCmd, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, playbookCmd, args...)
	cmd.Dir = dir
	home := filepath.Join(dir, "home")
	cmd.Env = append(os.Environ(), "PWD="+dir,
		"HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_REMOTE_TMP="+filepath.Join(home, "remote-tmp"),
		"ANSIBLE_FORKS=12", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=False", "ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=False", "ANSIBLE_LOCALHOST_WARNING=False", "ANSIBLE_SSH_ARGS=-o BatchMode=yes -o ConnectTimeout=10",
		"PYTHONDONTWRITEBYTECODE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("ansible-playbook %s ran %s", strings.Join(args, " "), time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("ansible-playbook timed out:\n%s", out.String())
	}
	if testing.Verbose() {
		t.Logf("ansible-playbook output:\n%s", out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ansible-playbook: %v", err)
	}
	return code, out.String()
}

// makeApart creates orders.key and audit.key in dir with inode numbers
// that differ in their low 16 bits (as files made one after the other
// nearly always do).
func makeApart(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "orders.key"), "")
	for n := 0; ; n++ {
		writeFile(t, filepath.Join(dir, "audit.key"), "")
		var a, b syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, "orders.key"), &a); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Stat(filepath.Join(dir, "audit.key"), &b); err != nil {
			t.Fatal(err)
		}
		if a.Ino&0xffff != b.Ino&0xffff {
			return
		}
		if n > 10 {
			t.Fatal("could not make two files apart")
		}
		// Keep the colliding file aside so the next one gets another inode.
		if err := os.Rename(filepath.Join(dir, "audit.key"), filepath.Join(dir, fmt.Sprintf(".aside%d", n))); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyExecutable copies this test binary to path: called ipckeys, it is
// ipckeys (see TestMain).
func copyExecutable(t *testing.T, path string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestDocsFleetSSH runs the plain ssh loop of docs/fleet.md verbatim, with an
// ssh on the PATH that plays three hosts on this machine: host01 clean,
// host02 with two channels on one key file (a key-collision), host03
// unreachable (ssh exits 255). The loop must leave two reports and a
// marker with ssh's error, and its ipckeys fleet must exit 2 naming
// host03, and write the page.
func TestDocsFleetSSH(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "docs", "fleet.md"))
	if err != nil {
		t.Fatal(err)
	}
	var script string
	for _, block := range strings.Split(string(readme), "```sh\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "scan_one()") {
			script = block
		}
	}
	if script == "" {
		t.Fatal("docs/fleet.md has no ssh loop (scan_one)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	copyExecutable(t, filepath.Join(bin, "ipckeys"))
	// ssh [-n] [-o OPT]... HOST COMMAND...: the host's manifest is
	// $HOSTS/HOST/app.manifest, in place of /etc/ipckeys/app.manifest.
	writeFile(t, filepath.Join(bin, "ssh"), `#!/bin/sh
while [ $# -gt 0 ]; do
	case $1 in -n) shift ;; -o) shift 2 ;; *) break ;; esac
done
host=$1; shift
if [ "$host" = host03 ]; then
	echo "ssh: connect to host host03 port 22: Connection refused" >&2
	exit 255
fi
for a; do
	shift
	[ "$a" = /etc/ipckeys/app.manifest ] && a=$HOSTS/$host/app.manifest
	set -- "$@" "$a"
done
exec "$@" --no-live
`)
	if err := os.Chmod(filepath.Join(bin, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(dir, "hosts")
	writeFile(t, filepath.Join(hosts, "host01", "app.manifest"), "orders orders.key l\naudit audit.key l\n")
	writeFile(t, filepath.Join(hosts, "host02", "app.manifest"), "orders orders.key l\naudit orders.key l\n")
	for _, h := range []string{"host01", "host02"} {
		makeApart(t, filepath.Join(hosts, h))
	}
	work := filepath.Join(dir, "work")
	writeFile(t, filepath.Join(work, "hosts.txt"), "host01\nhost02\nhost03\n")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOSTS="+hosts, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if testing.Verbose() {
		t.Logf("the ssh loop of docs/fleet.md:\n%s", out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("the ssh loop of docs/fleet.md: %v, want exit 2 (host03 not checked):\n%s", err, out)
	}
	for _, want := range []string{"│ host03 ", "│ not checked │", "│ error    │ key-collision │",
		"FAIL: 3 hosts: 1 failing (host02), 1 passing, 1 not checked (host03)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the fleet table lacks %q:\n%s", want, out)
		}
	}
	marker, err := os.ReadFile(filepath.Join(work, "reports", "host03.failed"))
	if err != nil || string(marker) != "ssh: connect to host host03 port 22: Connection refused\n" {
		t.Errorf("host03's marker: %q, %v", marker, err)
	}
	page, err := os.ReadFile(filepath.Join(work, "fleet.html"))
	if err != nil || !strings.Contains(string(page), `<tr id="host/host02" data-host="host02" data-state="fail" data-worst="error">`) ||
		!strings.Contains(string(page), `id="c/host02/channel:audit" data-channel="channel:audit" data-worst="error"`) ||
		!strings.Contains(string(page), `<span id="host/host01" data-host="host01">host01</span>`) {
		t.Errorf("the page does not show host02's collision, and host01 among the passing hosts: %v", err)
	}
	for _, name := range []string{"reports/host01.json", "reports/host02.json", "reports/host03.failed", "fleet.html"} {
		if _, err := os.Stat(filepath.Join(work, name)); err != nil {
			t.Error(err)
		}
	}
	for _, gone := range []string{"reports/host01.err", "reports/host03.json"} {
		if _, err := os.Stat(filepath.Join(work, gone)); err == nil {
			t.Errorf("%s is left behind", gone)
		}
	}
}

// TestFleetHostsFormat: -o hosts writes one JSON object per host, exactly.
func TestFleetHostsFormat(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.failed"), "unreachable: ssh: connect to host b port 22: Connection refused\n")
	var stdout, stderr bytes.Buffer
	if got := run([]string{"fleet", "--hosts", "a,b", "-o", "hosts", dir}, nil, &stdout, &stderr); got != 2 {
		t.Fatalf("exit %d, want 2\n%s", got, stderr.String())
	}
	want := `{"name":"a","status":"unchecked","reason_code":"no-report","reason":"no report: the host's scan did not run or its report was not collected","errors":0,"warnings":0,"info":0}
{"name":"b","status":"unchecked","reason_code":"unreachable","reason":"unreachable: ssh: connect to host b port 22: Connection refused","errors":0,"warnings":0,"info":0,"source":"` + filepath.Join(dir, "b.failed") + `"}
`
	if stdout.String() != want {
		t.Errorf("got\n%s\nwant\n%s", stdout.String(), want)
	}
}
