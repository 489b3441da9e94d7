package fdscan

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Process is one process as its /proc directory describes it.
type Process struct {
	PID, PPID int
	Start     uint64   // start time in clock ticks since boot: with PID, names one process over time
	Comm      string   // the kernel's command name (at most 15 bytes; may hold spaces and parentheses)
	Exe       string   // the executable's path; " (deleted)" after it was replaced; "" for kernel threads or when unreadable
	Cmdline   []string // the arguments as the process shows them (it may have rewritten them)
	Unit      string   // the systemd unit from the cgroup path ("nginx.service"), "" if none
	Kernel    bool     // a kernel thread: no executable, arguments or descriptors, so none are read
	NetNS     uint64   // the inode of its network namespace; 0 when unreadable or a kernel thread
	FDs       int      // descriptors in use; -1 when the descriptor table could not be read
	FDLimit   uint64   // the soft limit on open files (RLIMIT_NOFILE); math.MaxUint64 for unlimited, 0 when unknown
	// ListenFDs is set when the environment the process started with has
	// LISTEN_FDS and a LISTEN_PID naming it: systemd socket activation
	// handed it its listeners. Only looked for in processes that hold
	// sockets, and readable only by root (or the process's owner).
	ListenFDs bool
	// State is the kernel's state letter from /proc/PID/stat: R running,
	// S sleeping, D uninterruptible, T stopped (SIGSTOP), t traced, Z zombie.
	State byte
	// NSPID is the pid as the process's own pid namespace sees it (the
	// last NSpid value in /proc/PID/status): what it, its children and
	// LISTEN_PID call it. It equals PID outside containers; it is read
	// only for processes holding sockets, and is PID when unknown.
	NSPID int
	// Activity is what the process was doing, read for the holders of
	// listening sockets on a live procfs; nil otherwise.
	Activity *Activity
	epolls   []int // its epoll descriptors, for Activity
}

// Stopped reports whether the process is stopped (SIGSTOP, a debugger):
// it accepts nothing until it is continued.
func (p *Process) Stopped() bool { return p.State == 'T' || p.State == 't' }

// Descriptor is one open descriptor of a process.
type Descriptor struct {
	PID, FD     int
	Target      string // what /proc/PID/fd/N points to: a path, "socket:[N]", "pipe:[N]", "anon_inode:[eventfd]"…
	Inode       uint64 // the socket's inode for "socket:[N]", else 0
	CloseOnExec bool   // from fdinfo; read for every descriptor here
}

// OCloexec is O_CLOEXEC as fdinfo's octal flags field shows it when the
// descriptor's close-on-exec bit is set (reliable since Linux 3.1).
const OCloexec = 0o2000000

// ParseStat reads /proc/PID/stat: the parent pid, the start time in clock
// ticks since boot and the command name. The command name sits between the
// first '(' and the last ')', since it may itself contain ") (" and
// spaces.
func ParseStat(b []byte) (ppid int, start uint64, comm string, err error) {
	st, err := parseStat(b)
	return st.ppid, st.start, st.comm, err
}

// pfKthread is PF_KTHREAD in stat's flags field.
const pfKthread = 0x00200000

// stat is what the scan takes from /proc/PID/stat.
type stat struct {
	ppid  int
	start uint64
	comm  string
	flags uint64
	state byte
}

func parseStat(b []byte) (st stat, err error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return st, errors.New("stat: no (comm)")
	}
	st.comm = string(b[open+1 : closing])
	// After the comm: state(3) ppid(4) … flags(9) … starttime(22).
	rest := b[closing+1:]
	var f [20][]byte
	n := 0
	for n < len(f) {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 0 {
			break
		}
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		f[n], rest = rest[:end], rest[end:]
		n++
	}
	if n < 20 {
		return st, fmt.Errorf("stat: %d fields after (comm), want at least 20", n)
	}
	p, ok := parseUint(f[1], 10, 31)
	if !ok {
		return st, fmt.Errorf("stat: ppid %q", f[1])
	}
	if st.flags, ok = parseUint(f[6], 10, 64); !ok {
		return st, fmt.Errorf("stat: flags %q", f[6])
	}
	if st.start, ok = parseUint(f[19], 10, 64); !ok {
		return st, fmt.Errorf("stat: starttime %q", f[19])
	}
	if len(f[0]) != 1 {
		return st, fmt.Errorf("stat: state %q", f[0])
	}
	st.state = f[0][0]
	st.ppid = int(p)
	return st, nil
}

