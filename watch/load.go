//go:build amd64

package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Options says what to watch.
type Options struct {
	// Proc is the procfs the processes and their C libraries are read
	// from; "" is /proc.
	Proc string
	// Libraries are C library files to probe besides those the running
	// processes map (for programs that start later with another libc).
	Libraries []string
	// Hooks forces how the system calls are observed; HookAuto leaves it
	// to HooksEnv, else to Start (HookLibc: uprobes in the C libraries,
	// the system call hooks when no library can be probed).
	Hooks HookMode
}

// Watcher holds what Start attached. Next and Dropped are for one
// goroutine; Close may be called from another, and ends a waiting Next.
type Watcher struct {
	objs      objects
	syscalls  *ebpf.Program // ipc_site, sys_exit_ipc or sys_exit
	hooks     string
	links     []link.Link
	rd        *ringbuf.Reader
	offset    time.Duration
	proc      string
	procs     *procCache
	objects   *tracker
	libraries []Library
	probed    []Library // those whose system call sites are probed (HookLibc)
	multi     bool      // in one uprobe_multi link per library
	gaps      []libraryGap
}

// libraryGap is a line of Gaps, with the C library it is about.
type libraryGap struct {
	lib  Library
	text string
}

// objects are the maps and ftok's programs. The system call program is
// loaded apart, once the hook is chosen, and shares the maps.
type objects struct {
	ipcwatchMaps
	FtokEnter *ebpf.Program `ebpf:"ftok_enter"`
	FtokExit  *ebpf.Program `ebpf:"ftok_exit"`
}

func (o *objects) Close() error {
	return errors.Join(o.FtokEnter.Close(), o.FtokExit.Close(), o.ipcwatchMaps.Close())
}

// Start checks the requirements, loads the programs and attaches them: a
// uprobe and uretprobe on ftok in each C library found, and for the
// system calls what the hook mode says (see HookMode): by default a
// uprobe after each system call instruction of the IPC functions of
// those libraries; else, or when no library can be probed, the per-call
// tracepoints syscalls:sys_exit_NAME of the twelve IPC calls or, when
// they cannot be used, the raw tracepoint sys_exit. Hooks says which. On
// error nothing stays attached.
func Start(opt Options) (_ *Watcher, err error) {
	if err := Requirements(); err != nil {
		return nil, err
	}
	mode, chosenBy, err := chooseHooks(opt.Hooks)
	if err != nil {
		return nil, err
	}
	proc := opt.Proc
	if proc == "" {
		proc = "/proc"
	}
	libs, err := FindLibraries(proc, opt.Libraries)
	if err != nil {
		return nil, err
	}
	var ns unix.Stat_t
	if err := unix.Stat(proc+"/self/ns/pid", &ns); err != nil {
		return nil, fmt.Errorf("read the watcher's pid namespace: %v (is %s mounted?)", err, proc)
	}
	spec, err := loadIpcwatch()
	if err != nil {
		return nil, err
	}
	if err := spec.Variables["pidns_dev"].Set(ns.Dev); err != nil {
		return nil, err
	}
	if err := spec.Variables["pidns_ino"].Set(ns.Ino); err != nil {
		return nil, err
	}
	w := &Watcher{proc: proc, procs: newProcCache(proc), objects: newTracker(proc), libraries: libs}
	if err := spec.LoadAndAssign(&w.objs, nil); err != nil {
		return nil, fmt.Errorf("load the BPF programs: %v", hint(err))
	}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	unprobed, err := w.attachLibraries(spec, mode == HookLibc)
	if err != nil {
		return nil, err
	}
	if mode != HookLibc || unprobed != "" {
		if err := w.attachSyscalls(spec, mode, chosenBy, unprobed); err != nil {
			return nil, err
		}
	}
	if w.rd, err = ringbuf.NewReader(w.objs.Events); err != nil {
		return nil, fmt.Errorf("read the event ring buffer: %v", err)
	}
	w.offset = clockOffset()
	return w, nil
}

