//go:build amd64

package watch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

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
}

// Watcher holds what Start attached. Next and Dropped are for one
// goroutine; Close may be called from another, and ends a waiting Next.
type Watcher struct {
	objs      ipcwatchObjects
	links     []link.Link
	rd        *ringbuf.Reader
	offset    time.Duration
	procs     *procCache
	objects   *tracker
	libraries []Library
}

// Start checks the requirements, loads the programs and attaches them:
// a uprobe and uretprobe on ftok in each C library found, and the raw
// tracepoint sys_exit. On error nothing stays attached.
func Start(opt Options) (w *Watcher, err error) {
	if err := Requirements(); err != nil {
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
	w = &Watcher{procs: newProcCache(proc), objects: newTracker(proc), libraries: libs}
	if err := spec.LoadAndAssign(&w.objs, nil); err != nil {
		return nil, fmt.Errorf("load the BPF programs: %v", hint(err))
	}
	defer func() {
		if err != nil {
			w.Close()
			w = nil
		}
	}()
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_exit", Program: w.objs.SysExit})
	if err != nil {
		return nil, fmt.Errorf("attach to the raw tracepoint sys_exit: %v", hint(err))
	}
	w.links = append(w.links, l)
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
	errs = append(errs, w.objs.Close())
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
		return fmt.Errorf("%v (run as root, or give ipckeys CAP_BPF and CAP_PERFMON)", err)
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("%v (the kernel lacks the hook: it needs BTF, uprobes and syscall tracepoints)", err)
	}
	return err
}

// Capabilities Start needs: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN,
// which implies both.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// BTFPath is where the kernel publishes its type information.
const BTFPath = "/sys/kernel/btf/vmlinux"

// Requirements returns an error naming what is missing to watch: the
// capabilities (CAP_BPF and CAP_PERFMON, or root) or the kernel's BTF.
func Requirements() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read this process's capabilities: %v", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	var missing []string
	if !has(capSysAdmin) {
		if !has(capBPF) {
			missing = append(missing, "CAP_BPF")
		}
		if !has(capPerfmon) {
			missing = append(missing, "CAP_PERFMON")
		}
	}
	if len(missing) > 0 {
		return &RequirementError{Missing: strings.Join(missing, " and "), Fix: "run as root, or give ipckeys CAP_BPF and CAP_PERFMON (setcap cap_bpf,cap_perfmon+ep)"}
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
