package ipcscan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// Mode bits the kernel adds to an IPC object's permissions in
// /proc/sysvipc/shm.
const (
	ModeDest   = 0o1000 // SHM_DEST: removed (IPC_RMID) while still attached
	ModeLocked = 0o2000 // SHM_LOCKED: locked in memory (SHM_LOCK)
)

// Perm is what every System V IPC object has.
type Perm struct {
	Key  int32  // 0 for IPC_PRIVATE objects and removed segments
	ID   int    // shmid, semid or msqid
	Mode uint32 // full mode: permission bits plus ModeDest and ModeLocked
	UID  uint32 // owner, as mapped into the reader's user namespace
	GID  uint32
	CUID uint32 // creator
	CGID uint32
}

// Perms returns the permission bits (0600).
func (p Perm) Perms() uint32 { return p.Mode & 0o777 }

// Segment is one shared-memory segment.
type Segment struct {
	Perm
	Size   uint64
	CPID   int // creator pid
	LPID   int // pid of the last shmat/shmdt
	Nattch int // attached mappings (not processes)
	Atime  int64
	Dtime  int64
	Ctime  int64
	RSS    uint64 // resident bytes; 0 on kernels whose table has no rss column
	Swap   uint64
}

// Removed reports whether the segment was marked for destruction while
// attached: it lives until the last detach, with key 0.
func (s Segment) Removed() bool { return s.Mode&ModeDest != 0 }

// Locked reports whether the segment is locked in memory.
func (s Segment) Locked() bool { return s.Mode&ModeLocked != 0 }

// SemSet is one semaphore set.
type SemSet struct {
	Perm
	NSems int
	Otime int64
	Ctime int64
}

// Queue is one message queue.
type Queue struct {
	Perm
	CBytes uint64 // bytes in the queue
	QNum   uint64 // messages in the queue
	LSPID  int    // pid of the last msgsnd
	LRPID  int    // pid of the last msgrcv
	Stime  int64
	Rtime  int64
	Ctime  int64
}

// table reads a /proc/sysvipc file: a header naming the columns, then one
// row per object. Rows are split on runs of white space, never at fixed
// offsets: keys are printed %10d and a negative one overflows its column.
// Columns are found by their header names, so the 14- and 16-column shm
// layouts, and columns added by later kernels, read the same way.
type table struct {
	sc   *bufio.Scanner
	col  map[string]int
	line int
	row  [][]byte
	err  error // the row's first error; later reads return zero
}

func newTable(r io.Reader, required []string) (*table, error) {
	t := &table{sc: bufio.NewScanner(r), col: map[string]int{}}
	t.sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !t.sc.Scan() {
		if err := t.sc.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("empty: no header line")
	}
	t.line = 1
	for i, name := range bytes.Fields(t.sc.Bytes()) {
		t.col[string(name)] = i
	}
	for _, name := range required {
		if _, ok := t.col[name]; !ok {
			return nil, fmt.Errorf("header has no %q column", name)
		}
	}
	return t, nil
}

// next advances to the next non-blank row.
func (t *table) next() bool {
	for t.sc.Scan() {
		t.line++
		t.row = bytes.Fields(t.sc.Bytes())
		if len(t.row) > 0 {
			return true
		}
	}
	return false
}

func (t *table) fail(format string, args ...any) {
	if t.err == nil {
		t.err = fmt.Errorf("line %d: %s", t.line, fmt.Sprintf(format, args...))
	}
}

// raw returns a column's text; nil for a column the header does not have
// (rss and swap on older kernels) or after an error.
func (t *table) raw(name string) []byte {
	i, ok := t.col[name]
	if !ok || t.err != nil {
		return nil
	}
	if i >= len(t.row) {
		t.fail("%d fields, no %s column", len(t.row), name)
		return nil
	}
	return t.row[i]
}

func (t *table) int(name string, bits int) int64 {
	b := t.raw(name)
	if b == nil {
		return 0
	}
	v, err := strconv.ParseInt(string(b), 10, bits)
	if err != nil {
		t.fail("%s %q is not a %d-bit integer", name, b, bits)
	}
	return v
}

func (t *table) uint(name string, bits int) uint64 {
	b := t.raw(name)
	if b == nil {
		return 0
	}
	v, err := strconv.ParseUint(string(b), 10, bits)
	if err != nil {
		t.fail("%s %q is not an unsigned %d-bit integer", name, b, bits)
	}
	return v
}

