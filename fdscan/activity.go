package fdscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Who serves a listener is observed, not guessed from program names: the
// kernel shows, for each thread, the system call it is blocked in and its
// arguments (/proc/PID/task/TID/syscall: accept4 on fd 3 is "288 0x3 …"
// on x86_64), and for each epoll instance the descriptors and inodes it
// watches (the "tfd:" lines of its fdinfo). A thread blocked in poll or
// select has its set in the process's memory (/proc/PID/mem, at the
// address the call's arguments give). A thread blocked in accept on the
// listener's descriptor, in poll or select with it in the read set, or an
// epoll set watching the listener's inode, is a holder serving it. All
// need ptrace access to the process (root).

// Activity is what a process holding a listener was doing when the scan
// looked: the waits of its threads and the sockets its epoll sets watch.
type Activity struct {
	// Threads are the process's threads, by thread id.
	Threads []ThreadWait
	// Watched are the inodes some epoll instance of the process watches,
	// sorted.
	Watched []uint64
	// Unread says what could not be read ("" when everything was): a
	// thread's system call, an epoll instance's fdinfo.
	Unread string
}

// ThreadWait is what one thread was doing.
type ThreadWait struct {
	TID  int
	Wait Wait
	// FD is the descriptor the wait is on: the listening descriptor of an
	// accept, the epoll descriptor of an epoll wait; -1 otherwise.
	FD int
	// Call is the system call number; -1 when running or not in one.
	Call int
	// Polled are, for a thread blocked in poll, ppoll, select or
	// pselect6, the descriptors it waits to read from, read from its
	// memory; PollKnown says they were read (the call's arguments were
	// the same before and after).
	Polled    []int
	PollKnown bool
}

// Wait classifies what a thread is doing.
type Wait int

const (
	// WaitRunning: on a CPU, or between system calls: it may be about to
	// do anything.
	WaitRunning Wait = iota
	// WaitAccept: blocked in accept or accept4 on FD.
	WaitAccept
	// WaitEpoll: blocked in epoll_wait or epoll_pwait on the instance FD.
	WaitEpoll
	// WaitPoll: blocked in poll, ppoll, select or pselect6, whose sets are
	// in the process's memory: read when the process's memory can be
	// (ThreadWait.Polled).
	WaitPoll
	// WaitIdle: blocked in a wait that is not for a socket: wait4,
	// waitid, nanosleep, clock_nanosleep, pause, rt_sigsuspend,
	// rt_sigtimedwait, futex.
	WaitIdle
	// WaitOther: blocked in another system call (read, recv, write…): busy
	// with something, perhaps a connection it accepted.
	WaitOther
)

// ParseSyscall reads /proc/PID/task/TID/syscall: "running", "-1 sp pc"
// (blocked, not in a system call), or "NR arg1 … arg6 sp pc" with the
// arguments in hex. It returns the call number (-1 for the first two)
// and its arguments.
func ParseSyscall(b []byte) (call int, args [6]uint64, err error) {
	line := bytes.TrimSuffix(b, []byte("\n"))
	if string(line) == "running" {
		return -1, args, nil
	}
	var f [9][]byte
	n := fields(line, f[:])
	if n == 0 {
		return 0, args, errors.New("syscall: empty")
	}
	if string(f[0]) == "-1" {
		return -1, args, nil
	}
	nr, ok := parseUint(f[0], 10, 16)
	if !ok {
		return 0, args, fmt.Errorf("syscall: number %q", f[0])
	}
	if n < 7 {
		return 0, args, fmt.Errorf("syscall: %d fields, want the number and 6 arguments", n)
	}
	for i := range args {
		a, ok := bytes.CutPrefix(f[i+1], []byte("0x"))
		if !ok {
			return 0, args, fmt.Errorf("syscall: argument %q", f[i+1])
		}
		if args[i], ok = parseUint(a, 16, 64); !ok {
			return 0, args, fmt.Errorf("syscall: argument %q", f[i+1])
		}
	}
	return int(nr), args, nil
}

