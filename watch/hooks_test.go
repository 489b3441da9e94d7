package watch_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/watch"
)

// hookModes are the ways of observing the system calls; the live tests
// run in each.
var hookModes = []watch.HookMode{watch.HookLibc, watch.HookPerCall, watch.HookRaw}

// tracepointHooks is what the kernel lists of each system call hook.
var tracepointHooks = map[watch.HookMode][]string{
	watch.HookPerCall: {
		"tracepoint sys_exit_msgctl", "tracepoint sys_exit_msgget", "tracepoint sys_exit_msgrcv", "tracepoint sys_exit_msgsnd",
		"tracepoint sys_exit_semctl", "tracepoint sys_exit_semget", "tracepoint sys_exit_semop", "tracepoint sys_exit_semtimedop",
		"tracepoint sys_exit_shmat", "tracepoint sys_exit_shmctl", "tracepoint sys_exit_shmdt", "tracepoint sys_exit_shmget",
	},
	watch.HookRaw: {"raw_tracepoint sys_exit"},
}

// wantHooks is what the kernel should list of mode's system call hooks:
// for HookLibc, a uprobe with the call's number as its cookie after each
// syscall instruction binutils' objdump shows in the IPC functions of the
// libraries libs; where objdump shows a cmp or test there followed by a
// conditional jump, on the jump, which the kernel emulates.
func wantHooks(t *testing.T, mode watch.HookMode, libs []watch.Library) []string {
	t.Helper()
	if mode != watch.HookLibc {
		return tracepointHooks[mode]
	}
	var want []string
	for _, lib := range libs {
		for _, line := range strings.Split(objdumpSites(t, lib.Open), "\n") {
			// site FUNC NR ADDR OFFSET
			f := strings.Fields(line)
			if len(f) != 5 || f[0] != "site" {
				continue
			}
			addr, err1 := strconv.ParseUint(f[3], 0, 64)
			off, err2 := strconv.ParseUint(f[4], 0, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("objdumpReport: %q", line)
			}
			out := toolOutput(t, "objdump", "-d", "-w", "--no-show-raw-insn",
				fmt.Sprintf("--start-address=%#x", addr), fmt.Sprintf("--stop-address=%#x", addr+16), lib.Open)
			var insts [][]string
			for _, l := range strings.Split(out, "\n") {
				if m := objdumpInst.FindStringSubmatch(l); m != nil {
					insts = append(insts, m[1:])
				}
			}
			if len(insts) >= 2 && regexp.MustCompile(`^(cmp|test)\s`).MatchString(insts[0][1]) &&
				regexp.MustCompile(`^j(a|ae|b|be|e|ne|g|ge|l|le|s|ns|o|no|p|np)\s`).MatchString(insts[1][1]) {
				jump, _ := strconv.ParseUint(insts[1][0], 16, 64)
				off += jump - addr
			}
			want = append(want, fmt.Sprintf("uprobe %#x nr=%s", off, f[2]))
		}
	}
	slices.Sort(want)
	return want
}

var objdumped sync.Map // library path → objdumpReport

// objdumpSites is objdumpReport, once per library.
func objdumpSites(t *testing.T, lib string) string {
	t.Helper()
	if r, ok := objdumped.Load(lib); ok {
		return r.(string)
	}
	r := objdumpReport(t, lib)
	objdumped.Store(lib, r)
	return r
}

// kernelHooks returns the system call hooks process pid has BPF links
// on, as the kernel describes the links in /proc/PID/fdinfo: "tracepoint
// NAME" for a perf event on a tracepoint, "raw_tracepoint NAME", and
// "uprobe OFFSET nr=COOKIE" for each uprobe with a cookie, of a perf
// event or of an uprobe_multi link; sorted. The uprobes on ftok, which
// have no cookie, are left out. It also returns the files of the
// uprobe_multi links.
func kernelHooks(t *testing.T, pid string) (hooks, multiFiles []string) {
	t.Helper()
	for _, fd := range bpfLinks(t, pid) {
		info, rows := fdinfoRows(t, pid, fd)
		switch {
		case info["link_type"] == "raw_tracepoint":
			hooks = append(hooks, "raw_tracepoint "+info["tp_name"])
		case info["link_type"] == "perf" && info["event_type"] == "tracepoint":
			hooks = append(hooks, "tracepoint "+info["tp_name"])
		case info["link_type"] == "perf" && info["event_type"] == "uprobe" && info["cookie"] != "0":
			hooks = append(hooks, "uprobe "+info["offset"]+" nr="+info["cookie"])
		case info["link_type"] == "uprobe_multi":
			multiFiles = append(multiFiles, info["path"])
			// cookie	 offset	 ref_ctr_offset, one row a uprobe
			for _, row := range rows {
				if f := strings.Fields(row); len(f) == 3 && f[0] != "cookie" {
					hooks = append(hooks, "uprobe "+f[1]+" nr="+f[0])
				}
			}
		}
	}
	slices.Sort(hooks)
	slices.Sort(multiFiles)
	return hooks, multiFiles
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
	info, _ := fdinfoRows(t, pid, fd)
	return info
}

