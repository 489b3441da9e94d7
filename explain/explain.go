// Package explain builds what ipckeys says of a System V IPC key: the
// parts ftok made it of (proj byte, device byte, inode bits), the mounted
// filesystems its device byte can come from, the live objects that hold
// it and who is attached, the configured channels that give it, and the
// files under a directory whose ftok gives it. Not every key is an ftok
// key, and the explanation says so where nothing configured or found
// accounts for it.
//
// The model is built from what the caller read (mountinfo, snapshots,
// configured key files); Search walks directories; WriteTable renders the
// model for people, and the types marshal to the JSON that `explain -o
// json` prints.
package explain

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/report"
)

// Key is what explain says of one key.
type Key struct {
	Key         string           `json:"key"`
	KeyDecimal  int32            `json:"key_decimal"`
	Proj        int              `json:"proj"`
	ProjChar    string           `json:"proj_char,omitempty"`
	DevByte     int              `json:"dev_byte"`
	InoBits     int              `json:"ino_bits"`
	Notes       []string         `json:"notes,omitempty"`
	Filesystems []Filesystem     `json:"filesystems"`
	Live        []Object         `json:"live"`
	Configured  []report.KeyFile `json:"configured"`
	Files       []File           `json:"files"`
	Search      *SearchStats     `json:"search,omitempty"`
}

type Filesystem struct {
	Device     string   `json:"device"` // major:minor
	FSType     string   `json:"fs_type"`
	Source     string   `json:"source"`
	MountPoint []string `json:"mount_points"`
}

type Object struct {
	Namespace uint64              `json:"ipc_namespace,omitempty"`
	Facility  string              `json:"facility"`
	ID        int                 `json:"id"`
	Owner     string              `json:"owner"`
	Removed   bool                `json:"removed,omitempty"`
	Nattch    *int                `json:"nattch,omitempty"`
	Size      uint64              `json:"size,omitempty"`
	Attached  []report.HolderJSON `json:"attached,omitempty"`
	Creator   string              `json:"creator,omitempty"` // the creator's command name, while it runs
}

type File struct {
	Path string `json:"path"`
	Dev  string `json:"dev"`
	Ino  uint64 `json:"ino"`
}

type SearchStats struct {
	Roots         []string `json:"roots"`
	Dirs          int64    `json:"dirs"`
	Entries       int64    `json:"entries"`
	Candidates    int64    `json:"candidates"`
	Denied        int64    `json:"denied"`
	Vanished      int64    `json:"vanished"`
	MountsSkipped int64    `json:"mounts_skipped"`
}

// Inputs is what the caller read for the explanations.
type Inputs struct {
	Mounts   []ipcscan.Mount // the filesystems, from mountinfo
	MountErr error           // why they are unknown
	Snaps    []*ipcscan.Snapshot
	SnapErr  error    // why the live objects are unknown
	Notes    []string // what else could not be seen
	KeyFiles report.KeyFiles
}

// Keys explains every key, without searching files.
func Keys(keys []int32, in Inputs) []*Key {
	out := make([]*Key, len(keys))
	for i, k := range keys {
		e := explain(k, in.Mounts, in.Snaps, in.KeyFiles)
		if in.MountErr != nil {
			e.Notes = append(e.Notes, "filesystems unknown: "+in.MountErr.Error())
		}
		if in.SnapErr != nil {
			e.Notes = append(e.Notes, "live objects unknown: "+in.SnapErr.Error())
		}
		e.Notes = append(e.Notes, in.Notes...)
		out[i] = e
	}
	return out
}

