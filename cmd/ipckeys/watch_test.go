package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/cbuild"
	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/reftool"
)

// TestWatchUsage asserts watch's usage errors: exit 2 and one line saying
// what to fix, before anything is loaded into the kernel.
func TestWatchUsage(t *testing.T) {
	dir := t.TempDir()
	same := filepath.Join(dir, "same")
	for _, tc := range []struct {
		args []string
		want string // the whole of stderr
	}{
		{[]string{"watch", "--for", "-1s"}, "ipckeys: watch: --for -1s: give a positive duration (10s, 5m)\n"},
		{[]string{"watch", "extra"}, "ipckeys: watch takes no arguments: filter with --pid, --exe, --cgroup or --ipc-ns\n"},
		{[]string{"watch", "--hooks", "kprobe"}, "ipckeys: watch: --hooks \"kprobe\": give libc (the default) or syscalls\n"},
		{[]string{"watch", "--ipc-ns", "net:[4026531840]"}, "ipckeys: watch: --ipc-ns: IPC namespace \"net:[4026531840]\": give it as ipc:[INODE] (as ls -l /proc/PID/ns/ipc shows it), its inode number, or a path such as /proc/PID/ns/ipc\n"},
		{[]string{"watch", "--ipc-ns", "/proc/self/ns/net"}, "ipckeys: watch: --ipc-ns: IPC namespace \"/proc/self/ns/net\": not an IPC namespace (give /proc/PID/ns/ipc or a bind mount of one)\n"},
		{[]string{"watch", "-o", "manifest=" + same}, "ipckeys: watch: -o manifest=FILE writes what --learn learnt: give --learn and a file\n"},
		{[]string{"watch", "--learn", "-o", "manifest=-"}, "ipckeys: watch: -o manifest=FILE writes what --learn learnt: give --learn and a file\n"},
		{[]string{"watch", "--learn"}, "ipckeys: watch: --learn needs -o manifest=FILE, where the manifest is written\n"},
		{[]string{"watch", "-o", "events", "-o", "jsonl"}, "ipckeys: watch: -o events and -o jsonl: give one event stream\n"},
		{[]string{"watch", "-o", "jsonl=" + same}, "ipckeys: watch: -o jsonl=" + same + ": the event stream goes to standard output (redirect it)\n"},
		{[]string{"watch", "--learn", "-o", "manifest=" + same, "-o", "json=" + same},
			"ipckeys: -o manifest=" + same + " and -o json=" + same + " are the same file: give each its own file\n"},
		// The manifest's file is checked before the watch starts.
		{[]string{"watch", "--learn", "-o", "manifest=" + filepath.Join(dir, "none", "m")}, ""},
		{[]string{"watch", "--for", "soon"}, ""},
		{[]string{"watch", "-o", "xml"}, ""},
		{[]string{"watch", "--fail-on", "sometimes"}, ""},
		{[]string{"watch", "--pid", "x"}, ""},
		{[]string{"watch", "--bogus"}, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, nil, &stdout, &stderr)
		msg := stderr.String()
		if code != exitUsage || stdout.Len() != 0 {
			t.Errorf("ipckeys %s: exit %d, stdout %q; want exit 2 and nothing on stdout", strings.Join(tc.args, " "), code, stdout.String())
		}
		if tc.want != "" && msg != tc.want {
			t.Errorf("ipckeys %s:\n%q\nwant\n%q", strings.Join(tc.args, " "), msg, tc.want)
		}
		if !strings.HasPrefix(msg, "ipckeys: ") || strings.Count(msg, "\n") != 1 {
			t.Errorf("ipckeys %s: error is not one 'ipckeys:' line: %q", strings.Join(tc.args, " "), msg)
		}
	}
	if _, err := os.Stat(same); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run left %s behind: %v", same, err)
	}
	for _, args := range [][]string{{"watch", "--help"}, {"help", "watch"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, nil, &stdout, &stderr); code != exitClean || !strings.HasPrefix(stdout.String(), "Usage: ipckeys watch ") || stderr.Len() != 0 {
			t.Errorf("ipckeys %s: exit %d, stdout %.40q, stderr %q", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
	}
}

// TestWatchUnprivileged runs the real binary as nobody: it exits 2 with one
// line naming the capabilities it lacks.
func TestWatchUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal("needs root to run ipckeys as nobody")
		}
		t.Skip("needs root to run ipckeys as nobody")
	}
	code, stdout, stderr := unprivileged(t)("watch", "--for", "1s")
	want := "ipckeys: watch needs CAP_SYS_ADMIN: run as root, or give ipckeys CAP_SYS_ADMIN (the kernel opens the uprobe on ftok only with it; CAP_BPF and CAP_PERFMON are not enough)\n"
	if code != exitUsage || stderr != want || stdout != "" {
		t.Errorf("watch as nobody: exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, want)
	}
}

