package ipcscan

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// A key keeps only the low 16 bits of a file's inode number, and every
// directory entry carries the inode number (d_ino). So a search for the
// files behind a key reads directories, not files: it compares d_ino of
// each entry with the key's bits and stats only the few candidates, to
// confirm the device byte. Directories are read in parallel; memory holds
// the directories still to read, never the files seen.

// WalkOptions tune a search.
type WalkOptions struct {
	CrossMounts bool // descend into other filesystems mounted below a root
	Workers     int  // parallel directory readers; 0 means two per CPU
}

// WalkStats say what a search read and what it could not.
type WalkStats struct {
	Dirs          int64 // directories read
	Entries       int64 // directory entries seen
	Candidates    int64 // entries whose inode bits matched, then stat'ed
	Denied        int64 // directories that could not be read (permission)
	Vanished      int64 // entries gone before they could be read
	MountsSkipped int64 // filesystems below a root not entered
}

// Match is a file whose inode bits and device byte give a searched key.
type Match struct {
	Path string
	Dev  uint64
	Ino  uint64
}

// SearchInodes walks roots and calls found (from several goroutines, one
// at a time) for every file, directory or other non-symlink entry whose
// device byte and inode low 16 bits equal one of fps (fingerprints:
// device byte << 16 | inode bits). Symbolic links are not followed: a link
// gives the key of its target, which the search finds under its own name.
func SearchInodes(roots []string, fps map[uint32]bool, opt WalkOptions, found func(Match)) (WalkStats, error) {
	var st WalkStats
	bits := map[uint16]bool{}
	for fp := range fps {
		bits[uint16(fp)] = true
	}
	mounts, err := mountPoints()
	if err != nil {
		mounts = map[string]bool{} // without mountinfo, stay by the st_dev check alone
	}
	w := &walker{opt: opt, bits: bits, fps: fps, mounts: mounts, found: found, stats: &st}
	for _, root := range roots {
		abs, err := filepath.Abs(root)
		if err != nil {
			return st, err
		}
		var s unix.Stat_t
		if err := unix.Stat(abs, &s); err != nil {
			return st, &os.PathError{Op: "search", Path: root, Err: err}
		}
		if s.Mode&unix.S_IFMT != unix.S_IFDIR {
			return st, &os.PathError{Op: "search", Path: root, Err: errors.New("not a directory")}
		}
		if w.matches(uint64(s.Dev), uint64(s.Ino)) {
			w.report(Match{abs, uint64(s.Dev), uint64(s.Ino)})
		}
		w.push(abs)
	}
	w.run()
	return st, nil
}

type walker struct {
	opt    WalkOptions
	bits   map[uint16]bool
	fps    map[uint32]bool
	mounts map[string]bool
	found  func(Match)
	stats  *WalkStats

	mu      sync.Mutex
	cond    *sync.Cond
	stack   []string
	pending int // directories pushed and not yet finished
	foundMu sync.Mutex
}

func (w *walker) matches(dev, ino uint64) bool {
	return w.fps[uint32(dev&0xff)<<16|uint32(ino&0xffff)]
}

func (w *walker) report(m Match) {
	w.foundMu.Lock()
	defer w.foundMu.Unlock()
	w.found(m)
}

func (w *walker) push(dir string) {
	w.mu.Lock()
	w.stack = append(w.stack, dir)
	w.pending++
	w.mu.Unlock()
	if w.cond != nil {
		w.cond.Signal()
	}
}

func (w *walker) run() {
	w.cond = sync.NewCond(&w.mu)
	n := w.opt.Workers
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				w.mu.Lock()
				for len(w.stack) == 0 && w.pending > 0 {
					w.cond.Wait()
				}
				if w.pending == 0 {
					w.mu.Unlock()
					w.cond.Broadcast()
					return
				}
				dir := w.stack[len(w.stack)-1]
				w.stack = w.stack[:len(w.stack)-1]
				w.mu.Unlock()

				w.readDir(dir, buf)

				w.mu.Lock()
				w.pending--
				done := w.pending == 0
				w.mu.Unlock()
				if done {
					w.cond.Broadcast()
				}
			}
		}()
	}
	wg.Wait()
}

