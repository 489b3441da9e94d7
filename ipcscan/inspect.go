package ipcscan

import (
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ipckeys/ipckeys/ftok"
	"golang.org/x/sys/unix"
)

// Inspector inspects key files, remembering what many of them share: the
// filesystem of each device (one statfs per st_dev, since every file with
// one device number lives on one superblock) and the directories holding
// them (resolved and stat'ed once each). A scan of many paths then costs
// one stat-family call per path, as ftok itself does.
//
// The zero value is not ready: use NewInspector. An Inspector is safe for
// concurrent use. It never forgets, so use one per scan: directories and
// mounts change between scans.
type Inspector struct {
	mu   sync.Mutex
	fs   map[uint64]fsInfo
	dirs map[string]dirInfo // by the directory as written
	real map[string]dirInfo // by the resolved directory
	// mounts maps st_dev to the filesystem type the mount table gives,
	// read from mountInfo on first need.
	mounts    map[uint64]string
	mountInfo string
}

// dirInfo is a directory that holds key files: where it really is (its
// symbolic links resolved) and its mode there (0 when unreadable).
type dirInfo struct {
	real string
	mode uint32
}

// NewInspector returns an Inspector with nothing remembered.
func NewInspector() *Inspector {
	return &Inspector{fs: map[uint64]fsInfo{}, dirs: map[string]dirInfo{}, real: map[string]dirInfo{}, mountInfo: "/proc/self/mountinfo"}
}

// Inspect stats path as ftok does (following symbolic links), and finds
// its filesystem and the directory that holds the file after its links.
// The error is the one stat returned, for which ftok would return -1.
func (in *Inspector) Inspect(path string) (KeyFile, error) {
	c := inspectCache{dirFD: -1}
	return in.inspect(path, &c)
}

// inspectCache is one worker's memory of the last directory and device,
// so that a run of files in one directory touches the shared maps once.
// In a batch (InspectAll) it also holds the directory open: each file is
// then stat'ed relative to it, by its name alone, and the kernel walks
// one path element instead of all of them.
type inspectCache struct {
	dir    string
	dinfo  dirInfo
	dev    uint64
	fs     fsInfo
	hasDir bool
	hasFS  bool
	batch  bool
	dirFD  int // open (O_PATH) on dir in a batch; -1 when not
}

func (c *inspectCache) close() {
	if c.batch && c.dirFD >= 0 {
		unix.Close(c.dirFD)
		c.dirFD = -1
	}
}

// enter makes dir the cached directory: its resolution and mode, and in a
// batch an open descriptor (none if it cannot be opened: the files are
// then stat'ed by their paths, which gives the same errors).
func (c *inspectCache) enter(in *Inspector, dir string) {
	c.close()
	c.dir, c.dinfo, c.hasDir = dir, in.dir(dir), true
	if c.batch {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			fd = -1
		}
		c.dirFD = fd
	}
}

func (in *Inspector) inspect(path string, c *inspectCache) (KeyFile, error) {
	var st unix.Stat_t
	// lstat first: for a path whose last element is not a symbolic link it
	// is exactly the stat ftok makes (links before the last element are
	// followed by both), and it tells whether the last element is a link.
	// Only then does the path cost a second call: stat, as ftok does.
	plain := plainPath(path)
	var err error
	if plain && c.batch {
		if dir := filepath.Dir(path); !c.hasDir || c.dir != dir {
			c.enter(in, dir)
		}
	}
	if plain && c.batch && c.dirFD >= 0 {
		err = lstatAt(c.dirFD, filepath.Base(path), &st)
	} else {
		err = lstat(path, &st)
	}
	if err != nil {
		return KeyFile{Path: path}, err
	}
	last := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if last {
		if err := ftok.StatInto(path, &st); err != nil {
			return KeyFile{Path: path}, err
		}
	}
	k := KeyFile{Path: path, File: ftok.File{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, Ctime: st.Ctim.Sec,
		Regular: st.Mode&unix.S_IFMT == unix.S_IFREG, Size: st.Size}

	// The directory the file is in once every link is resolved: for a
	// path whose last element is not a link, the resolved directory of
	// the path's own directory, which many paths share.
	var d dirInfo
	if last || !plain {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			real = path
		}
		d = in.dirMode(filepath.Dir(real))
	} else {
		if dir := filepath.Dir(path); !c.hasDir || c.dir != dir {
			c.enter(in, dir)
		}
		d = c.dinfo
	}
	k.Dir, k.DirMode = d.real, d.mode

	var fs fsInfo
	if c.hasFS && c.dev == k.Dev {
		fs = c.fs
	} else {
		var ok bool
		if fs, ok = in.filesystem(path, k.Dev); ok {
			c.dev, c.fs, c.hasFS = k.Dev, fs, true
		}
	}
	k.FSType, k.Unstable = fs.name, fs.unstable
	if k.Unstable == "" && k.Major() == 0 && k.FSType != "" {
		k.Unstable = whyAnon
	}
	return k, nil
}

