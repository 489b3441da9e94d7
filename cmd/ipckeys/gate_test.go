package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUnreadableConfigIsAnError: a config the tool may not read (mode 000,
// run as another user) is an error naming it, exit 2, never taken as a key
// file that passes. A file whose name says nothing is still a key file:
// ftok needs only stat.
func TestUnreadableConfigIsAnError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the tool as another user")
	}
	run := unprivileged(t)
	dir := publicDir(t)
	conf := filepath.Join(dir, "orders.conf")
	if err := os.WriteFile(conf, []byte("chnl_shm_path : /etc/passwd\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run("scan", "--no-live", "-p", "l", "-o", "text", conf)
	want := "ipckeys: config " + conf + ": permission denied: its key-file settings cannot be checked; run as a user who can read it\n"
	if code != 2 || stderr != want {
		t.Errorf("scan of an unreadable config as nobody: exit %d, stderr %q, stdout %q; want exit 2 and %q", code, stderr, stdout, want)
	}
	key := filepath.Join(dir, "ipc")
	if err := os.WriteFile(key, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := run("scan", "--no-live", "-p", "l", "-o", "text", key); code != 0 {
		t.Errorf("scan of an unreadable key file as nobody: exit %d, stderr %q, stdout %q; want 0", code, stderr, stdout)
	}
}