// attachLibraries puts the ftok probes on each library and, with sites,
// ipc_site at the system call sites of their IPC functions. When no
// library's sites can be probed, it unloads ipc_site and returns why.
func (w *Watcher) attachLibraries(spec *ebpf.CollectionSpec, sites bool) (unprobed string, err error) {
	var site *ebpf.Program
	if sites {
		if w.multi = uprobeMulti(); w.multi {
			spec.Programs["ipc_site"].AttachType = ebpf.AttachTraceUprobeMulti
		}
		var prog struct {
			Program *ebpf.Program `ebpf:"ipc_site"`
		}
		if err := spec.LoadAndAssign(&prog, w.sharedMaps()); err != nil {
			return "", fmt.Errorf("load the BPF program ipc_site: %v", hint(err))
		}
		site, w.syscalls = prog.Program, prog.Program
	}
	var why []string
	n := 0
	for i := range w.libraries {
		probed, err := w.attachLibrary(&w.libraries[i], site)
		var none noSitesError
		switch {
		case errors.As(err, &none):
			why = append(why, none.Error())
			w.gaps = append(w.gaps, libraryGap{w.libraries[i], fmt.Sprintf("the IPC calls made through %s are not seen: %s", none.lib, none.why)})
		case err != nil:
			return "", err
		}
		n += probed
	}
	if !sites {
		return "", nil
	}
	if len(w.probed) == 0 {
		w.syscalls.Close()
		w.syscalls, w.gaps = nil, nil
		return "no C library's IPC functions can be probed: " + strings.Join(why, "; "), nil
	}
	libs := "libraries"
	if len(w.probed) == 1 {
		libs = "library"
	}
	w.hooks = fmt.Sprintf(libcNote, n, len(w.probed), libs)
	return "", nil
}

// attachLibrary puts the ftok probes on lib and, when site is not nil,
// site after each IPC system call of its IPC functions; it returns how
// many sites it probes, or a noSitesError when it probes none.
//
// The file is opened once: its sites are read from the descriptor, and
// the probes attached through /proc/self/fd/N, to the very file read. A
// path could name another file by then (an upgrade replaces the C
// library), and a uprobe at an offset read from another file would put
// a breakpoint in the middle of an instruction of every process using it.
func (w *Watcher) attachLibrary(lib *Library, site *ebpf.Program) (int, error) {
	f, err := os.Open(lib.Open)
	if err != nil {
		return 0, fmt.Errorf("open the C library %s: %v", lib.Path, err)
	}
	defer f.Close()
	ex, err := link.OpenExecutable(filepath.Join(w.proc, "self", "fd", strconv.Itoa(int(f.Fd()))))
	if err != nil {
		return 0, fmt.Errorf("open the C library %s: %v", lib.Path, err)
	}
	enter, err := ex.Uprobe("ftok", w.objs.FtokEnter, nil)
	if err != nil {
		return 0, fmt.Errorf("probe ftok in %s: %v", lib.Path, hint(err))
	}
	w.links = append(w.links, enter)
	exit, err := ex.Uretprobe("ftok", w.objs.FtokExit, nil)
	if err != nil {
		return 0, fmt.Errorf("probe ftok's return in %s: %v", lib.Path, hint(err))
	}
	w.links = append(w.links, exit)
	if site == nil {
		return 0, nil
	}
	rep, err := FindSyscallSites(f)
	if err != nil {
		return 0, noSitesError{lib.Path, err.Error()}
	}
	if len(rep.Sites) == 0 {
		return 0, noSitesError{lib.Path, noSites(rep)}
	}
	links, err := w.attachSites(ex, site, emulatedSites(f, rep.Sites))
	if err != nil {
		return 0, noSitesError{lib.Path, err.Error()}
	}
	w.links = append(w.links, links...)
	w.probed = append(w.probed, *lib)
	for _, g := range siteGaps(lib.Path, rep) {
		w.gaps = append(w.gaps, libraryGap{*lib, g})
	}
	return len(rep.Sites), nil
}

// attachSites runs site at each of sites of the library ex, with the
// number of the call made there as the attach cookie: in one uprobe_multi
// link (Linux 6.6) or, on older kernels, a uprobe each. One link detaches
// all its uprobes in one grace period of the kernel's: a uprobe each
// would take some 80 ms each, seconds for a C library's two dozen sites.
func (w *Watcher) attachSites(ex *link.Executable, site *ebpf.Program, sites []SyscallSite) ([]link.Link, error) {
	if w.multi {
		offsets, cookies := make([]uint64, len(sites)), make([]uint64, len(sites))
		for i, s := range sites {
			offsets[i], cookies[i] = s.Offset, uint64(s.Nr)
		}
		l, err := ex.UprobeMulti(nil, site, &link.UprobeMultiOptions{Addresses: offsets, Cookies: cookies})
		if err != nil {
			return nil, fmt.Errorf("probe the system calls of its IPC functions: %v", hint(err))
		}
		return []link.Link{l}, nil
	}
	links := make([]link.Link, 0, len(sites))
	for _, s := range sites {
		l, err := ex.Uprobe(s.Func, site, &link.UprobeOptions{Address: s.Offset, Cookie: uint64(s.Nr)})
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			return nil, fmt.Errorf("probe %s's system call at offset %#x: %v", s.Func, s.Offset, hint(err))
		}
		links = append(links, l)
	}
	return links, nil
}

