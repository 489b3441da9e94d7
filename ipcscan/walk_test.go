package ipcscan_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/internal/reftool"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// bruteForce finds the same files the slow way: lstat every entry.
func bruteForce(t *testing.T, root string, fps map[uint32]bool) []string {
	t.Helper()
	var rootDev uint64
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: the walk counts these, it does not fail
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) != nil {
			return nil
		}
		if path == root {
			rootDev = st.Dev
		}
		if d.IsDir() && st.Dev != rootDev {
			return filepath.SkipDir // another filesystem
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			return nil
		}
		if fps[uint32(st.Dev&0xff)<<16|uint32(st.Ino&0xffff)] {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func search(t *testing.T, root string, fps map[uint32]bool) ([]string, ipcscan.WalkStats) {
	t.Helper()
	var got []string
	st, err := ipcscan.SearchInodes([]string{root}, fps, ipcscan.WalkOptions{}, func(m ipcscan.Match) {
		got = append(got, m.Path)
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got, st
}

// TestSearchMatchesBruteForce compares the directory-entry search with a
// stat of every file, on a made tree (with a real low-16-bit collision on
// ext4 or tmpfs) and on a real system tree.
func TestSearchMatchesBruteForce(t *testing.T) {
	dir := t.TempDir()
	seen := map[uint64]string{}
	var collision [2]string
	for i := 0; i < 120000 && collision[0] == ""; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%37), fmt.Sprintf("e%d", i%5))
		if i < 37*5 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(sub, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[st.Ino&0xffff]; ok {
			collision = [2]string{other, p}
		}
		seen[st.Ino&0xffff] = p
	}
	if collision[0] == "" {
		t.Fatal("no inode collision made")
	}
	if err := os.Symlink(collision[0], filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(collision[0], &st); err != nil {
		t.Fatal(err)
	}
	fps := map[uint32]bool{uint32(st.Dev&0xff)<<16 | uint32(st.Ino&0xffff): true, 0x00ffff: true, 0x000001: true}
	got, stats := search(t, dir, fps)
	want := bruteForce(t, dir, fps)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("made tree: search found\n%s\nbrute force\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range collision {
		if sort.SearchStrings(got, c) == len(got) || got[sort.SearchStrings(got, c)] != c {
			t.Errorf("the colliding file %s was not found", c)
		}
	}
	t.Logf("made tree: %d dirs, %d entries, %d candidates stat'ed, %d found", stats.Dirs, stats.Entries, stats.Candidates, len(got))
	if stats.Candidates > stats.Entries/100 {
		t.Errorf("%d candidates stat'ed of %d entries: the search should stat only inode-bit matches", stats.Candidates, stats.Entries)
	}

	// A real tree: several fingerprints of files in it.
	real := "/usr/include"
	if _, err := os.Stat(real); err != nil {
		if reftool.Required() {
			t.Fatalf("no /usr/include: apt-get install libc6-dev (%s is set)", reftool.RequireEnv)
		}
		t.Skip("no /usr/include here")
	}
	fps = map[uint32]bool{}
	for _, name := range []string{"stdio.h", "stdlib.h", "linux/ipc.h"} {
		if err := syscall.Stat(filepath.Join(real, name), &st); err == nil {
			fps[uint32(st.Dev&0xff)<<16|uint32(st.Ino&0xffff)] = true
		}
	}
	got, _ = search(t, real, fps)
	want = bruteForce(t, real, fps)
	if !reflect.DeepEqual(got, want) || len(got) < len(fps) {
		t.Errorf("%s: search found %q, brute force %q", real, got, want)
	}
}

func TestParseMountInfo(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
30 22 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
40 22 0:45 /sub /mnt/my\040disk rw - btrfs /dev/sdb1 rw
`
	got, err := ipcscan.ParseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []ipcscan.Mount{
		{Major: 254, Minor: 0, Root: "/", MountPoint: "/", FSType: "ext4", Source: "/dev/vda"},
		{Major: 0, Minor: 27, Root: "/", MountPoint: "/dev/shm", FSType: "tmpfs", Source: "tmpfs"},
		{Major: 0, Minor: 45, Root: "/sub", MountPoint: "/mnt/my disk", FSType: "btrfs", Source: "/dev/sdb1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := ipcscan.ParseMountInfo(strings.NewReader("1 2 x / / rw - ext4 a rw\n")); err == nil {
		t.Error("a bad device parsed")
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add("22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard\n")
	f.Add("40 22 0:45 /sub /mnt/my\\040disk rw - btrfs /dev/sdb1 rw\n")
	f.Add("- - - - - - - - -\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ipcscan.ParseMountInfo(strings.NewReader(s))
	})
}
