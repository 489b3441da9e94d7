package watch_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/reftool"
	"github.com/ipckeys/ipckeys/watch"
)

// A statically linked program maps no C library: the uprobes do not see
// its shmget, and Uncovered names it; the per-call tracepoints see it.
// The same program linked dynamically, started after it and running
// meanwhile, is seen in both, and not named.
func TestWatchStaticProgram(t *testing.T) {
	for _, mode := range []watch.HookMode{watch.HookLibc, watch.HookPerCall} {
		t.Run(string(mode), func(t *testing.T) { testStaticProgram(t, mode) })
	}
}

func testStaticProgram(t *testing.T, mode watch.HookMode) {
	if !nstest.RunIsolated(t) {
		return
	}
	static := compile(t, "gcc", "gcc", "static.c", "static", "-static")
	dynamic := compile(t, "gcc", "gcc", "static.c", "dynamic")
	w := startIn(t, mode)
	defer w.Close()
	events := collect(w)
	ps := nstest.StartProc(t, nil, nil, nil, static, "5eed")
	staticID := ps.Expect(t, "shmget")
	pd := nstest.StartProc(t, nil, nil, nil, dynamic, "5eee")
	dynamicID := pd.Expect(t, "shmget")
	if staticID[1] != 0 || dynamicID[1] != 0 {
		t.Fatalf("shmget failed: errno %d, %d", staticID[1], dynamicID[1])
	}
	nstest.Eventually(t, "the watch sees the dynamic program's shmget", func() bool {
		return len(callsOfExe(events(), dynamic)) == 1
	})
	uncovered, err := w.Uncovered("")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d shmget(0x00005eed, 4096, 01600) = %d", ps.Cmd.Process.Pid, staticID[0]),
		fmt.Sprintf("%d shmget(0x00005eee, 4096, 01600) = %d", pd.Cmd.Process.Pid, dynamicID[0]),
	}
	var wantUncovered []watch.UncoveredProcess
	if mode == watch.HookLibc {
		want = want[1:]
		wantUncovered = []watch.UncoveredProcess{{PID: ps.Cmd.Process.Pid, Comm: "static", Exe: static}}
	}
	if got := callsOfExe(events(), static, dynamic); !slices.Equal(got, want) {
		t.Errorf("calls seen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Equal(uncovered, wantUncovered) {
		t.Errorf("Uncovered: %+v, want %+v", uncovered, wantUncovered)
	}
	if gaps := w.Gaps(); mode != watch.HookLibc && gaps != nil {
		t.Errorf("Gaps with %s: %q", mode, gaps)
	}
}

// With musl, whose msgsnd and msgrcv make their system call in a helper
// shared with every cancellable call, Gaps names them: a musl program's
// msgsnd is not seen, its shmget and msgget are, and Uncovered does not
// name it. The functions missing are those in which objdump shows no
// syscall instruction and no jump to another function with one.
func TestWatchMuslGaps(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	needFile(t, muslPath, "musl")
	prog := compile(t, "musl-gcc", "musl-tools", "muslcalls.c", "muslcalls")
	w := startIn(t, watch.HookLibc)
	defer w.Close()
	var wantGaps []string
	for _, lib := range w.Libraries() {
		var missing []string
		for _, line := range strings.Split(objdumpSites(t, lib.Open), "\n") {
			// missing FUNC ADDR via=
			if f := strings.Fields(line); len(f) == 4 && f[0] == "missing" && f[2] != "0x0" && f[3] == "via=" {
				missing = append(missing, f[1])
			}
		}
		switch len(missing) {
		case 0:
		case 1:
			wantGaps = append(wantGaps, missing[0]+" of "+lib.Path+" makes its system call in a helper shared with other calls: its calls are not seen")
		default:
			names := strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1]
			wantGaps = append(wantGaps, names+" of "+lib.Path+" make their system call in a helper shared with other calls: their calls are not seen")
		}
	}
	if gaps := w.Gaps(); !slices.Equal(gaps, wantGaps) || len(gaps) == 0 {
		t.Errorf("Gaps:\n%s\nwant:\n%s", strings.Join(gaps, "\n"), strings.Join(wantGaps, "\n"))
	}
	events := collect(w)
	p := nstest.StartProc(t, nil, nil, nil, prog, "5eed", "5eee")
	ids := p.Expect(t, "ready")
	if slices.Contains(ids, -1) {
		t.Fatalf("the musl program's calls failed: %v", ids)
	}
	nstest.Eventually(t, "the watch sees the musl program's last shmget", func() bool {
		return len(callsOfExe(events(), prog)) >= 3
	})
	uncovered, err := w.Uncovered("")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pid := p.Cmd.Process.Pid
	want := []string{
		fmt.Sprintf("%d shmget(0x00005eed, 4096, 01600) = %d", pid, ids[0]),
		fmt.Sprintf("%d msgget(0x00000000, 0600) = %d", pid, ids[1]),
		fmt.Sprintf("%d shmget(0x00005eee, 4096, 01600) = %d", pid, ids[2]),
	}
	if got := callsOfExe(events(), prog); !slices.Equal(got, want) {
		t.Errorf("the musl program's calls seen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if uncovered != nil {
		t.Errorf("Uncovered: %+v, want none", uncovered)
	}
}

