// Package watch observes, as they happen, the calls that derive and use
// System V IPC keys: ftok in every C library the processes map, and the
// shmget, semget, msgget, shmat, shmdt, semop, semtimedop, msgsnd, msgrcv,
// shmctl, semctl and msgctl system calls (the control calls for IPC_RMID
// and IPC_SET only).
//
// The kernel side (watch.bpf.c, compiled into the committed
// ipcwatch_x86_bpfel.o) copies each call's arguments, result, pid, thread,
// uid, cgroup id, IPC namespace and command into a fixed event on a ring
// buffer; ftok is seen through a uprobe and uretprobe on each C library
// file (through the perf uprobe PMU). The system calls are seen, by
// default, through uprobes in those same C libraries, on the instruction
// right after each syscall instruction of their IPC functions (found in
// the library's code by FindSyscallSites), where the registers still hold
// the call's arguments and its result: the other system calls on the host
// pay nothing. Those uprobes see only the calls made through a probed C
// library: Gaps names the functions whose calls they cannot see (musl's
// msgsnd and msgrcv), and Uncovered the running processes that map no
// probed library (static and Go programs), whose calls they do not see.
// Asked to, or where no C library can be probed, the watch uses the
// system call hooks instead, which see every call at a cost to every
// system call: the per-call tracepoints syscalls:sys_exit_NAME of the
// twelve calls, whose ids are read from a tracefs mount attached to no
// directory, or, where those cannot be used, the raw tracepoint sys_exit,
// filtered by system call number in the kernel (see HookMode and
// Watcher.Hooks). Go decodes the events into Event values and enriches
// them from /proc (executable, user, systemd unit or container); judging
// them is package audit's work.
//
// Start needs CAP_SYS_ADMIN (root) and the kernel's BTF. All
// it attaches is held by file descriptors: Close, or the end of the
// process however it ends, detaches everything; nothing is pinned, no
// mount table ever shows a tracefs and no probe is registered by name.
// Events the ring buffer had no room for are counted (Dropped), never
// lost silently.
package watch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// Kind is the call an event records.
type Kind uint32

// Kinds; the numbers are the kernel side's.
const (
	Ftok Kind = iota + 1
	ShmGet
	SemGet
	MsgGet
	ShmAt
	ShmDt
	SemOp
	SemTimedOp
	MsgSnd
	MsgRcv
	ShmCtl
	SemCtl
	MsgCtl
)

var kindNames = [...]string{"", "ftok", "shmget", "semget", "msgget", "shmat", "shmdt", "semop", "semtimedop", "msgsnd", "msgrcv", "shmctl", "semctl", "msgctl"}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Facility is the kind of object a call concerns: "shm", "sem", "msg",
// or "" for ftok.
func (k Kind) Facility() string {
	switch k {
	case ShmGet, ShmAt, ShmDt, ShmCtl:
		return "shm"
	case SemGet, SemOp, SemTimedOp, SemCtl:
		return "sem"
	case MsgGet, MsgSnd, MsgRcv, MsgCtl:
		return "msg"
	}
	return ""
}

// Get reports whether the kind looks a key up (shmget, semget, msgget).
func (k Kind) Get() bool { return k == ShmGet || k == SemGet || k == MsgGet }

// Control commands the control calls are recorded for.
const (
	IPCRmid = 0
	IPCSet  = 1
)

// Event is one observed call.
type Event struct {
	Time  time.Time
	Kind  Kind
	PID   int    // process, as the watcher's pid namespace sees it
	TID   int    // thread
	UID   uint32 // real uid
	GID   uint32
	Comm  string // the thread's command name (15 bytes at most)
	IPCNS uint32 // inode of the caller's IPC namespace (ipc:[N])
	// CgroupID is the cgroup v2 id of the caller.
	CgroupID uint64

	// Ftok: the path and proj id as given; Key is the key returned (-1
	// when ftok failed).
	Path string
	Proj int

	// Key is the key of a get call, or ftok's result; for the other
	// calls, the key of ID when the watcher knows it (KeyKnown).
	Key      int32
	KeyKnown bool
	// ID is the object id: a get call's result, or the other calls' id
	// argument (-1 for shmdt, which names an address). Size is shmget's
	// size, semget's nsems and semop's nsops (32 bits, as the kernel
	// reads them), msgsnd's and msgrcv's size.
	// Flags are the get calls' and shmat's flags; Cmd the control calls'
	// command (IPCRmid, IPCSet).
	ID    int
	Size  uint64
	Flags int
	Cmd   int
	// Ret is the raw result; Errno is set when the call failed.
	Ret   int64
	Errno syscall.Errno

	// File is the file an ftok call named (nil when it could not be
	// found: the process or the file was gone when the event was read).
	File *FileID
	// Object is the object a failed get call ran into, when the watcher
	// shares the caller's IPC namespace and the object still exists.
	Object *Object

	// Process is what /proc said about the caller when the event was
	// read; empty fields could not be read (the process had ended).
	Process Process
}

