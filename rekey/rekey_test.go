package rekey

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/oracle"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

const projL = 'l'

// mountTmpfs mounts a fresh tmpfs on a new directory (the test runs in a
// private mount namespace: the host never sees it).
func mountTmpfs(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipckeys-rekey")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH); os.Remove(dir) })
	return dir
}

// mountExt4 mounts a fresh 64 MiB ext4 image with room for more than
// 65,536 inodes (a collision needs that many), or skips when mkfs.ext4
// (e2fsprogs) or loop devices are missing.
func mountExt4(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal("mkfs.ext4 (e2fsprogs) is needed for the ext4 test")
		}
		t.Skip("mkfs.ext4 (e2fsprogs) is not installed")
	}
	work := mountTmpfs(t)
	img := filepath.Join(work, "img")
	if out, err := exec.Command("sh", "-c", `truncate -s 64M "$0" && mkfs.ext4 -q -N 100000 -I 128 "$0"`, img).CombinedOutput(); err != nil {
		t.Fatalf("make the ext4 image: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount the ext4 image: %v\n%s", err, out)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// makeCollision creates files in dir until two have inode numbers equal
// in their low 16 bits, keeps them as a and b, and removes the rest.
func makeCollision(t *testing.T, dir string) (a, b string) {
	t.Helper()
	seen := map[uint64]string{}
	var made []string
	for i := range 300_000 {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		made = append(made, p)
		other, dup := seen[inode(t, p)&0xffff]
		if !dup {
			seen[inode(t, p)&0xffff] = p
			continue
		}
		a, b = filepath.Join(dir, "b.conf"), filepath.Join(dir, "c.conf")
		if err := os.Rename(other, a); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, b); err != nil {
			t.Fatal(err)
		}
		for _, m := range made {
			if m != other && m != p {
				os.Remove(m)
			}
		}
		return a, b
	}
	t.Fatalf("no inode collision in %s", dir)
	return "", ""
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// channels are manifest channels on the given files, all with proj l,
// as package resolve reads them.
func channels(t *testing.T, paths ...string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for i, p := range paths {
		kf, err := ipcscan.InspectKeyFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := &manifest.Channel{Name: string(rune('b' + i)), Path: p, Proj: projL, File: "app.manifest", Line: i + 1}
		out = append(out, audit.Entry{Channel: c, Path: p, Proj: projL, HasProj: true, File: kf})
	}
	return out
}

// listing is a directory's names, to show that nothing was left or made.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestRekeyTmpfs and TestRekeyExt4 make a real collision, give the second
// file content, another owner and group, a mode, an extended attribute and
// a live segment under its key, and rekey it.
func TestRekeyTmpfs(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	checkRekey(t, mountTmpfs(t))
}

func TestRekeyExt4(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	checkRekey(t, mountExt4(t))
}

func checkRekey(t *testing.T, dir string) {
	b, c := makeCollision(t, dir)
	content := []byte("key file\x00\xff with bytes\n")
	if err := os.WriteFile(c, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(c, 1000, 1001); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c, 0o2640); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(c, "user.ipckeys", []byte("kept"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(c, "trusted.ipckeys", []byte("kept too"), 0); err != nil {
		t.Fatal(err)
	}
	var before unix.Stat_t
	if err := unix.Stat(c, &before); err != nil {
		t.Fatal(err)
	}
	old := oracle.Keys(t, []int{projL}, []string{c})[0].Key
	if bk := oracle.Keys(t, []int{projL}, []string{b})[0].Key; bk != old {
		t.Fatalf("C ftok: %#x and %#x: no collision made", uint32(bk), uint32(old))
	}
	h := nstest.Hold(t, nil, "shmftok", c, "108", "4096", "0600", "attach", "last")
	snap, err := ipcscan.NewFS(ipcscan.DefaultRoot).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	entries := channels(t, b, c)

	// A dry run says what collides and creates nothing.
	names := listing(t, dir)
	res, err := Run(Request{Paths: []string{c}, Entries: entries, Snaps: []*ipcscan.Snapshot{snap}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := listing(t, dir); !slices.Equal(got, names) || inode(t, c) != uint64(before.Ino) {
		t.Fatalf("dry run changed the directory: %v, was %v", got, names)
	}
	wantCollides := fmt.Sprintf("channel b (key %s)", ftok.Hex(old))
	if f := res.Files[0]; f.Done || !slices.Equal(f.Collides, []string{wantCollides}) || len(f.Live) != 1 {
		t.Fatalf("dry run: %+v", f)
	}

	// --fail-if-live changes nothing.
	_, err = Run(Request{Paths: []string{c}, Entries: entries, Snaps: []*ipcscan.Snapshot{snap}, FailIfLive: true})
	var le *LiveError
	if !errors.As(err, &le) || inode(t, c) != uint64(before.Ino) || !slices.Equal(listing(t, dir), names) {
		t.Fatalf("--fail-if-live: %v; inode %d (was %d)", err, inode(t, c), before.Ino)
	}

	res, err = Run(Request{Paths: []string{c}, Entries: entries, Snaps: []*ipcscan.Snapshot{snap}})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	var after unix.Stat_t
	if err := unix.Stat(c, &after); err != nil {
		t.Fatal(err)
	}
	newKey := oracle.Keys(t, []int{projL}, []string{c})[0].Key
	switch {
	case !f.Done || f.OldIno != uint64(before.Ino) || f.NewIno != uint64(after.Ino) || after.Ino == before.Ino:
		t.Errorf("inodes: reported %d -> %d, stat %d -> %d", f.OldIno, f.NewIno, before.Ino, after.Ino)
	case len(f.Keys) != 1 || f.Keys[0].Old != old || f.Keys[0].New != newKey || newKey == old:
		t.Errorf("keys %+v; C ftok %#x -> %#x", f.Keys, uint32(old), uint32(newKey))
	}
	if after.Uid != 1000 || after.Gid != 1001 || after.Mode != before.Mode || after.Nlink != 1 || after.Mtim != before.Mtim {
		t.Errorf("new file uid %d gid %d mode %o nlink %d mtime %v; want 1000 1001 %o 1 %v", after.Uid, after.Gid, after.Mode, after.Nlink, after.Mtim, before.Mode, before.Mtim)
	}
	if got, err := os.ReadFile(c); err != nil || string(got) != string(content) {
		t.Errorf("content %q, %v", got, err)
	}
	for name, want := range map[string]string{"user.ipckeys": "kept", "trusted.ipckeys": "kept too"} {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(c, name, buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("xattr %s: %q, %v", name, buf[:max(n, 0)], err)
		}
	}
	if got := listing(t, dir); !slices.Equal(got, names) {
		t.Errorf("files left behind: %v, was %v", got, names)
	}
	// The segment is named, left to channel b (whose key it is), and
	// still there.
	if len(f.Live) != 1 || f.Live[0].Facility != "shm" || f.Live[0].ID != h.Shm[0] || f.Live[0].KeptBy != "channel b" ||
		f.Live[0].CreatorPID != h.PIDs[0] || len(f.Live[0].Attached) != 1 || f.Live[0].Attached[0].PID != h.PIDs[0] {
		t.Errorf("live: %+v; want shm %d kept by channel b, created by and attached to %d", f.Live, h.Shm[0], h.PIDs[0])
	}
	snap2, err := ipcscan.NewFS(ipcscan.DefaultRoot).Snapshot()
	if err != nil || len(snap2.Shm) != 1 || snap2.Shm[0].ID != h.Shm[0] {
		t.Errorf("the segment is gone: %+v, %v", snap2, err)
	}
	// The check is clean now (tmpfs itself is a warning of its own).
	for _, fd := range audit.Check(channels(t, b, c)) {
		if fd.Code != audit.UnstableFilesystem {
			t.Errorf("after rekey: %s %s", fd.Code, fd.Message)
		}
	}
}

// TestRefusals: every path rekey must not re-create is refused with one
// line, before anything is made.
func TestRefusals(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	dir := mountTmpfs(t)
	mk := func(path string, mode os.FileMode) string {
		if err := os.WriteFile(path, []byte("k"), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mkdir := func(name string, mode uint32, uid int) string {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(d, uint32(mode)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := mkdir("good", 0o755, 0)
	key := mk(filepath.Join(good, "app.key"), 0o644)
	// A link nobody planted in a sticky world-writable directory, and
	// one in a directory nobody owns, to the good key file.
	sticky := mkdir("sticky", 0o1777, 0)
	planted := filepath.Join(sticky, "app.key")
	if err := os.Symlink(key, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	nobodys := mkdir("nobodys", 0o755, 65534)
	nobodyLink := filepath.Join(nobodys, "app.key")
	if err := os.Symlink(key, nobodyLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(nobodyLink, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	// A hard-linked key file.
	linked := mk(filepath.Join(good, "linked.key"), 0o644)
	if err := os.Link(linked, filepath.Join(good, "other-name")); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(good, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	groupW := mk(filepath.Join(mkdir("groupw", 0o775, 0), "app.key"), 0o644)
	worldW := mk(filepath.Join(mkdir("worldw", 0o757, 0), "app.key"), 0o644)
	otherOwner := mk(filepath.Join(mkdir("other", 0o755, 65534), "app.key"), 0o644)
	stickyFile := mk(filepath.Join(mkdir("sticky-nobody", 0o1777, 65534), "app.key"), 0o644)
	tests := []struct {
		path  string
		projs []int
		want  string
	}{
		{planted, []int{projL}, "is a symbolic link owned by nobody in the sticky world-writable directory " + sticky + ": not followed"},
		{nobodyLink, []int{projL}, "is a symbolic link owned by nobody in " + nobodys + ": not followed (a link another user made is never followed here)"},
		{linked, []int{projL}, "has 2 hard links: re-creating it would split them"},
		{fifo, []int{projL}, "is a FIFO, not a regular file"},
		{good, []int{projL}, "is a directory, not a regular file"},
		{filepath.Join(good, "missing"), []int{projL}, "no such file"},
		{groupW, []int{projL}, "is group-writable (mode 0775, group root)"},
		{worldW, []int{projL}, "is world-writable (mode 0757)"},
		{otherOwner, []int{projL}, "is owned by nobody, who can write it"},
		{stickyFile, []int{projL}, "is sticky and writable by others, and owned by nobody, not by the caller"},
		{key, nil, "no proj id: give it with -p"},
	}
	before := map[string][]string{}
	for _, d := range []string{good, sticky, nobodys} {
		before[d] = listing(t, d)
	}
	for _, tc := range tests {
		// A good path first: one refusal leaves every path unchanged.
		ino := inode(t, key)
		_, err := Run(Request{Paths: []string{key, tc.path}, Projs: tc.projs})
		var r *Refusal
		if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want a refusal saying %q", tc.path, err, tc.want)
		}
		if inode(t, key) != ino {
			t.Errorf("%s: refused, but %s was re-created", tc.path, key)
		}
	}
	for d, names := range before {
		if got := listing(t, d); !slices.Equal(got, names) {
			t.Errorf("%s: %v, was %v", d, got, names)
		}
	}
	// The caller's own link is followed.
	own := filepath.Join(good, "own-link")
	if err := os.Symlink(key, own); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(Request{Paths: []string{own}, Projs: []int{projL}}); err != nil {
		t.Errorf("through the caller's own link: %v", err)
	}
}

// TestTriesRunOut: when every new file's key is taken, rekey gives up
// after maxTries files, leaves the key file as it was and removes every
// file it made. tmpfs numbers a mount's inodes in order, so the keys of
// the next inodes can be taken in advance by channels on them.
func TestTriesRunOut(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	defer func(n int) { maxTries = n }(maxTries)
	maxTries = 4
	dir := mountTmpfs(t)
	key := filepath.Join(dir, "app.key")
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	next := inode(t, probe) + 1
	if err := os.Remove(probe); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	for i := range uint64(2 * maxTries) {
		kf := ipcscan.KeyFile{Path: fmt.Sprintf("/taken/%d", i), File: ftok.File{Dev: uint64(st.Dev), Ino: next + i}}
		entries = append(entries, audit.Entry{Path: kf.Path, Proj: projL, HasProj: true, File: kf})
	}
	ino := inode(t, key)
	names := listing(t, dir)
	res, err := Run(Request{Paths: []string{key}, Projs: []int{projL}, Entries: entries})
	var r *Refusal
	if !errors.As(err, &r) || !strings.Contains(err.Error(), "no new file of 4 gave a key that no channel or live object holds") {
		t.Fatalf("%v; want running out of tries", err)
	}
	if inode(t, key) != ino || !slices.Equal(listing(t, dir), names) || res.Files[0].Done || res.Files[0].Tries != 4 {
		t.Errorf("after running out: inode %d (was %d), files %v (were %v), %+v", inode(t, key), ino, listing(t, dir), names, res.Files[0])
	}
	// With the next inode free the same run succeeds at once.
	res, err = Run(Request{Paths: []string{key}, Projs: []int{projL}, Entries: entries[:1]})
	if err != nil || res.Files[0].Tries != 1 {
		t.Errorf("with free inodes: %v, %+v", err, res)
	}
}

// TestObjectIpcrm: the command that removes a stale object names its
// facility.
func TestObjectIpcrm(t *testing.T) {
	for fac, want := range map[string]string{"shm": "ipcrm -m 7", "sem": "ipcrm -s 7", "msg": "ipcrm -q 7"} {
		if got := (Object{Facility: fac, ID: 7}).Ipcrm(); got != want {
			t.Errorf("%s: %q, want %q", fac, got, want)
		}
	}
}