// plainPath reports whether the directory of path can be taken from its
// text: no trailing slash (which makes lstat follow a last link), and no
// "." or ".." element (".." after a link climbs out of the link's target,
// not out of the link's directory).
func plainPath(path string) bool {
	if strings.HasSuffix(path, "/") {
		return false
	}
	base := filepath.Base(path)
	return base != "." && !strings.Contains(path, "..")
}

// dir resolves a directory as written and stats it, once.
func (in *Inspector) dir(dir string) dirInfo {
	in.mu.Lock()
	d, ok := in.dirs[dir]
	in.mu.Unlock()
	if ok {
		return d
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	d = in.dirMode(real)
	in.mu.Lock()
	in.dirs[dir] = d
	in.mu.Unlock()
	return d
}

// dirMode stats a resolved directory, once.
func (in *Inspector) dirMode(real string) dirInfo {
	in.mu.Lock()
	d, ok := in.real[real]
	in.mu.Unlock()
	if ok {
		return d
	}
	d = dirInfo{real: real}
	var st unix.Stat_t
	if unix.Stat(real, &st) == nil {
		d.mode = st.Mode
	}
	in.mu.Lock()
	in.real[real] = d
	in.mu.Unlock()
	return d
}

// filesystem names the filesystem of device dev, with statfs on path the
// first time; ok is false when statfs failed (and nothing is remembered).
func (in *Inspector) filesystem(path string, dev uint64) (fsInfo, bool) {
	in.mu.Lock()
	fs, ok := in.fs[dev]
	in.mu.Unlock()
	if ok {
		return fs, true
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fsInfo{}, false
	}
	fs = in.fsOf(int64(st.Type), dev)
	in.mu.Lock()
	in.fs[dev] = fs
	in.mu.Unlock()
	return fs, true
}

// fsOf names a filesystem from its statfs magic. devtmpfs (/dev) reports
// the magic of tmpfs (or of ramfs, on kernels without tmpfs), since it is
// one of them inside: only the mount table tells it apart, by device.
func (in *Inspector) fsOf(magic int64, dev uint64) fsInfo {
	fs := lookupFS(magic)
	if magic != tmpfsMagic && magic != ramfsMagic {
		return fs
	}
	in.mu.Lock()
	if in.mounts == nil {
		in.mounts = map[uint64]string{}
		if ms, err := ReadMountInfo(in.mountInfo); err == nil {
			for _, m := range ms {
				in.mounts[unix.Mkdev(m.Major, m.Minor)] = m.FSType
			}
		}
	}
	name := in.mounts[dev]
	in.mu.Unlock()
	if name == "devtmpfs" {
		return fsInfo{name: name, unstable: whyDevices}
	}
	return fs
}

const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// InspectAll inspects paths in parallel, one worker per CPU (key files are
// mostly stat calls, which the kernel serves from its caches on every CPU
// at once), and calls found with each path's index and result. found is
// called from several goroutines, never twice for one index.
func (in *Inspector) InspectAll(paths []string, found func(i int, k KeyFile, err error)) {
	// Chunks keep each worker on a run of neighbouring paths (one
	// directory, one device), which its own cache then serves.
	const chunk = 256
	workers := min(runtime.GOMAXPROCS(0), (len(paths)+chunk-1)/chunk)
	if workers <= 1 {
		c := inspectCache{batch: len(paths) > 1, dirFD: -1}
		defer c.close()
		for i, p := range paths {
			k, err := in.inspect(p, &c)
			found(i, k, err)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := inspectCache{batch: true, dirFD: -1}
			defer c.close()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(paths) {
					return
				}
				for i := lo; i < min(lo+chunk, len(paths)); i++ {
					k, err := in.inspect(paths[i], &c)
					found(i, k, err)
				}
			}
		}()
	}
	wg.Wait()
}

// lstatAt is lstat of name in the directory open as dirFD, retried on
// EINTR.
func lstatAt(dirFD int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirFD, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// lstat is unix.Lstat retried on EINTR, as ftok.StatInto is.
func lstat(path string, st *unix.Stat_t) error {
	for {
		err := unix.Lstat(path, st)
		if err != unix.EINTR {
			return err
		}
	}
}