// classify names the wait of system call call with arguments args on
// this machine's architecture, and the descriptor it is on.
func classify(call int, args [6]uint64) (Wait, int) {
	if call < 0 {
		return WaitRunning, -1
	}
	fd := -1
	if args[0] < 1<<31 {
		fd = int(args[0])
	}
	switch {
	case slices.Contains(acceptCalls, call):
		return WaitAccept, fd
	case slices.Contains(epollCalls, call):
		return WaitEpoll, fd
	case slices.Contains(pollCalls, call):
		return WaitPoll, -1
	case slices.Contains(idleCalls, call):
		return WaitIdle, -1
	}
	return WaitOther, -1
}

// callName names system call nr on this architecture, "syscall NR" when
// the table here does not have it.
func callName(nr int) string {
	if n, ok := callNames[nr]; ok {
		return n
	}
	return fmt.Sprintf("syscall %d", nr)
}

// ParseEpollWatched reads the fdinfo of an epoll descriptor and returns
// the inodes of the files it watches, from lines such as
// "tfd:        3 events:       19 data:                3  pos:0 ino:10d6bf sdev:8".
func ParseEpollWatched(b []byte) ([]uint64, error) {
	var out []uint64
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(line, []byte("tfd:")) {
			continue
		}
		i := bytes.Index(line, []byte(" ino:"))
		if i < 0 {
			return nil, fmt.Errorf("epoll fdinfo: no ino in %q", bytes.TrimSpace(line))
		}
		v := line[i+len(" ino:"):]
		if end := bytes.IndexAny(v, " \n"); end >= 0 {
			v = v[:end]
		}
		ino, ok := parseUint(v, 16, 64)
		if !ok {
			return nil, fmt.Errorf("epoll fdinfo: ino %q", v)
		}
		out = append(out, ino)
	}
	return out, nil
}

// ParseNSpid reads the "NSpid:" line of /proc/PID/status: the process's
// pid in each pid namespace it is in, outermost first. It returns nil
// when the line is absent (kernels before 4.1).
func ParseNSpid(b []byte) ([]int, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("NSpid:"))
		if !ok {
			continue
		}
		var f [33][]byte // the kernel nests at most 32 pid namespaces
		n := fields(bytes.TrimSuffix(rest, []byte("\n")), f[:])
		if n == 0 || n > 32 {
			return nil, fmt.Errorf("status: NSpid with %d values", n)
		}
		out := make([]int, n)
		for i := range n {
			v, ok := parseUint(f[i], 10, 31)
			if !ok || v == 0 {
				return nil, fmt.Errorf("status: NSpid %q", f[i])
			}
			out[i] = int(v)
		}
		return out, nil
	}
	return nil, nil
}

// maxThreads bounds the threads whose system calls are read per process.
const maxThreads = 4096

var (
	nameTask    = cname("task")
	nameSyscall = cname("syscall")
	nameStatus  = cname("status")
)

// activity reads what process pid is doing: its threads' waits and what
// its epoll descriptors epolls watch.
func (s *scanner) activity(pid int, epolls []int) *Activity {
	a := &Activity{}
	dir, err := openat(s.root, s.num(pid), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		a.Unread = "the process: " + err.Error()
		return a
	}
	defer unix.Close(dir)
	tasks, err := openat(dir, nameTask, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		a.Unread = "its threads: " + err.Error()
		return a
	}
	tids, err := s.tasks(tasks)
	if err != nil {
		unix.Close(tasks)
		a.Unread = "its threads: " + err.Error()
		return a
	}
	mem := -1
	defer func() {
		if mem >= 0 {
			unix.Close(mem)
		}
	}()
	for _, tid := range tids {
		tdir, err := openat(tasks, s.num(tid), unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue // exited
		}
		s.buf, err = readProc(tdir, nameSyscall, s.buf, nil)
		if gone(err) {
			unix.Close(tdir)
			continue
		}
		var call int
		var args [6]uint64
		if err == nil {
			call, args, err = ParseSyscall(s.buf)
		}
		if err != nil {
			unix.Close(tdir)
			a.Unread = fmt.Sprintf("thread %d's system call: %v", tid, err)
			continue
		}
		w, fd := classify(call, args)
		th := ThreadWait{TID: tid, Wait: w, FD: fd, Call: call}
		if w == WaitPoll {
			if mem < 0 {
				mem, _ = openat(dir, nameMem, unix.O_RDONLY)
			}
			th.Polled, th.PollKnown = s.pollSet(mem, tdir, call, args)
		}
		unix.Close(tdir)
		a.Threads = append(a.Threads, th)
	}
	unix.Close(tasks)
	if len(epolls) == 0 {
		return a
	}
	info, err := openat(dir, nameFDInfo, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		a.Unread = "its epoll sets: " + err.Error()
		return a
	}
	defer unix.Close(info)
	for _, fd := range epolls {
		s.buf, err = readProc(info, s.num(fd), s.buf, nil)
		if gone(err) {
			continue // closed since
		}
		var w []uint64
		if err == nil {
			w, err = ParseEpollWatched(s.buf)
		}
		if err != nil {
			a.Unread = fmt.Sprintf("epoll fd %d: %v", fd, err)
			continue
		}
		a.Watched = append(a.Watched, w...)
	}
	slices.Sort(a.Watched)
	a.Watched = slices.Compact(a.Watched)
	return a
}