// ParseLimits reads /proc/PID/limits and returns the soft limit on open
// files ("Max open files"), math.MaxUint64 when it says unlimited.
func ParseLimits(b []byte) (nofile uint64, err error) {
	const name = "Max open files"
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(name))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 1 {
			break
		}
		if string(f[0]) == "unlimited" {
			return math.MaxUint64, nil
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("limits: %s: %q", name, f[0])
		}
		return v, nil
	}
	return 0, fmt.Errorf("limits: no %q line", name)
}

// ParseFDInfo reads /proc/PID/fdinfo/N and returns its flags: the open
// flags, plus OCloexec when the close-on-exec bit is set.
func ParseFDInfo(b []byte) (flags uint64, err error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("flags:"))
		if !ok {
			continue
		}
		v := bytes.TrimSpace(rest)
		flags, ok := parseUint(v, 8, 64)
		if !ok {
			return 0, fmt.Errorf("fdinfo: flags %q", v)
		}
		return flags, nil
	}
	return 0, errors.New("fdinfo: no flags line")
}

// unitSuffixes are the systemd unit types whose processes live in a
// cgroup of their own name (slices only group other units).
var unitSuffixes = []string{".service", ".scope", ".socket", ".mount", ".swap"}

// ParseCgroupUnit reads /proc/PID/cgroup and returns the systemd unit the
// process runs in: the innermost path component named like a unit, so a
// user service under user@1000.service is itself, and a delegated
// sub-cgroup ("/system.slice/app.service/payload") is its service. The
// unified hierarchy (0::) is preferred, then systemd's named v1 hierarchy.
// It returns "" when neither names a unit.
func ParseCgroupUnit(b []byte) string {
	var v1 string
	for line := range bytes.Lines(b) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		// hierarchy-ID:controllers:path; the path may contain ':'.
		id, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		controllers, path, ok := bytes.Cut(rest, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case string(id) == "0" && len(controllers) == 0:
			if u := unitOf(string(path)); u != "" {
				return u
			}
		case string(controllers) == "name=systemd":
			v1 = unitOf(string(path))
		}
	}
	return v1
}

func unitOf(path string) string {
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		elem := path[i+1:]
		for _, s := range unitSuffixes {
			if len(elem) > len(s) && strings.HasSuffix(elem, s) {
				return elem
			}
		}
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return ""
}

// parseCmdline splits /proc/PID/cmdline at its NULs.
func parseCmdline(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// parseListenFDs reports whether an environment block (NUL-separated
// VAR=value entries) carries systemd's socket activation for pid:
// LISTEN_FDS set to a count of at least one and LISTEN_PID equal to pid.
func parseListenFDs(env []byte, pid int) bool {
	var fds, lpid []byte
	for len(env) > 0 {
		entry := env
		if i := bytes.IndexByte(env, 0); i >= 0 {
			entry, env = env[:i], env[i+1:]
		} else {
			env = nil
		}
		if v, ok := bytes.CutPrefix(entry, []byte("LISTEN_FDS=")); ok {
			fds = v
		} else if v, ok := bytes.CutPrefix(entry, []byte("LISTEN_PID=")); ok {
			lpid = v
		}
	}
	n, err := strconv.Atoi(string(fds))
	if err != nil || n < 1 {
		return false
	}
	p, err := strconv.Atoi(string(lpid))
	return err == nil && p == pid
}

// parseLinkInode reads the inode from a link target such as
// "socket:[12345]" or "net:[4026531840]" with the given prefix.
func parseLinkInode(link []byte, prefix string) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte(prefix))
	if !ok || len(rest) < 3 || rest[0] != '[' || rest[len(rest)-1] != ']' {
		return 0, false
	}
	var v uint64
	for _, c := range rest[1 : len(rest)-1] {
		if c < '0' || c > '9' || v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
