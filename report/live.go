package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/internal/texttable"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// LsSchema names the version of the `ipckeys ls` JSON document.
const LsSchema = "ipckeys/ls/v1"

// KeyFile is a configured path or channel whose key a live object holds.
type KeyFile struct {
	Channel string `json:"channel,omitempty"`
	Path    string `json:"path"`
	Proj    int    `json:"proj"`
}

// KeyFiles maps keys to the configured paths and channels that give them.
type KeyFiles map[int32][]KeyFile

// NewKeyFiles indexes the usable entries that have a proj id by key.
func NewKeyFiles(entries []audit.Entry) KeyFiles {
	kf := KeyFiles{}
	for i := range entries {
		e := &entries[i]
		k, ok := e.Key()
		if !ok || !e.OK() {
			continue
		}
		f := KeyFile{Channel: e.Name(), Path: e.Path, Proj: e.Proj}
		dup := false
		for _, have := range kf[k] {
			dup = dup || have == f
		}
		if !dup {
			kf[k] = append(kf[k], f)
		}
	}
	return kf
}

// Object is what every live object shows in JSON.
type Object struct {
	Key        string    `json:"key"`         // 0x%08x
	KeyDecimal int32     `json:"key_decimal"` // as /proc/sysvipc prints it
	ID         int       `json:"id"`
	Owner      string    `json:"owner"` // user name, or the uid when it has none
	UID        uint32    `json:"uid"`
	GID        uint32    `json:"gid"`
	CUID       uint32    `json:"cuid"`
	CGID       uint32    `json:"cgid"`
	Perms      string    `json:"perms"` // octal permission bits, "0600"
	Mode       uint32    `json:"mode"`  // full mode including SHM_DEST and SHM_LOCKED
	Ctime      int64     `json:"ctime"`
	Files      []KeyFile `json:"files,omitempty"`
}

// HolderJSON is an attached process.
type HolderJSON struct {
	PID      int    `json:"pid"`
	Comm     string `json:"comm"`
	Mappings int    `json:"mappings"`
}

// ShmJSON is a shared-memory segment.
type ShmJSON struct {
	Object
	Size         uint64 `json:"size"`
	Nattch       int    `json:"nattch"` // mappings, as the kernel counts
	Removed      bool   `json:"removed"`
	Locked       bool   `json:"locked"`
	OriginalKey  string `json:"original_key,omitempty"` // of a removed segment, from its mappings
	CPID         int    `json:"cpid"`
	CreatorAlive bool   `json:"creator_alive"` // a process with that pid exists (it may be a reused pid)
	CreatorComm  string `json:"creator_comm,omitempty"`
	LPID         int    `json:"lpid"`
	LPIDAlive    bool   `json:"lpid_alive"` // a process with that pid exists (it may be a reused pid)
	Atime        int64  `json:"atime"`
	Dtime        int64  `json:"dtime"`
	RSS          uint64 `json:"rss"`
	Swap         uint64 `json:"swap"`
	// Attached lists the processes mapping the segment; null when the
	// process table could not be read. AttachedComplete is true when their
	// mappings add up to nattch: then no holder is missing from the list.
	Attached         []HolderJSON `json:"attached"`
	AttachedComplete bool         `json:"attached_complete"`
}

// SemJSON is a semaphore set.
type SemJSON struct {
	Object
	NSems int   `json:"nsems"`
	Otime int64 `json:"otime"`
}

// MsgJSON is a message queue.
type MsgJSON struct {
	Object
	Bytes      uint64 `json:"bytes"`
	Messages   uint64 `json:"messages"`
	LSPID      int    `json:"lspid"`
	LSPIDAlive bool   `json:"lspid_alive"` // a process with that pid exists (it may be a reused pid)
	LRPID      int    `json:"lrpid"`
	LRPIDAlive bool   `json:"lrpid_alive"`
	Stime      int64  `json:"stime"`
	Rtime      int64  `json:"rtime"`
}