// noSites says why a library has no site.
func noSites(rep SiteReport) string {
	for _, m := range rep.Missing {
		if m.Addr != 0 {
			return "none of its IPC functions makes its system call where a uprobe sees it"
		}
	}
	return "it defines none of the IPC functions"
}

// noSitesError says why a library's system call sites are not probed.
type noSitesError struct{ lib, why string }

func (e noSitesError) Error() string { return e.lib + ": " + e.why }

// attachSyscalls attaches the system call hook mode asks for;
// HookSyscalls, and HookLibc when Start falls back from it (unprobed says
// why), try the per-call tracepoints and fall back to the raw tracepoint.
// The description Hooks returns keeps why a hook was used: what chose it
// (chosenBy), or what could not be used.
func (w *Watcher) attachSyscalls(spec *ebpf.CollectionSpec, mode HookMode, chosenBy, unprobed string) error {
	if unprobed != "" {
		chosenBy = unprobed
	}
	if mode != HookRaw {
		err := w.attachPerCall(spec)
		if err == nil {
			why := ""
			if unprobed != "" {
				why = " (" + unprobed + ")"
			}
			w.hooks = fmt.Sprintf(perCallNote, why)
			return nil
		}
		if mode == HookPerCall {
			return fmt.Errorf("attach to the per-call syscall tracepoints: %v", err)
		}
		chosenBy = "per-call tracepoints unavailable: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		if unprobed != "" {
			chosenBy = unprobed + "; " + chosenBy
		}
	}
	var raw struct {
		Program *ebpf.Program `ebpf:"sys_exit"`
	}
	if err := spec.LoadAndAssign(&raw, w.sharedMaps()); err != nil {
		return fmt.Errorf("load the BPF program sys_exit: %v", hint(err))
	}
	w.syscalls = raw.Program
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_exit", Program: raw.Program})
	if err != nil {
		return fmt.Errorf("attach to the raw tracepoint sys_exit: %v", hint(err))
	}
	w.links = append(w.links, l)
	w.hooks = fmt.Sprintf(rawNote, chosenBy)
	return nil
}

// attachPerCall runs sys_exit_ipc on the tracepoints syscalls:sys_exit_NAME
// of the IPC calls. On error it leaves nothing loaded or attached.
func (w *Watcher) attachPerCall(spec *ebpf.CollectionSpec) (err error) {
	ids, err := syscallExitIDs()
	if err != nil {
		return err
	}
	var perCall struct {
		Program *ebpf.Program `ebpf:"sys_exit_ipc"`
	}
	if err := spec.LoadAndAssign(&perCall, w.sharedMaps()); err != nil {
		return fmt.Errorf("load the BPF program sys_exit_ipc: %v", err)
	}
	links := make([]link.Link, 0, len(ids))
	defer func() {
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			perCall.Program.Close()
		}
	}()
	for i, id := range ids {
		l, err := attachTracepoint(id, perCall.Program)
		if err != nil {
			return fmt.Errorf("attach to syscalls:sys_exit_%s: %v", ipcSyscalls[i], err)
		}
		links = append(links, l)
	}
	w.syscalls = perCall.Program
	w.links = append(w.links, links...)
	return nil
}

// sharedMaps makes a system call program write to the maps loaded with
// ftok's programs.
func (w *Watcher) sharedMaps() *ebpf.CollectionOptions {
	return &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		"events": w.objs.Events,
		"drops":  w.objs.Drops,
	}}
}

// Hooks describes in one line how the system calls are observed and what
// that costs the other system calls on the host; for a system call hook
// Start fell back to, also why it is used.
func (w *Watcher) Hooks() string { return w.hooks }

// Gaps names, one line per reason and C library, the IPC functions whose
// calls the uprobes do not see (musl's msgsnd and msgrcv make theirs in a
// helper shared with every cancellable call), and the libraries found
// whose sites could not be probed. Nil with the system call hooks, which
// see every call.
func (w *Watcher) Gaps() []string {
	var out []string
	for _, g := range w.gaps {
		out = append(out, g.text)
	}
	return out
}

