package watch_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/watch"
)

// hookModes are the two ways of observing the system calls; the live
// tests run in each.
var hookModes = []watch.HookMode{watch.HookPerCall, watch.HookRaw}

// wantHooks is what the kernel lists of each mode's system call hooks.
var wantHooks = map[watch.HookMode][]string{
	watch.HookPerCall: {
		"tracepoint sys_exit_msgctl", "tracepoint sys_exit_msgget", "tracepoint sys_exit_msgrcv", "tracepoint sys_exit_msgsnd",
		"tracepoint sys_exit_semctl", "tracepoint sys_exit_semget", "tracepoint sys_exit_semop", "tracepoint sys_exit_semtimedop",
		"tracepoint sys_exit_shmat", "tracepoint sys_exit_shmctl", "tracepoint sys_exit_shmdt", "tracepoint sys_exit_shmget",
	},
	watch.HookRaw: {"raw_tracepoint sys_exit"},
}

// kernelHooks returns the tracepoints process pid has BPF links on, as
// the kernel describes the links in /proc/PID/fdinfo: "tracepoint NAME"
// for a perf event on a tracepoint, "raw_tracepoint NAME"; sorted. The
// uprobes on ftok are left out.
func kernelHooks(t *testing.T, pid string) []string {
	t.Helper()
	var hooks []string
	for _, fd := range bpfLinks(t, pid) {
		info := fdinfo(t, pid, fd)
		switch {
		case info["link_type"] == "raw_tracepoint":
			hooks = append(hooks, "raw_tracepoint "+info["tp_name"])
		case info["link_type"] == "perf" && info["event_type"] == "tracepoint":
			hooks = append(hooks, "tracepoint "+info["tp_name"])
		}
	}
	slices.Sort(hooks)
	return hooks
}

// bpfLinks returns the descriptors of process pid that are BPF links.
func bpfLinks(t *testing.T, pid string) []string {
	t.Helper()
	dir := filepath.Join("/proc", pid, "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range entries {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == "anon_inode:bpf_link" {
			fds = append(fds, e.Name())
		}
	}
	return fds
}

func fdinfo(t *testing.T, pid, fd string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, "fdinfo", fd))
	if err != nil {
		t.Fatal(err)
	}
	info := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[k] = strings.TrimSpace(v)
		}
	}
	return info
}

// startIn starts a watch with the given hooks and checks with the kernel
// that the hooks attached are those of mode, or of attached when given.
func startIn(t *testing.T, mode watch.HookMode, attached ...watch.HookMode) *watch.Watcher {
	t.Helper()
	w, err := watch.Start(watch.Options{Hooks: mode})
	if err != nil {
		t.Fatal(err)
	}
	if len(attached) > 0 {
		mode = attached[0]
	}
	if got := kernelHooks(t, "self"); !slices.Equal(got, wantHooks[mode]) {
		w.Close()
		t.Fatalf("hooks %s: the kernel lists\n%s\nwant\n%s", mode, strings.Join(got, "\n"), strings.Join(wantHooks[mode], "\n"))
	}
	return w
}