// Completeness says what the attachment scan could not see.
type Completeness struct {
	Known      bool   `json:"known"` // false: /proc could not be listed at all
	Complete   bool   `json:"complete"`
	Processes  int    `json:"processes"`
	Unreadable int    `json:"unreadable"` // maps not readable (permission)
	Vanished   int    `json:"vanished"`   // exited during the scan
	Note       string `json:"note,omitempty"`
	// UnreadableProcesses names every process counted in Unreadable.
	UnreadableProcesses []UnreadableProcess `json:"unreadable_processes,omitempty"`
}

// UnreadableProcess is a process whose maps or descriptors could not be
// read: its pid and command name ("" when that was hidden too).
type UnreadableProcess struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// unreadableList converts processes for JSON and names the first few for
// a note: "1234 nginx, 1240 python3 and 3 more".
func unreadableList(ps []audit.ProcessName) ([]UnreadableProcess, string) {
	if len(ps) == 0 {
		return nil, ""
	}
	out := make([]UnreadableProcess, len(ps))
	for i, p := range ps {
		out[i] = UnreadableProcess(p)
	}
	return out, audit.ProcessList(ps)
}

// Ls is the `ipckeys ls` JSON document. A facility that was not asked for
// is absent; one that was asked for and is empty is [].
type Ls struct {
	Schema      string       `json:"schema"`
	Source      string       `json:"source"`
	Namespace   uint64       `json:"ipc_namespace,omitempty"`
	PID         int          `json:"pid,omitempty"`  // a process in the namespace, with --all-namespaces
	Comm        string       `json:"comm,omitempty"` // its command name
	Shm         []ShmJSON    `json:"shm,omitempty"`
	Sem         []SemJSON    `json:"sem,omitempty"`
	Msg         []MsgJSON    `json:"msg,omitempty"`
	Attachments Completeness `json:"attachments"`
	// Notes say what else could not be seen (namespaces hidden from
	// --all-namespaces).
	Notes []string `json:"notes,omitempty"`
}

// Facilities selects what ls shows.
type Facilities struct{ Shm, Sem, Msg bool }

func object(p ipcscan.Perm, ctime int64, kf KeyFiles, key int32) Object {
	return Object{
		Key: ftok.Hex(p.Key), KeyDecimal: p.Key, ID: p.ID,
		Owner: ipcscan.UserName(p.UID), UID: p.UID, GID: p.GID, CUID: p.CUID, CGID: p.CGID,
		Perms: fmt.Sprintf("%04o", p.Perms()), Mode: p.Mode, Ctime: ctime,
		Files: kf[key],
	}
}

// NewLs builds the ls document.
func NewLs(s *ipcscan.Snapshot, kf KeyFiles, f Facilities) Ls {
	out := Ls{Schema: LsSchema, Source: s.Source, Namespace: s.NS, Attachments: AttachCompleteness(s.Attach)}
	if f.Shm {
		out.Shm = []ShmJSON{}
		for _, sg := range s.Shm {
			key, known := s.OriginalKey(sg)
			j := ShmJSON{
				Object: object(sg.Perm, sg.Ctime, kf, key),
				Size:   sg.Size, Nattch: sg.Nattch, Removed: sg.Removed(), Locked: sg.Locked(),
				CPID: sg.CPID, CreatorAlive: s.Procs[sg.CPID].Alive, CreatorComm: s.Procs[sg.CPID].Comm,
				LPID: sg.LPID, LPIDAlive: s.Procs[sg.LPID].Alive, Atime: sg.Atime, Dtime: sg.Dtime, RSS: sg.RSS, Swap: sg.Swap,
			}
			if sg.Removed() && known && key != 0 {
				j.OriginalKey = ftok.Hex(key)
			}
			if s.Attach != nil {
				j.Attached = []HolderJSON{}
				hs := s.Holders(sg.ID)
				for _, h := range hs {
					j.Attached = append(j.Attached, HolderJSON(h))
				}
				j.AttachedComplete = ipcscan.Mappings(hs) == sg.Nattch
			}
			out.Shm = append(out.Shm, j)
		}
	}
	if f.Sem {
		out.Sem = []SemJSON{}
		for _, st := range s.Sem {
			out.Sem = append(out.Sem, SemJSON{Object: object(st.Perm, st.Ctime, kf, st.Key), NSems: st.NSems, Otime: st.Otime})
		}
	}
	if f.Msg {
		out.Msg = []MsgJSON{}
		for _, q := range s.Msg {
			out.Msg = append(out.Msg, MsgJSON{
				Object: object(q.Perm, q.Ctime, kf, q.Key),
				Bytes:  q.CBytes, Messages: q.QNum, LSPID: q.LSPID, LSPIDAlive: s.Procs[q.LSPID].Alive,
				LRPID: q.LRPID, LRPIDAlive: s.Procs[q.LRPID].Alive, Stime: q.Stime, Rtime: q.Rtime,
			})
		}
	}
	return out
}