var nameMem = cname("mem")

// maxPolled bounds the pollfd entries or select bits read per thread.
const maxPolled = 1 << 16

// pollSet reads the descriptors a thread blocked in a poll or select
// call (with arguments args, as its syscall file in the open directory
// tdir showed them, now in s.buf) waits to read from, from the process's
// memory through mem (/proc/PID/mem, which needs ptrace access). While
// the thread is blocked the kernel has only copied the set, so the memory
// holds what it waits for; the syscall file is read again after, and the
// set is taken only when it shows the same call, arguments and stack.
func (s *scanner) pollSet(mem, tdir, call int, args [6]uint64) ([]int, bool) {
	if mem < 0 {
		return nil, false
	}
	before := string(s.buf)
	var addr, size uint64
	var parse func([]byte) []int
	switch {
	case slices.Contains(pollArrayCalls, call):
		if args[1] > maxPolled {
			return nil, false
		}
		addr, size, parse = args[0], args[1]*8, ParsePollFDs
	case slices.Contains(selectCalls, call):
		if args[0] > maxPolled {
			return nil, false
		}
		nfds := int(args[0])
		addr, size, parse = args[1], (args[0]+63)/64*8, func(b []byte) []int { return ParseFDSet(b, nfds) }
	default:
		return nil, false
	}
	var set []int
	if addr != 0 && size > 0 {
		if addr > 1<<62 {
			return nil, false
		}
		b := make([]byte, size)
		if n, err := unix.Pread(mem, b, int64(addr)); err != nil || n != len(b) {
			return nil, false
		}
		set = parse(b)
	}
	var err error
	if s.buf, err = readProc(tdir, nameSyscall, s.buf, nil); err != nil || string(s.buf) != before {
		return nil, false
	}
	return set, true
}

// pollRDNorm is POLLRDNORM on Linux, which golang.org/x/sys/unix lacks.
const pollRDNorm = 0x40