// TestWatchEveryCall makes each of the twelve IPC system calls from one
// thread, with a failing get and control calls the watch skips (IPC_STAT),
// and compares what the watch saw, in each mode, with the arguments
// passed and the results the kernel returned.
func TestWatchEveryCall(t *testing.T) {
	for _, mode := range hookModes {
		t.Run(string(mode), func(t *testing.T) {
			if !nstest.RunIsolated(t) {
				return
			}
			w := startIn(t, mode)
			defer w.Close()
			events := collect(w)
			tid, want := everyCall(t)
			nstest.Eventually(t, "the watch sees every call", func() bool {
				return len(callsOf(events(), tid)) >= len(want)
			})
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := callsOf(events(), tid)
			if !slices.Equal(got, want) {
				t.Errorf("the watch saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// collect reads the watch's events until it is closed; the function it
// returns gives those read so far.
func collect(w *watch.Watcher) func() []watch.Event {
	ch := make(chan watch.Event, 1024)
	go func() {
		defer close(ch)
		for {
			e, err := w.Next()
			if err != nil {
				return
			}
			ch <- e
		}
	}()
	var events []watch.Event
	return func() []watch.Event {
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					return events
				}
				events = append(events, e)
			default:
				return events
			}
		}
	}
}

// callsOf writes thread tid's system call events as "call id= key= size=
// flags= cmd= ret=".
func callsOf(events []watch.Event, tid int) []string {
	var out []string
	for _, e := range events {
		if e.TID != tid || e.Kind == watch.Ftok {
			continue
		}
		// The key of the other calls is the watcher's enrichment, not
		// the kernel's record.
		var key int32
		if e.Kind.Get() {
			key = e.Key
		}
		out = append(out, callLine(e.Kind.String(), e.ID, key, e.Size, e.Flags, e.Cmd, e.Ret))
	}
	return out
}

func callLine(call string, id int, key int32, size uint64, flags, cmd int, ret int64) string {
	return fmt.Sprintf("%s id=%d key=%#x size=%d flags=%#o cmd=%d ret=%d", call, id, key, size, flags, cmd, ret)
}

// IPC commands as the kernel's uapi numbers them.
const (
	ipcRmid = 0
	ipcSet  = 1
	ipcStat = 2
	ipc64   = 0x100
	getVal  = 12
)

// everyCall makes the calls from one locked thread, and returns the
// thread and the events the watch should record, built from the
// arguments and the kernel's results.
func everyCall(t *testing.T) (tid int, want []string) {
	type result struct {
		tid  int
		want []string
		err  error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r result
		r.tid = unix.Gettid()
		r.want, r.err = makeEveryCall()
		done <- r
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.tid, r.want
}

func makeEveryCall() ([]string, error) {
	var want []string
	call := func(name string, nr uintptr, args ...uintptr) (int64, error) {
		var a [6]uintptr
		copy(a[:], args)
		r, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		if errno != 0 {
			return -int64(errno), fmt.Errorf("%s: %w", name, errno)
		}
		return int64(r), nil
	}
	const key, missing = 0x1badcafe, 0x2badcafe
	const create = unix.IPC_CREAT | 0o600
	var buf [512]byte // room for any *id_ds

	shm, err := call("shmget", unix.SYS_SHMGET, key, 4096, create)
	if err != nil {
		return nil, err
	}
	want = append(want, callLine("shmget", int(shm), key, 4096, create, 0, shm))
	// A failed get: recorded with the error.
	if r, err := call("shmget", unix.SYS_SHMGET, missing, 4096, 0); !errors.Is(err, syscall.ENOENT) {
		return nil, fmt.Errorf("shmget of a missing key: %d, %v", r, err)
	}
	want = append(want, callLine("shmget", 0, missing, 4096, 0, 0, -int64(syscall.ENOENT)))
	addr, err := call("shmat", unix.SYS_SHMAT, uintptr(shm), 0, unix.SHM_RDONLY)
	if err != nil {
		return nil, err
	}
	want = append(want, callLine("shmat", int(shm), 0, 0, unix.SHM_RDONLY, 0, addr))
	// IPC_STAT is not recorded.
	if _, err := call("shmctl", unix.SYS_SHMCTL, uintptr(shm), ipcStat, uintptr(unsafe.Pointer(&buf))); err != nil {
		return nil, err
	}
	if _, err := call("shmdt", unix.SYS_SHMDT, uintptr(addr)); err != nil {
		return nil, err
	}
	want = append(want, callLine("shmdt", -1, 0, 0, 0, 0, 0))
	// IPC_64 is masked off the command. The x86-64 system call refuses
	// it (only the ipc multiplexer and 32-bit calls take it), which
	// still makes an event.
	if r, err := call("shmctl", unix.SYS_SHMCTL, uintptr(shm), ipcRmid|ipc64, 0); !errors.Is(err, syscall.EINVAL) {
		return nil, fmt.Errorf("shmctl IPC_RMID|IPC_64: %d, %v", r, err)
	}
	want = append(want, callLine("shmctl", int(shm), 0, 0, 0, ipcRmid, -int64(syscall.EINVAL)))
	if _, err := call("shmctl", unix.SYS_SHMCTL, uintptr(shm), ipcRmid, 0); err != nil {
		return nil, err
	}
	want = append(want, callLine("shmctl", int(shm), 0, 0, 0, ipcRmid, 0))

	sem, err := call("semget", unix.SYS_SEMGET, key, 1, create)
	if err != nil {
		return nil, err
	}
	want = append(want, callLine("semget", int(sem), key, 1, create, 0, sem))
	ops := [2][3]int16{{0, 1, 0}, {0, -1, 0}} // struct sembuf: num, op, flg
	if _, err := call("semop", unix.SYS_SEMOP, uintptr(sem), uintptr(unsafe.Pointer(&ops)), 2); err != nil {
		return nil, err
	}
	want = append(want, callLine("semop", int(sem), 0, 2, 0, 0, 0))
	timeout := unix.Timespec{Sec: 1}
	if _, err := call("semtimedop", unix.SYS_SEMTIMEDOP, uintptr(sem), uintptr(unsafe.Pointer(&ops)), 2, uintptr(unsafe.Pointer(&timeout))); err != nil {
		return nil, err
	}
	want = append(want, callLine("semtimedop", int(sem), 0, 2, 0, 0, 0))
	if _, err := call("semctl", unix.SYS_SEMCTL, uintptr(sem), 0, getVal, 0); err != nil {
		return nil, err
	}
	if _, err := call("semctl", unix.SYS_SEMCTL, uintptr(sem), 0, ipcRmid, 0); err != nil {
		return nil, err
	}
	want = append(want, callLine("semctl", int(sem), 0, 0, 0, ipcRmid, 0))

	msq, err := call("msgget", unix.SYS_MSGGET, key, create)
	if err != nil {
		return nil, err
	}
	want = append(want, callLine("msgget", int(msq), key, 0, create, 0, msq))
	msg := struct {
		mtype int64
		text  [8]byte
	}{mtype: 1, text: [8]byte{'h', 'i'}}
	if _, err := call("msgsnd", unix.SYS_MSGSND, uintptr(msq), uintptr(unsafe.Pointer(&msg)), 2, 0); err != nil {
		return nil, err
	}
	want = append(want, callLine("msgsnd", int(msq), 0, 2, 0, 0, 0))
	n, err := call("msgrcv", unix.SYS_MSGRCV, uintptr(msq), uintptr(unsafe.Pointer(&msg)), 8, 0, 0)
	if err != nil {
		return nil, err
	}
	want = append(want, callLine("msgrcv", int(msq), 0, 8, 0, 0, n))
	if _, err := call("msgctl", unix.SYS_MSGCTL, uintptr(msq), ipcStat, uintptr(unsafe.Pointer(&buf))); err != nil {
		return nil, err
	}
	if _, err := call("msgctl", unix.SYS_MSGCTL, uintptr(msq), ipcSet, uintptr(unsafe.Pointer(&buf))); err != nil {
		return nil, err
	}
	want = append(want, callLine("msgctl", int(msq), 0, 0, 0, ipcSet, 0))
	if _, err := call("msgctl", unix.SYS_MSGCTL, uintptr(msq), ipcRmid, 0); err != nil {
		return nil, err
	}
	want = append(want, callLine("msgctl", int(msq), 0, 0, 0, ipcRmid, 0))
	return want, nil
}

// TestWatchLeavesNothing checks that the per-call hooks' tracefs is never
// seen in a mount table and that nothing stays attached after the watch:
// after Close, and after the process running a watch was killed
// (SIGKILL). The test's mounts are made shared first, as systemd makes
// them on a host, so that a mount made in a namespace the watch forgot
// to make private would show here.
func TestWatchLeavesNothing(t *testing.T) {
	if os.Getenv("WATCH_TEST_CHILD") == "1" {
		watchUntilKilled()
		return
	}
	if !nstest.RunIsolated(t) {
		return
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())

	w := startIn(t, watch.HookPerCall)
	noTracefs(t, self)
	ids := linkIDs(t, self)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	linksGone(t, "after Close", ids)
	noTracefs(t, self)

	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchLeavesNothing$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WATCH_TEST_CHILD=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	child := strconv.Itoa(cmd.Process.Pid)
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "watching ") {
		t.Fatalf("the child did not start its watch: %q, %v", line, err)
	}
	if got := kernelHooks(t, child); !slices.Equal(got, wantHooks[watch.HookPerCall]) {
		t.Fatalf("the child's hooks: %s", strings.Join(got, ", "))
	}
	noTracefs(t, self)
	noTracefs(t, child)
	ids = linkIDs(t, child)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the child: %v, want killed", err)
	}
	linksGone(t, "after SIGKILL", ids)
	noTracefs(t, self)
}

// watchUntilKilled is the child's part: it starts a watch and waits.
func watchUntilKilled() {
	w, err := watch.Start(watch.Options{Hooks: watch.HookPerCall})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("watching", w.Hooks())
	select {}
}

// noTracefs fails when a mount table of process pid, or of any of its
// threads, shows a tracefs, or a thread is in another mount namespace
// than the test.
func noTracefs(t *testing.T, pid string) {
	t.Helper()
	mine, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := filepath.Glob(filepath.Join("/proc", pid, "task", "*"))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %s: %v", pid, err)
	}
	for _, dir := range append([]string{filepath.Join("/proc", pid)}, tasks...) {
		if ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err != nil || ns != mine {
			t.Errorf("%s is in mount namespace %s, %v; the test in %s", dir, ns, err, mine)
		}
		b, err := os.ReadFile(filepath.Join(dir, "mountinfo"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, after, ok := strings.Cut(line, " - "); ok && strings.HasPrefix(after, "tracefs ") {
				t.Errorf("%s/mountinfo shows a tracefs: %s", dir, line)
			}
		}
	}
}

// linkIDs returns the ids of process pid's BPF links.
func linkIDs(t *testing.T, pid string) []link.ID {
	t.Helper()
	var ids []link.ID
	for _, fd := range bpfLinks(t, pid) {
		id, err := strconv.ParseUint(fdinfo(t, pid, fd)["link_id"], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, link.ID(id))
	}
	if len(ids) < len(wantHooks[watch.HookPerCall])+2 {
		t.Fatalf("process %s has %d BPF links, want the 12 tracepoints' and ftok's", pid, len(ids))
	}
	return ids
}

// linksGone waits until the kernel knows none of the links.
func linksGone(t *testing.T, when string, ids []link.ID) {
	t.Helper()
	nstest.Eventually(t, when+", the kernel releases the watch's links", func() bool {
		for _, id := range ids {
			l, err := link.NewFromID(id)
			if err == nil {
				l.Close()
				return false
			}
			if !errors.Is(err, unix.ENOENT) {
				t.Fatalf("link %d: %v", id, err)
			}
		}
		return true
	})
}

// TestWatchFallsBack starts watches where the per-call tracepoints cannot
// be used, or are not wanted: the kernel must list the raw tracepoint, and
// Hooks must say why it is used.
func TestWatchFallsBack(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	// A seccomp filter refuses fsopen, as container runtimes' profiles
	// do: no tracefs can be mounted, not even one that no mount table
	// lists. Filters belong to a thread: Start runs on one that ends
	// with its goroutine.
	started := make(chan error)
	var w *watch.Watcher
	go func() {
		runtime.LockOSThread()
		if err := refuseFsopen(); err != nil {
			started <- err
			return
		}
		var err error
		w, err = watch.Start(watch.Options{})
		started <- err
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	got, hooks := kernelHooks(t, "self"), w.Hooks()
	w.Close()
	want := "raw tracepoint sys_exit (per-call tracepoints unavailable: mount a private tracefs: operation not permitted): adds about 30 ns to every system call on the host"
	if !slices.Equal(got, wantHooks[watch.HookRaw]) || hooks != want {
		t.Errorf("without fsopen: the kernel lists %q, Hooks says\n%s\nwant %q and\n%s", got, hooks, wantHooks[watch.HookRaw], want)
	}

	t.Setenv(watch.HooksEnv, "raw")
	w = startIn(t, watch.HookAuto, watch.HookRaw)
	hooks = w.Hooks()
	w.Close()
	want = "raw tracepoint sys_exit (chosen with IPCKEYS_WATCH_HOOKS=raw): adds about 30 ns to every system call on the host"
	if hooks != want {
		t.Errorf("%s=raw: Hooks says\n%s\nwant\n%s", watch.HooksEnv, hooks, want)
	}

	t.Setenv(watch.HooksEnv, "kprobe")
	if w, err := watch.Start(watch.Options{}); err == nil || err.Error() != "IPCKEYS_WATCH_HOOKS=kprobe: give per-call or raw" {
		if w != nil {
			w.Close()
		}
		t.Errorf("%s=kprobe: %v", watch.HooksEnv, err)
	}
}

// refuseFsopen installs a seccomp filter on the calling thread that fails
// fsopen(2) with EPERM.
func refuseFsopen() error {
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_FSOPEN},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
}