// Process is what the watcher knows of the calling process beyond the
// event itself.
type Process struct {
	Exe        string `json:"exe,omitempty"`
	User       string `json:"user,omitempty"`
	Cgroup     string `json:"cgroup,omitempty"` // the unified hierarchy's path
	Unit       string `json:"unit,omitempty"`   // the systemd unit it runs in
	Container  string `json:"container,omitempty"`
	IPCNSLink  string `json:"ipc_ns,omitempty"`     // ipc:[N]
	Unreadable string `json:"unreadable,omitempty"` // what /proc no longer had
}

// Failed reports whether the call returned an error.
func (e *Event) Failed() bool { return e.Errno != 0 }

// Program names the calling program: its executable, or its command in
// parentheses when the executable could not be read.
func (e *Event) Program() string {
	if e.Process.Exe != "" {
		return e.Process.Exe
	}
	return "(" + e.Comm + ")"
}

// RecordSize is the size of the kernel's struct event.
const RecordSize = 8*3 + 8*4 + 4*6 + 16 + 256

type decodeError struct{ n int }

func (e decodeError) Error() string {
	return fmt.Sprintf("ring buffer record of %d bytes: an event has %d (the BPF object and the program disagree: rebuild)", e.n, RecordSize)
}

// Decode reads one ring buffer record. offset is the wall clock's lead
// over the monotonic clock the kernel dates events with. It does not
// trust the record: any bytes give an event or an error.
func Decode(raw []byte, offset time.Duration) (Event, error) {
	if len(raw) != RecordSize {
		return Event{}, decodeError{len(raw)}
	}
	le := binary.LittleEndian
	u64 := func(i int) uint64 { return le.Uint64(raw[i*8:]) }
	u32 := func(i int) uint32 { return le.Uint32(raw[56+i*4:]) }
	e := Event{
		Time:     time.Unix(0, int64(u64(0))).Add(offset),
		CgroupID: u64(1),
		Ret:      int64(u64(2)),
		PID:      int(u32(0)),
		TID:      int(u32(1)),
		UID:      u32(2),
		GID:      u32(3),
		IPCNS:    u32(4),
		Kind:     Kind(u32(5)),
		Comm:     cString(raw[80:96]),
	}
	a := [4]uint64{u64(3), u64(4), u64(5), u64(6)}
	if e.Kind == 0 || int(e.Kind) >= len(kindNames) {
		return Event{}, fmt.Errorf("ring buffer record of unknown kind %d", e.Kind)
	}
	if e.Kind == Ftok {
		e.Path = cString(raw[96:])
		e.Proj = int(int32(a[1]))
		e.Key, e.KeyKnown = int32(e.Ret), true
		return e, nil
	}
	if e.Ret < 0 && e.Ret >= -4095 {
		e.Errno = syscall.Errno(-e.Ret)
	}
	// The arguments are the registers they were passed in, whole. The
	// kernel reads only the low 32 bits of an int or unsigned one, whose
	// upper bits the caller may have left undefined (glibc) or filled
	// with the sign (musl): so do these.
	switch e.Kind {
	case ShmGet:
		e.Key, e.KeyKnown = int32(a[0]), true
		e.Size, e.Flags = a[1], int(int32(a[2]))
	case SemGet:
		e.Key, e.KeyKnown = int32(a[0]), true
		e.Size, e.Flags = uint64(uint32(a[1])), int(int32(a[2]))
	case MsgGet:
		e.Key, e.KeyKnown = int32(a[0]), true
		e.Flags = int(int32(a[1]))
	case ShmAt:
		e.ID, e.Flags = int(int32(a[0])), int(int32(a[2]))
	case ShmDt:
		e.ID = -1
	case SemOp, SemTimedOp:
		e.ID, e.Size = int(int32(a[0])), uint64(uint32(a[2]))
	case MsgSnd, MsgRcv:
		e.ID, e.Size = int(int32(a[0])), a[2]
	case ShmCtl, MsgCtl:
		e.ID, e.Cmd = int(int32(a[0])), int(int32(a[1]))&0xff
	case SemCtl:
		e.ID, e.Cmd = int(int32(a[0])), int(int32(a[2]))&0xff
	}
	if e.Kind.Get() && e.Errno == 0 {
		e.ID = int(e.Ret)
	}
	return e, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
