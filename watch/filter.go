package watch

import (
	"strconv"
	"strings"
)

// Filter selects events by their caller; the zero Filter selects all.
type Filter struct {
	PID    int    // the process
	Exe    string // the executable's path
	Cgroup string // a part of the cgroup path, the systemd unit or the container
}

// Match reports whether the filter selects e.
func (f Filter) Match(e *Event) bool {
	if f.PID != 0 && e.PID != f.PID {
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
