package resolve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// TestBuildEntriesOnce: every path gets every proj id once, in the order
// the arguments name them, however often an argument, a glob or -p
// repeats them; each distinct file is stat'ed once and shared by the
// manifest channels on it.
func TestBuildEntriesOnce(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.conf", "b.conf", "c.conf"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j := func(n string) string { return filepath.Join(dir, n) }
	chans := []manifest.Channel{
		{Name: "one", Path: j("b.conf"), Proj: 'x'},
		{Name: "two", Path: j("b.conf"), Proj: 'y'},
		{Name: "three", Path: j("missing"), Proj: 'x'},
	}
	b := &builder{req: Request{Args: []string{j("b.conf"), j("*.conf"), j("b.conf"), j("*.none")}},
		projs: []int{'l', 'm'}, files: &keyFiles{in: ipcscan.NewInspector()}, seen: map[seenKey]bool{}}
	if err := b.args(); err != nil {
		t.Fatal(err)
	}
	b.manifestChannels(chans)
	entries := b.entries
	var got []string
	for _, e := range entries {
		s := filepath.Base(e.Path) + " -"
		if e.HasProj {
			s = fmt.Sprintf("%s %c", filepath.Base(e.Path), rune(e.Proj))
		}
		if e.Channel != nil {
			s = e.Channel.Name + " " + s
		}
		if e.Pattern != "" {
			s += " from " + filepath.Base(e.Pattern)
		}
		if !e.OK() {
			s += " unusable"
		}
		got = append(got, s)
	}
	want := []string{
		"b.conf l", "b.conf m",
		"a.conf l from *.conf", "a.conf m from *.conf", "c.conf l from *.conf", "c.conf m from *.conf",
		"*.none - from *.none unusable",
		"one b.conf x", "two b.conf y", "three missing x unusable",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(j("b.conf"), &st); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Base(e.Path) == "b.conf" && (e.File.Ino != st.Ino || e.File.Dev != st.Dev) {
			t.Errorf("%s %+v: not the file stat sees (%d:%d)", e.Path, e.File.File, st.Dev, st.Ino)
		}
	}
}
