package fdscan

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Holder is one descriptor through which a process holds a socket.
type Holder struct {
	PID, FD     int
	CloseOnExec bool
}

// Snapshot is every process's socket descriptors and every network
// namespace's sockets, read in one pass.
type Snapshot struct {
	Processes map[int]*Process
	// Sockets are the tcp, tcp6, udp, udp6 and unix sockets of every
	// network namespace a readable process is in, by inode (socket inodes
	// are unique on the host). Sockets without an inode (connections not
	// yet accepted, TIME_WAIT) are not here.
	Sockets map[uint64]*Socket
	// Holders are, by socket inode, every descriptor of every process
	// that refers to it, sorted by pid and descriptor. It covers every
	// socket descriptor, so it also names inodes of protocols Sockets
	// does not read (netlink, packet, raw…).
	Holders map[uint64][]Holder
	// Unreadable counts processes whose descriptor table could not be
	// read (another user's, as a user without CAP_SYS_PTRACE; sandboxed);
	// they are in Processes with FDs -1. Vanished counts processes that
	// exited during the scan; they are not in Processes. Neither is an
	// error: together they say how complete the picture is.
	Unreadable, Vanished int
	// UnreadableProcesses names the processes counted in Unreadable,
	// sorted by pid, so a report can say whose descriptors are missing.
	UnreadableProcesses []ProcName
	// Notes say what else could not be read, one sentence each.
	Notes []string
}

// Complete reports whether every process and every listener queue was read.
func (s *Snapshot) Complete() bool { return s.Unreadable == 0 && len(s.Notes) == 0 }

// ProcName names a process: its pid and command name (from
// /proc/PID/stat, which any user can read even where the descriptors are
// hidden; "" when it could not be read either).
type ProcName struct {
	PID  int
	Comm string
}

// part is what one worker found.
type part struct {
	procs      []*Process
	held       []heldSocket
	unreadable []ProcName
	vanished   int
}

// Snapshot reads every process under the root, then the sockets of each
// network namespace they are in. Processes are shared among GOMAXPROCS
// workers, each reading with raw system calls into buffers it reuses: the
// cost is per descriptor (one getdents64 record and one readlinkat) plus
// one fdinfo read per socket descriptor, with no memory kept per
// descriptor that is not a socket. The reader's own namespace is read
// while the processes are.
func (p FS) Snapshot() (*Snapshot, error) {
	root, err := p.openRoot()
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	pids, err := p.pids()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	live := p.live()
	self, own := p.ownNamespace(live)
	ownRead := make(chan namespaceRead, 1)
	if self != 0 {
		go func() { ownRead <- p.readNamespace(self, []string{"self"}, live, own) }()
	} else {
		ownRead <- namespaceRead{}
	}

	workers := max(1, min(runtime.GOMAXPROCS(0), len(pids)))
	parts := make([]part, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := p.newScanner(root)
			pt := &parts[w]
			var held []heldSocket
			for {
				i := int(next.Add(1)) - 1
				if i >= len(pids) {
					return
				}
				pr, out := s.process(pids[i], &held)
				switch out {
				case vanished:
					pt.vanished++
					continue
				case unreadable:
					pt.unreadable = append(pt.unreadable, s.procName(pids[i], pr))
				}
				if pr == nil {
					continue
				}
				pt.procs = append(pt.procs, pr)
				pt.held = append(pt.held, held...)
			}
		}()
	}
	wg.Wait()

	snap := &Snapshot{Processes: map[int]*Process{}, Sockets: map[uint64]*Socket{}}
	var held []heldSocket
	for _, pt := range parts {
		snap.Unreadable += len(pt.unreadable)
		snap.UnreadableProcesses = append(snap.UnreadableProcesses, pt.unreadable...)
		snap.Vanished += pt.vanished
		for _, pr := range pt.procs {
			snap.Processes[pr.PID] = pr
		}
		held = append(held, pt.held...)
	}
	snap.Holders = groupHolders(held)
	slices.SortFunc(snap.UnreadableProcesses, func(a, b ProcName) int { return cmp.Compare(a.PID, b.PID) })
	if !live {
		snap.Notes = append(snap.Notes, fmt.Sprintf("%s is not a live procfs: unix listener queues and listen backlogs (sock_diag) not read", p.root))
	}
	results := append([]namespaceRead{<-ownRead}, p.readOtherNamespaces(snap.Processes, self, live)...)
	for _, r := range results {
		snap.Notes = append(snap.Notes, r.notes...)
		r.sockets.each(func(sk *Socket) {
			if _, dup := snap.Sockets[sk.Inode]; sk.Inode != 0 && !dup {
				snap.Sockets[sk.Inode] = sk
			}
		})
	}
	if live {
		p.readActivity(root, snap)
		p.readPaths(root, snap)
	}
	return snap, nil
}

