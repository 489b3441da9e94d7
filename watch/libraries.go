package watch

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Library is one C library file whose ftok is probed. A uprobe attaches
// to the file (its inode), so every process mapping it is covered,
// including those that start later.
type Library struct {
	Path   string // as the processes map it, in their own root
	Open   string // where the watcher reaches it: Path, or under /proc/PID/root
	Dev    uint64
	Ino    uint64
	Mapped bool // a process mapped it when the libraries were found
}

// hostLibraries are where the host's own C library is, for a host on
// which no running process maps it yet.
var hostLibraries = []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib/libc.so.6", "/lib/ld-musl-x86_64.so.1"}

// IsCLibrary reports whether a mapped file is a C library that defines
// ftok: glibc's libc.so.6, or musl's, which is also its dynamic loader.
func IsCLibrary(path string) bool {
	base := filepath.Base(path)
	return base == "libc.so.6" || (strings.HasPrefix(base, "ld-musl-") && strings.HasSuffix(base, ".so.1")) ||
		(strings.HasPrefix(base, "libc.musl-") && strings.HasSuffix(base, ".so.1"))
}

// ParseMapsLibraries returns the C libraries a /proc/PID/maps names, once
// each, in order.
func ParseMapsLibraries(r io.Reader) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		_, mapped := mapsFields(sc.Bytes())
		path := strings.TrimSuffix(string(mapped), " (deleted)")
		if !strings.HasPrefix(path, "/") || !IsCLibrary(path) || seen[path] {
			continue
		}
		seen[path] = true
		out = append(out, path)
	}
	return out, sc.Err()
}

// FindLibraries returns extra, the host's own C library, and every C
// library file the processes under proc map (reached through each
// process's root, so a container's musl is found), once per file.
func FindLibraries(proc string, extra []string) ([]Library, error) {
	var libs []Library
	seen := map[[2]uint64]bool{}
	add := func(path, open string, mapped bool) error {
		var st syscall.Stat_t
		if err := syscall.Stat(open, &st); err != nil {
			return err
		}
		id := [2]uint64{st.Dev, st.Ino}
		if !seen[id] {
			seen[id] = true
			libs = append(libs, Library{Path: path, Open: open, Dev: st.Dev, Ino: st.Ino})
		}
		if mapped {
			for i := range libs {
				if libs[i].Dev == st.Dev && libs[i].Ino == st.Ino {
					libs[i].Mapped = true
				}
			}
		}
		return nil
	}
	for _, p := range extra {
		if err := add(p, p, false); err != nil {
			return nil, fmt.Errorf("--libc %s: %v", p, err)
		}
	}
	for _, p := range hostLibraries {
		_ = add(p, p, false) // the host may use another layout
	}
	dirs, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("list the processes: %v (is %s mounted?)", err, proc)
	}
	var pids []int
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		f, err := os.Open(filepath.Join(dir, "maps"))
		if err != nil {
			continue // ended, or a kernel thread
		}
		paths, _ := ParseMapsLibraries(f)
		f.Close()
		for _, p := range paths {
			_ = add(p, filepath.Join(dir, "root", p), true) // the process may have ended
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("no C library found (none mapped by a process under %s, none at %s): ftok cannot be watched; name one with --libc", proc, strings.Join(hostLibraries, ", "))
	}
	return libs, nil
}