// perm reads the columns every facility has; id names the id column.
func (t *table) perm(id string) Perm {
	var p Perm
	p.Key = int32(t.int("key", 32))
	p.ID = int(t.int(id, 32))
	if b := t.raw("perms"); b != nil {
		m, err := strconv.ParseUint(string(b), 8, 32)
		if err != nil {
			t.fail("perms %q is not octal", b)
		}
		p.Mode = uint32(m)
	}
	p.UID, p.GID = uint32(t.uint("uid", 32)), uint32(t.uint("gid", 32))
	p.CUID, p.CGID = uint32(t.uint("cuid", 32)), uint32(t.uint("cgid", 32))
	return p
}

var (
	shmColumns = []string{"key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid", "gid", "cuid", "cgid", "atime", "dtime", "ctime"}
	semColumns = []string{"key", "semid", "perms", "nsems", "uid", "gid", "cuid", "cgid", "otime", "ctime"}
	msgColumns = []string{"key", "msqid", "perms", "cbytes", "qnum", "lspid", "lrpid", "uid", "gid", "cuid", "cgid", "stime", "rtime", "ctime"}
)

// parseRows reads a table with the required columns, one value per row.
func parseRows[T any](r io.Reader, required []string, row func(*table) T) ([]T, error) {
	t, err := newTable(r, required)
	if err != nil {
		return nil, err
	}
	var out []T
	for t.next() {
		v := row(t)
		if t.err != nil {
			return nil, t.err
		}
		out = append(out, v)
	}
	return out, t.sc.Err()
}

// ParseShm reads /proc/sysvipc/shm.
func ParseShm(r io.Reader) ([]Segment, error) {
	return parseRows(r, shmColumns, func(t *table) Segment {
		return Segment{
			Perm:   t.perm("shmid"),
			Size:   t.uint("size", 64),
			CPID:   int(t.int("cpid", 32)),
			LPID:   int(t.int("lpid", 32)),
			Nattch: int(t.int("nattch", 64)),
			Atime:  t.int("atime", 64),
			Dtime:  t.int("dtime", 64),
			Ctime:  t.int("ctime", 64),
			RSS:    t.uint("rss", 64),
			Swap:   t.uint("swap", 64),
		}
	})
}

// ParseSem reads /proc/sysvipc/sem.
func ParseSem(r io.Reader) ([]SemSet, error) {
	return parseRows(r, semColumns, func(t *table) SemSet {
		return SemSet{
			Perm:  t.perm("semid"),
			NSems: int(t.int("nsems", 32)),
			Otime: t.int("otime", 64),
			Ctime: t.int("ctime", 64),
		}
	})
}

// ParseMsg reads /proc/sysvipc/msg.
func ParseMsg(r io.Reader) ([]Queue, error) {
	return parseRows(r, msgColumns, func(t *table) Queue {
		return Queue{
			Perm:   t.perm("msqid"),
			CBytes: t.uint("cbytes", 64),
			QNum:   t.uint("qnum", 64),
			LSPID:  int(t.int("lspid", 32)),
			LRPID:  int(t.int("lrpid", 32)),
			Stime:  t.int("stime", 64),
			Rtime:  t.int("rtime", 64),
			Ctime:  t.int("ctime", 64),
		}
	})
}

// FS reads a procfs tree: /proc by default, a fixture in tests.
type FS struct {
	Root string
}

// DefaultRoot is where procfs is mounted.
const DefaultRoot = "/proc"

// NewFS returns an FS rooted at root ("" means /proc).
func NewFS(root string) FS {
	if root == "" {
		root = DefaultRoot
	}
	return FS{Root: root}
}

func (p FS) path(elem ...string) string {
	return filepath.Join(append([]string{p.Root}, elem...)...)
}

// readTable opens a sysvipc file and hands it to parse, reading to EOF
// (procfs reports a size of 0).
func readTable[T any](p FS, name string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	path := p.path("sysvipc", name)
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := parse(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return out, nil
}

// Shm reads the shared-memory table.
func (p FS) Shm() ([]Segment, error) { return readTable(p, "shm", ParseShm) }

// Sem reads the semaphore table.
func (p FS) Sem() ([]SemSet, error) { return readTable(p, "sem", ParseSem) }

// Msg reads the message-queue table.
func (p FS) Msg() ([]Queue, error) { return readTable(p, "msg", ParseMsg) }
