package watch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// UncoveredProcess is a running process that maps none of the C libraries
// whose IPC functions HookLibc probes: a statically linked program, a Go
// program, or one using another C library. Its IPC calls are not seen.
type UncoveredProcess struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	Exe  string `json:"exe,omitempty"` // empty when /proc did not say
	// Unreadable: its maps could not be read (a process hidden even from
	// root), so whether it maps a probed library is not known.
	Unreadable bool `json:"unreadable,omitempty"`
}

// Coverage is what the C library hooks could not see, as it stands when
// the watch ends.
type Coverage struct {
	// Uncovered are the processes running that map none of the probed
	// C libraries (see Uncovered).
	Uncovered []UncoveredProcess
	// Gaps are the lines of Gaps about a C library that a process mapped
	// when the watch started or maps now; Idle those about a library no
	// process was seen to map (the host's musl, found on disk): a program
	// that started and ended meanwhile may have used it.
	Gaps, Idle []string
}

// mappedFile is a file a process maps, as /proc/PID/maps names it: the
// device and inode of the file the kernel maps, and its path.
type mappedFile struct {
	fileKey
	path    string
	deleted bool // the path no longer names the file
}

// fileKey is a file as maps names it: for a file on overlayfs, the file
// of the layer below, which is also the inode a uprobe attaches to.
type fileKey struct {
	major, minor uint32
	ino          uint64
}

// parseMapsFiles returns the files a /proc/PID/maps maps, once each (by
// device and inode), in order; anonymous and special mappings (inode 0)
// are left out, and so are lines that do not parse.
func parseMapsFiles(r io.Reader) ([]mappedFile, error) {
	var out []mappedFile
	seen := map[fileKey]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f, ok := parseMapsLine(sc.Bytes())
		if !ok || f.ino == 0 || seen[f.fileKey] {
			continue
		}
		seen[f.fileKey] = true
		out = append(out, f)
	}
	return out, sc.Err()
}

// mapsFields splits a line of /proc/PID/maps into its first five fields
// (address perms offset dev inode) and the path, which may hold spaces.
func mapsFields(line []byte) (fields [5][]byte, path []byte) {
	rest := line
	for i := range fields {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		fields[i], rest = rest[:end], rest[end:]
	}
	return fields, bytes.TrimLeft(rest, " ")
}

func parseMapsLine(line []byte) (mappedFile, bool) {
	fields, path := mapsFields(line)
	major, minor, ok := bytes.Cut(fields[3], []byte(":"))
	if !ok {
		return mappedFile{}, false
	}
	maj, err1 := strconv.ParseUint(string(major), 16, 32)
	mnr, err2 := strconv.ParseUint(string(minor), 16, 32)
	ino, err3 := strconv.ParseUint(string(fields[4]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return mappedFile{}, false
	}
	f := mappedFile{fileKey: fileKey{uint32(maj), uint32(mnr), ino}, path: string(path)}
	f.path, f.deleted = strings.CutSuffix(f.path, " (deleted)")
	return f, true
}

// coverage tells whether a process maps one of the probed libraries.
type coverage struct {
	proc   string
	keys   map[fileKey][2]uint64 // the libraries as maps names them, to their stat(2) identity
	stats  map[[2]uint64]bool    // the libraries as stat(2) names them
	mapped map[[2]uint64]bool    // the libraries a process was found mapping
}

func newCoverage(proc string, libs []Library) *coverage {
	c := &coverage{proc: proc, keys: map[fileKey][2]uint64{}, stats: map[[2]uint64]bool{}, mapped: map[[2]uint64]bool{}}
	for _, l := range libs {
		c.keys[fileKey{unix.Major(l.Dev), unix.Minor(l.Dev), l.Ino}] = [2]uint64{l.Dev, l.Ino}
		c.stats[[2]uint64{l.Dev, l.Ino}] = true
	}
	return c
}

// covers reports whether process dir's mapped files include a probed
// library. A library on overlayfs (a container's) is stat'ed as the
// overlay's file but mapped as the layer's: a C library the process maps
// is also looked up by its path, in the process's root, and its key
// learnt. A deleted file is not the one at its path now: a process still
// mapping a C library that was replaced is not covered, as a uprobe on
// the new file does not see it.
func (c *coverage) covers(dir string, files []mappedFile) bool {
	for _, f := range files {
		if id, ok := c.keys[f.fileKey]; ok {
			c.mapped[id] = true
			return true
		}
	}
	for _, f := range files {
		if f.deleted || !strings.HasPrefix(f.path, "/") || !IsCLibrary(f.path) {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, "root", f.path), &st); err == nil && c.stats[[2]uint64{st.Dev, st.Ino}] {
			id := [2]uint64{st.Dev, st.Ino}
			c.keys[f.fileKey] = id
			c.mapped[id] = true
			return true
		}
	}
	return false
}

