package watch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMapsFiles(t *testing.T) {
	maps := `55d4c0a00000-55d4c0a02000 r--p 00000000 fe:00 1234 /usr/bin/cat
7f1c2a000000-7f1c2a028000 r--p 00000000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2a028000-7f1c2a19d000 r-xp 00028000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f00000000-7f00001000 r-xp 00000000 00:2a 99 /lib/ld-musl-x86_64.so.1 (deleted)
7f00001000-7f00002000 rw-p 00000000 00:00 0                          [heap]
7f00002000-7f00003000 r--p 00000000 103:1f5 77 /opt/my dir/libc.so.6
7f00003000-7f00004000 r--p 00000000 zz:00 78 /bad/dev
7f00004000-7f00005000 r--p 00000000 fe:00 x /bad/inode
7f00005000-7f00006000 r--p 00000000 fe:00 79
`
	got, err := parseMapsFiles(strings.NewReader(maps))
	if err != nil {
		t.Fatal(err)
	}
	want := []mappedFile{
		{fileKey{0xfe, 0, 1234}, "/usr/bin/cat", false},
		{fileKey{0xfe, 0, 326269}, "/usr/lib/x86_64-linux-gnu/libc.so.6", false},
		{fileKey{0, 0x2a, 99}, "/lib/ld-musl-x86_64.so.1", true},
		{fileKey{0x103, 0x1f5, 77}, "/opt/my dir/libc.so.6", false},
		{fileKey{0xfe, 0, 79}, "", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func FuzzParseMapsFiles(f *testing.F) {
	f.Add([]byte("7f-8f r-xp 0 fe:00 1 /lib/libc.so.6\n7f-8f r-xp 0 fe:00 1 /lib/libc.so.6 (deleted)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, _ := parseMapsFiles(bytes.NewReader(b))
		seen := map[fileKey]bool{}
		for _, m := range files {
			if m.ino == 0 || seen[m.fileKey] || strings.HasSuffix(m.path, " (deleted)") && m.deleted {
				t.Fatalf("%+v: listed twice, inode 0, or deleted twice", m)
			}
			seen[m.fileKey] = true
		}
	})
}

// A procfs tree written here: the watcher, a kernel thread, processes
// that map a probed library (by device and inode, or, for a container's
// library on overlayfs, by its path in the process's root), one that maps
// none, one that maps a probed library's path deleted since (an older C
// library, replaced), and processes that ended as they were read.
func TestUncovered(t *testing.T) {
	proc, root := t.TempDir(), t.TempDir()
	musl := filepath.Join(root, "lib", "ld-musl-x86_64.so.1")
	write(t, musl, "")
	var st syscall.Stat_t
	if err := syscall.Stat(musl, &st); err != nil {
		t.Fatal(err)
	}
	glibc := Library{Path: "/lib/x86_64-linux-gnu/libc.so.6", Dev: unix.Mkdev(0xfe, 1), Ino: 326269}
	overlay := Library{Path: "/lib/ld-musl-x86_64.so.1", Dev: st.Dev, Ino: st.Ino}
	const libcLine = "7f1c2a028000-7f1c2a19d000 r-xp 00028000 fe:01 326269 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	const muslLine = "7f00000000-7f00001000 r-xp 00000000 00:2a 99 /lib/ld-musl-x86_64.so.1\n"
	const oldMusl = "7f00000000-7f00001000 r-xp 00000000 00:2a 98 /lib/ld-musl-x86_64.so.1 (deleted)\n"
	const exeLine = "55d4c0a00000-55d4c0a02000 r--p 00000000 fe:01 1234 /usr/bin/prog\n"
	for _, p := range []struct {
		pid, maps, comm, exe string
		root                 bool
	}{
		{pid: "1", maps: exeLine + libcLine, comm: "init", exe: "/usr/bin/init"},
		{pid: "2", maps: "", comm: "kthreadd"},
		{pid: "7", maps: exeLine, comm: "static", exe: "/usr/bin/static"},
		{pid: "8", maps: exeLine + muslLine, comm: "alpine", exe: "/bin/busybox", root: true},
		{pid: "9", maps: exeLine + oldMusl, comm: "old", exe: "/usr/bin/old (deleted)", root: true},
		{pid: "10", maps: exeLine, comm: "", exe: "/usr/bin/ended"}, // no comm: ended
		{pid: "11"}, // no maps: ended
		{pid: "42", maps: exeLine, comm: "watcher"}, // self
	} {
		dir := filepath.Join(proc, p.pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if p.pid != "11" {
			write(t, filepath.Join(dir, "maps"), p.maps)
		}
		if p.comm != "" {
			write(t, filepath.Join(dir, "comm"), p.comm+"\n")
		}
		if p.exe != "" {
			symlink(t, p.exe, filepath.Join(dir, "exe"))
		}
		if p.root {
			symlink(t, root, filepath.Join(dir, "root"))
		}
	}
	symlink(t, "42", filepath.Join(proc, "self"))
	c := newCoverage(proc, []Library{glibc, overlay})
	got, err := c.uncovered(selfPID(proc))
	if err != nil {
		t.Fatal(err)
	}
	want := []UncoveredProcess{{PID: 7, Comm: "static", Exe: "/usr/bin/static"}, {PID: 9, Comm: "old", Exe: "/usr/bin/old"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, ok := c.keys[fileKey{0, 0x2a, 99}]; !ok {
		t.Error("the overlay library's key, as the process maps it, was not learnt")
	}
	if want := map[[2]uint64]bool{{glibc.Dev, glibc.Ino}: true, {overlay.Dev, overlay.Ino}: true}; !reflect.DeepEqual(c.mapped, want) {
		t.Errorf("the libraries seen mapped: %v, want both, %v", c.mapped, want)
	}
	if _, err := newCoverage(filepath.Join(proc, "none"), nil).uncovered(0); err == nil {
		t.Error("no error without a procfs")
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestSiteGaps(t *testing.T) {
	for _, c := range []struct {
		name string
		rep  SiteReport
		want []string
	}{{
		name: "musl",
		rep: SiteReport{
			Sites: []SyscallSite{{Func: "shmget", Nr: 29, Offset: 0x1f7ff}},
			Missing: []MissingSite{
				{Func: "msgsnd", Addr: 0x1f630, Reason: "no system call instruction in the function: it passes its system call number (69) to other code at 0x1f64d, which makes the call there"},
				{Func: "msgrcv", Addr: 0x1f600, Reason: "no system call instruction in the function: it passes its system call number (70) to other code at 0x1f61d, which makes the call there"},
			},
		},
		want: []string{"msgsnd and msgrcv of /lib/ld-musl-x86_64.so.1 make their system call in a helper shared with other calls: their calls are not seen"},
	}, {
		name: "glibc 2.36: semop goes on in semtimedop; a wrapper not defined",
		rep: SiteReport{
			Sites: []SyscallSite{{Func: "semtimedop", Nr: 220}},
			Missing: []MissingSite{
				{Func: "semop", Addr: 0x10b5d0, Via: "semtimedop", Reason: "goes on"},
				{Func: "shmdt", Reason: "not defined in the library's dynamic symbol table"},
			},
		},
	}, {
		name: "one helper, a function that cannot be read, a version with no site",
		rep: SiteReport{
			Sites: []SyscallSite{{Func: "shmctl", Nr: 31}},
			Missing: []MissingSite{
				{Func: "shmctl", Addr: 0x200, Reason: "an indirect function: its symbol is the resolver that picks the code, not the code"},
				{Func: "msgctl", Addr: 0x300, Reason: "no system call instruction in the function: it calls other code (0x900), so a shared system-call helper makes the call"},
				{Func: "semget", Addr: 0x400, Reason: "cannot decode the instruction at 0x404 (06)"},
			},
		},
		want: []string{
			"msgctl of /lib/ld-musl-x86_64.so.1 makes its system call in a helper shared with other calls: its calls are not seen",
			"shmctl (its version at 0x200) of /lib/ld-musl-x86_64.so.1 cannot be probed (an indirect function: its symbol is the resolver that picks the code, not the code): its calls are not seen",
			"semget of /lib/ld-musl-x86_64.so.1 cannot be probed (cannot decode the instruction at 0x404 (06)): its calls are not seen",
		},
	}} {
		if got := siteGaps("/lib/ld-musl-x86_64.so.1", c.rep); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
	if got := andList([]string{"a", "b", "c"}); got != "a, b and c" {
		t.Errorf("andList = %q", got)
	}
}

// A process whose maps cannot be read is listed as Unreadable, not taken
// for covered nor stop the list: here the real /proc read by nobody, to
// whom a sleep of root's hides its maps.
func TestUncoveredUnreadable(t *testing.T) {
	if pid := os.Getenv("WATCH_TEST_COVERAGE_PID"); pid != "" {
		got, err := newCoverage("/proc", nil).uncovered(os.Getpid())
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return
		}
		for _, p := range got {
			if strconv.Itoa(p.PID) == pid {
				b, _ := json.Marshal(p)
				fmt.Printf("found: %s\n", b)
			}
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a copy of the test as nobody")
	}
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "watch.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestUncoveredUnreadable$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WATCH_TEST_COVERAGE_PID="+strconv.Itoa(sleep.Process.Pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.CombinedOutput()
	want := fmt.Sprintf(`found: {"pid":%d,"comm":"sleep","unreadable":true}`, sleep.Process.Pid)
	if !strings.HasPrefix(string(out), want+"\n") {
		t.Errorf("as nobody:\n%s\nwant it to start with:\n%s", out, want)
	}
}
