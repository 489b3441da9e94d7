package safepath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzResolve resolves arbitrary names in a tree of directories and links.
// The links that lead into forbidden/ are the ones the rule refuses
// (owned by nobody, in a sticky world-writable directory root owns): no
// name that does not spell "forbidden" may resolve into it. Every result
// must be absolute, clean and free of links, name the directory DirFD
// holds, and agree with the kernel about which file it is.
func FuzzResolve(f *testing.F) {
	r := f.TempDir()
	root := os.Geteuid() == 0
	for _, d := range []struct {
		name string
		mode os.FileMode
		uid  int
	}{
		{"sticky", os.ModeSticky | 0o777, 0},
		{"nsticky", os.ModeSticky | 0o777, nobody},
		{"open", 0o777, 0},
		{"dir", 0o755, 0},
		{"dir/sub", 0o755, 0},
		{"forbidden", 0o700, 0},
		{"forbidden/inner", 0o700, 0},
	} {
		if err := os.Mkdir(filepath.Join(r, d.name), 0o700); err != nil {
			f.Fatal(err)
		}
		if root {
			os.Chown(filepath.Join(r, d.name), d.uid, d.uid)
		}
		os.Chmod(filepath.Join(r, d.name), d.mode)
	}
	for _, name := range []string{"dir/f", "dir/sub/g", "forbidden/secret", "forbidden/inner/x"} {
		if err := os.WriteFile(filepath.Join(r, name), []byte(name), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	links := []struct {
		link, target string
		uid          int
	}{
		{"sticky/a", "../dir/f", 0},
		{"sticky/b", r + "/dir", 0},
		{"sticky/loop", "loop", 0},
		{"sticky/up", "..", 0},
		{"nsticky/c", "../dir/sub", nobody},
		{"nsticky/d", r + "/sticky", nobody},
		{"open/e", "../sticky/b/sub", nobody},
		{"open/root", "/", nobody},
		{"dir/sub/back", "../../open", 0},
		{"dir/dangling", "nothing/here", 0},
		{"dir/ping", "pong", 0},
		{"dir/pong", "ping", 0},
		{"dir/empty", "./", 0},
	}
	if root {
		// Planted by nobody where the rule refuses them.
		links = append(links,
			struct {
				link, target string
				uid          int
			}{"sticky/p1", r + "/forbidden/secret", nobody},
			struct {
				link, target string
				uid          int
			}{"sticky/p2", "../forbidden", nobody},
			struct {
				link, target string
				uid          int
			}{"sticky/p3", r + "/forbidden/inner/new", nobody})
	}
	for _, l := range links {
		name := filepath.Join(r, l.link)
		if err := os.Symlink(l.target, name); err != nil {
			f.Fatal(err)
		}
		if root {
			if err := unix.Lchown(name, l.uid, l.uid); err != nil {
				f.Fatal(err)
			}
		}
	}
	for _, seed := range []string{
		"sticky/a", "sticky/p1", "sticky/p2/secret", "sticky/p3", "sticky/up/sticky/p1",
		"nsticky/d/p2/inner/x", "open/e/g", "open/root", "dir/sub/back/e", "dir/dangling",
		"dir/ping", "dir/empty/f", "sticky/b/../sticky/p2", "./dir//f/", "..", "sticky/loop/x", "",
	} {
		f.Add(seed)
	}
	kernelRule := kernelRuleOn()
	f.Fuzz(func(t *testing.T, in string) {
		name := r + "/" + in
		p, err := Resolve(name, Protected)
		if err != nil {
			if kernelRule && strings.IndexByte(in, 0) < 0 {
				// Where the kernel applies the rule too, a refusal is
				// its EACCES.
				fd, kerr := unix.Open(name, unix.O_PATH|unix.O_CLOEXEC, 0)
				if kerr == nil {
					unix.Close(fd)
				}
				if _, refused := err.(*LinkError); refused != (kerr == unix.EACCES) {
					t.Fatalf("%q: Resolve says %v, the kernel %v", in, err, kerr)
				}
			}
			return
		}
		defer p.Close()
		if !filepath.IsAbs(p.Name) || filepath.Clean(p.Name) != p.Name {
			t.Fatalf("%q: name %q is not absolute and clean", in, p.Name)
		}
		if !strings.Contains(in, "forbidden") && (p.Name == r+"/forbidden" || strings.HasPrefix(p.Name, r+"/forbidden/")) {
			t.Fatalf("%q: resolved to %s through a link the rule refuses", in, p.Name)
		}
		// No component of the result is a link (but a descriptor).
		for d := p.Name; d != "/"; d = filepath.Dir(d) {
			var st unix.Stat_t
			if err := unix.Lstat(d, &st); err != nil {
				if d == p.Name && !p.Exists {
					continue
				}
				t.Fatalf("%q: %s: %v", in, d, err)
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK && !(d == p.Name && p.Descriptor) {
				t.Fatalf("%q: %s in the result %s is a link", in, d, p.Name)
			}
			if d == p.Name && p.Exists && (st.Dev != p.Stat.Dev || st.Ino != p.Stat.Ino) {
				t.Fatalf("%q: Stat is not %s", in, d)
			}
		}
		dir := filepath.Dir(p.Name)
		if p.Base == "." {
			dir = p.Name
		}
		var dst, want unix.Stat_t
		if unix.Fstat(p.DirFD(), &dst) != nil || unix.Stat(dir, &want) != nil || dst.Dev != want.Dev || dst.Ino != want.Ino {
			t.Fatalf("%q: DirFD is not %s", in, dir)
		}
		if p.Descriptor {
			return // only the kernel follows it, to an open file
		}
		// The kernel, following every link, reaches the same file.
		fd, kerr := unix.Open(name, unix.O_PATH|unix.O_CLOEXEC, 0)
		if kerr != nil {
			if p.Exists {
				t.Fatalf("%q: Resolve found %s, the kernel says %v", in, p.Name, kerr)
			}
			return
		}
		defer unix.Close(fd)
		var kst unix.Stat_t
		if err := unix.Fstat(fd, &kst); err != nil {
			t.Fatal(err)
		}
		if !p.Exists || kst.Dev != p.Stat.Dev || kst.Ino != p.Stat.Ino {
			t.Fatalf("%q: Resolve says %s (exists %v), the kernel opens another file", in, p.Name, p.Exists)
		}
	})
}