// readPaths says, for each unix listener bound to an absolute path,
// whether the path still names it: the path is looked up from a holder's
// root directory (its mount namespace, as a client there would), through
// a descriptor, so a holder that exits meanwhile cannot make the path seem
// gone.
func (p FS) readPaths(root int, snap *Snapshot) {
	for ino, sk := range snap.Sockets {
		if !sk.Listening() || sk.Proto != "unix" || sk.BoundIno == 0 || !strings.HasPrefix(sk.Local, "/") {
			continue
		}
		for _, h := range snap.Holders[ino] {
			if state := boundPath(root, h.PID, sk); state != PathUnknown {
				sk.Path = state
				break
			}
		}
	}
}

// boundPath looks sk's path up from process pid's root directory.
func boundPath(root, pid int, sk *Socket) PathState {
	dir, err := unix.Openat(root, strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return PathUnknown
	}
	defer unix.Close(dir)
	// connect() follows symbolic links: so does this.
	var st unix.Stat_t
	switch err := unix.Fstatat(dir, strings.TrimLeft(sk.Local, "/"), &st, 0); {
	case err == unix.ENOENT || err == unix.ENOTDIR:
		return PathMissing
	case err != nil:
		return PathUnknown
	case st.Ino == sk.BoundIno && st.Dev == sk.BoundDev:
		return PathNamesIt
	}
	return PathReplaced
}

// readActivity reads what each holder of a listening socket is doing,
// once per process.
func (p FS) readActivity(root int, snap *Snapshot) {
	s := p.newScanner(root)
	for ino, sk := range snap.Sockets {
		if !sk.Listening() {
			continue
		}
		for _, h := range snap.Holders[ino] {
			if pr := snap.Processes[h.PID]; pr != nil && pr.Activity == nil && !pr.Kernel {
				pr.Activity = s.activity(h.PID, pr.epolls)
			}
		}
	}
}

// groupHolders sorts the holders by inode, pid and descriptor and maps
// each inode to its run of them: one array backs every list.
func groupHolders(held []heldSocket) map[uint64][]Holder {
	slices.SortFunc(held, func(a, b heldSocket) int {
		return cmp.Or(cmp.Compare(a.inode, b.inode), cmp.Compare(a.PID, b.PID), cmp.Compare(a.FD, b.FD))
	})
	all := make([]Holder, len(held))
	out := map[uint64][]Holder{}
	for i := 0; i < len(held); {
		j := i + 1
		for j < len(held) && held[j].inode == held[i].inode {
			j++
		}
		for k := i; k < j; k++ {
			all[k] = held[k].Holder
		}
		out[held[i].inode] = all[i:j:j]
		i = j
	}
	return out
}

// ownNamespace returns the network namespace of the root's "self" (for a
// live root, the reader), and whether sock_diag can be asked about it
// without entering it: the root is live and its self is this process.
func (p FS) ownNamespace(live bool) (ns uint64, own bool) {
	link, err := readlink(p.path("self", "ns", "net"))
	if err != nil {
		return 0, false
	}
	ns, _ = parseLinkInode(link, "net:")
	if live {
		if mine, err := readlink("/proc/thread-self/ns/net"); err == nil && string(mine) == string(link) {
			own = true
		}
	}
	return ns, own
}

// namespaceRead is the outcome of reading one network namespace.
type namespaceRead struct {
	sockets socketArena
	notes   []string
}

// readOtherNamespaces reads the namespaces the processes are in, other
// than skip, each through the lowest pid in it that is still there.
func (p FS) readOtherNamespaces(procs map[int]*Process, skip uint64, live bool) []namespaceRead {
	byNS := map[uint64][]int{}
	for pid, pr := range procs {
		if pr.NetNS != 0 && pr.NetNS != skip {
			byNS[pr.NetNS] = append(byNS[pr.NetNS], pid)
		}
	}
	namespaces := make([]uint64, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	slices.Sort(namespaces)
	results := make([]namespaceRead, len(namespaces))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(namespaces)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(namespaces) {
					return
				}
				pids := byNS[namespaces[i]]
				slices.Sort(pids)
				via := make([]string, len(pids))
				for k, pid := range pids {
					via[k] = strconv.Itoa(pid)
				}
				results[i] = p.readNamespace(namespaces[i], via, live, false)
			}
		}()
	}
	wg.Wait()
	return results
}