// ParsePollFDs reads an array of struct pollfd (int fd; short events;
// short revents), as poll and ppoll take it, and returns the descriptors
// polled for input (POLLIN or POLLRDNORM), sorted, without repeats.
// Entries with a negative fd are ignored, as poll ignores them.
func ParsePollFDs(b []byte) []int {
	var out []int
	ne := binary.NativeEndian
	for ; len(b) >= 8; b = b[8:] {
		fd := int32(ne.Uint32(b[0:]))
		events := ne.Uint16(b[4:])
		if fd >= 0 && events&(unix.POLLIN|pollRDNorm) != 0 {
			out = append(out, int(fd))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseFDSet reads the first nfds bits of an fd_set (an array of longs,
// bit n of the set is descriptor n), as select and pselect6 take their
// read set, and returns the descriptors set.
func ParseFDSet(b []byte, nfds int) []int {
	var out []int
	// Bits are numbered within each native-endian long.
	for fd := 0; fd < nfds && (fd/64+1)*8 <= len(b); fd++ {
		if binary.NativeEndian.Uint64(b[fd/64*8:])&(1<<(fd%64)) != 0 {
			out = append(out, fd)
		}
	}
	return out
}

// tasks lists the thread ids in the open task directory fd.
func (s *scanner) tasks(fd int) ([]int, error) {
	var tids []int
	for len(tids) < maxThreads {
		n, err := unix.Getdents(fd, s.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		for rec := s.dents[:n]; len(rec) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(rec[16:]))
			if reclen < 20 || reclen > len(rec) {
				return nil, errors.New("getdents64: bad record")
			}
			if tid, ok := atoiName(rec[19:reclen]); ok {
				tids = append(tids, tid)
			}
			rec = rec[reclen:]
		}
	}
	slices.Sort(tids)
	return tids, nil
}

// Serving says how the process was seen to serve the socket with inode
// ino, which it holds as the descriptors fds: a thread blocked in accept
// on one of them, or an epoll set watching it. ok is false when nothing
// of the kind was seen.
func (a *Activity) Serving(ino uint64, fds []int) (how string, ok bool) {
	if a == nil {
		return "", false
	}
	for _, th := range a.Threads {
		if th.Wait == WaitAccept && slices.Contains(fds, th.FD) {
			return fmt.Sprintf("blocked in accept on fd %d", th.FD), true
		}
		for _, fd := range fds {
			if th.Wait == WaitPoll && th.PollKnown && slices.Contains(th.Polled, fd) {
				return fmt.Sprintf("blocked in %s with fd %d in its set", callName(th.Call), fd), true
			}
		}
	}
	if _, found := slices.BinarySearch(a.Watched, ino); found {
		return "an epoll set of it watches the socket", true
	}
	return "", false
}

// Elsewhere reports whether every thread of the process was seen blocked
// in a wait that cannot take a connection from the socket with inode ino
// held as fds: accept on another descriptor, an epoll wait (its sets do
// not watch the socket, or Serving would say so), poll or select whose
// set was read and lacks it, or an idle wait (child, timer, signal,
// futex). A thread running, in poll or select whose set could not be
// read, or in any other call could be about to accept.
func (a *Activity) Elsewhere(ino uint64, fds []int) bool {
	if a == nil || a.Unread != "" || len(a.Threads) == 0 {
		return false
	}
	if _, ok := a.Serving(ino, fds); ok {
		return false
	}
	for _, th := range a.Threads {
		switch th.Wait {
		case WaitAccept, WaitEpoll, WaitIdle:
		case WaitPoll:
			if !th.PollKnown {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// fdList names a few descriptors: "fd 4", "fds 4, 5", "12 fds", "no fd".
func fdList(fds []int) string {
	switch {
	case len(fds) == 0:
		return "no fd"
	case len(fds) == 1:
		return fmt.Sprintf("fd %d", fds[0])
	case len(fds) > 8:
		return fmt.Sprintf("%d fds", len(fds))
	}
	s := make([]string, len(fds))
	for i, fd := range fds {
		s[i] = fmt.Sprint(fd)
	}
	return "fds " + strings.Join(s, ", ")
}

// Describe says in a few words what the threads were doing: "blocked in
// accept on fd 4", "3 threads blocked in futex, epoll_wait on fd 5".
func (a *Activity) Describe() string {
	if a == nil || len(a.Threads) == 0 {
		return "not observed"
	}
	var parts []string
	running := 0
	for _, th := range a.Threads {
		var w string
		switch th.Wait {
		case WaitRunning:
			running++
			continue
		case WaitAccept:
			w = fmt.Sprintf("accept on fd %d", th.FD)
		case WaitEpoll:
			w = fmt.Sprintf("%s on fd %d", callName(th.Call), th.FD)
		case WaitPoll:
			w = callName(th.Call)
			if th.PollKnown {
				w += " on " + fdList(th.Polled)
			}
		default:
			w = callName(th.Call)
		}
		if !slices.Contains(parts, w) {
			parts = append(parts, w)
		}
	}
	var out []string
	if len(parts) > 0 {
		out = append(out, "blocked in "+strings.Join(parts, ", "))
	}
	if running > 0 {
		out = append(out, "running")
	}
	desc := strings.Join(out, "; ")
	if len(a.Threads) > 1 {
		desc = fmt.Sprintf("%d threads %s", len(a.Threads), desc)
	}
	return desc
}