// Coverage returns what the C library hooks could not see, reading the
// processes under the procfs at proc ("" is the watch's) once. It is the
// zero Coverage with the system call hooks.
func (w *Watcher) Coverage(proc string) (Coverage, error) {
	if w.probed == nil {
		return Coverage{}, nil
	}
	if proc == "" {
		proc = w.proc
	}
	c := newCoverage(proc, w.probed)
	var cov Coverage
	var err error
	if cov.Uncovered, err = c.uncovered(selfPID(proc)); err != nil {
		return Coverage{}, err
	}
	for _, g := range w.gaps {
		if g.lib.Mapped || c.mapped[[2]uint64{g.lib.Dev, g.lib.Ino}] {
			cov.Gaps = append(cov.Gaps, g.text)
		} else {
			cov.Idle = append(cov.Idle, g.text)
		}
	}
	return cov, nil
}

// Uncovered returns the processes running now, under the procfs at proc
// ("" is the watch's), that map none of the C libraries whose system call
// sites are probed: their IPC calls are not seen. Kernel threads, the
// watcher and processes that end meanwhile are left out. Nil with the
// system call hooks. It reads each process's maps once.
func (w *Watcher) Uncovered(proc string) ([]UncoveredProcess, error) {
	if w.probed == nil {
		return nil, nil
	}
	if proc == "" {
		proc = w.proc
	}
	return newCoverage(proc, w.probed).uncovered(selfPID(proc))
}

// Libraries returns the C libraries whose ftok is probed.
func (w *Watcher) Libraries() []Library { return w.libraries }

// ErrClosed is what Next returns after Close.
var ErrClosed = errors.New("watch closed")

// Next waits for the next event and returns it, enriched from /proc. It
// returns ErrClosed once Close was called.
func (w *Watcher) Next() (Event, error) {
	rec, err := w.rd.Read()
	if errors.Is(err, ringbuf.ErrClosed) {
		return Event{}, ErrClosed
	}
	if err != nil {
		return Event{}, fmt.Errorf("read the event ring buffer: %v", err)
	}
	e, err := Decode(rec.RawSample, w.offset)
	if err != nil {
		return Event{}, err
	}
	e.Process = w.procs.describe(e.PID, e.Comm, e.UID)
	w.objects.complete(&e)
	return e, nil
}

// Dropped returns how many events the ring buffer had no room for since
// Start, on all CPUs.
func (w *Watcher) Dropped() (uint64, error) {
	var perCPU []uint64
	if err := w.objs.Drops.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("read the drop counter: %v", err)
	}
	var n uint64
	for _, c := range perCPU {
		n += c
	}
	return n, nil
}

// Close detaches and unloads everything Start attached. It may be called
// more than once, and from another goroutine than Next's.
func (w *Watcher) Close() error {
	var errs []error
	if w.rd != nil {
		errs = append(errs, w.rd.Close())
	}
	for _, l := range w.links {
		errs = append(errs, l.Close())
	}
	w.links = nil
	errs = append(errs, w.syscalls.Close(), w.objs.Close())
	return errors.Join(errs...)
}

// clockOffset is the wall clock's lead over the monotonic clock.
func clockOffset() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(time.Now().UnixNano() - ts.Nano())
}

// hint adds what to do to the kernel's refusals that have a known cause.
func hint(err error) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%v (run as root, or give ipckeys CAP_SYS_ADMIN)", err)
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("%v (the kernel lacks the hook: it needs BTF, uprobes and syscall tracepoints)", err)
	}
	return err
}

// capSysAdmin is the capability Start needs. CAP_BPF and CAP_PERFMON load
// the programs and open the tracepoints, but the kernel opens a uprobe
// (the one on ftok) through the perf_uprobe PMU only with CAP_SYS_ADMIN:
// without it, EACCES. So does fsopen, for the per-call tracepoints' ids.
const capSysAdmin = 21

// BTFPath is where the kernel publishes its type information.
const BTFPath = "/sys/kernel/btf/vmlinux"

// Requirements returns an error naming what is missing to watch: the
// capability (CAP_SYS_ADMIN: root has it) or the kernel's BTF.
func Requirements() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read this process's capabilities: %v", err)
	}
	if data[capSysAdmin/32].Effective&(1<<(capSysAdmin%32)) == 0 {
		return &RequirementError{Missing: "CAP_SYS_ADMIN", Fix: "run as root, or give ipckeys CAP_SYS_ADMIN (the kernel opens the uprobe on ftok only with it; CAP_BPF and CAP_PERFMON are not enough)"}
	}
	if _, err := os.Stat(BTFPath); err != nil {
		return &RequirementError{Missing: "the kernel's BTF (" + BTFPath + ")", Fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y"}
	}
	return nil
}

// RequirementError is a capability or kernel feature the watch lacks.
type RequirementError struct {
	Missing string
	Fix     string
}

func (e *RequirementError) Error() string {
	return "watch needs " + e.Missing + ": " + e.Fix
}
