package ipcscan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The kernel keeps an attach count per segment, not a list of who is
// attached. Each attached mapping shows in /proc/PID/maps as a shared mapping
// named "/SYSV%08x (deleted)", the key in hex, whose inode field is the
// shmid. The name keeps the original key even after IPC_RMID set the
// table's key to 0. shmids repeat across IPC namespaces, so every mapping
// is labelled with its process's namespace.

// SegmentRef names one segment on the host: its IPC namespace (the inode
// of /proc/PID/ns/ipc) and its shmid there.
type SegmentRef struct {
	NS    uint64
	ShmID int
}

// Holder is a process attached to a segment.
type Holder struct {
	PID      int
	Comm     string // the command name, from /proc/PID/comm
	Mappings int    // its mappings of the segment: nattch counts these
}

// Attachments is what a scan of every /proc/PID/maps found.
type Attachments struct {
	Holders map[SegmentRef][]Holder // sorted by pid
	Keys    map[SegmentRef]int32    // the key in the mapping's name
	// Exes holds the executable of each pid in Holders, as
	// /proc/PID/exe shows it (" (deleted)" at the end when it was
	// replaced); a pid whose link could not be read is missing.
	Exes map[int]string
	// Processes is how many processes were looked at; Unreadable how many
	// maps could not be read (permission) while attachments were left to
	// find, Vanished how many exited during the scan. Neither is an error:
	// together they say how complete the picture is. A scan that needed no
	// maps (no segment attached) looked at no process.
	Processes  int
	Unreadable int
	Vanished   int
	// UnreadableProcesses names the processes counted in Unreadable, by
	// pid, so a report can say whose maps are missing.
	UnreadableProcesses []ProcName
}

// ProcName names a process: its pid and command name (from
// /proc/PID/comm, which any user can read even where the maps are
// hidden; "" when it could not be read either).
type ProcName struct {
	PID  int
	Comm string
}

// Complete reports whether every process's maps could be read.
func (a *Attachments) Complete() bool { return a.Unreadable == 0 }

// In returns the holders of shmid in namespace ns.
func (a *Attachments) In(ns uint64, shmid int) []Holder {
	return a.Holders[SegmentRef{ns, shmid}]
}

// Exe returns the executable of a holder, as /proc/PID/exe shows it, and
// false when it could not be read.
func (a *Attachments) Exe(pid int) (string, bool) {
	exe, ok := a.Exes[pid]
	return exe, ok
}

// Mappings returns the total number of mappings of a segment.
func Mappings(hs []Holder) int {
	n := 0
	for _, h := range hs {
		n += h.Mappings
	}
	return n
}

// IPCNamespace returns the IPC namespace of process pid ("self" for the
// reader): the inode number in the /proc/PID/ns/ipc link, "ipc:[4026531839]".
func (p FS) IPCNamespace(pid string) (uint64, error) {
	link, err := os.Readlink(p.path(pid, "ns", "ipc"))
	if err != nil {
		return 0, err
	}
	return parseNamespaceLink(link)
}

// sysvMarker starts the name of every System V shared-memory mapping.
var sysvMarker = []byte("/SYSV")

// Attachments reads /proc/PID/maps of every process and collects the
// System V shared-memory mappings, by namespace and shmid.
func (p FS) Attachments() (*Attachments, error) {
	return p.scanAll(nil)
}

// attachmentsOf reads what a snapshot of IPC namespace ns holding the
// segments shm needs to know of attachments, and no more. The kernel
// counts in nattch every mapping of a segment (a split mapping counts
// twice, as it shows twice in the maps), so:
//   - when no segment has a mapping, there is nothing to find and no maps
//     file is read: the picture is complete as it is;
//   - otherwise the scan stops once it has found as many mappings of the
//     namespace's segments as their nattch add up to.
func (p FS) attachmentsOf(ns uint64, shm []Segment) (*Attachments, error) {
	want := &wanted{ns: ns, shmids: map[int]bool{}}
	total := 0
	for _, sg := range shm {
		if sg.Nattch > 0 {
			want.shmids[sg.ID] = true
			total += sg.Nattch
		}
	}
	if total == 0 {
		return newAttachments(), nil
	}
	want.left.Store(int64(total))
	return p.scanAll(want)
}

