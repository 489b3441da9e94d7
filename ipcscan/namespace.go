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

	"github.com/ipckeys/ipckeys/internal/inputfile"
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
// with the lowest pid of each. hidden counts the processes whose namespace
// could not be read (other users', or hidden by a sandbox): their
// namespaces may be missing from the list.
func (p FS) Namespaces() (spaces []Namespace, hidden int, err error) {
	self, err := p.IPCNamespace("self")
	if err != nil {
		return nil, 0, err
	}
	names, err := p.pids()
	if err != nil {
		return nil, 0, err
	}
	byNS := map[uint64]Namespace{}
	buf := make([]byte, 64)
	for _, name := range names {
		pid, _ := strconv.Atoi(name)
		ns, err := p.namespaceOf(name, buf)
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			hidden++
			continue
		}
		if err != nil {
			continue // gone meanwhile
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
	return out, hidden, nil
}

// HasSysAdmin reports whether this process has CAP_SYS_ADMIN, which
// entering another process's IPC namespace needs.
func HasSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_ADMIN/32].Effective&(1<<(unix.CAP_SYS_ADMIN%32)) != 0
}

// ErrNamespace wraps failures to enter another process's namespace.
var ErrNamespace = errors.New("cannot enter the IPC namespace")

// SnapshotOf reads the IPC namespace of process pid. attach, when not nil,
// is an attachment scan to reuse (one scan covers every namespace);
// otherwise the attachments are read only as far as the namespace's
// segments' nattch says there are any to find, as Snapshot does.
func (p FS) SnapshotOf(pid int, attach *Attachments) (*Snapshot, error) {
	name := strconv.Itoa(pid)
	ns, err := p.IPCNamespace(name)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w of process %d: permission denied %s", ErrNamespace, pid, privilegeHint())
	}
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	self, err := p.IPCNamespace("self")
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Source: p.tablesSource(), NS: ns, Procs: map[int]Proc{}, Time: time.Now()}
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
		attach, _ = p.attachmentsOf(ns, s.Shm)
	}
	s.Attach = attach
	p.noteProcs(s)
	return s, nil
}

// privilegeHint says why another process's namespace was refused: a user
// needs CAP_SYS_ADMIN, but root refused is confined (a container without
// the capability, a seccomp or security-module policy, another user
// namespace), and running as root again would not help.
func privilegeHint() string {
	if os.Geteuid() != 0 {
		return "(needs CAP_SYS_ADMIN: run as root)"
	}
	return "even as root: ipckeys runs confined (in a container without CAP_SYS_ADMIN, or under a seccomp or security-module policy) or the process is in another user namespace"
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
		return files, fmt.Errorf("%w %s: %v %s", ErrNamespace, nsPath, err, privilegeHint())
	}
	var openErr error
	for i, t := range []string{"shm", "sem", "msg"} {
		if files[i], openErr = inputfile.Open(p.path("sysvipc", t)); openErr != nil {
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
	k := KeyFile{Path: path, Ctime: st.Ctim.Sec, Regular: st.Mode&unix.S_IFMT == unix.S_IFREG, Size: st.Size}
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