// readDir reads one directory's entries with getdents64.
func (w *walker) readDir(dir string, buf []byte) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			atomic.AddInt64(&w.stats.Denied, 1)
		default:
			atomic.AddInt64(&w.stats.Vanished, 1)
		}
		return
	}
	defer unix.Close(fd)
	atomic.AddInt64(&w.stats.Dirs, 1)
	var entries int64
	readDirents(fd, buf, func(ino uint64, typ byte, name []byte) bool {
		entries++
		if typ == unix.DT_DIR || typ == unix.DT_UNKNOWN {
			w.maybeDescend(dir, name, typ)
		}
		if typ != unix.DT_LNK && w.bits[uint16(ino)] {
			w.confirm(join(dir, name))
		}
		return true
	})
	atomic.AddInt64(&w.stats.Entries, entries)
}

// maybeDescend queues a subdirectory unless it is another filesystem's
// mount point (and CrossMounts is off).
func (w *walker) maybeDescend(dir string, name []byte, typ byte) {
	path := join(dir, name)
	if typ == unix.DT_UNKNOWN {
		var s unix.Stat_t
		if unix.Lstat(path, &s) != nil || s.Mode&unix.S_IFMT != unix.S_IFDIR {
			return
		}
	}
	if w.mounts[path] && !w.opt.CrossMounts {
		atomic.AddInt64(&w.stats.MountsSkipped, 1)
		return
	}
	w.push(path)
}

// confirm stats a candidate: its device byte must match too, and on some
// filesystems (overlayfs) d_ino is not st_ino.
func (w *walker) confirm(path string) {
	atomic.AddInt64(&w.stats.Candidates, 1)
	var s unix.Stat_t
	if err := unix.Lstat(path, &s); err != nil {
		atomic.AddInt64(&w.stats.Vanished, 1)
		return
	}
	if w.matches(uint64(s.Dev), uint64(s.Ino)) {
		w.report(Match{path, uint64(s.Dev), uint64(s.Ino)})
	}
}

func join(dir string, name []byte) string {
	if dir == "/" {
		return "/" + string(name)
	}
	return dir + "/" + string(name)
}

// mountPoints returns the mount points of this mount namespace.
func mountPoints() (map[string]bool, error) {
	mounts, err := ReadMountInfo("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		out[m.MountPoint] = true
	}
	return out, nil
}

// Mount is one line of /proc/PID/mountinfo.
type Mount struct {
	Major, Minor uint32
	Root         string // the directory of the filesystem mounted here
	MountPoint   string
	FSType       string
	Source       string
}

// ReadMountInfo reads a mountinfo file.
func ReadMountInfo(path string) ([]Mount, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMountInfo(f)
}

// ParseMountInfo reads mountinfo lines:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Paths are unescaped (\040 is a space).
func ParseMountInfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if len(f) < 7 || sep < 0 || sep+2 >= len(f) {
			return nil, errors.New("mountinfo line " + strconv.Itoa(n) + ": malformed")
		}
		maj, min, ok := strings.Cut(f[2], ":")
		a, err1 := strconv.ParseUint(maj, 10, 32)
		b, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, errors.New("mountinfo line " + strconv.Itoa(n) + ": bad device " + strconv.Quote(f[2]))
		}
		out = append(out, Mount{
			Major: uint32(a), Minor: uint32(b),
			Root: unescapeOctal(f[3]), MountPoint: unescapeOctal(f[4]),
			FSType: f[sep+1], Source: unescapeOctal(f[sep+2]),
		})
	}
	return out, sc.Err()
}

// unescapeOctal decodes the \ooo escapes the kernel writes in mountinfo.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
