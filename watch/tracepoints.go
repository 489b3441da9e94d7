//go:build amd64

package watch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// ipcSyscalls are the system calls the watch records, as their
// tracepoints name them.
var ipcSyscalls = [...]string{
	"shmget", "shmat", "shmdt", "shmctl",
	"semget", "semop", "semtimedop", "semctl",
	"msgget", "msgsnd", "msgrcv", "msgctl",
}

// syscallExitIDs returns the ids of the tracepoints syscalls:sys_exit_NAME
// of ipcSyscalls. Only tracefs publishes them, and tracefs is often not
// mounted: the ids are read from a tracefs that fsmount(2) returns as a
// descriptor, a mount attached to no directory and listed in no mount
// table, gone when the descriptor is closed, here or by the end of the
// process however it ends.
func syscallExitIDs() ([]uint64, error) {
	fs, err := unix.Fsopen("tracefs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("mount a private tracefs: %v", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, fmt.Errorf("mount a private tracefs: %v", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount a private tracefs: %v", err)
	}
	defer unix.Close(mnt)
	ids := make([]uint64, len(ipcSyscalls))
	for i, name := range ipcSyscalls {
		if ids[i], err = eventID(mnt, "syscalls/sys_exit_"+name); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// eventID reads the id of a trace event (GROUP/NAME) from the tracefs
// mounted at descriptor mnt.
func eventID(mnt int, event string) (uint64, error) {
	fd, err := unix.Openat(mnt, "events/"+event+"/id", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return 0, fmt.Errorf("no tracepoint %s (the kernel lacks CONFIG_FTRACE_SYSCALLS)", event)
	}
	if err != nil {
		return 0, fmt.Errorf("read the id of tracepoint %s: %v", event, err)
	}
	f := os.NewFile(uintptr(fd), event)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0, fmt.Errorf("read the id of tracepoint %s: %v", event, err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("tracepoint %s: id %q: %v", event, b, err)
	}
	return id, nil
}

// attachTracepoint runs prog on the tracepoint with the given id. The perf
// event is opened as perf and cilium/ebpf open one for a BPF program: on
// CPU 0, yet the program, which hangs off the tracepoint, runs on every
// CPU. The link holds the event, whose own descriptor is closed here.
func attachTracepoint(id uint64, prog *ebpf.Program) (link.Link, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_TRACEPOINT,
		Config:      id,
		Sample_type: unix.PERF_SAMPLE_RAW,
		Sample:      1,
		Wakeup:      1,
	}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open the perf event: %v", err)
	}
	defer unix.Close(fd)
	return link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
}
