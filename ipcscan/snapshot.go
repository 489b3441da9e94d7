package ipcscan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// Sources of the tables, as reports name them.
const (
	SourceProc     = "/proc/sysvipc"
	SourceSyscalls = "shmctl/semctl/msgctl *_STAT_ANY"
)

// Snapshot is the live System V IPC state of one IPC namespace, as far as
// this process can see it.
type Snapshot struct {
	Source string // SourceProc or SourceSyscalls
	NS     uint64 // the IPC namespace's inode; 0 if unknown
	Shm    []Segment
	Sem    []SemSet
	Msg    []Queue
	// Attach is nil when the process table could not be read at all.
	Attach *Attachments
	// Procs holds, for every pid the tables name (creators, last
	// operators), whether it exists now and its command name. A pid that
	// exists may have been reused by another program.
	Procs map[int]Proc
	// Time is when the tables were read: how long ago an object was made
	// is Time minus its ctime. Zero when not known.
	Time time.Time
}

// Proc is what the snapshot knows of a pid.
type Proc struct {
	Alive bool
	Comm  string
}

// Snapshot reads the tables, the attachments and the pids they name. The
// attachments are read only as far as the segments' nattch says there are
// any to find.
// Without /proc/sysvipc under the root, the live root falls back to the
// *_STAT_ANY system calls; a fixture root does not.
func (p FS) Snapshot() (*Snapshot, error) {
	s := &Snapshot{Source: p.tablesSource(), Procs: map[int]Proc{}, Time: time.Now()}
	var err error
	s.Shm, s.Sem, s.Msg, err = p.tables()
	if errors.Is(err, fs.ErrNotExist) && p.Root == DefaultRoot {
		s.Source = SourceSyscalls
		s.Shm, s.Sem, s.Msg, err = statAll()
	}
	if err != nil {
		return nil, fmt.Errorf("read the System V IPC tables: %w", err)
	}
	if ns, err := p.IPCNamespace("self"); err == nil {
		s.NS = ns
	}
	if a, err := p.attachmentsOf(s.NS, s.Shm); err == nil {
		s.Attach = a
	}
	p.noteProcs(s)
	return s, nil
}

// tablesSource names where the tables are read: /proc/sysvipc, or the
// sysvipc directory of another procfs tree (--proc).
func (p FS) tablesSource() string {
	if p.Root == DefaultRoot {
		return SourceProc
	}
	return p.path("sysvipc")
}

// tables reads the three /proc/sysvipc tables.
func (p FS) tables() (shm []Segment, sem []SemSet, msg []Queue, err error) {
	if shm, err = p.Shm(); err != nil {
		return
	}
	if sem, err = p.Sem(); err != nil {
		return
	}
	msg, err = p.Msg()
	return
}

// noteProcs records the pids the tables name: creators, last operators.
func (p FS) noteProcs(s *Snapshot) {
	for _, sg := range s.Shm {
		p.noteProc(s.Procs, sg.CPID)
		p.noteProc(s.Procs, sg.LPID)
	}
	for _, q := range s.Msg {
		p.noteProc(s.Procs, q.LSPID)
		p.noteProc(s.Procs, q.LRPID)
	}
}

func (p FS) noteProc(procs map[int]Proc, pid int) {
	if pid <= 0 {
		return
	}
	if _, ok := procs[pid]; ok {
		return
	}
	name := strconv.Itoa(pid)
	_, err := os.Stat(p.path(name))
	procs[pid] = Proc{Alive: err == nil, Comm: readComm(p.path(name, "comm"))}
}

// Holders returns who is attached to segment shmid in the snapshot's
// namespace (nil when attachments are unknown).
func (s *Snapshot) Holders(shmid int) []Holder {
	if s.Attach == nil {
		return nil
	}
	return s.Attach.In(s.NS, shmid)
}

// OriginalKey returns a segment's key as its attached processes know it:
// the table's key, or for a removed segment (key 0) the key in the name of
// its mappings, if any process still maps it.
func (s *Snapshot) OriginalKey(sg Segment) (key int32, known bool) {
	if sg.Key != 0 || !sg.Removed() {
		return sg.Key, true
	}
	if s.Attach == nil {
		return 0, false
	}
	k, ok := s.Attach.Keys[SegmentRef{s.NS, sg.ID}]
	return k, ok
}

// Stale reports whether a segment has leaked: nothing is attached and its
// creator pid no longer exists (System V IPC has no reference count).
func (s *Snapshot) Stale(sg Segment) bool {
	return sg.Nattch == 0 && !sg.Removed() && sg.CPID > 0 && !s.Procs[sg.CPID].Alive
}
