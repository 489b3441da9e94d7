package fdscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FS reads a procfs tree: the live /proc, or a copy of one for tests.
type FS struct {
	root string
}

// DefaultRoot is where procfs is mounted.
const DefaultRoot = "/proc"

// NewFS returns an FS rooted at root ("" means /proc).
func NewFS(root string) FS {
	if root == "" {
		root = DefaultRoot
	}
	return FS{root: root}
}

func (p FS) path(elem ...string) string {
	return filepath.Join(append([]string{p.root}, elem...)...)
}

// live reports whether the root is a procfs mount: only then can the
// network namespaces its processes name be entered for sock_diag.
func (p FS) live() bool {
	var st unix.Statfs_t
	return unix.Statfs(p.root, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// Names of the files a scan reads, NUL-terminated for openat.
var (
	nameStat    = cname("stat")
	nameComm    = cname("comm")
	nameCmdline = cname("cmdline")
	nameExe     = cname("exe")
	nameCgroup  = cname("cgroup")
	nameLimits  = cname("limits")
	nameEnviron = cname("environ")
	nameNetNS   = cname("ns/net")
	nameFD      = cname("fd")
	nameFDInfo  = cname("fdinfo")
)

// socketFD is a socket descriptor found in a process's table.
type socketFD struct {
	fd    int
	inode uint64
}

// heldSocket is a holder of the socket with the given inode.
type heldSocket struct {
	inode uint64
	Holder
}

// outcome is how far a process could be read.
type outcome int

const (
	complete   outcome = iota // everything there was read
	unreadable                // the descriptor table (or more) could not be read: permission
	vanished                  // the process exited during the scan
)

// scanner reads processes with buffers it reuses from one to the next; a
// worker owns one.
type scanner struct {
	root int // the root directory, open
	// procfs: the root is a procfs mount, whose directory listings are
	// known to fill the buffer while entries remain.
	procfs bool
	// ownPIDs: the root is the procfs of the reader's pid namespace, so
	// its pids can be passed to system calls (prlimit).
	ownPIDs bool
	buf     []byte // file contents
	link    []byte // symbolic link targets
	dents   []byte // getdents64 records
	name    []byte // a pid or fd number, NUL-terminated
	socks   []socketFD
	epolls  []int // epoll descriptors
}

func (p FS) newScanner(root int) *scanner {
	live := p.live()
	self, _ := readlink(p.path("self"))
	return &scanner{
		root:    root,
		procfs:  live,
		ownPIDs: live && string(self) == strconv.Itoa(os.Getpid()),
		buf:     make([]byte, 0, 16<<10),
		link:    make([]byte, unix.PathMax),
		dents:   make([]byte, 32<<10),
		name:    make([]byte, 0, 24),
		socks:   make([]socketFD, 0, 64),
	}
}

// num sets s.name to n, NUL-terminated.
func (s *scanner) num(n int) []byte {
	s.name = append(strconv.AppendInt(s.name[:0], int64(n), 10), 0)
	return s.name
}

// procName names process pid for a report of what could not be read: the
// command name of pr when it was read, else from /proc/PID/comm.
func (s *scanner) procName(pid int, pr *Process) ProcName {
	if pr != nil {
		return ProcName{PID: pid, Comm: pr.Comm}
	}
	n := ProcName{PID: pid}
	dir, err := openat(s.root, s.num(pid), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return n
	}
	defer unix.Close(dir)
	if b, err := readProc(dir, nameComm, s.buf, wholeLine); err == nil {
		n.Comm = strings.TrimSuffix(string(b), "\n")
	}
	return n
}

// process reads one process, and into held the sockets it holds.
func (s *scanner) process(pid int, held *[]heldSocket) (*Process, outcome) {
	*held = (*held)[:0]
	dir, err := openat(s.root, s.num(pid), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		if gone(err) {
			return nil, vanished
		}
		return nil, unreadable
	}
	defer unix.Close(dir)
	s.buf, err = readProc(dir, nameStat, s.buf, wholeLine)
	if err != nil {
		if gone(err) {
			return nil, vanished
		}
		return nil, unreadable
	}
	st, err := parseStat(s.buf)
	if err != nil {
		return nil, unreadable
	}
	pr := &Process{PID: pid, PPID: st.ppid, Start: st.start, Comm: st.comm, FDs: -1, State: st.state, NSPID: pid}
	if st.flags&pfKthread != 0 {
		pr.Kernel, pr.FDs = true, 0
		return pr, complete
	}
	if n, err := readlinkat(dir, nameNetNS, s.link); err == nil {
		pr.NetNS, _ = parseLinkInode(s.link[:n], "net:")
	}

	result := complete
	s.socks = s.socks[:0]
	s.epolls = s.epolls[:0]
	switch fds, err := s.readFDs(dir, s.collectSockets); {
	case gone(err):
		return nil, vanished
	case err != nil:
		result = unreadable
	default:
		pr.FDs = fds
	}
	if len(s.socks) > 0 {
		switch s.closeOnExec(dir, pid, held) {
		case vanished:
			return nil, vanished
		case unreadable:
			result = unreadable
		}
	}

	if n, err := readlinkat(dir, nameExe, s.link); err == nil {
		pr.Exe = string(s.link[:n])
	}
	if s.buf, err = readProc(dir, nameCmdline, s.buf, nil); err == nil {
		pr.Cmdline = parseCmdline(s.buf)
	}
	if s.buf, err = readProc(dir, nameCgroup, s.buf, nil); err == nil {
		pr.Unit = ParseCgroupUnit(s.buf)
	}
	pr.FDLimit = s.nofile(dir, pid)
	// Socket activation only matters for processes holding sockets, and
	// environ is the costliest file here (the kernel reads it from the
	// process's memory).
	// LISTEN_PID, like every pid the process itself knows, is a pid of
	// its own pid namespace.
	if len(*held) > 0 {
		if s.buf, err = readProc(dir, nameStatus, s.buf, hasNSpid); err == nil {
			if ns, err := ParseNSpid(s.buf); err == nil && len(ns) > 0 {
				pr.NSPID = ns[len(ns)-1]
			}
		}
		if s.buf, err = readProc(dir, nameEnviron, s.buf, nil); err == nil {
			pr.ListenFDs = parseListenFDs(s.buf, pr.NSPID)
		}
		pr.epolls = slices.Clone(s.epolls)
	}
	return pr, result
}

// nofile returns the soft limit on open files: from prlimit when the pid
// is the reader's to ask about (one system call, no text), else from
// /proc/PID/limits (readable by anyone).
func (s *scanner) nofile(dir, pid int) uint64 {
	if s.ownPIDs {
		var lim unix.Rlimit
		if unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim) == nil {
			return lim.Cur // RLIM_INFINITY is math.MaxUint64, as ParseLimits says unlimited
		}
	}
	var err error
	if s.buf, err = readProc(dir, nameLimits, s.buf, hasNofile); err != nil {
		return 0
	}
	n, _ := ParseLimits(s.buf)
	return n
}

// Tests of whether a file read so far holds what is needed of it.
func wholeLine(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\n' }
func hasNofile(b []byte) bool { return hasLine(b, "Max open files") }
func hasFlags(b []byte) bool  { return hasLine(b, "flags:") }
func hasNSpid(b []byte) bool  { return hasLine(b, "NSpid:") }

func hasLine(b []byte, prefix string) bool {
	i := bytes.Index(b, []byte(prefix))
	return i >= 0 && bytes.IndexByte(b[i:], '\n') >= 0
}

// collectSockets is the readFDs callback of a scan: it keeps sockets.
func (s *scanner) collectSockets(fd int, target []byte) {
	if ino, ok := parseLinkInode(target, "socket:"); ok {
		s.socks = append(s.socks, socketFD{fd, ino})
	} else if string(target) == "anon_inode:[eventpoll]" {
		s.epolls = append(s.epolls, fd)
	}
}

// closeOnExec reads fdinfo of every socket in s.socks into held. A
// holder whose close-on-exec bit cannot be read is left out rather than
// guessed.
func (s *scanner) closeOnExec(dir, pid int, held *[]heldSocket) outcome {
	info, err := openat(dir, nameFDInfo, unix.O_PATH|unix.O_DIRECTORY)
	if gone(err) {
		return vanished
	}
	if err != nil {
		return unreadable
	}
	defer unix.Close(info)
	result := complete
	for _, sk := range s.socks {
		var err error
		s.buf, err = readProc(info, s.num(sk.fd), s.buf, hasFlags)
		if gone(err) {
			continue // closed since the listing
		}
		flags, perr := ParseFDInfo(s.buf)
		if err != nil || perr != nil {
			result = unreadable
			continue
		}
		*held = append(*held, heldSocket{sk.inode, Holder{PID: pid, FD: sk.fd, CloseOnExec: flags&OCloexec != 0}})
	}
	return result
}

// readFDs lists /proc/PID/fd with getdents64 and reads each link relative
// to the open directory, calling fn with the descriptor number and its
// target (valid only during the call). It returns how many descriptors it
// saw.
func (s *scanner) readFDs(dir int, fn func(fd int, target []byte)) (int, error) {
	fdDir, err := openat(dir, nameFD, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fdDir)
	count := 0
	for {
		n, err := unix.Getdents(fdDir, s.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return count, err
		}
		if n <= 0 {
			return count, nil
		}
		// The kernel stops filling only when the next entry does not fit;
		// with room for a longer name than any descriptor number left,
		// this was the last batch, and the read that returns 0 is saved.
		last := s.procfs && n <= len(s.dents)-64
		for rec := s.dents[:n]; len(rec) >= 19; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(rec[16:]))
			if reclen < 20 || reclen > len(rec) {
				return count, errors.New("getdents64: bad record")
			}
			name := rec[19:reclen] // NUL-terminated within the record
			rec = rec[reclen:]
			fd, ok := atoiName(name)
			if !ok {
				continue // "." and ".."
			}
			m, err := readlinkat(fdDir, name, s.link)
			if err != nil {
				continue // closed since the listing
			}
			count++
			fn(fd, s.link[:m])
		}
		if last {
			return count, nil
		}
	}
}