// uncovered lists the processes under c.proc that map none of the
// libraries, but the watcher (self) and the kernel's threads, which map
// nothing. Processes that end meanwhile are left out; those whose maps
// cannot be read are listed, marked Unreadable.
func (c *coverage) uncovered(self int) ([]UncoveredProcess, error) {
	entries, err := os.ReadDir(c.proc)
	if err != nil {
		return nil, fmt.Errorf("list the processes: %v (is %s mounted?)", err, c.proc)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != self {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	var out []UncoveredProcess
	for _, pid := range pids {
		dir := filepath.Join(c.proc, strconv.Itoa(pid))
		files, err := readMapsFiles(filepath.Join(dir, "maps"))
		if gone(err) {
			continue
		}
		unreadable := errors.Is(err, fs.ErrPermission)
		if err != nil && !unreadable {
			return nil, err
		}
		if !unreadable && (len(files) == 0 || c.covers(dir, files)) {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if gone(err) {
			continue
		}
		p := UncoveredProcess{PID: pid, Comm: strings.TrimSuffix(string(comm), "\n"), Unreadable: unreadable}
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
			p.Exe = strings.TrimSuffix(exe, " (deleted)")
		}
		out = append(out, p)
	}
	return out, nil
}

func readMapsFiles(path string) ([]mappedFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files, err := parseMapsFiles(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return files, nil
}

// gone reports whether err says the process ended (a read of its maps
// after it exited fails with ESRCH).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// selfPID is the watcher's pid as the procfs at proc numbers it.
func selfPID(proc string) int {
	if s, err := os.Readlink(filepath.Join(proc, "self")); err == nil {
		if pid, err := strconv.Atoi(s); err == nil {
			return pid
		}
	}
	return os.Getpid()
}

// siteGaps says which IPC functions of library lib have calls its sites
// do not see, one line per reason. A function that goes on in another
// (Via) is seen there; one the library does not define cannot be called.
func siteGaps(lib string, rep SiteReport) []string {
	hasSite := map[string]bool{}
	for _, s := range rep.Sites {
		hasSite[s.Func] = true
	}
	var shared, lines []string
	seen := map[string]bool{}
	for _, m := range rep.Missing {
		if m.Via != "" || m.Addr == 0 {
			continue
		}
		name := m.Func
		if hasSite[name] {
			name = fmt.Sprintf("%s (its version at %#x)", m.Func, m.Addr)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		// FindSyscallSites says "other code" of a function whose call a
		// helper makes, which no uprobe of this hook sees.
		if strings.Contains(m.Reason, "other code") {
			shared = append(shared, name)
			continue
		}
		lines = append(lines, fmt.Sprintf("%s of %s cannot be probed (%s): its calls are not seen", name, lib, m.Reason))
	}
	switch len(shared) {
	case 0:
		return lines
	case 1:
		return append([]string{fmt.Sprintf("%s of %s makes its system call in a helper shared with other calls: its calls are not seen", shared[0], lib)}, lines...)
	}
	return append([]string{fmt.Sprintf("%s of %s make their system call in a helper shared with other calls: their calls are not seen", andList(shared), lib)}, lines...)
}

// andList joins names as "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
