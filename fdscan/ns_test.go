package fdscan_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/cbuild"
	"github.com/ipckeys/ipckeys/internal/nstest"
)

// Tests that make sockets make them only in network, mount and pid
// namespaces of their own: inPrivateNamespaces re-executes the calling
// test as pid 1 of new namespaces, with /proc mounted for that pid
// namespace and only lo, brought up, for a network. When the test ends,
// the kernel ends every process left in its pid namespace.

const (
	nsRoleEnv = "FDSCAN_NSTEST_RUN"      // the test a re-executed binary runs
	nsHostEnv = "FDSCAN_NSTEST_HOST_NET" // the network namespace it must not be in
	// nsTimeout bounds a whole re-executed test.
	nsTimeout = 3 * time.Minute
)

func netNamespace() string {
	link, _ := os.Readlink("/proc/self/ns/net")
	return link
}

// inPrivateNamespaces returns true in the re-executed test, after checking
// it is isolated and setting up /proc and lo, and false in the original
// one, after reporting the inner run. Without root it skips, or fails
// when IPCKEYS_REQUIRE_ROOT_TESTS is set.
func inPrivateNamespaces(t *testing.T) bool {
	t.Helper()
	if os.Getenv(nsRoleEnv) == t.Name() {
		setupInside(t)
		return true
	}
	if os.Geteuid() != 0 {
		msg := "needs root to make private network, mount and pid namespaces"
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), nsRoleEnv+"="+t.Name(), nsHostEnv+"="+netNamespace())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) && os.Getenv(nstest.RequireEnv) == "" {
		t.Skipf("skipped in private namespaces:\n%s", out)
	}
	if err != nil {
		t.Fatalf("in private namespaces: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in private namespaces the test did not pass:\n%s", out)
	}
	t.Logf("ran in private namespaces:\n%s", out)
	return false
}

func setupInside(t *testing.T) {
	t.Helper()
	if ns := netNamespace(); ns == "" || ns == os.Getenv(nsHostEnv) {
		t.Fatalf("not in a private network namespace (%q): refusing to make sockets", ns)
	}
	if os.Getpid() != 1 {
		t.Fatalf("pid %d: not the first process of a private pid namespace", os.Getpid())
	}
	// Descriptors the test binary inherited without close-on-exec would
	// be inherited by every program it starts, and counted.
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		t.Fatalf("set close-on-exec on inherited descriptors: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make mounts private: %v", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		t.Fatalf("mount /proc for the pid namespace: %v", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		t.Fatalf("bring lo up: %v", err)
	}
}

// holder is a running fdholder (testdata/fdholder) and what it printed.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []string
}

func fdholderPath(t *testing.T) string {
	t.Helper()
	bin, err := cbuild.Build(cbuild.Source("fdholder/fdholder.c"))
	if errors.Is(err, cbuild.ErrNoCompiler) && os.Getenv(nstest.RequireEnv) == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startHolder starts argv (a launcher such as unshare, or fdholder's path
// first) with stdin a pipe the test holds, or the file given. It is
// killed when the test ends.
func startHolder(t *testing.T, stdin *os.File, argv ...string) *holder {
	t.Helper()
	h := &holder{cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan []string, 64)}
	h.cmd.Stderr = os.Stderr
	var err error
	if stdin != nil {
		h.cmd.Stdin = stdin
	} else if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- strings.Fields(sc.Text())
		}
		close(h.lines)
	}()
	t.Cleanup(func() {
		// Kill fails once the test has dropped root; pid 1's exit ends it.
		if h.cmd.Process.Kill() == nil {
			h.cmd.Wait()
		}
	})
	return h
}

// expect waits (bounded) for the holder's next line, which must start
// with word, and returns its numbers.
func (h *holder) expect(t *testing.T, word string) []int {
	t.Helper()
	select {
	case f, ok := <-h.lines:
		if !ok || len(f) == 0 || f[0] != word {
			t.Fatalf("%v: printed %q, want %s …", h.cmd.Args, f, word)
		}
		var nums []int
		for _, s := range f[1:] {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%v: printed %q", h.cmd.Args, f)
			}
			nums = append(nums, n)
		}
		return nums
	case <-time.After(20 * time.Second):
		t.Fatalf("%v: nothing printed in 20s", h.cmd.Args)
	}
	return nil
}

// eventually retries cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs an outside tool and returns its standard output.
func run(t *testing.T, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%v: %v: %s", argv, err, ee.Stderr)
		}
		t.Fatalf("%v: %v", argv, err)
	}
	return string(out)
}
