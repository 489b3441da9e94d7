package watch_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/cbuild"
	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/watch"
)

// Two different programs derive one key from two files whose inodes agree
// in their low 16 bits, and shmget it; the second asks for a larger
// segment. The watch sees both ftok calls and both shmgets, and the
// findings are one runtime-collision naming both files and programs and
// one ipc-error EINVAL naming the second program. It runs with each way
// of observing the system calls: the uprobes in the C library, the
// per-call tracepoints and the raw one.
func TestWatchCollision(t *testing.T) {
	for _, mode := range hookModes {
		t.Run(string(mode), func(t *testing.T) { testCollision(t, mode) })
	}
}

func testCollision(t *testing.T, mode watch.HookMode) {
	if !nstest.RunIsolated(t) {
		return
	}
	alpha, beta := build(t, "alpha.c"), build(t, "beta.c")
	a, b := makeCollision(t, t.TempDir())
	w := startIn(t, mode)
	var mu sync.Mutex
	var events []watch.Event
	done := make(chan error, 1)
	go func() {
		for {
			e, err := w.Next()
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	}()
	outA := run(t, alpha, a, "108", "4096")
	outB := run(t, beta, b, "108", "8192")
	nstest.Eventually(t, "the watch sees four calls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(mine(events, alpha, beta)) >= 4
	})
	dropped, err := w.Dropped()
	if err != nil || dropped != 0 {
		t.Errorf("dropped %d, %v", dropped, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, watch.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	got := mine(events, alpha, beta)
	keyA, keyB := strings.Fields(outA)[0], strings.Fields(outB)[0]
	if keyA != keyB || strings.Fields(outB)[2] != strconv.Itoa(int(syscall.EINVAL)) {
		t.Fatalf("the programs did not collide: %q, %q", outA, outB)
	}
	var calls []string
	for _, e := range got {
		calls = append(calls, filepath.Base(e.Process.Exe)+" "+e.Call())
	}
	want := []string{
		fmt.Sprintf("alpha ftok(%s, 108) = 0x%s", a, keyA),
		fmt.Sprintf("alpha shmget(0x%s, 4096, 01600) = 0", keyA),
		fmt.Sprintf("beta ftok(%s, 108) = 0x%s", b, keyA),
		fmt.Sprintf("beta shmget(0x%s, 8192, 01600) = -1 invalid argument", keyA),
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	findings := audit.CheckRuntime(audit.Runtime{Events: got})
	if len(findings) != 2 {
		t.Fatalf("%d findings, want 2: %+v", len(findings), findings)
	}
	for _, f := range findings {
		switch f.Code {
		case audit.RuntimeCollision:
			for _, s := range []string{a, b, alpha, beta, "ftok(" + a + ", 'l')", "ftok(" + b + ", 'l')", "0x" + keyA} {
				if !strings.Contains(f.Message, s) {
					t.Errorf("runtime-collision does not name %s: %s", s, f.Message)
				}
			}
		case audit.IPCError:
			for _, s := range []string{beta, "EINVAL", "size 8192", "4096 bytes", "owner uid 0"} {
				if !strings.Contains(f.Message, s) {
					t.Errorf("ipc-error does not name %s: %s", s, f.Message)
				}
			}
		default:
			t.Errorf("unexpected finding %s: %s", f.Code, f.Message)
		}
	}
}

// A run without the capabilities exits before loading anything, naming
// what is missing.
func TestRequirementsWithoutCapabilities(t *testing.T) {
	if os.Getenv("WATCH_TEST_UNPRIVILEGED") == "1" {
		if os.Getenv("WATCH_TEST_DROP") != "" {
			// root with every capability but CAP_SYS_ADMIN, as
			// capsh --drop=cap_sys_admin runs it.
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				t.Fatal(err)
			}
			data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				t.Fatal(err)
			}
		}
		err := watch.Requirements()
		fmt.Printf("requirement: %v\n", err)
		return
	}
	if os.Geteuid() != 0 {
		if err := watch.Requirements(); err == nil {
			t.Skip("this user has CAP_SYS_ADMIN")
		}
		return
	}
	// The test binary's directory is root's alone: nobody runs a copy.
	dir, err := os.MkdirTemp("", "watch-nobody")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
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
	want := "requirement: watch needs CAP_SYS_ADMIN: run as root, or give ipckeys CAP_SYS_ADMIN (the kernel opens the uprobe on ftok only with it; CAP_BPF and CAP_PERFMON are not enough)\n"
	for _, as := range []struct {
		name string
		cred *syscall.Credential
		env  string
	}{
		{"nobody", &syscall.Credential{Uid: 65534, Gid: 65534}, ""},
		{"root without CAP_SYS_ADMIN", nil, "WATCH_TEST_DROP=1"},
	} {
		cmd := exec.Command(bin, "-test.run=^TestRequirementsWithoutCapabilities$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WATCH_TEST_UNPRIVILEGED=1", as.env)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as.cred}
		out, _ := cmd.CombinedOutput()
		if !strings.HasPrefix(string(out), want) {
			t.Errorf("as %s:\n%s\nwant it to start with:\n%s", as.name, out, want)
		}
	}
}

func build(t *testing.T, name string) string {
	t.Helper()
	bin, err := cbuild.Build(filepath.Join("testdata", name))
	if errors.Is(err, cbuild.ErrNoCompiler) && os.Getenv(nstest.RequireEnv) == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%s: %v", argv, err)
	}
	return string(out)
}

// mine keeps the events of the test's programs.
func mine(events []watch.Event, exes ...string) []watch.Event {
	var out []watch.Event
	for _, e := range events {
		for _, x := range exes {
			if e.Process.Exe == x {
				out = append(out, e)
			}
		}
	}
	return out
}

// makeCollision creates files in dir until two have inodes that agree in
// their low 16 bits, and returns those two (a.key, b.key); the others are
// removed.
func makeCollision(t *testing.T, dir string) (a, b string) {
	t.Helper()
	seen := map[uint64]string{}
	var made []string
	for i := 0; i < 300_000; i++ {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		other, dup := seen[st.Ino&0xffff]
		if !dup {
			seen[st.Ino&0xffff] = p
			made = append(made, p)
			continue
		}
		a, b = filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
		if err := os.Rename(other, a); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, b); err != nil {
			t.Fatal(err)
		}
		for _, m := range made {
			if m != other {
				os.Remove(m)
			}
		}
		return a, b
	}
	t.Fatalf("no low-16-bit inode collision in %s", dir)
	return "", ""
}
