package ipcscan_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
)

// TestExpandMatchesGlob holds Expand against the standard library's
// filepath.Glob (sorted) on names of every kind and patterns of every
// shape: the fast path for one directory must give the same list.
func TestExpandMatchesGlob(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	names := []string{"a.conf", "b.conf", "B.conf", ".hidden.conf", "c.txt", "odd[1].conf", "sp ace.conf",
		"é.conf", "\xff.conf", "star*.conf", "q?.conf", "back\\slash.conf", "...", "x"}
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
	patterns := []string{"d/*", "d/*.conf", "d/?.conf", "d/[a-c]*", "d/[!a]*", "d/\\*", "d/*\\?*", "d/.*",
		"./d/*.conf", "d//*.conf", "d/./*.conf", "d/sub/../*.conf", "link/*.conf", "*/*.conf", "d/*/*.conf",
		"*", "*.none", "nodir/*", "d/a.conf/*", dir + "/d/*.conf", "/*", "d/[", "d/*[", "d/\\"}
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
	// A directory larger than one read buffer, sorted in two halves.
	big := filepath.Join(dir, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 9000 {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("key-%05d-%s.conf", i, strings.Repeat("x", i%40))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := filepath.Glob(big + "/*")
	got, err := ipcscan.Expand(big + "/*")
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Expand of %d files: %d paths, %v; want %d", len(want), len(got), err, len(want))
	}
}