// explain gathers what is known of key k without searching files.
func explain(k int32, mounts []ipcscan.Mount, snaps []*ipcscan.Snapshot, kf report.KeyFiles) *Key {
	p := ftok.Decode(k)
	e := &Key{
		Key: ftok.Hex(k), KeyDecimal: k, Proj: int(p.Proj), DevByte: int(p.DevByte), InoBits: int(p.InoBits),
		Filesystems: []Filesystem{}, Live: []Object{}, Configured: kf[k], Files: []File{},
	}
	if e.Configured == nil {
		e.Configured = []report.KeyFile{}
	}
	if p.Proj > ' ' && p.Proj < 0x7f {
		e.ProjChar = string(rune(p.Proj))
	}
	switch k {
	case ftok.Private:
		e.Notes = append(e.Notes, "key 0 is IPC_PRIVATE: every get call with it makes a new private object; objects listed with key 0 are private or removed, not made from a file")
	case ftok.ErrorValue:
		e.Notes = append(e.Notes, "key 0xffffffff is what ftok returns on error: a program that does not check errno uses it when its key file is missing")
	}
	if p.Proj == 0 {
		e.Notes = append(e.Notes, "proj byte 0: ftok's behaviour with proj 0 is undefined per the man page")
	}
	index := map[string]int{}
	for _, m := range mounts {
		if m.Minor&0xff != uint32(p.DevByte) {
			continue
		}
		dev := fmt.Sprintf("%d:%d", m.Major, m.Minor)
		i, ok := index[dev]
		if !ok {
			i = len(e.Filesystems)
			index[dev] = i
			e.Filesystems = append(e.Filesystems, Filesystem{Device: dev, FSType: m.FSType, Source: m.Source})
		}
		e.Filesystems[i].MountPoint = append(e.Filesystems[i].MountPoint, m.MountPoint)
	}
	for _, snap := range snaps {
		e.Live = append(e.Live, liveWithKey(k, snap, len(snaps) > 1)...)
	}
	if len(e.Configured) == 0 && k != ftok.Private && k != ftok.ErrorValue {
		e.Notes = append(e.Notes, notFtokNote(e.Live))
	}
	return e
}

// notFtokNote says that a key nothing configured gives may not come from
// ftok at all, naming the creator where it is a program known for its own
// keys.
func notFtokNote(live []Object) string {
	for _, o := range live {
		if o.Creator == "postgres" || strings.HasPrefix(o.Creator, "postgres:") {
			return "created by postgres: PostgreSQL does not use ftok; its segment key is its data directory's inode number (its semaphore keys that number times 1000), so the parts above mean nothing for it"
		}
	}
	return "no configured channel gives this key; not every key comes from ftok: PostgreSQL uses its data directory's inode number, ipcmk and many programs pick random or fixed keys, so if no file gives it, read the parts above with care"
}

// liveWithKey lists the objects of one snapshot that hold key k (a removed
// segment by the key its holders still map).
func liveWithKey(k int32, snap *ipcscan.Snapshot, label bool) []Object {
	var out []Object
	ns := uint64(0)
	if label {
		ns = snap.NS
	}
	for _, sg := range snap.Shm {
		orig, known := snap.OriginalKey(sg)
		if !known || orig != k || (k == 0 && !sg.Removed() && sg.Key != 0) {
			continue
		}
		n := sg.Nattch
		o := Object{Namespace: ns, Facility: "shm", ID: sg.ID, Owner: ipcscan.UserName(sg.UID), Removed: sg.Removed(), Nattch: &n, Size: sg.Size}
		if p := snap.Procs[sg.CPID]; p.Alive {
			o.Creator = p.Comm
		}
		for _, h := range snap.Holders(sg.ID) {
			o.Attached = append(o.Attached, report.HolderJSON(h))
		}
		out = append(out, o)
	}
	for _, st := range snap.Sem {
		if st.Key == k {
			out = append(out, Object{Namespace: ns, Facility: "sem", ID: st.ID, Owner: ipcscan.UserName(st.UID)})
		}
	}
	for _, q := range snap.Msg {
		if q.Key == k {
			out = append(out, Object{Namespace: ns, Facility: "msg", ID: q.ID, Owner: ipcscan.UserName(q.UID)})
		}
	}
	return out
}

