package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

// TestOutputPlantedLink: a report path in a sticky world-writable
// directory where user nobody planted a link to a root-owned file is
// refused, exit 2 with one line, and the file keeps its bytes; a link
// root made there is written through.
func TestOutputPlantedLink(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "tmp")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln := exec.Command("ln", "-s", secret, filepath.Join(sticky, "report.json"))
	ln.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := ln.CombinedOutput(); err != nil {
		t.Fatalf("ln as nobody: %v: %s", err, out)
	}

	var stdout, stderr bytes.Buffer
	out := "json=" + filepath.Join(sticky, "report.json")
	code := run([]string{"scan", "--no-live", "-p", "l", "/etc/passwd", "-o", out}, strings.NewReader(""), &stdout, &stderr)
	want := fmt.Sprintf("ipckeys: -o %s: %s/report.json is a symbolic link owned by nobody in the sticky world-writable directory %s: not followed (the kernel's protected_symlinks rule); remove it or name another path\n", out, sticky, sticky)
	if code != 2 || stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("exit %d, stderr\n%s\nwant exit 2, stderr\n%s", code, stderr.String(), want)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret\n" {
		t.Fatalf("the link's target now reads %q, %v", b, err)
	}

	if err := os.Symlink(secret, filepath.Join(sticky, "root.json")); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	code = run([]string{"scan", "--no-live", "-p", "l", "/etc/passwd", "-o", "json=" + filepath.Join(sticky, "root.json")}, strings.NewReader(""), &stdout, &stderr)
	if b, _ := os.ReadFile(secret); code != 0 || !bytes.Contains(b, []byte(`"schema": "ipckeys/scan/v1"`)) {
		t.Fatalf("root's own link: exit %d, %s; the file reads %.40q", code, stderr.String(), b)
	}
}