// fdinfoRows reads /proc/PID/fdinfo/FD: its "key: value" lines, and the
// others.
func fdinfoRows(t *testing.T, pid, fd string) (map[string]string, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, "fdinfo", fd))
	if err != nil {
		t.Fatal(err)
	}
	info := map[string]string{}
	var rows []string
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[k] = strings.TrimSpace(v)
		} else if line != "" {
			rows = append(rows, line)
		}
	}
	return info, rows
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
	checkHooks(t, w, "self", mode)
	return w
}

// checkHooks checks that process pid, which runs w, has the system call
// hooks of mode attached: for HookLibc, in uprobe_multi links on the real
// files of the watch's libraries, or in a uprobe each.
func checkHooks(t *testing.T, w *watch.Watcher, pid string, mode watch.HookMode) {
	t.Helper()
	want := wantHooks(t, mode, w.Libraries())
	got, files := kernelHooks(t, pid)
	if !slices.Equal(got, want) {
		w.Close()
		t.Fatalf("hooks %s: the kernel lists\n%s\nwant\n%s", mode, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if files == nil {
		return
	}
	var libs []string
	for _, lib := range w.Libraries() {
		real, err := filepath.EvalSymlinks(lib.Open)
		if err != nil {
			t.Fatal(err)
		}
		libs = append(libs, real)
	}
	slices.Sort(libs)
	if !slices.Equal(files, libs) {
		w.Close()
		t.Fatalf("hooks %s: uprobe_multi links on %q, want %q", mode, files, libs)
	}
}

// TestWatchEveryCall makes each of the twelve IPC system calls, with
// failing calls and control calls the watch skips (IPC_STAT, GETVAL),
// from a C program through the C library and from a thread of the test
// with no C library, and compares what the watch saw, in each mode, with
// the arguments passed and the results the kernel returned. The uprobes
// of HookLibc see the C library's calls only; the system call hooks see
// both. HookLibc runs twice: in uprobe_multi links, and in a uprobe per
// site as on kernels before 6.6.
func TestWatchEveryCall(t *testing.T) {
	type hookCase struct {
		name   string
		mode   watch.HookMode
		single bool
	}
	for _, c := range []hookCase{
		{"libc", watch.HookLibc, false},
		{"libc-uprobe-each", watch.HookLibc, true},
		{"per-call", watch.HookPerCall, false},
		{"raw", watch.HookRaw, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !nstest.RunIsolated(t) {
				return
			}
			if c.single {
				defer watch.UseUprobeMulti(false)()
			}
			bin := build(t, "everycall.c")
			w := startIn(t, c.mode)
			defer w.Close()
			events := collect(w)
			tid, direct := everyCall(t)
			pid, viaLibc := libcCalls(t, bin)
			if c.mode == watch.HookLibc {
				direct = nil
			}
			nstest.Eventually(t, "the watch sees every call of the C program", func() bool {
				return len(callsOf(events(), pid)) >= len(viaLibc)
			})
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// The test's own calls were made first: the watch has read
			// any event of theirs by now.
			all := events()
			if got := callsOf(all, pid); !slices.Equal(got, viaLibc) {
				t.Errorf("the watch saw of the C program:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(viaLibc, "\n"))
			}
			if got := callsOf(all, tid); !slices.Equal(got, direct) {
				t.Errorf("the watch saw of the test's own system calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(direct, "\n"))
			}
		})
	}
}

// libcCalls runs bin, built from testdata/everycall.c, which makes the
// calls through the C library, and returns its pid and the events the
// watch should record, from the arguments and results it printed.
func libcCalls(t *testing.T, bin string) (pid int, want []string) {
	t.Helper()
	cmd := exec.Command(bin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// CALL ID KEY SIZE FLAGS CMD RESULT
		f := strings.Fields(line)
		var n [6]int64
		for i := range n {
			if len(f) != 7 {
				break
			}
			if n[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
				break
			}
		}
		if len(f) != 7 || err != nil {
			t.Fatalf("%s printed %q", bin, line)
		}
		want = append(want, callLine(f[0], int(n[0]), int32(n[1]), uint64(n[2]), int(n[3]), int(n[4]), n[5]))
	}
	return cmd.Process.Pid, want
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
// seen in a mount table and that nothing stays attached after the watch,
// with the system call hooks and with the uprobes (in uprobe_multi links,
// or one each): after Close, and after the process running a watch was
// killed (SIGKILL). The test's mounts are made shared first, as systemd
// makes them on a host, so that a mount made in a namespace the watch
// forgot to make private would show here.
func TestWatchLeavesNothing(t *testing.T) {
	if c := os.Getenv("WATCH_TEST_CHILD"); c != "" {
		watchUntilKilled(c)
		return
	}
	for _, c := range []string{"per-call", "libc", "libc-uprobe-each"} {
		t.Run(c, func(t *testing.T) { testLeavesNothing(t, c) })
	}
}

// leaveCase returns the hook mode of a case of TestWatchLeavesNothing,
// after choosing how its uprobes are attached.
func leaveCase(c string) watch.HookMode {
	if c == "libc-uprobe-each" {
		watch.UseUprobeMulti(false)
		return watch.HookLibc
	}
	return watch.HookMode(c)
}

func testLeavesNothing(t *testing.T, c string) {
	if !nstest.RunIsolated(t) {
		return
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	mode := leaveCase(c)

	w := startIn(t, mode)
	noTracefs(t, self)
	ids := linkIDs(t, self, mode)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	linksGone(t, "after Close", ids)
	noTracefs(t, self)

	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchLeavesNothing$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WATCH_TEST_CHILD="+c)
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
	checkHooks(t, w, child, mode)
	noTracefs(t, self)
	noTracefs(t, child)
	ids = linkIDs(t, child, mode)
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
func watchUntilKilled(c string) {
	w, err := watch.Start(watch.Options{Hooks: leaveCase(c)})
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

// linkIDs returns the ids of process pid's BPF links, which runs a
// watch in mode.
func linkIDs(t *testing.T, pid string, mode watch.HookMode) []link.ID {
	t.Helper()
	var ids []link.ID
	for _, fd := range bpfLinks(t, pid) {
		id, err := strconv.ParseUint(fdinfo(t, pid, fd)["link_id"], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, link.ID(id))
	}
	if min := map[watch.HookMode]int{watch.HookPerCall: 12 + 2, watch.HookLibc: 1 + 2}[mode]; len(ids) < min {
		t.Fatalf("process %s has %d BPF links, want at least %d (the system call hooks' and ftok's)", pid, len(ids), min)
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
// Hooks must say why it is used. The uprobes need no tracefs: by default,
// the watch uses them there.
func TestWatchFallsBack(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	// A seccomp filter refuses fsopen, as container runtimes' profiles
	// do: no tracefs can be mounted, not even one that no mount table
	// lists.
	w, err := startRefusingFsopen(watch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := kernelHooks(t, "self")
	if want := wantHooks(t, watch.HookLibc, w.Libraries()); !slices.Equal(got, want) {
		t.Errorf("without fsopen, by default: the kernel lists %q, want %q", got, want)
	}
	w.Close()
	if w, err = startRefusingFsopen(watch.Options{Hooks: watch.HookSyscalls}); err != nil {
		t.Fatal(err)
	}
	got, _ = kernelHooks(t, "self")
	hooks := w.Hooks()
	w.Close()
	want := "raw tracepoint sys_exit (per-call tracepoints unavailable: mount a private tracefs: operation not permitted): adds about 30 ns to every system call on the host"
	if !slices.Equal(got, tracepointHooks[watch.HookRaw]) || hooks != want {
		t.Errorf("without fsopen, hooks syscalls: the kernel lists %q, Hooks says\n%s\nwant %q and\n%s", got, hooks, tracepointHooks[watch.HookRaw], want)
	}

	for env, want := range map[string]string{
		"raw":      "raw tracepoint sys_exit (chosen with IPCKEYS_WATCH_HOOKS=raw): adds about 30 ns to every system call on the host",
		"syscalls": "per-call tracepoints syscalls:sys_exit_shmget ... sys_exit_msgctl: other system calls pay only the kernel's check for traced calls, about 10 ns",
	} {
		t.Setenv(watch.HooksEnv, env)
		mode := watch.HookMode(env)
		if mode == watch.HookSyscalls {
			mode = watch.HookPerCall
		}
		w := startIn(t, watch.HookAuto, mode)
		hooks = w.Hooks()
		w.Close()
		if hooks != want {
			t.Errorf("%s=%s: Hooks says\n%s\nwant\n%s", watch.HooksEnv, env, hooks, want)
		}
	}

	t.Setenv(watch.HooksEnv, "kprobe")
	if w, err := watch.Start(watch.Options{}); err == nil || err.Error() != "IPCKEYS_WATCH_HOOKS=kprobe: give libc, syscalls, per-call or raw" {
		if w != nil {
			w.Close()
		}
		t.Errorf("%s=kprobe: %v", watch.HooksEnv, err)
	}
	t.Setenv(watch.HooksEnv, "")
	if w, err := watch.Start(watch.Options{Hooks: "kprobe"}); err == nil || err.Error() != `watch hooks "kprobe": give "libc", "syscalls", "per-call" or "raw"` {
		if w != nil {
			w.Close()
		}
		t.Errorf("hooks kprobe: %v", err)
	}
}

// startRefusingFsopen starts a watch on a thread whose seccomp filter
// refuses fsopen. Filters belong to a thread: Start runs on one that ends
// with its goroutine.
func startRefusingFsopen(opt watch.Options) (*watch.Watcher, error) {
	type started struct {
		w   *watch.Watcher
		err error
	}
	done := make(chan started)
	go func() {
		runtime.LockOSThread()
		if err := refuseFsopen(); err != nil {
			done <- started{err: err}
			return
		}
		w, err := watch.Start(opt)
		done <- started{w, err}
	}()
	s := <-done
	return s.w, s.err
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