// atoiName reads a NUL-terminated decimal descriptor number.
func atoiName(name []byte) (int, bool) {
	n := 0
	for i, c := range name {
		if c == 0 {
			return n, i > 0
		}
		if c < '0' || c > '9' || n > 1<<30 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return 0, false
}

// openRoot opens the root directory for openat.
func (p FS) openRoot() (int, error) {
	fd, err := unix.Open(p.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: p.root, Err: err}
	}
	return fd, nil
}

// Process reads one process: its place in the tree, its descriptor count
// and limit. Its descriptors' details are Descriptors'.
func (p FS) Process(pid int) (*Process, error) {
	root, err := p.openRoot()
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	var held []heldSocket
	pr, out := p.newScanner(root).process(pid, &held)
	switch out {
	case vanished:
		return nil, &fs.PathError{Op: "read", Path: p.path(strconv.Itoa(pid)), Err: fs.ErrNotExist}
	case unreadable:
		if pr == nil {
			return nil, &fs.PathError{Op: "read", Path: p.path(strconv.Itoa(pid)), Err: fs.ErrPermission}
		}
	}
	return pr, nil
}

// Descriptors lists every open descriptor of one process, with its
// close-on-exec bit, in the order the kernel lists them (by number).
func (p FS) Descriptors(pid int) ([]Descriptor, error) {
	root, err := p.openRoot()
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	s := p.newScanner(root)
	dirPath := p.path(strconv.Itoa(pid))
	dir, err := openat(root, s.num(pid), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dirPath, Err: err}
	}
	defer unix.Close(dir)
	var out []Descriptor
	if _, err := s.readFDs(dir, func(fd int, target []byte) {
		d := Descriptor{PID: pid, FD: fd, Target: string(target)}
		d.Inode, _ = parseLinkInode(target, "socket:")
		out = append(out, d)
	}); err != nil {
		return nil, &fs.PathError{Op: "read", Path: filepath.Join(dirPath, "fd"), Err: err}
	}
	info, err := openat(dir, nameFDInfo, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(dirPath, "fdinfo"), Err: err}
	}
	defer unix.Close(info)
	kept := out[:0]
	for _, d := range out {
		s.buf, err = readProc(info, s.num(d.FD), s.buf, hasFlags)
		if gone(err) {
			continue // closed since the listing
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: filepath.Join(dirPath, "fdinfo", strconv.Itoa(d.FD)), Err: err}
		}
		flags, err := ParseFDInfo(s.buf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dirPath, "fdinfo", strconv.Itoa(d.FD)), err)
		}
		d.CloseOnExec = flags&OCloexec != 0
		kept = append(kept, d)
	}
	return kept, nil
}

// pids lists the numeric entries of the root, in the order the kernel
// lists them (ascending).
func (p FS) pids() ([]int, error) {
	f, err := os.Open(p.root)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