// wanted is what a scan stops at: the mappings of some segments of one
// namespace, left counting down as they are found.
type wanted struct {
	ns     uint64
	shmids map[int]bool
	left   atomic.Int64
}

// found counts n mappings of segment ref, and reports whether every
// wanted mapping has been found.
func (w *wanted) found(ref SegmentRef, n int) bool {
	if ref.NS == w.ns && w.shmids[ref.ShmID] {
		return w.left.Add(-int64(n)) <= 0
	}
	return false
}

// done reports whether every wanted mapping has been found.
func (w *wanted) done() bool { return w != nil && w.left.Load() <= 0 }

// scanAll reads the maps of every process, until want is satisfied when
// it is not nil. The processes are split across the CPUs; each reads
// with raw system calls into reused buffers, since this is a scan of
// thousands of small files.
func (p FS) scanAll(want *wanted) (*Attachments, error) {
	pids, err := p.pids()
	if err != nil {
		return nil, err
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(pids)/64))
	parts := make([]*Attachments, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo, hi := w*len(pids)/workers, (w+1)*len(pids)/workers
			parts[w] = p.scanMaps(pids[lo:hi], want)
		}()
	}
	wg.Wait()
	a := newAttachments()
	for _, part := range parts {
		a.Processes += part.Processes
		a.Unreadable += part.Unreadable
		a.Vanished += part.Vanished
		a.UnreadableProcesses = append(a.UnreadableProcesses, part.UnreadableProcesses...)
		for ref, hs := range part.Holders {
			a.Holders[ref] = append(a.Holders[ref], hs...)
			a.Keys[ref] = part.Keys[ref]
		}
		for pid, exe := range part.Exes {
			a.Exes[pid] = exe
		}
	}
	for _, hs := range a.Holders {
		sort.Slice(hs, func(i, j int) bool { return hs[i].PID < hs[j].PID })
	}
	sort.Slice(a.UnreadableProcesses, func(i, j int) bool { return a.UnreadableProcesses[i].PID < a.UnreadableProcesses[j].PID })
	if want.done() {
		// What could not be read hides nothing: every mapping is found.
		a.Unreadable, a.UnreadableProcesses = 0, nil
	}
	return a, nil
}

// pids lists the process directories under the root, as names.
func (p FS) pids() ([]string, error) {
	dir, err := os.Open(p.Root)
	if err != nil {
		return nil, err
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return nil, err
	}
	pids := names[:0]
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, name)
		}
	}
	// In pid order, so that a scan that stops early stops at the same
	// place on the same tree.
	sort.Slice(pids, func(i, j int) bool {
		if len(pids[i]) != len(pids[j]) {
			return len(pids[i]) < len(pids[j])
		}
		return pids[i] < pids[j]
	})
	return pids, nil
}

func newAttachments() *Attachments {
	return &Attachments{Holders: map[SegmentRef][]Holder{}, Keys: map[SegmentRef]int32{}, Exes: map[int]string{}}
}

// scanMaps reads the maps of the given pids, until want is done.
func (p FS) scanMaps(pids []string, want *wanted) *Attachments {
	a := newAttachments()
	buf := make([]byte, 0, 64<<10)
	small := make([]byte, 256)
	link := make([]byte, unix.PathMax)
	found := map[int]int32{} // shmid -> key, for one process
	count := map[int]int{}   // shmid -> mappings, for one process
	for _, name := range pids {
		if want.done() {
			break
		}
		a.Processes++
		var err error
		buf, err = readFile(p.path(name, "maps"), buf[:0])
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
			a.Vanished++
			continue
		case err != nil: // EACCES, EPERM, or anything else that hides the maps
			a.unreadable(p, name, small)
			continue
		}
		clear(found)
		clear(count)
		if !parseMaps(buf, found, count) {
			continue
		}
		ns, err := p.namespaceOf(name, small)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				a.Vanished++
			} else {
				a.unreadable(p, name, small)
			}
			continue
		}
		comm := ""
		if b, err := readFile(p.path(name, "comm"), small[:0]); err == nil {
			comm = strings.TrimSuffix(string(b), "\n")
		}
		pid, _ := strconv.Atoi(name)
		// Which program holds a segment is what a manifest's exe= is
		// checked against.
		if n, err := unix.Readlink(p.path(name, "exe"), link); err == nil {
			a.Exes[pid] = string(link[:n])
		}
		for id, n := range count {
			ref := SegmentRef{ns, id}
			a.Holders[ref] = append(a.Holders[ref], Holder{PID: pid, Comm: comm, Mappings: n})
			a.Keys[ref] = found[id]
			if want != nil {
				want.found(ref, n)
			}
		}
	}
	return a
}