// readNamespace reads the socket tables of namespace ns through the first
// of the process directories via that is still there, then, on a live
// root, the listeners' queues from sock_diag: in the reader's own
// namespace when own, else by entering the namespace through that
// process.
func (p FS) readNamespace(ns uint64, via []string, live, own bool) namespaceRead {
	var r namespaceRead
	var err error
	dirName := ""
	for _, d := range via {
		r.sockets = socketArena{}
		if err = p.readTables(d, &r.sockets); err == nil || !gone(err) {
			dirName = d
			break
		}
	}
	if err != nil {
		r.notes = append(r.notes, fmt.Sprintf("network namespace %d: sockets not read: %v", ns, err))
		return r
	}
	r.sockets.each(func(s *Socket) { s.NetNS = ns })
	if !live {
		return r
	}
	nsPath := ""
	if !own {
		nsPath = p.path(dirName, "ns", "net")
	}
	if err := applyDiag(nsPath, &r.sockets); err != nil {
		r.notes = append(r.notes, fmt.Sprintf("network namespace %d: unix listener queues and listen backlogs not read: %v", ns, err))
	}
	return r
}

// netTables are the files read per network namespace.
var netTables = []struct {
	proto string
	name  []byte
}{
	{"tcp", cname("tcp")}, {"tcp6", cname("tcp6")}, {"udp", cname("udp")}, {"udp6", cname("udp6")}, {"unix", cname("unix")},
}

// readTables reads the five tables of the namespace of the process whose
// directory under the root is dirName into a, streaming each to its
// parser. They are read at once: reading tcp or tcp6 walks the whole
// connection hash table, a cost of milliseconds even when it is empty.
func (p FS) readTables(dirName string, a *socketArena) error {
	netDir := p.path(dirName, "net")
	dir, err := unix.Open(netDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: netDir, Err: err}
	}
	defer unix.Close(dir)
	parts := make([]socketArena, len(netTables))
	errs := make([]error, len(netTables))
	var wg sync.WaitGroup
	for i, t := range netTables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = readTable(dir, netDir, t.proto, t.name, &parts[i])
		}()
	}
	wg.Wait()
	for i := range parts {
		if errs[i] != nil {
			return errs[i]
		}
		a.join(&parts[i])
	}
	return nil
}

// readTable reads one table of the net directory dir into a.
func readTable(dir int, netDir, proto string, name []byte, a *socketArena) error {
	fd, err := openat(dir, name, unix.O_RDONLY)
	if err == unix.ENOENT && (proto == "tcp6" || proto == "udp6") {
		return nil // a kernel without IPv6
	}
	if err != nil {
		return &fs.PathError{Op: "open", Path: filepath.Join(netDir, proto), Err: err}
	}
	defer unix.Close(fd)
	if proto == "unix" {
		err = parseNetUnix(a, &tableReader{fd: fd})
	} else {
		err = parseNetTCP(a, &tableReader{fd: fd}, proto)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", netDir, err)
	}
	return nil
}

// applyDiag fills in listeners' queues and backlogs from sock_diag in the
// namespace at nsPath ("" for the reader's own).
func applyDiag(nsPath string, sockets *socketArena) error {
	c, err := dialDiag(nsPath)
	if err != nil {
		return err
	}
	defer c.Close()
	unixQ, tcpQ, err := c.listenerQueues()
	if err != nil {
		return err
	}
	sockets.each(func(sk *Socket) {
		if !sk.Listening() {
			return
		}
		if sk.Proto == "unix" {
			if q, ok := unixQ[sk.Inode]; ok {
				sk.Queue, sk.Backlog = q.Queue, q.Backlog
				if q.HasName {
					sk.Local = q.Name // exact even when the path has a newline
				}
				if q.HasVFS && q.VFSIno != 0 {
					sk.BoundIno = uint64(q.VFSIno)
					sk.BoundDev = unix.Mkdev(q.VFSDev>>20, q.VFSDev&(1<<20-1))
				}
			}
		} else if q, ok := tcpQ[sk.Inode]; ok {
			sk.Backlog = q.Backlog
		}
	})
	return nil
}

// Sockets reads the sockets of the network namespace process pid is in,
// with listeners' queues when the root is the live procfs.
func (p FS) Sockets(pid int) ([]Socket, error) {
	name := strconv.Itoa(pid)
	link, err := readlink(p.path(name, "ns", "net"))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	ns, _ := parseLinkInode(link, "net:")
	live := p.live()
	self, own := p.ownNamespace(live)
	r := p.readNamespace(ns, []string{name}, live, own && self == ns)
	if len(r.notes) > 0 {
		return r.sockets.slice(), errors.New(r.notes[0])
	}
	return r.sockets.slice(), nil
}

func readlink(path string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := unix.Readlink(path, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