// Where no C library found has an IPC function to probe, the watch falls
// back to the system call hooks and says why; nothing is uncovered and
// there are no gaps. Each C library is replaced, in the test's mount
// namespace, by one with ftok alone.
func TestWatchNoLibcFallsBack(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	gcc := reftool.Need(t, "gcc", "gcc")
	fake := filepath.Join(t.TempDir(), "libftok.so")
	if out, err := exec.Command(gcc, "-O2", "-Wall", "-shared", "-fPIC", "-o", fake, "testdata/ftokonly.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	// The C libraries the watch looks for, and the one this test maps.
	libs := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib/libc.so.6", "/lib/ld-musl-x86_64.so.1"}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := watch.ParseMapsLibraries(strings.NewReader(string(maps)))
	covered := map[string]bool{}
	for _, lib := range append(libs, paths...) {
		real, err := filepath.EvalSymlinks(lib)
		if err != nil || covered[real] {
			continue
		}
		covered[real] = true
		if err := unix.Mount(fake, real, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind %s over %s: %v", fake, real, err)
		}
	}
	w, err := watch.Start(watch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	checkHooks(t, w, "self", watch.HookPerCall)
	var why []string
	for _, lib := range w.Libraries() {
		why = append(why, lib.Path+": it defines none of the IPC functions")
	}
	want := "per-call tracepoints syscalls:sys_exit_shmget ... sys_exit_msgctl (no C library's IPC functions can be probed: " +
		strings.Join(why, "; ") + "): other system calls pay only the kernel's check for traced calls, about 10 ns"
	if got := w.Hooks(); got != want || len(why) == 0 {
		t.Errorf("Hooks says\n%s\nwant\n%s", got, want)
	}
	if gaps := w.Gaps(); gaps != nil {
		t.Errorf("Gaps: %q", gaps)
	}
	if u, err := w.Uncovered(""); u != nil || err != nil {
		t.Errorf("Uncovered: %+v, %v", u, err)
	}
}

// compile builds testdata/src with the compiler cc (from package pkg)
// and flags into a program named name.
func compile(t *testing.T, cc, pkg, src, name string, flags ...string) string {
	t.Helper()
	path := reftool.Need(t, cc, pkg)
	bin := filepath.Join(t.TempDir(), name)
	args := append([]string{"-O2", "-Wall", "-o", bin, filepath.Join("testdata", src)}, flags...)
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return bin
}

// callsOfExe writes the system calls of the programs exes as "PID CALL".
func callsOfExe(events []watch.Event, exes ...string) []string {
	var out []string
	for _, e := range events {
		if e.Kind != watch.Ftok && slices.Contains(exes, e.Process.Exe) {
			out = append(out, strconv.Itoa(e.PID)+" "+e.Call())
		}
	}
	return out
}
