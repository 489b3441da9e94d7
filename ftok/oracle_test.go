package ftok_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/oracle"
	"golang.org/x/sys/unix"
)

// oracleProjs is every proj 0..255 plus the values that exercise masking
// and the sign of key_t.
func oracleProjs() []int {
	projs := make([]int, 0, 270)
	for p := 0; p <= 255; p++ {
		projs = append(projs, p)
	}
	return append(projs, 256, 0x1ff, -1, -256, 1<<30, 0x7fffffff, -0x80000000)
}

// oracleFiles makes every kind of file a test can make and returns their
// paths, the ones that must fail to stat last.
func oracleFiles(t *testing.T) (ok, failing []string) {
	dir := t.TempDir()
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	regular := mk("regular")
	sub := filepath.Join(dir, "dir")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "symlink")
	dirLink := filepath.Join(dir, "dirlink")
	hard := filepath.Join(dir, "hardlink")
	dangling := filepath.Join(dir, "dangling")
	spaced := mk("with space\nand newline")
	for _, err := range []error{
		os.Symlink(regular, link),
		os.Symlink(sub, dirLink),
		os.Link(regular, hard),
		os.Symlink(filepath.Join(dir, "gone"), dangling),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ok = []string{regular, sub, link, dirLink, hard, spaced, "/", "/dev/null", "/dev/zero", "/proc/version", "/proc/sys/kernel"}
	// A device node made here, when the test may make one (root).
	node := filepath.Join(dir, "node")
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(42, 0x1234))); err == nil {
		ok = append(ok, node)
	} else {
		t.Logf("mknod not permitted (%v): device nodes covered by /dev/null and /dev/zero only", err)
	}
	// tmpfs: inode numbers are small and sequential there, unlike ext4.
	if fsType(t, "/dev/shm") == unix.TMPFS_MAGIC {
		shm, err := os.MkdirTemp("/dev/shm", "ipckeys-oracle")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		p := filepath.Join(shm, "f")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		ok = append(ok, shm, p)
	} else {
		t.Log("/dev/shm is not tmpfs here: tmpfs not covered")
	}
	t.Logf("temp dir filesystem magic: %#x", fsType(t, dir))
	failing = []string{dangling, filepath.Join(dir, "missing"), filepath.Join(regular, "notadir"), ""}
	return ok, failing
}

func fsType(t *testing.T, path string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Type)
}

// TestKeyAgreesWithCLibrary holds FileKey against the C library's own ftok
// for every file kind and every proj value, including the error returns.
func TestKeyAgreesWithCLibrary(t *testing.T) {
	okPaths, failing := oracleFiles(t)
	paths := append(append([]string{}, okPaths...), failing...)
	projs := oracleProjs()
	want := oracle.Keys(t, projs, paths)
	i := 0
	negative := 0
	for _, path := range paths {
		for _, proj := range projs {
			got, err := ftok.FileKey(path, proj)
			w := want[i]
			i++
			if got != w.Key {
				t.Errorf("FileKey(%q, %d) = %#x, C ftok = %#x", path, proj, uint32(got), uint32(w.Key))
				continue
			}
			var errno syscall.Errno
			switch {
			case w.Errno == 0 && err != nil:
				t.Errorf("FileKey(%q, %d) error %v, C ftok succeeded", path, proj, err)
			case w.Errno != 0 && (!errors.As(err, &errno) || int(errno) != w.Errno):
				t.Errorf("FileKey(%q, %d) error %v, C ftok errno %d", path, proj, err, w.Errno)
			}
			if got < 0 && got != ftok.ErrorValue {
				negative++
			}
		}
	}
	if negative == 0 {
		t.Error("no negative key was compared: the sign of key_t went untested")
	}
	t.Logf("compared %d keys (%d paths x %d proj ids), %d of them negative", i, len(paths), len(projs), negative)
}

// TestStatAgreesWithCLibraryOnFileParts checks the decoded device byte and
// inode bits against the C key with proj 0, file by file.
func TestStatAgreesWithCLibraryOnFileParts(t *testing.T) {
	okPaths, _ := oracleFiles(t)
	want := oracle.Keys(t, []int{0}, okPaths)
	for i, path := range okPaths {
		f, err := ftok.Stat(path)
		if err != nil {
			t.Fatalf("Stat(%q): %v", path, err)
		}
		if got := uint32(f.Fingerprint()); got != uint32(want[i].Key) {
			t.Errorf("Fingerprint(%q) = %#06x, C ftok(path, 0) = %#08x", path, got, uint32(want[i].Key))
		}
	}
}
