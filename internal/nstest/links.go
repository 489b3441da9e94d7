package nstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// PrivateTree mounts a tmpfs (mode 0755) on a new temporary directory, in
// the private mount namespace RunIsolated made, and lets other users
// reach it (the test's own temporary directory is 0700).
func PrivateTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Plant makes the symbolic link link → target as uid: as another user, by
// that user's own process, the way an attacker would; it checks the link
// is that user's.
func Plant(t *testing.T, uid int, target, link string) {
	t.Helper()
	if uid == 0 {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		return
	}
	cmd := exec.Command("ln", "-s", target, link)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ln -s %s %s as uid %d: %v: %s", target, link, uid, err, out)
	}
	var st unix.Stat_t
	if err := unix.Lstat(link, &st); err != nil || st.Uid != uint32(uid) {
		t.Fatalf("%s: owner %d, %v: want a link owned by %d", link, st.Uid, err, uid)
	}
}

// Mkdir makes the directory dir owned by uid (and its group) with mode,
// sticky and set-id bits included.
func Mkdir(t *testing.T, dir string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}
