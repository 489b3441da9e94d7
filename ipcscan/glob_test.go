package ipcscan_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
)

// globTree makes, in a new working directory, names of every kind in
// three directories, a link to one, a dangling link and a directory
// larger than one read buffer, and returns patterns of every shape for it.
func globTree(t *testing.T) (dir string, patterns []string) {
	dir = t.TempDir()
	t.Chdir(dir)
	names := []string{"a.conf", "b.conf", "B.conf", ".hidden.conf", "c.txt", "odd[1].conf", "sp ace.conf",
		"é.conf", "\xff.conf", "star*.conf", "q?.conf", "back\\slash.conf", "...", "x", "two..dots.conf"}
	for _, d := range []string{"d", "d/sub", "e"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Symlink("d", "link"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gone", "d/dangling.conf"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../e/a.conf", "d/linked.conf"); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 9000 {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("key-%05d-%s.conf", i, strings.Repeat("x", i%40))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []string{"d/*", "d/*.conf", "d/?.conf", "d/[a-c]*", "d/[!a]*", "d/\\*", "d/*\\?*", "d/.*",
		"./d/*.conf", "d//*.conf", "d/./*.conf", "d/sub/../*.conf", "link/*.conf", "*/*.conf", "d/*/*.conf",
		"*", "*.none", "nodir/*", "d/a.conf/*", dir + "/d/*.conf", "/*", "d/[", "d/*[", "d/\\",
		"big/*", big + "/key-0*", "d/a.conf"}
}

// TestExpandMatchesGlob holds Expand against the standard library's
// filepath.Glob (sorted) on names of every kind and patterns of every
// shape: the fast path for one directory must give the same list.
func TestExpandMatchesGlob(t *testing.T) {
	_, patterns := globTree(t)
	for _, p := range patterns {
		want, wantErr := filepath.Glob(p)
		sort.Strings(want)
		got, err := ipcscan.Expand(p)
		switch {
		case wantErr != nil:
			if !errors.Is(err, filepath.ErrBadPattern) {
				t.Errorf("Expand(%q): %v, want %v", p, err, wantErr)
			}
		case len(want) == 0:
			if !errors.Is(err, ipcscan.ErrNoMatch) {
				t.Errorf("Expand(%q): %q, %v, want ErrNoMatch", p, got, err)
			}
		case err != nil || !slices.Equal(got, want):
			t.Errorf("Expand(%q):\n got %q, %v\nwant %q", p, got, err, want)
		}
	}
}

// TestExpandInspect holds ExpandInspect, which reads a directory and
// stats its matches at once, against Expand followed by a stat(2) of each
// path and the Inspector's answer for it alone: the same paths in the same
// order, the same errors, the same files.
func TestExpandInspect(t *testing.T) {
	_, patterns := globTree(t)
	// And two that Expand does not take as filepath.Glob does: a name that
	// exists as written, and **.
	for _, p := range append(patterns, "d/odd[1].conf", "d/**") {
		paths, wantErr := ipcscan.Expand(p)
		got, err := ipcscan.NewInspector().ExpandInspect(p)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("ExpandInspect(%q): error %v, Expand says %v", p, err, wantErr)
			continue
		}
		if len(got) != len(paths) {
			t.Errorf("ExpandInspect(%q): %d files, Expand gives %d", p, len(got), len(paths))
			continue
		}
		for i, path := range paths {
			g := got[i]
			if g.Path != path {
				t.Errorf("ExpandInspect(%q)[%d] = %q, Expand gives %q", p, i, g.Path, path)
				break
			}
			one, oneErr := ipcscan.NewInspector().Inspect(path)
			if fmt.Sprint(one, oneErr) != fmt.Sprint(g.KeyFile, g.Err) {
				t.Errorf("%s: ExpandInspect %+v, %v; Inspect %+v, %v", path, g.KeyFile, g.Err, one, oneErr)
			}
			var st syscall.Stat_t
			if serr := syscall.Stat(path, &st); (serr == nil) != (g.Err == nil) || serr == nil && (g.Dev != st.Dev || g.Ino != st.Ino) {
				t.Errorf("%s: dev %d ino %d error %v; stat says dev %d ino %d error %v", path, g.Dev, g.Ino, g.Err, st.Dev, st.Ino, serr)
			}
		}
	}
}
