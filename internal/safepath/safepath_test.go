package safepath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

const nobody = 65534

func writeFile(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// kernelRuleOn reports whether the kernel itself applies
// fs.protected_symlinks, so that it can be the reference.
func kernelRuleOn() bool {
	b, err := os.ReadFile("/proc/sys/fs/protected_symlinks")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// TestRules plants links as user nobody and checks which ones each rule
// follows, where it leads, and what a refusal says.
func TestRules(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	r := nstest.PrivateTree(t)
	nstest.Mkdir(t, r+"/sticky", os.ModeSticky|0o777, 0)
	nstest.Mkdir(t, r+"/nsticky", os.ModeSticky|0o777, nobody) // nobody's own sticky directory
	nstest.Mkdir(t, r+"/plain", 0o755, nobody)
	nstest.Mkdir(t, r+"/open", 0o777, 0) // world-writable, not sticky
	nstest.Mkdir(t, r+"/priv", 0o700, 0)
	nstest.Mkdir(t, r+"/dir", 0o755, 0)
	writeFile(t, r+"/secret.txt", "secret\n", 0o600)
	writeFile(t, r+"/dir/f", "f\n", 0o644)

	nstest.Plant(t, nobody, r+"/secret.txt", r+"/sticky/tofile")
	nstest.Plant(t, nobody, r+"/priv/new.json", r+"/sticky/dangling")
	nstest.Plant(t, nobody, "../dir", r+"/sticky/todir")
	nstest.Plant(t, 0, r+"/secret.txt", r+"/sticky/rootlink")
	nstest.Plant(t, nobody, r+"/secret.txt", r+"/nsticky/own")
	nstest.Plant(t, nobody, r+"/secret.txt", r+"/plain/link")
	nstest.Plant(t, nobody, r+"/dir", r+"/open/link")
	// A second path to the sticky directory: the rule applies to where
	// the link is, whatever the spelling.
	nstest.Plant(t, 0, "sticky", r+"/via")
	nstest.Plant(t, 0, "sticky/tofile", r+"/chain")
	// A link owned by a uid without a name.
	nstest.Plant(t, 0, r+"/secret.txt", r+"/sticky/unnamed")
	if err := unix.Lchown(r+"/sticky/unnamed", 54321, 54321); err != nil {
		t.Fatal(err)
	}

	refusedSticky := func(link, owner string) string {
		return fmt.Sprintf("%s is a symbolic link owned by %s in the sticky world-writable directory %s: not followed (the kernel's protected_symlinks rule); remove it or name another path",
			r+"/"+link, owner, r+"/"+filepath.Dir(link))
	}
	refusedOwner := func(link, owner string) string {
		return fmt.Sprintf("%s is a symbolic link owned by %s in %s: not followed (a link another user made is never followed here); remove it or name another path",
			r+"/"+link, owner, r+"/"+filepath.Dir(link))
	}
	tests := []struct {
		path      string
		rule      Rule
		name      string // the resolved name, when followed
		exists    bool
		link      string // Path.Link
		err       string // the refusal
		kernelErr error  // what the kernel says with protected_symlinks on
	}{
		{path: "sticky/tofile", err: refusedSticky("sticky/tofile", "nobody"), kernelErr: unix.EACCES},
		{path: "sticky/dangling", err: refusedSticky("sticky/dangling", "nobody"), kernelErr: unix.EACCES},
		{path: "sticky/todir/f", err: refusedSticky("sticky/todir", "nobody"), kernelErr: unix.EACCES},
		{path: "sticky/todir/new", err: refusedSticky("sticky/todir", "nobody"), kernelErr: unix.EACCES},
		{path: "via/tofile", err: refusedSticky("sticky/tofile", "nobody"), kernelErr: unix.EACCES},
		{path: "chain", err: refusedSticky("sticky/tofile", "nobody"), kernelErr: unix.EACCES},
		{path: "sticky/unnamed", err: refusedSticky("sticky/unnamed", "54321"), kernelErr: unix.EACCES},
		{path: "sticky/rootlink", name: "secret.txt", exists: true, link: "sticky/rootlink"},
		{path: "nsticky/own", name: "secret.txt", exists: true, link: "nsticky/own"},
		{path: "plain/link", name: "secret.txt", exists: true, link: "plain/link"},
		{path: "open/link/f", name: "dir/f", exists: true},
		{path: "open/link/new", name: "dir/new"},
		{path: "sticky/new", name: "sticky/new"},
		{path: "open/link/../secret.txt", name: "secret.txt", exists: true},
		{path: "sticky/todir/../secret.txt", err: refusedSticky("sticky/todir", "nobody"), kernelErr: unix.EACCES},

		{path: "sticky/rootlink", rule: OwnLinks, name: "secret.txt", exists: true, link: "sticky/rootlink"},
		{path: "sticky/tofile", rule: OwnLinks, err: refusedSticky("sticky/tofile", "nobody")},
		{path: "nsticky/own", rule: OwnLinks, err: refusedOwner("nsticky/own", "nobody")},
		{path: "plain/link", rule: OwnLinks, err: refusedOwner("plain/link", "nobody")},
		{path: "open/link/f", rule: OwnLinks, err: refusedOwner("open/link", "nobody")},
		{path: "sticky/new", rule: OwnLinks, name: "sticky/new"},
	}
	for _, tc := range tests {
		for _, spelled := range []string{r + "/" + tc.path, tc.path} {
			t.Run(fmt.Sprintf("%s/%d", spelled, tc.rule), func(t *testing.T) {
				if !filepath.IsAbs(spelled) {
					t.Chdir(r)
				}
				p, err := Resolve(spelled, tc.rule)
				if tc.err != "" {
					if err == nil {
						p.Close()
						t.Fatalf("followed to %s, want refused: %s", p.Name, tc.err)
					}
					var le *LinkError
					if !errors.As(err, &le) || !errors.Is(err, fs.ErrPermission) {
						t.Fatalf("error %T %v, want a *LinkError", err, err)
					}
					if err.Error() != tc.err {
						t.Fatalf("error\n%s\nwant\n%s", err, tc.err)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					wantLink := ""
					if tc.link != "" {
						wantLink = r + "/" + tc.link
					}
					if p.Name != r+"/"+tc.name || p.Base != filepath.Base(tc.name) || p.Exists != tc.exists || p.Link != wantLink {
						t.Fatalf("got name %s base %s exists %v link %q, want %s exists %v link %q",
							p.Name, p.Base, p.Exists, p.Link, r+"/"+tc.name, tc.exists, wantLink)
					}
					var dst, want unix.Stat_t
					if err := unix.Fstat(p.DirFD(), &dst); err != nil {
						t.Fatal(err)
					}
					if err := unix.Stat(filepath.Dir(p.Name), &want); err != nil {
						t.Fatal(err)
					}
					if dst.Dev != want.Dev || dst.Ino != want.Ino {
						t.Fatalf("DirFD is not %s", filepath.Dir(p.Name))
					}
				}
				if tc.rule == Protected && kernelRuleOn() {
					fd, kerr := unix.Open(spelled, unix.O_PATH|unix.O_CLOEXEC, 0)
					if kerr == nil {
						unix.Close(fd)
					}
					if tc.kernelErr != nil && kerr != tc.kernelErr {
						t.Fatalf("the kernel says %v, want %v", kerr, tc.kernelErr)
					}
					if tc.kernelErr == nil && kerr == unix.EACCES {
						t.Fatalf("the kernel refuses what Resolve follows")
					}
				}
			})
		}
	}
}

// TestLimits checks the link limit (ELOOP at the 41st link, as the
// kernel), "..", the root, descriptors and malformed names.
func TestLimits(t *testing.T) {
	r := t.TempDir()
	writeFile(t, r+"/end", "x", 0o644)
	// l0 → l1 → … → l40 → end: l40 is 1 link away, l0 is 41.
	for i := 40; i >= 0; i-- {
		target := fmt.Sprintf("l%d", i+1)
		if i == 40 {
			target = "end"
		}
		if err := os.Symlink(target, fmt.Sprintf("%s/l%d", r, i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		link string
		err  error
	}{{"l1", nil}, {"l0", unix.ELOOP}} {
		p, err := Resolve(r+"/"+tc.link, Protected)
		if !errors.Is(err, tc.err) {
			t.Fatalf("%s: %v, want %v", tc.link, err, tc.err)
		}
		fd, kerr := unix.Open(r+"/"+tc.link, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if kerr == nil {
			unix.Close(fd)
		}
		if (kerr == nil) != (tc.err == nil) {
			t.Fatalf("%s: the kernel says %v", tc.link, kerr)
		}
		if err == nil {
			if p.Name != r+"/end" {
				t.Fatalf("%s: %s", tc.link, p.Name)
			}
			p.Close()
		}
	}
	if err := os.Symlink("loop", r+"/loop"); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(r+"/loop/x", Protected); !errors.Is(err, unix.ELOOP) {
		t.Fatalf("loop: %v, want ELOOP", err)
	}

	for _, tc := range []struct {
		path, name, base string
	}{
		{"/", "/", "."},
		{"/..", "/", "."},
		{r + "/.", r, "."},
		{r + "/end/", "", ""},
		{r + "/end/x", "", ""},
		{r + "/", r, "."},
	} {
		p, err := Resolve(tc.path, Protected)
		if tc.name == "" {
			if !errors.Is(err, unix.ENOTDIR) {
				t.Fatalf("%s: %v, want ENOTDIR", tc.path, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if p.Name != tc.name || p.Base != tc.base || !p.Exists || p.Stat.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Fatalf("%s: %+v", tc.path, p)
		}
		p.Close()
	}
	for _, bad := range []struct {
		name string
		err  error
	}{{"", unix.ENOENT}, {"a\x00b", unix.EINVAL}, {strings.Repeat("a/", 2048), unix.ENAMETOOLONG}, {r + "/missing/x", unix.ENOENT}} {
		if _, err := Resolve(bad.name, Protected); !errors.Is(err, bad.err) {
			t.Fatalf("%.20q: %v, want %v", bad.name, err, bad.err)
		}
	}

	// /dev/stdout and /dev/fd/N lead to a descriptor, which only the
	// kernel follows.
	for _, name := range []string{"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"} {
		p, err := Resolve(name, Protected)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := fmt.Sprintf("/proc/%d/fd/1", os.Getpid())
		if !p.Descriptor || p.Name != want || p.Base != "1" {
			t.Fatalf("%s: descriptor %v name %s, want %s", name, p.Descriptor, p.Name, want)
		}
		p.Close()
	}
	if _, err := Resolve("/proc/self/fd/1/x", Protected); err == nil || !strings.Contains(err.Error(), "is a process's descriptor") {
		t.Fatalf("through a descriptor: %v", err)
	}
}

// TestAllowed is the rule as a table, the kernel's may_follow_link.
func TestAllowed(t *testing.T) {
	const stickyOpen = unix.S_IFDIR | unix.S_ISVTX | 0o777
	for _, tc := range []struct {
		rule                   Rule
		euid                   int
		link, dirUID, dirMode  uint32
		wantSticky, wantFollow bool
	}{
		{Protected, 0, nobody, 0, stickyOpen, true, false},
		{Protected, 0, 0, 0, stickyOpen, false, true},
		{Protected, 0, nobody, nobody, stickyOpen, false, true},
		{Protected, 1000, 1000, 0, stickyOpen, false, true},
		{Protected, 0, nobody, 0, unix.S_IFDIR | unix.S_ISVTX | 0o775, false, true},
		{Protected, 0, nobody, 0, unix.S_IFDIR | 0o777, false, true},
		{OwnLinks, 0, nobody, 0, unix.S_IFDIR | 0o755, false, false},
		{OwnLinks, 1000, 0, 0, unix.S_IFDIR | 0o755, false, true},
		{OwnLinks, 1000, 1000, 0, stickyOpen, false, true},
		{OwnLinks, 1000, nobody, nobody, stickyOpen, false, false},
	} {
		sticky, ok := Allowed(tc.rule, tc.euid, tc.link, tc.dirUID, tc.dirMode)
		if sticky != tc.wantSticky || ok != tc.wantFollow {
			t.Errorf("%+v: sticky %v follow %v", tc, sticky, ok)
		}
	}
}
