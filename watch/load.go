//go:build amd64

package watch

import (
	"errors"
	"fmt"
	"os"
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
	// to HooksEnv, else to Start (the per-call tracepoints when it can
	// attach them, the raw tracepoint when not).
	Hooks HookMode
}

// Watcher holds what Start attached. Next and Dropped are for one
// goroutine; Close may be called from another, and ends a waiting Next.
type Watcher struct {
	objs      objects
	syscalls  *ebpf.Program // sys_exit_ipc or sys_exit
	hooks     string
	links     []link.Link
	rd        *ringbuf.Reader
	offset    time.Duration
	procs     *procCache
	objects   *tracker
	libraries []Library
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

// Start checks the requirements, loads the programs and attaches them:
// a uprobe and uretprobe on ftok in each C library found, and for the
// system calls the per-call tracepoints syscalls:sys_exit_NAME of the
// twelve IPC calls or, when they cannot be used (see HookMode), the raw
// tracepoint sys_exit; Hooks says which. On error nothing stays attached.
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
	w := &Watcher{procs: newProcCache(proc), objects: newTracker(proc), libraries: libs}
	if err := spec.LoadAndAssign(&w.objs, nil); err != nil {
		return nil, fmt.Errorf("load the BPF programs: %v", hint(err))
	}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if err := w.attachSyscalls(spec, mode, chosenBy); err != nil {
		return nil, err
	}
	for i := range w.libraries {
		lib := &w.libraries[i]
		ex, err := link.OpenExecutable(lib.Open)
		if err != nil {
			return nil, fmt.Errorf("open the C library %s: %v", lib.Path, err)
		}
		enter, err := ex.Uprobe("ftok", w.objs.FtokEnter, nil)
		if err != nil {
			return nil, fmt.Errorf("probe ftok in %s: %v", lib.Path, hint(err))
		}
		w.links = append(w.links, enter)
		exit, err := ex.Uretprobe("ftok", w.objs.FtokExit, nil)
		if err != nil {
			return nil, fmt.Errorf("probe ftok's return in %s: %v", lib.Path, hint(err))
		}
		w.links = append(w.links, exit)
	}
	if w.rd, err = ringbuf.NewReader(w.objs.Events); err != nil {
		return nil, fmt.Errorf("read the event ring buffer: %v", err)
	}
	w.offset = clockOffset()
	return w, nil
}

// attachSyscalls attaches the system call hook mode asks for. HookAuto
// tries the per-call tracepoints and falls back to the raw tracepoint,
// keeping why in the description Hooks returns.
func (w *Watcher) attachSyscalls(spec *ebpf.CollectionSpec, mode HookMode, chosenBy string) error {
	if mode != HookRaw {
		err := w.attachPerCall(spec)
		if err == nil {
			w.hooks = perCallNote
			return nil
		}
		if mode == HookPerCall {
			return fmt.Errorf("attach to the per-call syscall tracepoints: %v", err)
		}
		chosenBy = "per-call tracepoints unavailable: " + strings.ReplaceAll(err.Error(), "\n", "; ")
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
// that costs the other system calls on the host; for the raw tracepoint,
// also why it is used.
func (w *Watcher) Hooks() string { return w.hooks }

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
