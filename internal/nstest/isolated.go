package nstest

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
)

// Tests that make sockets and processes make them in namespaces of their
// own: RunIsolated re-executes the calling test as pid 1 of new network,
// mount, pid and IPC namespaces, with /proc mounted for that pid namespace
// and only lo, brought up, for a network. When the test ends, the kernel
// ends every process left in its pid namespace.

const (
	isoRoleEnv = "IPCKEYS_NSTEST_ISOLATED" // the test a re-executed binary runs
	isoHostEnv = "IPCKEYS_NSTEST_HOST_NET" // the network namespace it must not be in
	isoTimeout = 3 * time.Minute           // bounds a whole re-executed test
	isoWait    = 20 * time.Second          // bounds one wait for a process's line
)

func netNamespace() string {
	link, _ := os.Readlink("/proc/self/ns/net")
	return link
}

// RunIsolated returns true in the re-executed test, after checking it is
// isolated and setting up /proc and lo, and false in the original one,
// after reporting the inner run. Without root it skips, or fails when
// RequireEnv is set.
func RunIsolated(t *testing.T) bool {
	t.Helper()
	if os.Getenv(isoRoleEnv) == t.Name() {
		setupIsolated(t)
		return true
	}
	if os.Geteuid() != 0 {
		msg := "needs root to make private network, mount, pid and IPC namespaces"
		if os.Getenv(RequireEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), isoTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), isoRoleEnv+"="+t.Name(), isoHostEnv+"="+netNamespace(),
		roleEnv+"="+t.Name(), hostNSEnv+"="+namespace())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) && os.Getenv(RequireEnv) == "" {
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

func setupIsolated(t *testing.T) {
	t.Helper()
	if ns := netNamespace(); ns == "" || ns == os.Getenv(isoHostEnv) {
		t.Fatalf("not in a private network namespace (%q): refusing to make sockets", ns)
	}
	if os.Getpid() != 1 {
		t.Fatalf("pid %d: not the first process of a private pid namespace", os.Getpid())
	}
	// Descriptors the test binary inherited without close-on-exec would
	// be inherited by every program it starts.
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

// Proc is a process a test started, with the lines it prints.
type Proc struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser
	lines chan []string
}

// StartProc starts argv with stdin a pipe (or the file given) and
// extra files as descriptors 3 and up; it is killed when the test ends.
func StartProc(t *testing.T, stdin *os.File, extra []*os.File, env []string, argv ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan []string, 64)}
	p.Cmd.Stderr = os.Stderr
	p.Cmd.ExtraFiles = extra
	if env != nil {
		p.Cmd.Env = append(os.Environ(), env...)
	}
	var err error
	if stdin != nil {
		p.Cmd.Stdin = stdin
	} else if p.Stdin, err = p.Cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- strings.Fields(sc.Text())
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		if p.Cmd.Process.Kill() == nil {
			p.Cmd.Wait()
		}
	})
	return p
}

// Expect waits (bounded) for the process's next line, which must start
// with word, and returns its numbers.
func (p *Proc) Expect(t *testing.T, word string) []int {
	t.Helper()
	select {
	case f, ok := <-p.lines:
		if !ok || len(f) == 0 || f[0] != word {
			t.Fatalf("%v: printed %q, want %s …", p.Cmd.Args, f, word)
		}
		var nums []int
		for _, s := range f[1:] {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%v: printed %q", p.Cmd.Args, f)
			}
			nums = append(nums, n)
		}
		return nums
	case <-time.After(isoWait):
		t.Fatalf("%v: nothing printed in %s", p.Cmd.Args, isoWait)
	}
	return nil
}

// Eventually retries cond every 20ms for up to 10s.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output runs an outside tool (bounded in time) and returns its stdout.
func Output(t *testing.T, argv ...string) string {
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

// SSUsers returns, for the ss rows whose local address is local, the
// holders ss names in users:(("comm",pid=N,fd=M),…) as "comm/pid/fd".
func SSUsers(ssOut, local string) []string {
	var out []string
	re := regexp.MustCompile(`\("([^"]*)",pid=(\d+),fd=(\d+)\)`)
	for _, line := range strings.Split(ssOut, "\n") {
		f := strings.Fields(line)
		match := false
		for _, w := range f {
			if w == local {
				match = true
			}
		}
		if !match {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1]+"/"+m[2]+"/"+m[3])
		}
	}
	return out
}

// BuildC builds one of the C helpers under testdata (fdholder/fdholder.c)
// with the machine's compiler: without one the test skips, or fails when
// RequireEnv is set.
func BuildC(t *testing.T, source string) string {
	t.Helper()
	bin, err := cbuild.Build(cbuild.Source(source))
	if errors.Is(err, cbuild.ErrNoCompiler) && os.Getenv(RequireEnv) == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
