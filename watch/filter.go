package watch

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Filter selects events by their caller; the zero Filter selects all.
type Filter struct {
	PID    int    // the process
	Exe    string // the executable's path
	Cgroup string // a part of the cgroup path, the systemd unit or the container
	IPCNS  uint32 // the IPC namespace's inode number
}

// Match reports whether the filter selects e.
func (f Filter) Match(e *Event) bool {
	if f.PID != 0 && e.PID != f.PID {
		return false
	}
	if f.IPCNS != 0 && e.IPCNS != f.IPCNS {
		return false
	}
	if f.Exe != "" && e.Process.Exe != f.Exe {
		return false
	}
	if f.Cgroup != "" {
		p := e.Process
		if !strings.Contains(p.Cgroup, f.Cgroup) && p.Unit != f.Cgroup && !strings.Contains(p.Container, f.Cgroup) {
			return false
		}
	}
	return true
}

// ParseIPCNamespace reads an IPC namespace as a user names it: as
// /proc/PID/ns/ipc shows it (ipc:[4026531839]), its inode number, or a
// path to it (/proc/PID/ns/ipc, or a bind mount of one), which is
// stat'ed.
func ParseIPCNamespace(s string) (uint32, error) {
	digits := s
	if strings.HasPrefix(s, "ipc:[") && strings.HasSuffix(s, "]") {
		digits = s[len("ipc:[") : len(s)-1]
	}
	if n, err := strconv.ParseUint(digits, 10, 32); err == nil && n != 0 {
		return uint32(n), nil
	}
	if !strings.HasPrefix(s, "/") {
		return 0, fmt.Errorf("IPC namespace %s: give it as ipc:[INODE] (as ls -l /proc/PID/ns/ipc shows it), its inode number, or a path such as /proc/PID/ns/ipc", strconv.Quote(s))
	}
	// Looked at through O_PATH first: nothing but a namespace file is
	// opened, so a device or a FIFO named by mistake is not touched.
	pfd, err := unix.Open(s, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("IPC namespace %s: %v", strconv.Quote(s), err)
	}
	defer unix.Close(pfd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
		return 0, fmt.Errorf("IPC namespace %s: not a namespace file (give /proc/PID/ns/ipc or a bind mount of one)", strconv.Quote(s))
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("IPC namespace %s: %v", strconv.Quote(s), err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("IPC namespace %s: %v", strconv.Quote(s), err)
	}
	if t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWIPC {
		return 0, fmt.Errorf("IPC namespace %s: not an IPC namespace (give /proc/PID/ns/ipc or a bind mount of one)", strconv.Quote(s))
	}
	return uint32(st.Ino), nil
}

// Judged says which events the findings need, once each: a long watch
// keeps the distinct calls, not every semop. It returns the identity of
// e's kind of evidence, and false for events no finding uses.
func Judged(e *Event) (string, bool) {
	if e.Kind == Ftok {
		file := e.Path
		if e.File != nil {
			file = e.File.Path
		}
		return strings.Join([]string{"ftok", itoa(int64(e.IPCNS)), itoa(int64(e.Key)), file, itoa(int64(e.Proj)), e.Program()}, "\x00"), true
	}
	if !e.KeyKnown {
		return "", false
	}
	return strings.Join([]string{e.Kind.String(), itoa(int64(e.IPCNS)), itoa(int64(e.Key)), e.Program(), itoa(int64(e.UID)), itoa(int64(e.Errno)), itoa(int64(e.Size))}, "\x00"), true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
