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
// for real with ansible-playbook against eleven inventory hosts on this
// machine: local connections, each host with its own --root holding the
// same key-file layout, host05's root with a real low-16-bit inode
// collision made now, host11 with a malformed manifest so its scan cannot
// run. The binary the playbook copies to the hosts is this test binary,
// which is ipckeys when called so. The play must fail with the fleet
// summary; the fleet JSON must name the collision on host05 alone, with
// the C library's key, and host11 as not checked; ipckeys fleet over the
// fetched reports exits 2, 1 with --allow-unchecked, 0 without host05.
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
	playbook, err := filepath.Abs(filepath.Join("..", "..", "ansible", "ipckeys-fleet.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "controller", "ipckeys")
	copyExecutable(t, bin)

	manifest := filepath.Join(dir, "app.manifest")
	writeFile(t, manifest, "orders /srv/app/orders.key l\naudit  /srv/app/audit.key  l\n")
	bad := filepath.Join(dir, "bad.manifest")
	writeFile(t, bad, "orders /srv/app/orders.key lx\n")

	type hostVars struct {
		Args   []string `json:"ipckeys_scan_args"`
		Binary string   `json:"ipckeys_remote_binary"`
		Report string   `json:"ipckeys_remote_report"`
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
		hosts[name] = hostVars{
			Args:   []string{"--no-live", "--root", root, "-m", m},
			Binary: filepath.Join(dir, "hosts", name, "ipckeys"),
			Report: filepath.Join(dir, "hosts", name, "report.json"),
		}
	}
	inventory := map[string]any{"all": map[string]any{
		"hosts": hosts,
		"vars": map[string]any{
			"ansible_connection":         "local",
			"ansible_python_interpreter": "{{ ansible_playbook_python }}",
		},
	}}
	inv, err := json.Marshal(inventory)
	if err != nil {
		t.Fatal(err)
	}
	invFile := filepath.Join(dir, "inventory.json")
	writeFile(t, invFile, string(inv))
	fleetDir := filepath.Join(dir, "fleet")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	extra, _ := json.Marshal(map[string]string{"ipckeys_local_binary": bin, "ipckeys_fleet_dir": fleetDir})
	cmd := exec.CommandContext(ctx, playbookCmd, "-i", invFile, playbook, "-e", string(extra))
	cmd.Dir = dir
	home := filepath.Join(dir, "home")
	cmd.Env = append(os.Environ(),
		"HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_REMOTE_TMP="+filepath.Join(home, "remote-tmp"),
		"ANSIBLE_FORKS=11", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=False", "ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=False", "ANSIBLE_LOCALHOST_WARNING=False", "PYTHONDONTWRITEBYTECODE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("ansible-playbook ran %s", time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("ansible-playbook timed out:\n%s", out.String())
	}
	// Ansible exits 2 when a task failed: here the play's last one, with
	// the fleet summary.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("ansible-playbook: %v, want exit 2 (the play failed on the fleet):\n%s", err, out.String())
	}
	log := out.String()
	if testing.Verbose() {
		t.Logf("ansible-playbook output:\n%s", log)
	}
	for _, want := range []string{
		"ipckeys fleet exited 2 (1: findings, 2: hosts not checked)",
		"finding: error key-collision: channel orders, channel audit: on 1 of 10 checked hosts: host05",
		`not checked: host11: scan failed: ipckeys: ` + bad + `:1: field 3 (proj): proj id \"lx\" is not a proj id`,
		"FAIL: 11 hosts: 1 failing (host05), 9 passing, 1 not checked (host11); 1 error, 0 warnings, 0 info (--fail-on error)",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the play's output lacks %q", want)
		}
	}
	// Every host ran, none failed; localhost failed on the fleet.
	for name := range hosts {
		if !regexp.MustCompile(`(?m)^` + name + ` +: ok=\d+ +changed=\d+ +unreachable=0 +failed=0 `).MatchString(log) {
			t.Errorf("the recap of %s is not ok", name)
		}
	}
	if !regexp.MustCompile(`(?m)^host11 +: .* rescued=1 `).MatchString(log) {
		t.Error("the recap of host11 does not show its failed scan rescued into a marker")
	}
	if !regexp.MustCompile(`(?m)^localhost +: ok=2 +changed=0 +unreachable=0 +failed=1 `).MatchString(log) {
		t.Error("the recap of localhost does not show the fleet task failing")
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
			Name    string
			Checked bool
			Reason  string
			Source  string
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
	if s.Hosts != 11 || s.Checked != 10 || s.Unchecked != 1 || s.Failing != 1 || s.Passing != 9 || s.Findings != 1 || s.Errors != 1 || s.ExitStatus != 2 {
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
			if h.Checked || !strings.HasPrefix(h.Reason, "scan failed: ipckeys: "+bad+":1: field 3 (proj)") || h.Source != filepath.Join(fleetDir, "hosts", "host11.failed") {
				t.Errorf("host11 %+v", h)
			}
		case !h.Checked:
			t.Errorf("%s not checked: %s", h.Name, h.Reason)
		}
	}
	for _, name := range []string{"fleet.html", "fleet.sarif", "fleet.xml", "hosts/host01.json", "hosts/host11.failed"} {
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

// TestREADMEFleetSSH runs the README's plain ssh loop verbatim, with an
// ssh on the PATH that plays three hosts on this machine: host01 clean,
// host02 with two channels on one key file (a key-collision), host03
// unreachable (ssh exits 255). The loop must leave two reports and a
// marker with ssh's error, and its ipckeys fleet must exit 2 naming
// host03, and write the page.
func TestREADMEFleetSSH(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
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
		t.Fatal("the README has no ssh loop (scan_one)")
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
		t.Logf("the README's ssh loop:\n%s", out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("the README's ssh loop: %v, want exit 2 (host03 not checked):\n%s", err, out)
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
	if err != nil || !strings.Contains(string(page), `data-host="host02" data-channel="channel:audit" data-worst="error"`) ||
		!strings.Contains(string(page), `data-host="host01" data-channel="channel:audit" data-worst="clean"`) {
		t.Errorf("the page does not show host02's collision: %v", err)
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
