package watch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// FileID is the file an ftok call named, as the caller saw it.
type FileID struct {
	Path string `json:"path"` // absolute, in the caller's root
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
}

// Object is an IPC object as /proc/sysvipc showed it when a failed get
// call was read: who owns what the caller ran into.
type Object struct {
	Facility string `json:"facility"`
	ID       int    `json:"id"`
	Key      int32  `json:"-"`
	UID      uint32 `json:"uid"`  // owner
	CUID     uint32 `json:"cuid"` // creator
	Size     uint64 `json:"size"` // a segment's bytes, a set's semaphores
	Mode     uint32 `json:"mode"`
}

// MarshalJSON writes the object with its key in hex, as every key in
// ipckeys' JSON is written.
func (o Object) MarshalJSON() ([]byte, error) {
	type plain Object
	return json.Marshal(struct {
		plain
		Key string `json:"key"`
	}{plain(o), ftok.Hex(o.Key)})
}

// tracker remembers what the events said (which id is which key) and
// looks up what they do not carry: the file an ftok call named, the
// object a failed get ran into.
type tracker struct {
	proc  string
	ns    uint32 // the watcher's own IPC namespace: /proc/sysvipc shows it
	keyOf map[objectID]int32
}

type objectID struct {
	ns       uint32
	facility string
	id       int
}

// maxTracked bounds the id-to-key map over a long watch.
const maxTracked = 1 << 16

func newTracker(proc string) *tracker {
	t := &tracker{proc: proc, keyOf: map[objectID]int32{}}
	var st syscall.Stat_t
	if syscall.Stat(filepath.Join(proc, "self", "ns", "ipc"), &st) == nil {
		t.ns = uint32(st.Ino)
	}
	return t
}

// complete fills in what the tracker knows or can read about e.
func (t *tracker) complete(e *Event) {
	switch {
	case e.Kind == Ftok:
		e.File = resolveFtokPath(t.proc, e.PID, e.Path)
	case e.Kind.Get() && !e.Failed():
		if len(t.keyOf) >= maxTracked {
			clear(t.keyOf)
		}
		t.keyOf[objectID{e.IPCNS, e.Kind.Facility(), e.ID}] = e.Key
	case e.Kind.Get():
		if e.IPCNS == t.ns {
			e.Object = t.lookup(e.Kind.Facility(), e.Key)
		}
	case e.ID >= 0:
		id := objectID{e.IPCNS, e.Kind.Facility(), e.ID}
		if k, ok := t.keyOf[id]; ok {
			e.Key, e.KeyKnown = k, true
		} else if e.IPCNS == t.ns {
			if o := t.lookupID(e.Kind.Facility(), e.ID); o != nil {
				e.Key, e.KeyKnown = o.Key, true
				t.keyOf[id] = o.Key
			}
		}
		if e.Kind == ShmCtl || e.Kind == SemCtl || e.Kind == MsgCtl {
			if e.Cmd == IPCRmid && !e.Failed() {
				delete(t.keyOf, id)
			}
		}
	}
}

// resolveFtokPath finds the file ftok stat'ed: the path in the caller's
// root, from its working directory when relative. nil when the process
// or the file is gone.
func resolveFtokPath(proc string, pid int, path string) *FileID {
	if path == "" {
		return nil
	}
	dir := filepath.Join(proc, strconv.Itoa(pid))
	abs := path
	if !filepath.IsAbs(path) {
		cwd, err := os.Readlink(filepath.Join(dir, "cwd"))
		if err != nil {
			return nil
		}
		abs = filepath.Join(cwd, path)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "root", abs), &st); err != nil {
		return nil
	}
	return &FileID{Path: filepath.Clean(abs), Dev: st.Dev, Ino: st.Ino}
}

// Key returns the key ftok gives the file with proj.
func (f *FileID) Key(proj int) int32 { return ftok.Key(f.Dev, f.Ino, proj) }

func (t *tracker) objects(facility string) []Object {
	fs := ipcscan.NewFS(t.proc)
	var out []Object
	switch facility {
	case "shm":
		segs, _ := fs.Shm()
		for _, s := range segs {
			out = append(out, Object{facility, s.ID, s.Key, s.UID, s.CUID, s.Size, s.Mode})
		}
	case "sem":
		sets, _ := fs.Sem()
		for _, s := range sets {
			out = append(out, Object{facility, s.ID, s.Key, s.UID, s.CUID, uint64(s.NSems), s.Mode})
		}
	case "msg":
		qs, _ := fs.Msg()
		for _, q := range qs {
			out = append(out, Object{facility, q.ID, q.Key, q.UID, q.CUID, 0, q.Mode})
		}
	}
	return out
}

func (t *tracker) lookup(facility string, key int32) *Object {
	for _, o := range t.objects(facility) {
		if o.Key == key && key != 0 {
			return &o
		}
	}
	return nil
}

func (t *tracker) lookupID(facility string, id int) *Object {
	for _, o := range t.objects(facility) {
		if o.ID == id {
			return &o
		}
	}
	return nil
}