// Search looks under roots for the files whose ftok gives each key (with
// the key's proj), and records what the walk saw. The walk stays on each
// root's filesystem unless cross is set.
func Search(out []*Key, roots []string, cross bool) error {
	fps := map[uint32]bool{}
	byFP := map[uint32][]*Key{}
	for _, e := range out {
		fp := uint32(ftok.Decode(e.KeyDecimal).Fingerprint())
		fps[fp] = true
		byFP[fp] = append(byFP[fp], e)
	}
	stats, err := ipcscan.SearchInodes(roots, fps, ipcscan.WalkOptions{CrossMounts: cross}, func(m ipcscan.Match) {
		fp := uint32(ftok.FingerprintOf(m.Dev, m.Ino))
		for _, e := range byFP[fp] {
			e.Files = append(e.Files, File{Path: m.Path, Dev: devString(m.Dev), Ino: m.Ino})
		}
	})
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("--search %s: %v: name a directory", pe.Path, pe.Err)
	case err != nil:
		return err
	}
	for _, e := range out {
		sort.Slice(e.Files, func(i, j int) bool { return e.Files[i].Path < e.Files[j].Path })
		e.Search = &SearchStats{Roots: roots, Dirs: stats.Dirs, Entries: stats.Entries, Candidates: stats.Candidates,
			Denied: stats.Denied, Vanished: stats.Vanished, MountsSkipped: stats.MountsSkipped}
	}
	return nil
}

func devString(dev uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
}

// WriteTable writes one block per key for people.
func WriteTable(w io.Writer, out []*Key) error {
	for n, e := range out {
		if n > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "key %s (%d)\n", e.Key, e.KeyDecimal)
		proj := fmt.Sprintf("0x%02x (%d)", e.Proj, e.Proj)
		if e.ProjChar != "" {
			proj = fmt.Sprintf("0x%02x '%s' (%d)", e.Proj, e.ProjChar, e.Proj)
		}
		fmt.Fprintf(w, "  proj byte:    %s\n", proj)
		fmt.Fprintf(w, "  device byte:  0x%02x: the file's device minor ends in 0x%02x\n", e.DevByte, e.DevByte)
		fmt.Fprintf(w, "  inode bits:   0x%04x: the file's inode number is %d modulo 65536\n", e.InoBits, e.InoBits)
		for _, note := range e.Notes {
			fmt.Fprintf(w, "  note:         %s\n", note)
		}
		if len(e.Filesystems) == 0 {
			fmt.Fprintf(w, "  filesystems:  none mounted here has a minor ending in 0x%02x\n", e.DevByte)
		}
		for _, f := range e.Filesystems {
			fmt.Fprintf(w, "  filesystem:   %s %s (%s) at %s\n", f.Device, f.FSType, f.Source, strings.Join(f.MountPoint, ", "))
		}
		if len(e.Live) == 0 {
			fmt.Fprintln(w, "  live:         no object with this key in this IPC namespace")
		}
		for _, o := range e.Live {
			line := fmt.Sprintf("%s id %d, owner %s", o.Facility, o.ID, o.Owner)
			if o.Namespace != 0 {
				line = fmt.Sprintf("ipc:[%d] %s", o.Namespace, line)
			}
			if o.Facility == "shm" {
				line += fmt.Sprintf(", %d bytes, nattch %d", o.Size, *o.Nattch)
				if o.Removed {
					line += ", removed while attached"
				}
				var hs []string
				for _, h := range o.Attached {
					hs = append(hs, fmt.Sprintf("%d (%s)", h.PID, h.Comm))
				}
				if len(hs) > 0 {
					line += ", attached: " + strings.Join(hs, ", ")
				}
			}
			fmt.Fprintf(w, "  live:         %s\n", line)
		}
		for _, f := range e.Configured {
			name := f.Path
			if f.Channel != "" {
				name = "channel " + f.Channel + " (" + f.Path + ")"
			}
			fmt.Fprintf(w, "  configured:   %s, proj %s\n", name, ftok.ProjString(f.Proj))
		}
		if e.Search != nil {
			for _, f := range e.Files {
				fmt.Fprintf(w, "  file:         %s (dev %s, ino %d)\n", f.Path, f.Dev, f.Ino)
			}
			s := e.Search
			fmt.Fprintf(w, "  searched:     %s: %d files found; %d directories, %d entries, %d stat'ed",
				strings.Join(s.Roots, ", "), len(e.Files), s.Dirs, s.Entries, s.Candidates)
			if s.Denied > 0 {
				fmt.Fprintf(w, ", %d directories unreadable", s.Denied)
			}
			if s.MountsSkipped > 0 {
				fmt.Fprintf(w, ", %d mounted filesystems not entered (--cross-mounts)", s.MountsSkipped)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
