package ipcscan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Containers see the host through namespaces. Their System V IPC objects
// live in their own IPC namespace, and /proc/sysvipc shows the namespace
// of the thread that opened it: so ipckeys enters the namespace on a locked
// OS thread (setns needs CAP_SYS_ADMIN), opens the three tables, returns to
// its own, and reads the open files. Pids in the tables are still mapped
// into the reader's pid namespace, so creator checks keep working.
//
// Their files are seen through their mount namespace: a key file is
// resolved under /proc/PID/root with RESOLVE_IN_ROOT, so absolute symbolic
// links inside the container stay inside it. On overlayfs the device and
// inode a container sees can differ from the host's view of "the same"
// file, and so does the key.

// Namespace is an IPC namespace on the host and one process in it.
type Namespace struct {
	Inode uint64
	PID   int
	Comm  string
	Self  bool // the namespace ipckeys runs in
}

// Namespaces lists the IPC namespaces of the processes this user can see,
// with the lowest pid of each.
func (p FS) Namespaces() ([]Namespace, error) {
	self, err := p.IPCNamespace("self")
	if err != nil {
		return nil, err
	}
	names, err := p.pids()
	if err != nil {
		return nil, err
	}
	byNS := map[uint64]Namespace{}
	buf := make([]byte, 64)
	for _, name := range names {
		pid, _ := strconv.Atoi(name)
		ns, err := p.namespaceOf(name, buf)
		if err != nil {
			continue // gone, or not ours to see
		}
		if have, ok := byNS[ns]; !ok || pid < have.PID {
			byNS[ns] = Namespace{Inode: ns, PID: pid, Self: ns == self}
		}
	}
	if _, ok := byNS[self]; !ok {
		byNS[self] = Namespace{Inode: self, PID: os.Getpid(), Self: true}
	}
	out := make([]Namespace, 0, len(byNS))
	for _, ns := range byNS {
		ns.Comm = readComm(p.path(strconv.Itoa(ns.PID), "comm"))
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Self != out[j].Self {
			return out[i].Self
		}
		return out[i].Inode < out[j].Inode
	})
	return out, nil
}

// ErrNamespace wraps failures to enter another process's namespace.
var ErrNamespace = errors.New("cannot enter the IPC namespace")

// SnapshotOf reads the IPC namespace of process pid. attach, when not nil,
// is an attachment scan to reuse (one scan covers every namespace).
func (p FS) SnapshotOf(pid int, attach *Attachments) (*Snapshot, error) {
	name := strconv.Itoa(pid)
	ns, err := p.IPCNamespace(name)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w of process %d: permission denied (needs CAP_SYS_ADMIN: run as root)", ErrNamespace, pid)
	}
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	self, err := p.IPCNamespace("self")
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Source: SourceProc, NS: ns, Procs: map[int]Proc{}, Time: time.Now()}
	if ns == self {
		if s.Shm, s.Sem, s.Msg, err = p.tables(); err != nil {
			return nil, err
		}
	} else {
		files, err := p.openTablesIn(p.path(name, "ns", "ipc"))
		if err != nil {
			return nil, err
		}
		s.Shm, s.Sem, s.Msg, err = parseTables(files)
		if err != nil {
			return nil, err
		}
	}
	if attach == nil {
		attach, _ = p.Attachments()
	}
	s.Attach = attach
	p.noteProcs(s)
	return s, nil
}

// openTablesIn opens /proc/sysvipc/{shm,sem,msg} from inside the IPC
// namespace at nsPath and returns the open files.
func (p FS) openTablesIn(nsPath string) ([3]*os.File, error) {
	var files [3]*os.File
	target, err := os.Open(nsPath)
	if err != nil {
		return files, fmt.Errorf("%w %s: %v", ErrNamespace, nsPath, err)
	}
	defer target.Close()
	home, err := os.Open("/proc/thread-self/ns/ipc")
	if err != nil {
		return files, fmt.Errorf("%w: %v", ErrNamespace, err)
	}
	defer home.Close()

	runtime.LockOSThread()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWIPC); err != nil {
		runtime.UnlockOSThread()
		return files, fmt.Errorf("%w %s: %v (needs CAP_SYS_ADMIN: run as root)", ErrNamespace, nsPath, err)
	}
	var openErr error
	for i, t := range []string{"shm", "sem", "msg"} {
		if files[i], openErr = os.Open(p.path("sysvipc", t)); openErr != nil {
			break
		}
	}
	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWIPC); err != nil {
		// This thread is in the wrong namespace for good: keep it locked
		// so the runtime retires it instead of reusing it.
		return files, fmt.Errorf("%w: cannot return to the own namespace: %v", ErrNamespace, err)
	}
	runtime.UnlockOSThread()
	if openErr != nil {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
		return files, openErr
	}
	return files, nil
}

func parseTables(files [3]*os.File) (shm []Segment, sem []SemSet, msg []Queue, err error) {
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if shm, err = ParseShm(files[0]); err != nil {
		return
	}
	if sem, err = ParseSem(files[1]); err != nil {
		return
	}
	msg, err = ParseMsg(files[2])
	return
}

// ResolveIn stats path as ftok would, but inside root (a container's
// /proc/PID/root, or any directory): absolute symbolic links are resolved
// within root, not against the host's.
func ResolveIn(root, path string) (KeyFile, error) {
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return KeyFile{Path: path}, err
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat2(dirfd, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err == unix.ENOSYS {
		// Kernels before 5.6: resolve by joining; absolute links inside
		// may then point out of root.
		return InspectKeyFile(filepath.Join(root, path))
	}
	if err != nil {
		return KeyFile{Path: path}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return KeyFile{Path: path}, err
	}
	k := KeyFile{Path: path, Ctime: st.Ctim.Sec}
	k.Dev, k.Ino = uint64(st.Dev), uint64(st.Ino)
	var sfs unix.Statfs_t
	if unix.Fstatfs(fd, &sfs) == nil {
		fs := NewInspector().fsOf(int64(sfs.Type), k.Dev)
		k.FSType, k.Unstable = fs.name, fs.unstable
	}
	if k.Unstable == "" && k.Major() == 0 && k.FSType != "" {
		k.Unstable = whyAnon
	}
	return k, nil
}