// TestWatchMatchesBpftrace runs bpftrace (the reference) and ipckeys watch
// side by side over two programs that derive one key from two files and
// shmget it: both must see the same ftok calls (path, proj, key) and the
// same shmget calls (key, size, result). bpftrace reaches the syscall
// tracepoints through tracefs, mounted in the test's own mount namespace.
func TestWatchMatchesBpftrace(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	bpftrace, err := exec.LookPath("bpftrace")
	if err != nil {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal("bpftrace (Debian package bpftrace) is the reference and is not installed")
		}
		t.Skip("bpftrace is not installed")
	}
	alpha, beta := nstest.BuildC(t, "../watch/testdata/alpha.c"), nstest.BuildC(t, "../watch/testdata/beta.c")
	libc := cLibrary(t, alpha)
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		t.Fatalf("mount tracefs in the test's mount namespace: %v", err)
	}
	dir := t.TempDir()
	a, b := makeInodeCollision(t, dir)
	warm, end := touch(t, dir, "warm"), touch(t, dir, "end")

	// The probes print only the test's programs' calls: the arguments at
	// entry, the result at return, each with the thread; every program
	// makes one call of each, so the thread pairs them.
	filter := `/comm == "alpha" || comm == "beta"/`
	script := strings.NewReplacer("LIBC", libc, "FILTER", filter).Replace(`
uprobe:LIBC:ftok FILTER { printf("ftok-enter %d %s %s %d\n", tid, comm, str(arg0), arg1); }
uretprobe:LIBC:ftok FILTER { printf("ftok-exit %d %x\n", tid, retval & 0xffffffff); }
tracepoint:syscalls:sys_enter_shmget FILTER { printf("shmget-enter %d %s %x %d\n", tid, comm, args->key & 0xffffffff, args->size); }
tracepoint:syscalls:sys_exit_shmget FILTER { printf("shmget-exit %d %d\n", tid, args->ret); }
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bt := exec.CommandContext(ctx, bpftrace, "-e", script)
	// Room for the test's paths (64 by default); much more exceeds the
	// BPF stack.
	bt.Env = append(os.Environ(), "BPFTRACE_STRLEN=120")
	bt.Cancel = func() error { return bt.Process.Signal(os.Interrupt) }
	bt.WaitDelay = 10 * time.Second
	var btErr bytes.Buffer
	bt.Stderr = &btErr
	btOut := startLines(t, bt)

	report := filepath.Join(dir, "report.json")
	w := startWatch(t, "watch", "--for", "50s", "-o", "jsonl", "-o", "json="+report)

	// Both are ready when both see a call.
	both := func() string {
		return show("bpftrace", btOut, &btErr) + "\n" + show("ipckeys watch", w.out, &w.stderr)
	}
	untilSeen(t, both, func() { runC(t, alpha, warm, "1", "4096") },
		func() bool { btOut.alive(t, both); return btOut.has(" alpha " + warm + " 1") },
		func() bool { return w.out.has(`"path":"` + warm + `"`) })
	outA := runC(t, alpha, a, "108", "4096")
	outB := runC(t, beta, b, "108", "8192")
	untilSeen(t, both, func() { runC(t, beta, end, "2", "4096") },
		func() bool { return btOut.has(" beta " + end + " 2") },
		func() bool { return w.out.has(`"path":"` + end + `"`) })
	time.Sleep(200 * time.Millisecond) // what other CPUs still hold
	if err := interruptUntilExit(bt); err != nil {
		t.Fatalf("bpftrace: %v\n%s", err, btErr.String())
	}
	code, werr := w.stop(t)
	if code != exitFindings || werr != "" {
		t.Errorf("watch: exit %d, stderr %q; want 1 (a runtime-collision) and nothing on stderr", code, werr)
	}

	key := strings.Fields(outA)[0]
	if key != strings.Fields(outB)[0] || strings.Fields(outB)[2] != strconv.Itoa(int(syscall.EINVAL)) {
		t.Fatalf("the programs did not collide: %q, %q", outA, outB)
	}
	key = hex8(key)
	want := []string{
		fmt.Sprintf("ftok alpha %s 108 %s", a, key),
		fmt.Sprintf("shmget alpha %s 4096 %s", key, strings.Fields(outA)[1]),
		fmt.Sprintf("ftok beta %s 108 %s", b, key),
		fmt.Sprintf("shmget beta %s 8192 -22", key),
	}
	slices.Sort(want)
	// The warm-up and end calls ran until both saw them, a number of
	// times each could see differently: only the test's calls count.
	for _, side := range []struct {
		name  string
		calls []string
	}{{"bpftrace", bpftraceCalls(btOut.all())}, {"ipckeys watch", calls(w.out.all(), watchCall)}} {
		got := keepTest(side.calls, a, b)
		if !slices.Equal(got, want) {
			t.Errorf("%s saw:\n%s\nwant:\n%s", side.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	rep, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep), `"code": "runtime-collision"`) && !strings.Contains(string(rep), `"code":"runtime-collision"`) {
		t.Errorf("the report names no runtime-collision:\n%s", rep)
	}
}

// TestWatchLearnSemaphore watches two programs that share a semaphore set
// (semget, then semop) and a third that uses a segment, learns the
// manifest, and checks it: both programs are named as the set's users, in
// the events and in the manifest; scan --live with the learnt manifest
// passes on the same system; and a deviation is reported: a program run
// as another user on the set's key (watch, unexpected-user), and a key
// file replaced by another (scan).
func TestWatchLearnSemaphore(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	writer, reader := nstest.BuildC(t, "../watch/testdata/writer.c"), nstest.BuildC(t, "../watch/testdata/reader.c")
	alpha := nstest.BuildC(t, "../watch/testdata/alpha.c")
	dir := publicDir(t) // nobody runs reader here later
	lock, seg, warm := touch(t, dir, "lock.key"), touch(t, dir, "seg.key"), touch(t, dir, "warm")
	pub := filepath.Join(dir, "reader")
	copyFile(t, reader, pub)
	learnt := filepath.Join(dir, "learnt.manifest")

	w := startWatch(t, "watch", "--for", "50s", "--learn", "-o", "manifest="+learnt, "-o", "jsonl")
	w.warmUp(t, alpha, warm)
	outW := runC(t, writer, lock, "115", "666")
	outR := runC(t, pub, lock, "115", "666")
	outA := runC(t, alpha, seg, "109", "4096")
	semKey, semID := hex8(strings.Fields(outW)[0]), strings.Fields(outW)[1]
	if outW != outR || strings.Fields(outW)[2] != "0" || strings.Fields(outA)[2] != "0" {
		t.Fatalf("writer and reader did not share the set: %q, %q (%q)", outW, outR, outA)
	}
	w.waitFor(t, `"call":"semtimedop"`, `"comm":"reader"`)
	code, werr := w.stop(t)
	if code != exitClean || werr != "" {
		t.Fatalf("watch --learn: exit %d, stderr %q", code, werr)
	}
	got := calls(w.out.all(), watchCall)
	for _, prog := range []string{"writer", "reader"} {
		for _, c := range []string{
			fmt.Sprintf("semget %s %s 1 %s", prog, semKey, semID),
			// glibc's semop is the semtimedop system call.
			fmt.Sprintf("semtimedop %s %s 1 0", prog, semKey),
		} {
			if !slices.Contains(got, c) {
				t.Errorf("the events lack %q:\n%s", c, strings.Join(got, "\n"))
			}
		}
	}
	m, err := os.ReadFile(learnt)
	if err != nil {
		t.Fatal(err)
	}
	// The warm-up segment, whose key came from ftok too, is a channel.
	// alpha attaches nothing: its segments' nattch is 0. The set's users
	// are both executables, sorted.
	sorted := slices.Sorted(slices.Values([]string{writer, pub}))
	wantM := fmt.Sprintf(`# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner  exe=...
# used by %[1]s
alpha-shm %[2]s 0x1 shm 0 root exe=%[1]s
# used by %[1]s
alpha-shm-2 %[3]s 0x6d shm 0 root exe=%[1]s
# used by %[4]s, %[5]s
writer-sem %[6]s 0x73 sem - root exe=%[7]s exe=%[8]s
`, alpha, warm, seg, writer, pub, lock, sorted[0], sorted[1])
	if string(m) != wantM {
		t.Errorf("learnt manifest:\n%s\nwant:\n%s", m, wantM)
	}

	// The manifest describes this system: scan --live passes.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--live", "-m", learnt}, nil, &stdout, &stderr); code != exitClean {
		t.Errorf("scan --live -m learnt: exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}

	// A program on the set's key as another user: unexpected-user.
	w = startWatch(t, "watch", "--for", "50s", "-m", learnt, "--fail-on", "warning", "-o", "jsonl", "-o", "text")
	w.warmUp(t, alpha, warm)
	if out := asNobody(t, pub, lock, "115", "666"); out != outW {
		t.Fatalf("reader as nobody: %q, want %q", out, outW)
	}
	w.waitFor(t, `"call":"semtimedop"`, `"uid":65534`)
	code, werr = w.stop(t)
	if code != exitFindings || werr != "" {
		t.Errorf("watch -m learnt, reader as nobody: exit %d, stderr %q; want 1", code, werr)
	}
	if !w.out.has(fmt.Sprintf("channel writer-sem (key 0x%s, owner root) was used by %s (pid ", semKey, pub)) {
		t.Errorf("no unexpected-user for reader as nobody:\n%s", strings.Join(w.out.all(), "\n"))
	}

	// The key file replaced by another: scan reports the channel.
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	touch(t, dir, "other")
	touch(t, dir, "lock.key")
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"scan", "--live", "-m", learnt, "--fail-on", "warning", "-o", "text"}, nil, &stdout, &stderr)
	drift := fmt.Sprintf("warning: key-drift 0x%s: semaphore set id %s has key 0x%s: the proj and device byte of channel writer-sem (%s, proj 115 's'", semKey, semID, semKey, lock)
	if code != exitFindings || !strings.Contains(stdout.String(), drift) {
		t.Errorf("scan --live -m learnt after lock.key was replaced: exit %d, want 1 and %q\n%s%s", code, drift, stdout.String(), stderr.String())
	}
}

// TestWatchLearnSegment learns a segment's channel while processes of one
// program attach it: one attached before the watch started, then another
// that attaches and forks, so that one, then three processes hold it. The
// learnt line names that program's executable and the range 1-3, and
// scan --live passes on it. Then a process of another executable (a copy
// of the same program) attaching the segment is an unexpected-user,
// named by its executable: from watch -m, which sees its calls, and from
// scan, which sees its attachment.
func TestWatchLearnSegment(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	holder := nstest.BuildC(t, "holder/holder.c")
	alpha := nstest.BuildC(t, "../watch/testdata/alpha.c")
	dir := publicDir(t)
	seg, warm := touch(t, dir, "seg.key"), touch(t, dir, "warm")
	app, intruder := filepath.Join(dir, "app"), filepath.Join(dir, "intruder")
	copyFile(t, holder, app)
	copyFile(t, holder, intruder)
	learnt := filepath.Join(dir, "learnt.manifest")
	steps := []string{"shmftok", seg, "120", "4096", "0600", "attach", "last"}

	first := holdAt(t, app, steps...) // attached before the watch: 1 process
	w := startWatch(t, "watch", "--for", "50s", "--learn", "-o", "manifest="+learnt, "-o", "jsonl")
	w.warmUp(t, alpha, warm)
	second := holdAt(t, app, append(steps, "fork")...) // and 2 more: 3
	if len(second.pids) != 2 || second.key != first.key || second.shm != first.shm {
		t.Fatalf("the holders did not share one segment: %+v, %+v", first, second)
	}
	w.waitFor(t, `"call":"shmat"`, fmt.Sprintf(`"pid":%d,`, second.pid()))
	m := w.learnt(t, learnt)
	// Processes of app were attached from 1 (first alone) to 3 (first,
	// second and its child) while the watch ran; only second's calls
	// were seen, and they name app.
	wantM := fmt.Sprintf(`# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner  exe=...
# used by %[1]s
alpha-shm %[2]s 0x1 shm 0 root exe=%[1]s
# used by %[3]s
app-shm %[4]s 0x78 shm 1-3 root exe=%[3]s
`, alpha, warm, app, seg)
	if string(m) != wantM {
		t.Errorf("learnt manifest:\n%s\nwant:\n%s", m, wantM)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--live", "-m", learnt}, nil, &stdout, &stderr); code != exitClean {
		t.Errorf("scan --live -m learnt: exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}

	// first goes, a process of another executable comes: still 3
	// attached, one of them not app.
	first.stop(t)
	w = startWatch(t, "watch", "--for", "50s", "-m", learnt, "--fail-on", "warning", "-o", "jsonl", "-o", "text")
	w.warmUp(t, alpha, warm)
	other := holdAt(t, intruder, steps...)
	w.waitFor(t, `"call":"shmat"`, fmt.Sprintf(`"pid":%d,`, other.pid()))
	code, werr := w.stop(t)
	if code != exitFindings || werr != "" {
		t.Errorf("watch -m learnt, intruder attaching: exit %d, stderr %q; want 1", code, werr)
	}
	key := fmt.Sprintf("0x%08x", uint32(first.key))
	byWatch := fmt.Sprintf("warning: unexpected-user %s: channel app-shm (key %s, exe=%s) was used by %s (pid %d, intruder, user root): shmget from %s, not a declared executable",
		key, key, app, intruder, other.pid(), intruder)
	if !w.out.has(byWatch) {
		t.Errorf("watch names no unexpected-user %q:\n%s", byWatch, strings.Join(w.out.all(), "\n"))
	}

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"scan", "--live", "-m", learnt, "-o", "json"}, nil, &stdout, &stderr)
	var rep struct {
		Findings []struct{ Code, Severity, Key, Message string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != exitClean {
		t.Fatalf("scan --live -m learnt -o json: exit %d (want 0: the findings are warnings), %v\n%s%s", code, err, stdout.String(), stderr.String())
	}
	var codes []string
	for _, f := range rep.Findings {
		codes = append(codes, f.Code)
		if f.Code != "unexpected-user" {
			continue
		}
		head := fmt.Sprintf("channel app-shm (%s, proj 120 'x', ", seg)
		tail := fmt.Sprintf(") declares exe=%s, but process %d (intruder, exe %s) is attached to its segment id %d (key %s): another program uses the channel's key (it computes the same key, or was given the segment's id); find out why, or add exe=%s to the channel if it is one of the channel's programs",
			app, other.pid(), intruder, first.shm, key, intruder)
		if f.Severity != "warning" || f.Key != key || !strings.HasPrefix(f.Message, head) || !strings.HasSuffix(f.Message, tail) {
			t.Errorf("scan's unexpected-user: %s %s %s\nwant warning %s %s…%s", f.Severity, f.Key, f.Message, key, head, tail)
		}
	}
	// The warm-up segment, which nothing attaches and whose creator has
	// ended, is leaked; the app segment's 3 processes are within 1-3.
	slices.Sort(codes)
	if want := []string{"stale-object", "unexpected-user"}; !slices.Equal(codes, want) {
		t.Errorf("scan's findings %v, want %v:\n%s", codes, want, stdout.String())
	}
}

// TestWatchLearnOtherNamespace learns a segment of another IPC namespace
// than the watch's: its attach count is read by entering that namespace
// through the process seen calling there. Two processes hold the segment
// from before the watch; the one seen only looks it up, so the count is 2
// throughout.
func TestWatchLearnOtherNamespace(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	for _, tool := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (util-linux) makes and enters the other IPC namespace: %v", tool, err)
		}
	}
	holder := nstest.BuildC(t, "holder/holder.c")
	alpha := nstest.BuildC(t, "../watch/testdata/alpha.c")
	dir := publicDir(t)
	far, warm := touch(t, dir, "far.key"), touch(t, dir, "warm")
	app := filepath.Join(dir, "app")
	copyFile(t, holder, app)
	learnt := filepath.Join(dir, "learnt.manifest")

	// unshare executes app in the process it started: the holder is that
	// process, in a namespace of its own, with the child it forks.
	pair := holdAt(t, "unshare", "--ipc", app, "shmftok", far, "120", "4096", "0600", "attach", "last", "fork")
	w := startWatch(t, "watch", "--for", "50s", "--learn", "-o", "manifest="+learnt, "-o", "jsonl")
	w.warmUp(t, alpha, warm)
	look := holdAt(t, "nsenter", fmt.Sprintf("--ipc=/proc/%d/ns/ipc", pair.pid()), app, "shmftok", far, "120", "4096", "0600")
	if look.shm != pair.shm || look.key != pair.key {
		t.Fatalf("the holders did not share one segment: %+v, %+v", pair, look)
	}
	w.waitFor(t, `"call":"shmget"`, fmt.Sprintf(`"pid":%d,`, look.pid()))
	m := w.learnt(t, learnt)
	wantM := fmt.Sprintf(`# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner  exe=...
# used by %[1]s
alpha-shm %[2]s 0x1 shm 0 root exe=%[1]s
# used by %[3]s
app-shm %[4]s 0x78 shm 2 root exe=%[3]s
`, alpha, warm, app, far)
	if string(m) != wantM {
		t.Errorf("learnt manifest:\n%s\nwant:\n%s", m, wantM)
	}
}

// interruptUntilExit ends cmd with SIGINT, sent again every half second
// until it exits: bpftrace 0.17 sometimes goes on after one (about one
// run in six here: the signal caught, bpftrace back in epoll_wait for
// good), as when it arrives outside its wait for events.
func interruptUntilExit(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}

// heldAt is a holder process (testdata/holder/holder.c) run from a copy
// of the program at a path of the test's choosing, so that it runs that
// executable, and the children it forked.
type heldAt struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pids  []int // the holder and its forked children, in the order they got ready
	key   int32 // the key shmftok computed
	shm   int   // the segment it got
}

// holdAt starts bin with the holder's steps and waits until it and every
// child it forked are ready; it ends when the test does.
func holdAt(t *testing.T, bin string, steps ...string) *heldAt {
	t.Helper()
	h := &heldAt{cmd: exec.Command(bin, steps...)}
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h.cmd.Stderr = os.Stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.stop(t) })
	want := 1 << strings.Count(strings.Join(steps, " ")+" ", "fork ")
	sc := bufio.NewScanner(out)
	for len(h.pids) < want && sc.Scan() {
		f := strings.Fields(sc.Text())
		n, err := 0, error(nil)
		if len(f) == 2 {
			n, err = strconv.Atoi(f[1])
		}
		if len(f) != 2 || err != nil {
			t.Fatalf("%s printed %q", bin, sc.Text())
		}
		switch f[0] {
		case "ready":
			h.pids = append(h.pids, n)
		case "key":
			h.key = int32(n)
		case "shm":
			h.shm = n
		}
	}
	if len(h.pids) < want {
		t.Fatalf("%s %v: %d of %d processes got ready", bin, steps, len(h.pids), want)
	}
	go io.Copy(io.Discard, out)
	return h
}

// pid is the holder's, the process that made the calls before any fork.
func (h *heldAt) pid() int { return h.cmd.Process.Pid }

// stop closes the holder's stdin, which ends it and its children.
func (h *heldAt) stop(t *testing.T) {
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("%s: %v", h.cmd.Path, err)
	}
}

// watchRun is ipckeys watch running as a process of its own: this test
// binary, called ipckeys.
type watchRun struct {
	cmd    *exec.Cmd
	out    *lineLog
	stderr bytes.Buffer
}

func startWatch(t *testing.T, args ...string) *watchRun {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &watchRun{cmd: &exec.Cmd{Path: self, Args: append([]string{"ipckeys"}, args...)}}
	w.cmd.Stderr = &w.stderr
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	w.out = startLines(t, w.cmd)
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	return w
}

// warmUp runs alpha's ftok and shmget of warm until the watch prints
// them: its probes are attached.
func (w *watchRun) warmUp(t *testing.T, alpha, warm string) {
	t.Helper()
	untilSeen(t, func() string { return show("ipckeys watch", w.out, &w.stderr) }, func() { runC(t, alpha, warm, "1", "64") },
		func() bool { return w.out.has(`"path":"` + warm + `"`) })
}

// waitFor waits until a line of the watch holds every string.
func (w *watchRun) waitFor(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !w.printed(parts) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s, no line holds %s:\n%s", strings.Join(parts, " and "), show("ipckeys watch", w.out, &w.stderr))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// printed reports whether a line holds every part.
func (w *watchRun) printed(parts []string) bool {
	{
		for _, l := range w.out.all() {
			n := 0
			for _, p := range parts {
				if strings.Contains(l, p) {
					n++
				}
			}
			if n == len(parts) {
				return true
			}
		}
		return false
	}
}

// stop ends the watch as an operator does (SIGINT) and returns its exit
// status and standard error.
func (w *watchRun) stop(t *testing.T) (int, string) {
	t.Helper()
	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), w.stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, w.stderr.String()
	case <-time.After(20 * time.Second):
		w.cmd.Process.Kill()
		t.Fatalf("watch did not end within 20s of SIGINT")
	}
	return 0, ""
}

// learnt stops a watch --learn, which must pass, and returns the
// manifest it wrote.
func (w *watchRun) learnt(t *testing.T, path string) string {
	t.Helper()
	code, werr := w.stop(t)
	if code != exitClean || werr != "" {
		t.Fatalf("watch --learn: exit %d, stderr %q", code, werr)
	}
	m, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(m)
}

// lineLog collects the lines a process prints.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// startLines starts cmd and collects its standard output.
func startLines(t *testing.T, cmd *exec.Cmd) *lineLog {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &lineLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
		}
		io.Copy(io.Discard, out)
	}()
	return l
}

// alive fails the test when the process has ended.
func (l *lineLog) alive(t *testing.T, show func() string) {
	t.Helper()
	select {
	case <-l.done:
		t.Fatalf("ended early:\n%s", show())
	default:
	}
}

func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func (l *lineLog) has(s string) bool {
	for _, line := range l.all() {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// untilSeen runs trigger until every seen reports true: a probe attached
// a moment after the process started misses the first calls.
func untilSeen(t *testing.T, what func() string, trigger func(), seen ...func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		trigger()
		for range 10 {
			all := true
			for _, s := range seen {
				all = all && s()
			}
			if all {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Fatalf("after 30s: %s", what())
}

// show is what a failing side by side test prints of a process.
func show(name string, l *lineLog, stderr *bytes.Buffer) string {
	return fmt.Sprintf("%s printed:\n%s\nstderr:\n%s", name, strings.Join(l.all(), "\n"), stderr.String())
}

// bpftraceCalls pairs the entry and exit lines bpftrace printed by thread
// into "ftok COMM PATH PROJ KEY" and "shmget COMM KEY SIZE RESULT", sorted.
func bpftraceCalls(lines []string) []string {
	enter := map[string]string{}
	exit := map[string]string{}
	for _, l := range lines {
		call, rest, _ := strings.Cut(l, " ")
		tid, rest, _ := strings.Cut(rest, " ")
		switch call {
		case "ftok-enter", "shmget-enter":
			enter[strings.TrimSuffix(call, "-enter")+" "+tid] = rest
		case "ftok-exit", "shmget-exit":
			exit[strings.TrimSuffix(call, "-exit")+" "+tid] = rest
		}
	}
	var out []string
	for id, args := range enter {
		call, _, _ := strings.Cut(id, " ")
		result, ok := exit[id]
		if !ok {
			out = append(out, call+" (no exit) "+args)
			continue
		}
		f := strings.Fields(args)
		switch {
		case call == "ftok" && len(f) >= 3:
			n := len(f)
			out = append(out, fmt.Sprintf("ftok %s %s %s %s", f[0], strings.Join(f[1:n-1], " "), f[n-1], hex8(result)))
		case call == "shmget" && len(f) == 3:
			out = append(out, fmt.Sprintf("shmget %s %s %s %s", f[0], hex8(f[1]), f[2], result))
		default:
			out = append(out, call+" (unread) "+args)
		}
	}
	slices.Sort(out)
	return out
}

// watchCall reads a JSON line of ipckeys watch the same way: ftok COMM
// PATH PROJ KEY, and for the other calls CALL COMM KEY SIZE RESULT.
func watchCall(line string) (string, bool) {
	var e struct {
		Call   string
		Comm   string
		Path   string
		Proj   int
		Key    string
		Size   uint64
		Result int64
	}
	if json.Unmarshal([]byte(line), &e) != nil || e.Call == "" {
		return "", false
	}
	key := hex8(e.Key)
	if e.Call == "ftok" {
		return fmt.Sprintf("ftok %s %s %d %s", e.Comm, e.Path, e.Proj, key), true
	}
	return fmt.Sprintf("%s %s %s %d %d", e.Call, e.Comm, key, e.Size, e.Result), true
}

// hex8 writes a key given in hex, with or without 0x, as eight hex
// digits; what is not a key stays as it is, to show in a failure.
func hex8(s string) string {
	k, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	if err != nil {
		return s
	}
	return fmt.Sprintf("%08x", k)
}

// calls reads the lines it can, sorted.
func calls(lines []string, read func(string) (string, bool)) []string {
	var out []string
	for _, l := range lines {
		if c, ok := read(l); ok {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// keepTest keeps the ftok calls on the test's files and the shmget calls
// on the keys they returned.
func keepTest(calls []string, files ...string) []string {
	keys := map[string]bool{}
	for _, c := range calls {
		f := strings.Fields(c)
		if f[0] == "ftok" && slices.Contains(files, f[2]) {
			keys[f[4]] = true
		}
	}
	var out []string
	for _, c := range calls {
		f := strings.Fields(c)
		if f[0] == "ftok" && slices.Contains(files, f[2]) || f[0] == "shmget" && keys[f[2]] {
			out = append(out, c)
		}
	}
	return out
}

// cLibrary returns the C library a program runs with, as ldd says.
func cLibrary(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "libc.so.6" && f[1] == "=>" {
			return f[2]
		}
	}
	t.Fatalf("ldd %s names no libc.so.6:\n%s", bin, out)
	return ""
}

// makeInodeCollision creates files in dir until two have inodes that
// agree in their low 16 bits, and returns those two (a.key, b.key).
func makeInodeCollision(t *testing.T, dir string) (a, b string) {
	t.Helper()
	work := filepath.Join(dir, "inodes")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	seen := map[uint64]string{}
	for i := range 300_000 {
		p := filepath.Join(work, strconv.Itoa(i))
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
			continue
		}
		a, b = filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
		if err := os.Rename(other, a); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, b); err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	t.Fatalf("no low-16-bit inode collision in %s", dir)
	return "", ""
}

func touch(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// runC runs one of the C programs and returns what it printed.
func runC(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%s: %v", argv, err)
	}
	return string(out)
}

// asNobody runs a C program as nobody.
func asNobody(t *testing.T, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s as nobody: %v", argv, err)
	}
	return string(out)
}

// TestWatchIPCNamespaceFilter: --ipc-ns keeps the calls made in one IPC
// namespace, here given as the bind mount unshare made of it (a path,
// checked to be an IPC namespace), and drops another namespace's.
func TestWatchIPCNamespaceFilter(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	for _, tool := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (util-linux) makes and enters the IPC namespaces: %v", tool, err)
		}
	}
	alpha := nstest.BuildC(t, "../watch/testdata/alpha.c")
	dir := publicDir(t)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("a private mount for the namespace file: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	nsFile := touch(t, dir, "ipcns")
	runC(t, "unshare", "--ipc="+nsFile, "true")
	t.Cleanup(func() { unix.Unmount(nsFile, unix.MNT_DETACH) })
	kept, dropped := touch(t, dir, "kept.key"), touch(t, dir, "dropped.key")
	w := startWatch(t, "watch", "--for", "50s", "--ipc-ns", nsFile, "-o", "jsonl")
	round := func(warm string) {
		untilSeen(t, func() string { return show("ipckeys watch", w.out, &w.stderr) }, func() {
			runC(t, "unshare", "--ipc", alpha, dropped, "1", "64")
			runC(t, "nsenter", "--ipc="+nsFile, alpha, warm, "1", "64")
		}, func() bool { return w.out.has(`"path":"` + warm + `"`) })
	}
	round(kept)
	// A second round: the other namespace's calls of this one were made
	// with every probe attached, before the kept calls that were seen.
	again := touch(t, dir, "again.key")
	round(again)
	code, werr := w.stop(t)
	if code != exitClean || werr != "" {
		t.Fatalf("watch: exit %d, stderr %q", code, werr)
	}
	for _, l := range w.out.all() {
		if strings.Contains(l, dropped) {
			t.Errorf("a call of the other IPC namespace was kept: %s", l)
		}
	}
}

// TestWatchNamesUnseenPrograms: a statically linked program maps no C
// library, so the default hooks (uprobes in the C libraries) cannot see
// its calls; the watch says so, naming it, in a check-incomplete warning
// (exit 0 at the default --fail-on error, 1 at warning). With --hooks
// syscalls every program is seen and nothing is said.
func TestWatchNamesUnseenPrograms(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	gcc := reftool.Need(t, "gcc", "gcc")
	static := filepath.Join(t.TempDir(), "static")
	if out, err := exec.Command(gcc, "-O2", "-static", "-o", static, cbuild.Source("../watch/testdata/static.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc -static: %v\n%s", err, out)
	}
	p := nstest.StartProc(t, nil, nil, nil, static, "5eed")
	if got := p.Expect(t, "shmget"); got[1] != 0 {
		t.Fatalf("shmget failed: errno %d", got[1])
	}
	want := fmt.Sprintf("the System V IPC calls of 1 running process using no C library the watch probes (static or Go programs) were not seen: %d static (%s); watch with --hooks syscalls to see them (the system call tracepoints, about 10 ns on every system call of the host)", p.Cmd.Process.Pid, static)
	for _, tc := range []struct {
		args []string
		code int
		want []string // the check-incomplete messages
	}{
		{nil, exitClean, []string{want}},
		{[]string{"--fail-on", "warning"}, exitFindings, []string{want}},
		{[]string{"--hooks", "syscalls"}, exitClean, nil},
	} {
		w := startWatch(t, append([]string{"watch", "--for", "1s", "-o", "none", "-o", "json"}, tc.args...)...)
		if err := w.cmd.Wait(); err != nil && tc.code == exitClean {
			t.Fatalf("watch %v: %v, stderr %q", tc.args, err, w.stderr.String())
		}
		if code := w.cmd.ProcessState.ExitCode(); code != tc.code {
			t.Errorf("watch %v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, w.stderr.String())
		}
		var doc struct {
			Findings []struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(strings.Join(w.out.all(), "\n")), &doc); err != nil {
			t.Fatalf("watch %v: %v", tc.args, err)
		}
		var got []string
		for _, f := range doc.Findings {
			if f.Code == "check-incomplete" {
				got = append(got, f.Message)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("watch %v: check-incomplete %q, want %q", tc.args, got, tc.want)
		}
	}
}
