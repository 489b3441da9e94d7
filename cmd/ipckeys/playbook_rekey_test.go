package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

// TestAnsiblePlaybookRekey runs the playbook's deploy flow: with
// ipckeys_rekey, a host whose key files collide gets a new key file and
// then passes; a host without it still fails on the same collision.
func TestAnsiblePlaybookRekey(t *testing.T) {
	playbookCmd, err := exec.LookPath("ansible-playbook")
	if err != nil {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatalf("%s is set but ansible-playbook is missing (apt-get install ansible-core)", nstest.RequireEnv)
		}
		t.Skip("ansible-playbook is not installed (apt-get install ansible-core)")
	}
	if os.Geteuid() != 0 {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal("needs root: rekey reads the live IPC tables and keeps owners")
		}
		t.Skip("needs root: rekey reads the live IPC tables and keeps owners")
	}
	playbook, err := os.ReadFile(filepath.Join("..", "..", "ansible", "ipckeys-fleet.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ansible", "ipckeys-fleet.yml"), string(playbook))
	copyExecutable(t, filepath.Join(dir, "dist", "ipckeys"))
	manifest := filepath.Join(dir, "app.manifest")
	writeFile(t, manifest, "orders /srv/app/orders.key l\naudit  /srv/app/audit.key  l\n")

	hosts := map[string]map[string]any{}
	inodes := map[string][2]uint64{}
	for _, name := range []string{"fixed", "left"} {
		root := filepath.Join(dir, "roots", name)
		keys := filepath.Join(root, "srv", "app")
		if err := os.MkdirAll(keys, 0o755); err != nil {
			t.Fatal(err)
		}
		a, b, _, err := makeCollision(keys, "orders.key", "audit.key")
		if err != nil {
			t.Fatal(err)
		}
		inodes[name] = [2]uint64{inodeOf(t, a), inodeOf(t, b)}
		hv := map[string]any{
			"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}", "ansible_become_method": "su",
			"ipckeys_scan_args":     []string{"--no-live", "--root", root, "-m", manifest},
			"ipckeys_remote_binary": filepath.Join(dir, "hosts", name, "ipckeys"),
			"ipckeys_remote_report": filepath.Join(dir, "hosts", name, "report.json"),
		}
		if name == "fixed" {
			hv["ipckeys_rekey"] = true
			hv["ipckeys_rekey_args"] = []string{"--root", root, "-m", manifest}
		}
		if err := os.MkdirAll(filepath.Join(dir, "hosts", name), 0o755); err != nil {
			t.Fatal(err)
		}
		hosts[name] = hv
	}
	inv, err := json.Marshal(map[string]any{"all": map[string]any{"hosts": hosts}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "inventory"), string(inv))

	code, log := runPlaybook(t, playbookCmd, dir, "-b", "-i", "inventory", "ansible/ipckeys-fleet.yml", "-e", "ipckeys_local_binary=dist/ipckeys")
	if code != 2 {
		t.Fatalf("ansible-playbook: exit %d, want 2 (host left still collides):\n%s", code, log)
	}
	for _, want := range []string{
		"finding: error key-collision: channel orders, channel audit: on 1 of 2",
		"FAIL: 2 hosts: 1 failing (left), 1 passing",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the play's output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^fixed +: ok=\d+ +changed=[1-9]\d* +unreachable=0 +failed=0 `).MatchString(log) {
		t.Error("the recap of host fixed is not changed and ok")
	}
	if !regexp.MustCompile(`(?m)^left +: ok=\d+ +changed=\d+ +unreachable=0 +failed=1 `).MatchString(log) {
		t.Error("the recap of host left is not failed")
	}
	// Exactly one key file of the fixed host has a new inode; the other
	// host's are as they were.
	fixed := filepath.Join(dir, "roots", "fixed", "srv", "app")
	now := [2]uint64{inodeOf(t, filepath.Join(fixed, "orders.key")), inodeOf(t, filepath.Join(fixed, "audit.key"))}
	if (now[0] != inodes["fixed"][0]) == (now[1] != inodes["fixed"][1]) {
		t.Errorf("fixed host: inodes %v, were %v: want exactly one key file re-created", now, inodes["fixed"])
	}
	left := filepath.Join(dir, "roots", "left", "srv", "app")
	if got := [2]uint64{inodeOf(t, filepath.Join(left, "orders.key")), inodeOf(t, filepath.Join(left, "audit.key"))}; got != inodes["left"] {
		t.Errorf("host left: inodes %v, were %v: rekey ran where it was not asked for", got, inodes["left"])
	}
	if t.Failed() {
		t.Fatalf("ansible-playbook output:\n%s", log)
	}
}
