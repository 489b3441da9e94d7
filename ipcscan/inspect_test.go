package ipcscan_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/internal/oracle"
	"github.com/ipckeys/ipckeys/internal/reftool"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// symlinkTree makes files reached directly, through a symbolic link as the
// last element, through a linked directory, through "..", with a trailing
// slash, and dangling, in directories of different modes. It returns the
// paths to inspect, relative to the working directory it changes to.
func symlinkTree(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc/app", "open", "sticky", "real/deep"} {
		must(os.MkdirAll(d, 0o755))
	}
	must(os.Chmod("open", 0o777))
	must(os.Chmod("sticky", 0o777|os.ModeSticky))
	for _, f := range []string{"etc/app/a.conf", "open/b.key", "sticky/c.key", "real/deep/d.key"} {
		must(os.WriteFile(f, nil, 0o644))
	}
	must(os.Symlink("../../open/b.key", "etc/app/to-open"))      // last element a link
	must(os.Symlink("real/deep", "linkdir"))                     // a linked directory
	must(os.Symlink(filepath.Join(dir, "sticky"), "abs-sticky")) // absolute link to a directory
	must(os.Symlink("linkdir/d.key", "chain"))                   // link to a path through a link
	must(os.Symlink("missing", "dangling"))                      // dangling
	must(os.Symlink("../../open", filepath.Join("real", "up")))  // for "real/up/../…"
	return []string{
		"etc/app/a.conf", "./etc/app/a.conf", "etc//app/a.conf", filepath.Join(dir, "etc/app/a.conf"),
		"etc/app/to-open", "linkdir/d.key", "abs-sticky/c.key", "chain", "dangling",
		"open/b.key", "sticky/c.key", "open", "open/", "sticky/.", "linkdir/", "linkdir",
		"linkdir/../real/deep/d.key", // .. after a link climbs out of its target
		"real/up/../sticky/c.key",
		"missing", "etc/app/a.conf/", "open/b.key/x",
		filepath.Join(dir, "linkdir", "d.key"),
	}
}

// TestInspectorMatchesStatAndEvalSymlinks holds the Inspector (one lstat
// per path, a directory resolved once) against the straightforward way:
// stat(2) for the key, as ftok does, and the directory of
// filepath.EvalSymlinks for the directory check; and the keys against the
// C library's ftok.
func TestInspectorMatchesStatAndEvalSymlinks(t *testing.T) {
	paths := symlinkTree(t)
	in := ipcscan.NewInspector()
	ref := oracle.Keys(t, []int{'l'}, paths)
	got := make([]ipcscan.KeyFile, len(paths))
	errs := make([]error, len(paths))
	in.InspectAll(paths, func(i int, k ipcscan.KeyFile, err error) { got[i], errs[i] = k, err })
	for i, p := range paths {
		var st syscall.Stat_t
		serr := syscall.Stat(p, &st)
		k, err := got[i], errs[i]
		if one, oneErr := ipcscan.NewInspector().Inspect(p); fmt.Sprint(one, oneErr) != fmt.Sprint(k, err) {
			t.Errorf("%s: Inspect %+v, %v; InspectAll %+v, %v", p, one, oneErr, k, err)
		}
		if (serr == nil) != (err == nil) || serr != nil && !errors.Is(err, serr) {
			t.Errorf("%s: error %v, stat says %v", p, err, serr)
			continue
		}
		if ref[i].Errno != 0 {
			if err == nil {
				t.Errorf("%s: C ftok fails (errno %d), Inspect does not", p, ref[i].Errno)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v, but C ftok works", p, err)
			continue
		}
		if k.Dev != st.Dev || k.Ino != st.Ino || k.Key('l') != ref[i].Key {
			t.Errorf("%s: dev %d ino %d key %#x; stat %d %d, C ftok %#x", p, k.Dev, k.Ino, k.Key('l'), st.Dev, st.Ino, ref[i].Key)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			real = p
		}
		wantDir := filepath.Dir(real)
		var dst syscall.Stat_t
		if err := syscall.Stat(wantDir, &dst); err != nil {
			t.Fatal(err)
		}
		if k.Dir != wantDir || k.DirMode != dst.Mode {
			t.Errorf("%s: directory %s mode %o; EvalSymlinks says %s mode %o", p, k.Dir, k.DirMode, wantDir, dst.Mode)
		}
	}
	// The trees made sure each kind of directory is there.
	modes := map[string]uint32{}
	for i, p := range paths {
		if errs[i] == nil {
			modes[p] = got[i].DirMode & 0o7777
		}
	}
	for p, want := range map[string]uint32{"etc/app/to-open": 0o777, "abs-sticky/c.key": 0o1777, "chain": 0o755} {
		if modes[p] != want {
			t.Errorf("%s: directory mode %o, want %o", p, modes[p], want)
		}
	}
}

// TestInspectorSyscalls counts, with strace, the system calls the
// listing and inspection of a directory of files makes (ExpandInspect): one stat-family call per path,
// as ftok makes, a second one only for the symbolic link, one statfs for
// their filesystem, and the directory resolved and stat'ed once.
func TestInspectorSyscalls(t *testing.T) {
	if dir := os.Getenv("IPCKEYS_INSPECT_DIR"); dir != "" {
		// The traced child: list and inspect every file, as a scan of
		// 'DIR/*' does, and nothing else.
		if found, err := ipcscan.NewInspector().ExpandInspect(dir + "/*"); err != nil || len(found) != 2001 {
			t.Fatalf("%d files, %v", len(found), err)
		}
		return
	}
	strace := reftool.Need(t, "strace", "strace")
	dir := t.TempDir()
	const n = 2000
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("f0", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(strace, "-f", "-c", "-U", "name,calls", "-e", "trace=%stat,%lstat,%fstat,%statfs,%fstatfs",
		os.Args[0], "-test.run=^TestInspectorSyscalls$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IPCKEYS_INSPECT_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("strace cannot trace here: %v\n%s", err, out)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		var name string
		var c int
		if _, err := fmt.Sscanf(line, "%s %d", &name, &c); err == nil {
			calls[name] = c
		}
	}
	// The test binary's own start makes a few stat calls of its own.
	t.Logf("stat-family and statfs calls: %v", calls)
	const slack = 40
	stats := calls["newfstatat"] + calls["fstatat64"] + calls["stat"] + calls["lstat"] + calls["statx"] + calls["fstat"]
	if stats < n || stats > n+1+slack {
		t.Errorf("%d stat-family calls for %d files and a link, want one per file (%d to %d):\n%s", stats, n+1, n+1, n+1+slack, out)
	}
	if fs := calls["statfs"] + calls["fstatfs"]; fs > 3 {
		t.Errorf("%d statfs calls for files on one filesystem, want 1 (and a few of the test binary's):\n%s", fs, out)
	}
}