// AttachCompleteness summarizes what an attachment scan could see.
func AttachCompleteness(a *ipcscan.Attachments) Completeness {
	if a == nil {
		return Completeness{Note: "attachments unknown: the process table could not be read"}
	}
	c := Completeness{Known: true, Complete: a.Complete(), Processes: a.Processes, Unreadable: a.Unreadable, Vanished: a.Vanished}
	if a.Unreadable > 0 {
		hint := "run as root to see every process"
		if os.Geteuid() == 0 {
			hint = "even as root: a sandbox or security module hides them"
		}
		var named string
		c.UnreadableProcesses, named = unreadableList(audit.MapsUnreadable(a))
		if named != "" {
			named = " (" + named + ")"
		}
		c.Note = fmt.Sprintf("attachments unknown for %d of %d processes%s: permission denied (%s)", a.Unreadable, a.Processes, named, hint)
	}
	return c
}

// LsTables writes the ls tables for people.
func LsTables(w io.Writer, doc Ls, f Facilities) error {
	if f.Shm {
		fmt.Fprintf(w, "Shared memory segments: %d\n", len(doc.Shm))
		t := newTable(w, "KEY", "ID", "OWNER", "PERMS", "SIZE", "NATTCH", "STATUS", "CPID", "LPID", "ATTACHED", "FILE")
		for _, s := range doc.Shm {
			key := s.Key
			if s.OriginalKey != "" {
				key += " (was " + s.OriginalKey + ")"
			}
			var status []string
			if s.Removed {
				status = append(status, "dest")
			}
			if s.Locked {
				status = append(status, "locked")
			}
			if err := t.Append([]string{key, strconv.Itoa(s.ID), display.Quote(s.Owner), s.Perms, strconv.FormatUint(s.Size, 10),
				strconv.Itoa(s.Nattch), dash(strings.Join(status, ",")), pidCell(s.CPID, s.CreatorAlive), pidCell(s.LPID, s.LPIDAlive),
				holders(s.Attached, s.Nattch), files(s.Files)}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if f.Sem {
		fmt.Fprintf(w, "Semaphore sets: %d\n", len(doc.Sem))
		t := newTable(w, "KEY", "ID", "OWNER", "PERMS", "NSEMS", "FILE")
		for _, s := range doc.Sem {
			if err := t.Append([]string{s.Key, strconv.Itoa(s.ID), display.Quote(s.Owner), s.Perms, strconv.Itoa(s.NSems), files(s.Files)}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if f.Msg {
		fmt.Fprintf(w, "Message queues: %d\n", len(doc.Msg))
		t := newTable(w, "KEY", "ID", "OWNER", "PERMS", "MESSAGES", "BYTES", "LSPID", "LRPID", "FILE")
		for _, q := range doc.Msg {
			if err := t.Append([]string{q.Key, strconv.Itoa(q.ID), display.Quote(q.Owner), q.Perms, strconv.FormatUint(q.Messages, 10),
				strconv.FormatUint(q.Bytes, 10), pidCell(q.LSPID, q.LSPIDAlive), pidCell(q.LRPID, q.LRPIDAlive), files(q.Files)}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "source: %s", display.Quote(doc.Source))
	if doc.Namespace != 0 {
		fmt.Fprintf(w, ", IPC namespace ipc:[%d]", doc.Namespace)
	}
	fmt.Fprintln(w)
	if doc.Attachments.Note != "" {
		fmt.Fprintln(w, "note: "+display.Quote(doc.Attachments.Note))
	}
	for _, n := range doc.Notes {
		fmt.Fprintln(w, "note: "+display.Quote(n))
	}
	return nil
}

// pidCell writes a creator or last pid, "(gone)" when no process has it
// now; 0 is no process (no operation yet) and stays as it is.
func pidCell(pid int, alive bool) string {
	if pid > 0 && !alive {
		return strconv.Itoa(pid) + " (gone)"
	}
	return strconv.Itoa(pid)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// holders writes attached processes as "1234 app x3, 1240 app", and says
// how many of the nattch mappings belong to processes it could not read.
func holders(hs []HolderJSON, nattch int) string {
	if hs == nil {
		return "?"
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].PID < hs[j].PID })
	var parts []string
	found := 0
	for _, h := range hs {
		p := fmt.Sprintf("%d %s", h.PID, display.Quote(h.Comm))
		if h.Mappings > 1 {
			p += fmt.Sprintf(" x%d", h.Mappings)
		}
		parts = append(parts, p)
		found += h.Mappings
	}
	if missing := nattch - found; missing > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable", missing))
	}
	return dash(listLines(parts))
}

func files(fs []KeyFile) string {
	var parts []string
	for _, f := range fs {
		if f.Channel != "" {
			parts = append(parts, display.Quote(f.Channel)+": "+display.Quote(f.Path))
		} else {
			parts = append(parts, display.Quote(f.Path))
		}
	}
	return dash(listLines(parts))
}

// listWidth is where the ATTACHED and FILE columns break their lists: 26
// holders of one segment made table lines of 1,296 bytes.
const listWidth = 48

// listLines joins parts with ", ", starting a new line of the cell before
// a part that would take the line past listWidth; a part is never split.
func listLines(parts []string) string {
	var b strings.Builder
	line := 0
	for i, p := range parts {
		w := texttable.Width(p)
		switch {
		case i == 0:
		case line+2+w > listWidth:
			b.WriteString(",\n")
			line = 0
		default:
			b.WriteString(", ")
			line += 2
		}
		b.WriteString(p)
		line += w
	}
	return b.String()
}

// WriteLs writes the ls document with one object per line: the full
// indent pass of encoding/json costs more than everything else ls does on
// a host with thousands of objects.
func WriteLs(w io.Writer, doc Ls) error {
	var b bytes.Buffer
	b.WriteString("{\n")
	field := func(name string, v any, comma bool) error {
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %q: %s", name, j)
		if comma {
			b.WriteString(",")
		}
		b.WriteString("\n")
		return nil
	}
	if err := field("schema", doc.Schema, true); err != nil {
		return err
	}
	if err := field("source", doc.Source, true); err != nil {
		return err
	}
	if doc.Namespace != 0 {
		if err := field("ipc_namespace", doc.Namespace, true); err != nil {
			return err
		}
	}
	if doc.PID != 0 {
		if err := field("pid", doc.PID, true); err != nil {
			return err
		}
		if err := field("comm", doc.Comm, true); err != nil {
			return err
		}
	}
	if err := writeArray(&b, "shm", doc.Shm); err != nil {
		return err
	}
	if err := writeArray(&b, "sem", doc.Sem); err != nil {
		return err
	}
	if err := writeArray(&b, "msg", doc.Msg); err != nil {
		return err
	}
	if err := field("attachments", doc.Attachments, len(doc.Notes) > 0); err != nil {
		return err
	}
	if len(doc.Notes) > 0 {
		if err := field("notes", doc.Notes, false); err != nil {
			return err
		}
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// WriteLsAll writes one ls document per IPC namespace, as a JSON array.
func WriteLsAll(w io.Writer, docs []Ls) error {
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	for i, doc := range docs {
		if i > 0 {
			if _, err := io.WriteString(w, ",\n"); err != nil {
				return err
			}
		}
		var b bytes.Buffer
		if err := WriteLs(&b, doc); err != nil {
			return err
		}
		if _, err := w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n"))); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n]\n")
	return err
}

// writeArray writes a member holding one compact object per line; a nil
// slice (a facility not asked for) is left out.
func writeArray[T any](b *bytes.Buffer, name string, items []T) error {
	if items == nil {
		return nil
	}
	fmt.Fprintf(b, "  %q: [", name)
	for i := range items {
		j, err := json.Marshal(&items[i])
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.Write(j)
	}
	if len(items) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("],\n")
	return nil
}