// unreadable counts process name as unreadable and notes its command
// name, read with buf as scratch.
func (a *Attachments) unreadable(p FS, name string, buf []byte) {
	a.Unreadable++
	pid, _ := strconv.Atoi(name)
	comm := ""
	if b, err := readFile(p.path(name, "comm"), buf[:0]); err == nil {
		comm = strings.TrimSuffix(string(b), "\n")
	}
	a.UnreadableProcesses = append(a.UnreadableProcesses, ProcName{PID: pid, Comm: comm})
}

// namespaceOf reads the IPC namespace link of a pid with buf as scratch.
func (p FS) namespaceOf(pid string, buf []byte) (uint64, error) {
	n, err := unix.Readlink(p.path(pid, "ns", "ipc"), buf[:cap(buf)])
	if err != nil {
		return 0, err
	}
	return parseNamespaceLink(string(buf[:n]))
}

func parseNamespaceLink(link string) (uint64, error) {
	inner, ok := strings.CutPrefix(link, "ipc:[")
	inner, ok2 := strings.CutSuffix(inner, "]")
	if !ok || !ok2 {
		return 0, fmt.Errorf("unexpected ipc namespace link %q", link)
	}
	return strconv.ParseUint(inner, 10, 64)
}

// readFile reads a file to EOF into buf with raw system calls (procfs
// files report a size of 0, so the size is never trusted).
func readFile(path string, buf []byte) ([]byte, error) {
	var fd int
	var err error
	for {
		// O_NONBLOCK: a FIFO planted in a procfs tree opens at once and
		// reads as empty or fails, instead of waiting for a writer.
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return buf, err
	}
	defer unix.Close(fd)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// parseMaps finds the System V mappings in one maps file, counting them by
// shmid and noting each one's key. It reports whether there were any.
func parseMaps(b []byte, keys map[int]int32, count map[int]int) bool {
	found := false
	for {
		i := bytes.Index(b, sysvMarker)
		if i < 0 {
			return found
		}
		start := bytes.LastIndexByte(b[:i], '\n') + 1
		end := bytes.IndexByte(b[i:], '\n')
		if end < 0 {
			end = len(b)
		} else {
			end += i
		}
		if id, key, ok := parseMapsLine(b[start:end]); ok {
			keys[id] = key
			count[id]++
			found = true
		}
		b = b[end:]
	}
}

// parseMapsLine reads one mapping: "addr perms offset dev inode /SYSVkkkkkkkk (deleted)".
// Only shared mappings whose name is exactly a SYSV name count.
func parseMapsLine(line []byte) (shmid int, key int32, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 6 || len(f[1]) != 4 || f[1][3] != 's' {
		return 0, 0, false
	}
	name := f[5]
	if len(name) != len("/SYSV")+8 || !bytes.HasPrefix(name, sysvMarker) {
		return 0, 0, false
	}
	k, err := strconv.ParseUint(string(name[5:]), 16, 32)
	if err != nil {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(string(f[4]), 10, 31)
	if err != nil {
		return 0, 0, false
	}
	return int(id), int32(uint32(k)), true
}

func readComm(path string) string {
	b, err := readFile(path, make([]byte, 0, 64))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
