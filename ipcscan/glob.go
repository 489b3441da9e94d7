package ipcscan

import (
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// glob returns the sorted matches of pattern: what filepath.Glob returns,
// sorted. The usual pattern has its metacharacters in its last element
// only ('/etc/app/*.conf'): its one directory is read here with large
// getdents64 calls, and the names and the matching paths are each kept in
// one string, since a directory can hold 100,000 key files. Other
// patterns go to filepath.Glob.
func glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	dir, file := filepath.Split(pattern)
	switch dir {
	case "":
		dir = "."
	case "/":
	default:
		dir = dir[:len(dir)-1] // as filepath.Glob does
	}
	if HasMeta(dir) {
		matches, err := filepath.Glob(pattern)
		sort.Strings(matches)
		return matches, err
	}
	return globDir(dir, file)
}

// globDir matches the names in directory dir against pattern, as
// filepath.Glob does for one directory: I/O errors end the search without
// an error; the paths are joined as filepath.Join does.
func globDir(dir, pattern string) ([]string, error) {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil
	}
	defer unix.Close(fd)
	// filepath.Join(dir, name) for a name without a slash, "." or "..".
	prefix := filepath.Clean(dir)
	switch prefix {
	case ".":
		prefix = ""
	case "/":
	default:
		prefix += "/"
	}
	// Each name is matched where getdents64 put it, and only the matches
	// are copied, joined to the directory, into one array.
	var joined []byte
	var ends []int32 // where each match ends in joined
	var matchErr error
	buf := make([]byte, 128<<10)
	readDirents(fd, buf, func(_ uint64, _ byte, name []byte) bool {
		// Match keeps nothing of the name it is given: it may see the
		// bytes of buf for the moment of the call.
		ok, err := filepath.Match(pattern, unsafe.String(&name[0], len(name)))
		if err != nil {
			matchErr = err
			return false
		}
		if ok {
			joined = append(append(joined, prefix...), name...)
			ends = append(ends, int32(len(joined)))
		}
		return true
	})
	// joined is never written again: the paths are parts of it.
	var all string
	if len(joined) > 0 {
		all = unsafe.String(&joined[0], len(joined))
	}
	matches := make([]string, len(ends))
	start := int32(0)
	for i, end := range ends {
		matches[i] = all[start:end]
		start = end
	}
	return sortParallel(matches), matchErr
}

// sortParallel sorts paths, a large list in two halves at once, merged.
func sortParallel(paths []string) []string {
	if len(paths) < 1<<13 || runtime.GOMAXPROCS(0) < 2 {
		slices.Sort(paths)
		return paths
	}
	a, b := paths[:len(paths)/2], paths[len(paths)/2:]
	done := make(chan struct{})
	go func() {
		slices.Sort(a)
		close(done)
	}()
	slices.Sort(b)
	<-done
	out := make([]string, 0, len(paths))
	for len(a) > 0 && len(b) > 0 {
		if b[0] < a[0] {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}
