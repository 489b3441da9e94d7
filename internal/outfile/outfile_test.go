package outfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

const nobody = 65534

// mkfile makes a file with exact content, owner and mode (set-id bits too).
func mkfile(t *testing.T, name, content string, uid, gid int, mode uint32) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(name, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}

// state is what a file is: its bytes, owner, group and mode.
func state(t *testing.T, name string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(name, &st); err != nil {
		return err.Error()
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%q %d:%d %o", b, st.Uid, st.Gid, st.Mode)
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

const report = "report\n"

// write prepares name and writes the report there.
func write(name string) error {
	t, err := Prepare(name)
	if err != nil {
		return err
	}
	return t.Write(func(w io.Writer) error {
		_, err := io.WriteString(w, report)
		return err
	})
}

// TestPlantedLinks is the attack: user nobody plants links in a sticky
// world-writable directory, root writes a report there. Nothing but the
// report's own file may change.
func TestPlantedLinks(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	r := nstest.PrivateTree(t)
	nstest.Mkdir(t, r+"/sticky", os.ModeSticky|0o777, 0)
	nstest.Mkdir(t, r+"/priv", 0o700, 0)
	nstest.Mkdir(t, r+"/dir", 0o755, 0)
	mkfile(t, r+"/secret", "secret\n", 0, 0, 0o600)
	nstest.Plant(t, nobody, r+"/secret", r+"/sticky/report.json")
	nstest.Plant(t, nobody, r+"/priv/new.json", r+"/sticky/dangling.json")
	nstest.Plant(t, nobody, r+"/dir", r+"/sticky/dirlink")

	refused := func(link string) string {
		return fmt.Sprintf("%s/sticky/%s is a symbolic link owned by nobody in the sticky world-writable directory %s/sticky: not followed (the kernel's protected_symlinks rule); remove it or name another path", r, link, r)
	}
	before := state(t, r+"/secret")
	for _, tc := range []struct{ path, err string }{
		{r + "/sticky/report.json", refused("report.json")},
		{r + "/sticky/dangling.json", refused("dangling.json")},
		{r + "/sticky/dirlink/report.json", refused("dirlink")},
		{r + "/sticky/./dirlink/../report.json", refused("dirlink")},
	} {
		err := write(tc.path)
		if err == nil || err.Error() != tc.err {
			t.Errorf("%s: %v\nwant %s", tc.path, err, tc.err)
		}
	}
	if after := state(t, r+"/secret"); after != before {
		t.Errorf("the link's target changed: %s, was %s", after, before)
	}
	for dir, want := range map[string][]string{
		"priv":   nil,
		"dir":    nil,
		"sticky": {"dangling.json", "dirlink", "report.json"},
	} {
		if got := list(t, r+"/"+dir); !slices.Equal(got, want) {
			t.Errorf("%s holds %q, want %q", dir, got, want)
		}
	}
}

// TestAllowedLinks: the links the kernel's rule follows are still
// written through, keeping the target's owner and mode; a dangling link
// never makes a file.
func TestAllowedLinks(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	r := nstest.PrivateTree(t)
	nstest.Mkdir(t, r+"/sticky", os.ModeSticky|0o777, 0)
	nstest.Mkdir(t, r+"/nsticky", os.ModeSticky|0o777, nobody) // nobody's own
	nstest.Mkdir(t, r+"/plain", 0o755, nobody)
	nstest.Mkdir(t, r+"/open", 0o777, 0)
	nstest.Mkdir(t, r+"/dir", 0o755, 0)
	mkfile(t, r+"/a", "old a\n", 1234, 5678, 0o640)
	mkfile(t, r+"/b", "old b\n", 0, 0, 0o600)
	mkfile(t, r+"/c", "old c\n", nobody, nobody, 0o644)
	nstest.Plant(t, 0, r+"/a", r+"/sticky/root.json")
	nstest.Plant(t, nobody, r+"/b", r+"/nsticky/own.json")
	nstest.Plant(t, nobody, r+"/c", r+"/plain/link.json")
	nstest.Plant(t, nobody, r+"/dir", r+"/open/dirlink")

	for _, tc := range []struct{ path, file, want string }{
		{r + "/sticky/root.json", r + "/a", fmt.Sprintf("%q 1234:5678 100640", report)},
		{r + "/nsticky/own.json", r + "/b", fmt.Sprintf("%q 0:0 100600", report)},
		{r + "/plain/link.json", r + "/c", fmt.Sprintf("%q %d:%d 100644", report, nobody, nobody)},
		{r + "/open/dirlink/new.json", r + "/dir/new.json", fmt.Sprintf("%q 0:0 100644", report)},
	} {
		if err := write(tc.path); err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if got := state(t, tc.file); got != tc.want {
			t.Errorf("%s: %s is %s, want %s", tc.path, tc.file, got, tc.want)
		}
		var st unix.Stat_t
		if err := unix.Lstat(tc.path, &st); err != nil || (st.Mode&unix.S_IFMT != unix.S_IFLNK && !strings.Contains(tc.path, "dirlink")) {
			t.Errorf("%s is no longer a link", tc.path)
		}
	}

	// A dangling link is not followed to make a file, whoever owns it.
	nstest.Plant(t, 0, r+"/dir/missing.json", r+"/sticky/dangling.json")
	err := write(r + "/sticky/dangling.json")
	want := fmt.Sprintf("%s/sticky/dangling.json is a symbolic link to %s/dir/missing.json, which does not exist: a link is never followed to create a file; remove it or name another path", r, r)
	if err == nil || err.Error() != want {
		t.Errorf("dangling: %v\nwant %s", err, want)
	}
	if _, err := os.Lstat(r + "/dir/missing.json"); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was made: %v", err)
	}
}

// TestModes: the temporary file is 0600 while it is written; the report
// never keeps a set-id or sticky bit, replaced or written in place.
func TestModes(t *testing.T) {
	r := t.TempDir()
	mkfile(t, r+"/suid", "old\n", os.Getuid(), os.Getgid(), 0o6755)
	mkfile(t, r+"/sticky", "old\n", os.Getuid(), os.Getgid(), 0o1644)
	mkfile(t, r+"/linked", "old\n", os.Getuid(), os.Getgid(), 0o4750)
	if err := os.Link(r+"/linked", r+"/other"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode uint32
	}{{"suid", 0o100755}, {"sticky", 0o100644}, {"linked", 0o100750}, {"new", 0o100644}} {
		tg, err := Prepare(r + "/" + tc.name)
		if err != nil {
			t.Fatal(err)
		}
		var tmp []string
		err = tg.Write(func(w io.Writer) error {
			for _, n := range list(t, r) {
				if strings.HasPrefix(n, "."+tc.name+".tmp-") {
					tmp = append(tmp, state(t, r+"/"+n))
				}
			}
			_, err := io.WriteString(w, report)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if tc.name != "linked" && (len(tmp) != 1 || !strings.HasSuffix(tmp[0], " 100600")) {
			t.Errorf("%s: temporary files %q, want one of mode 0600", tc.name, tmp)
		}
		want := fmt.Sprintf("%q %d:%d %o", report, os.Getuid(), os.Getgid(), tc.mode)
		if got := state(t, r+"/"+tc.name); got != want {
			t.Errorf("%s: %s, want %s", tc.name, got, want)
		}
	}
	if got := state(t, r+"/other"); !strings.HasPrefix(got, fmt.Sprintf("%q", report)) {
		t.Errorf("the other hard link reads %s", got)
	}
	if got := list(t, r); !slices.Equal(got, []string{"linked", "new", "other", "sticky", "suid"}) {
		t.Errorf("left behind: %q", got)
	}
}

// TestDescriptor: /dev/stdout and /proc/self/fd/N write to the descriptor,
// appended.
func TestDescriptor(t *testing.T) {
	r := t.TempDir()
	f, err := os.Create(r + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("before\n"); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if err := write(name); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r + "/out")
	if err != nil || !bytes.Equal(b, []byte("before\n"+report)) {
		t.Fatalf("%s: %q, %v", name, b, err)
	}
}
