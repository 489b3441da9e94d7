// Package nstest runs tests that create System V IPC objects inside a
// private IPC namespace (CLONE_NEWIPC), never in the host's.
//
// A test calls Run first; Run re-executes the test binary for just that test
// in a new IPC namespace and returns false in the original process, true in
// the re-executed one, where the body goes on:
//
//	func TestLive(t *testing.T) {
//		if !nstest.Run(t) {
//			return
//		}
//		h := nstest.Hold(t, nil, "shm", "0x1234", "4096", "0600", "attach", "0")
//		…
//	}
//
// Objects are made by holder processes (testdata/holder/holder.c) that keep
// them, and their attachments, until the test ends. Both refuse to run
// outside a namespace Run made.
package nstest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/internal/cbuild"
)

const (
	roleEnv   = "IPCKEYS_NSTEST_RUN"     // the test a re-executed binary runs
	hostNSEnv = "IPCKEYS_NSTEST_HOST_NS" // the namespace it must not be in
	// RequireEnv makes tests that need root fail instead of skipping
	// (CI runs as root and sets it).
	RequireEnv = "IPCKEYS_REQUIRE_ROOT_TESTS"
)

func namespace() string {
	link, _ := os.Readlink("/proc/self/ns/ipc")
	return link
}

// Inside reports whether this process is a re-executed test in a private
// namespace.
func Inside() bool {
	return os.Getenv(roleEnv) != "" && namespace() != os.Getenv(hostNSEnv)
}

// Run re-executes the calling test in a new IPC namespace. It returns true
// in the re-executed process and false in the original one, after reporting
// the inner run's outcome. Without root it skips (or fails under RequireEnv).
func Run(t *testing.T) bool {
	t.Helper()
	if os.Getenv(roleEnv) == t.Name() {
		if !Inside() {
			t.Fatalf("not in a private IPC namespace (still %s): refusing to create IPC objects", namespace())
		}
		return true
	}
	if os.Geteuid() != 0 {
		msg := "needs root to create a private IPC namespace (CLONE_NEWIPC)"
		if os.Getenv(RequireEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexpQuote(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), roleEnv+"="+t.Name(), hostNSEnv+"="+namespace())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a private IPC namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in a private IPC namespace the test did not pass:\n%s", out)
	}
	t.Logf("ran in a private IPC namespace:\n%s", out)
	return false
}

func regexpQuote(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Holder is a running holder process (and the children it forked).
type Holder struct {
	PIDs  []int // the holder first, then forked children in the order they got ready
	Shm   []int // ids it created, in order
	Sem   []int
	Msg   []int
	Keys  []int32 // keys shmftok computed
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// Hold starts a holder with the given steps (see holder.c) and waits until
// it and every child it forked are ready. cred runs it as another user
// (nil: as the test). It is stopped when the test ends.
func Hold(t *testing.T, cred *syscall.Credential, steps ...string) *Holder {
	t.Helper()
	h, err := Start(cred, steps...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	return h
}

// Start is Hold for callers without a *testing.T; the caller stops it.
func Start(cred *syscall.Credential, steps ...string) (*Holder, error) {
	return StartIn(nil, cred, steps...)
}

// StartIn starts the holder through a launcher command (such as unshare
// with its options, then the holder's path and steps appended), for a
// holder in namespaces of its own. launcher nil runs the holder directly.
func StartIn(launcher []string, cred *syscall.Credential, steps ...string) (*Holder, error) {
	if !Inside() {
		return nil, errors.New("nstest: holder outside a private IPC namespace: call nstest.Run first")
	}
	bin, err := cbuild.Build(cbuild.Source("holder/holder.c"))
	if err != nil {
		return nil, err
	}
	if cred != nil {
		// The holder must be reachable by the other user.
		if err := os.Chmod(bin, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
			return nil, err
		}
	}
	argv := append(append(append([]string{}, launcher...), bin), steps...)
	h := &Holder{cmd: exec.Command(argv[0], argv[1:]...)}
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	h.cmd.Dir = "/"
	h.cmd.Stderr = os.Stderr
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	want := 1
	for _, s := range steps {
		if s == "fork" {
			want *= 2
		}
	}
	sc := bufio.NewScanner(stdout)
	for len(h.PIDs) < want && sc.Scan() {
		f := strings.Fields(sc.Text())
		n, err := 0, error(nil)
		if len(f) == 2 {
			n, err = strconv.Atoi(f[1])
		}
		if len(f) != 2 || err != nil {
			h.Stop()
			return nil, fmt.Errorf("holder printed %q", sc.Text())
		}
		switch f[0] {
		case "ready":
			h.PIDs = append(h.PIDs, n)
		case "shm":
			h.Shm = append(h.Shm, n)
		case "sem":
			h.Sem = append(h.Sem, n)
		case "msg":
			h.Msg = append(h.Msg, n)
		case "key":
			h.Keys = append(h.Keys, int32(n))
		}
	}
	if len(h.PIDs) < want {
		h.Stop()
		return nil, fmt.Errorf("holder %v: %d of %d processes got ready", steps, len(h.PIDs), want)
	}
	go io.Copy(io.Discard, stdout)
	return h, nil
}

// Stop closes the holder's stdin, which ends it and its children, and
// waits for it.
func (h *Holder) Stop() {
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	if err := h.cmd.Wait(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintf(os.Stderr, "holder: %v\n", err)
	}
}
