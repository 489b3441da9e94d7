package ipcscan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/reftool"
)

// TestDevtmpfsByMountTable: devtmpfs reports the statfs magic of tmpfs
// (or ramfs), so the name comes from the mount table, by device number;
// a tmpfs keeps its name.
func TestDevtmpfsByMountTable(t *testing.T) {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(mi, []byte(`24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334492k,nr_inodes=3083623,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684092k
26 24 0:24 / /run rw,relatime - ramfs ramfs rw
`), 0o644); err != nil {
		t.Fatal(err)
	}
	in := NewInspector()
	in.mountInfo = mi
	tests := []struct {
		magic    int64
		dev      uint64
		name     string
		unstable string
	}{
		{tmpfsMagic, unix.Mkdev(0, 6), "devtmpfs", whyDevices},
		{ramfsMagic, unix.Mkdev(0, 6), "devtmpfs", whyDevices},
		{tmpfsMagic, unix.Mkdev(0, 23), "tmpfs", whyMemory},
		{ramfsMagic, unix.Mkdev(0, 24), "ramfs", whyMemory},
		{tmpfsMagic, unix.Mkdev(0, 99), "tmpfs", whyMemory}, // not in the table
		{0xef53, unix.Mkdev(0, 6), "ext4", ""},              // the magic decides first
		{0x1373, unix.Mkdev(0, 5), "devfs", whyDevices},
	}
	for _, tc := range tests {
		if got := in.fsOf(tc.magic, tc.dev); got.name != tc.name || got.unstable != tc.unstable {
			t.Errorf("magic %#x dev %d:%d: %q (%q), want %q (%q)", tc.magic, unix.Major(tc.dev), unix.Minor(tc.dev), got.name, got.unstable, tc.name, tc.unstable)
		}
	}
}

// TestDevNullFilesystem holds the filesystem of /dev/null against
// util-linux findmnt on this machine.
func TestDevNullFilesystem(t *testing.T) {
	out, err := exec.Command(reftool.Need(t, "findmnt", "util-linux"), "-n", "-o", "FSTYPE", "--target", "/dev/null").Output()
	if err != nil {
		t.Skipf("findmnt (util-linux): %v", err)
	}
	want := strings.TrimSpace(string(out))
	k, err := InspectKeyFile("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if want == "devtmpfs" || want == "tmpfs" {
		if k.FSType != want || k.Unstable == "" {
			t.Errorf("/dev/null: %q (%q), findmnt says %s", k.FSType, k.Unstable, want)
		}
	} else {
		t.Logf("/dev/null is on %s here: not a devtmpfs or tmpfs to tell apart", want)
	}
}
