package ipcscan

import (
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// glob returns the sorted matches of pattern: what filepath.Glob returns,
// sorted. The usual pattern has its metacharacters in its last element
// only ('/etc/app/*.conf'): its one directory is read here with large
// getdents64 calls (matchDir). Other patterns go to filepath.Glob.
func glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	dir, file, ok := oneDirectory(pattern)
	if !ok {
		matches, err := filepath.Glob(pattern)
		sort.Strings(matches)
		return matches, err
	}
	var matches []string
	err := matchDir(dir, file, func(run []string) { matches = append(matches, run...) })
	sortParallel(matches)
	return matches, err
}

// oneDirectory splits a pattern whose metacharacters are all in its last
// element into its directory and that element, as filepath.Glob does; ok
// is false for other patterns.
func oneDirectory(pattern string) (dir, file string, ok bool) {
	dir, file = filepath.Split(pattern)
	switch dir {
	case "":
		dir = "."
	case "/":
	default:
		dir = dir[:len(dir)-1] // as filepath.Glob does
	}
	return dir, file, !HasMeta(dir)
}

// runLength is how many matches matchDir hands over at a time.
const runLength = 256

// matchDir matches the names in directory dir against pattern, as
// filepath.Glob does for one directory, and calls each with runs of the
// matching paths in the order the directory lists them: I/O errors end the
// search without an error; the paths are joined as filepath.Join does.
// Each name is matched where getdents64 put it, and only the matches are
// copied: the paths of a run share one string, since a directory can hold
// 100,000 key files.
func matchDir(dir, pattern string, each func(run []string)) error {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
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
	var joined strings.Builder
	ends := make([]int, 0, runLength) // where each match ends in joined
	flush := func() {
		if len(ends) == 0 {
			return
		}
		// joined is not written again: the paths are parts of it.
		all := joined.String()
		run := make([]string, len(ends))
		start := 0
		for i, end := range ends {
			run[i] = all[start:end]
			start = end
		}
		joined, ends = strings.Builder{}, ends[:0]
		each(run)
	}
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
			if len(ends) == 0 {
				joined.Grow(runLength * (len(prefix) + len(name) + 4))
			}
			joined.WriteString(prefix)
			joined.Write(name)
			ends = append(ends, joined.Len())
			if len(ends) == runLength {
				flush()
			}
		}
		return true
	})
	flush()
	return matchErr
}

// sortParallel sorts paths, a large list in two halves at once, merged.
func sortParallel(paths []string) {
	if len(paths) < 1<<13 || runtime.GOMAXPROCS(0) < 2 {
		slices.Sort(paths)
		return
	}
	a, b := paths[:len(paths)/2], paths[len(paths)/2:]
	done := make(chan struct{})
	go func() {
		slices.Sort(a)
		close(done)
	}()
	slices.Sort(b)
	<-done
	merged := make([]string, 0, len(paths))
	for len(a) > 0 && len(b) > 0 {
		if b[0] < a[0] {
			merged, b = append(merged, b[0]), b[1:]
		} else {
			merged, a = append(merged, a[0]), a[1:]
		}
	}
	copy(paths, append(append(merged, a...), b...))
}
