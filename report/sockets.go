package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/internal/display"
)

// SocketsSchema names the version of the `ipckeys ls --sockets` JSON.
const SocketsSchema = "ipckeys/sockets/v1"

// Sockets is the `ipckeys ls --sockets` document: the sockets (listeners,
// or all) with every holder, and per process the CLOSE_WAIT sockets and
// descriptors it holds against its limit.
type Sockets struct {
	Schema    string       `json:"schema"`
	All       bool         `json:"all"` // every socket, not only listeners
	Sockets   []SocketRow  `json:"sockets"`
	Processes []ProcessRow `json:"processes"`
	Complete  bool         `json:"complete"`
	Unread    int          `json:"unreadable"` // processes whose descriptors could not be read
	Vanished  int          `json:"vanished"`
	Notes     []string     `json:"notes,omitempty"`
	// UnreadableProcesses names every process counted in Unread.
	UnreadableProcesses []UnreadableProcess `json:"unreadable_processes,omitempty"`
}

// SocketRow is one socket.
type SocketRow struct {
	Inode   uint64     `json:"inode"`
	NetNS   uint64     `json:"netns"`
	Proto   string     `json:"proto"`
	Type    string     `json:"type,omitempty"`
	State   string     `json:"state"`
	Local   string     `json:"local"`
	Remote  string     `json:"remote,omitempty"`
	Queue   int        `json:"queue"`   // a listener's accept queue; -1 unknown
	Backlog int        `json:"backlog"` // its limit; -1 unknown
	Holders []HolderFD `json:"holders"`
}

// ProcessRow is one process that holds sockets.
type ProcessRow struct {
	PID       int    `json:"pid"`
	PPID      int    `json:"ppid"`
	Comm      string `json:"comm"`
	Exe       string `json:"exe"`
	Unit      string `json:"unit,omitempty"`
	FDs       int    `json:"fds"`      // -1: unreadable
	FDLimit   *int64 `json:"fd_limit"` // null: unlimited or unknown
	Sockets   int    `json:"sockets"`
	Listeners int    `json:"listeners"`
	CloseWait int    `json:"close_wait"`
}

// NewSockets builds the document from a snapshot; all keeps every socket,
// not only the listening ones.
func NewSockets(s *fdscan.Snapshot, all bool) Sockets {
	doc := Sockets{Schema: SocketsSchema, All: all, Sockets: []SocketRow{}, Processes: []ProcessRow{},
		Complete: s.Complete(), Unread: s.Unreadable, Vanished: s.Vanished, Notes: s.Notes}
	doc.UnreadableProcesses, _ = unreadableList(audit.DescriptorsUnreadable(s))
	rows := map[int]*ProcessRow{}
	row := func(pid int) *ProcessRow {
		if r := rows[pid]; r != nil {
			return r
		}
		r := &ProcessRow{PID: pid, FDs: -1}
		if p := s.Processes[pid]; p != nil {
			r.PPID, r.Comm, r.Exe, r.Unit, r.FDs = p.PPID, p.Comm, p.Exe, p.Unit, p.FDs
			if p.FDLimit > 0 && p.FDLimit != math.MaxUint64 {
				l := int64(p.FDLimit)
				r.FDLimit = &l
			}
		}
		rows[pid] = r
		return r
	}
	for ino, hs := range s.Holders {
		sk := s.Sockets[ino]
		if sk == nil {
			continue // netlink, packet, raw: not read
		}
		seen := map[int]bool{}
		for _, h := range hs {
			if seen[h.PID] {
				continue
			}
			seen[h.PID] = true
			r := row(h.PID)
			r.Sockets++
			if sk.Listening() {
				r.Listeners++
			}
			if sk.State == "CLOSE_WAIT" {
				r.CloseWait++
			}
		}
	}
	for ino, sk := range s.Sockets {
		if !all && !sk.Listening() {
			continue
		}
		hs := s.Holders[ino]
		sr := SocketRow{Inode: ino, NetNS: sk.NetNS, Proto: sk.Proto, Type: sk.Type, State: sk.State, Local: sk.Local,
			Remote: sk.Remote, Queue: sk.Queue, Backlog: sk.Backlog, Holders: []HolderFD{}}
		for _, h := range hs {
			hf := HolderFD{PID: h.PID, FD: h.FD, Cloexec: h.CloseOnExec}
			if p := s.Processes[h.PID]; p != nil {
				hf.Comm, hf.Exe = p.Comm, p.Exe
			}
			sr.Holders = append(sr.Holders, hf)
		}
		doc.Sockets = append(doc.Sockets, sr)
	}
	sort.Slice(doc.Sockets, func(i, j int) bool {
		a, b := doc.Sockets[i], doc.Sockets[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Local != b.Local {
			return a.Local < b.Local
		}
		return a.Inode < b.Inode
	})
	for _, r := range rows {
		doc.Processes = append(doc.Processes, *r)
	}
	sort.Slice(doc.Processes, func(i, j int) bool { return doc.Processes[i].PID < doc.Processes[j].PID })
	return doc
}

// SocketsTable writes the sockets and the processes holding them for
// people.
func SocketsTable(w io.Writer, doc Sockets) error {
	what := "Listening sockets"
	if doc.All {
		what = "Sockets"
	}
	fmt.Fprintf(w, "%s: %d\n", what, len(doc.Sockets))
	spaces := map[uint64]bool{}
	for _, s := range doc.Sockets {
		spaces[s.NetNS] = true
	}
	header := []string{"PROTO", "LOCAL", "STATE", "QUEUE", "INODE", "HOLDERS (PID COMMAND FD CLOEXEC)"}
	if len(spaces) > 1 {
		header = append(header, "NETNS")
	}
	t := newTable(w, header...)
	for _, s := range doc.Sockets {
		queue := "-"
		if s.Queue >= 0 {
			queue = strconv.Itoa(s.Queue)
			if s.Backlog > 0 {
				queue += "/" + strconv.Itoa(s.Backlog)
			}
		}
		local := display.Quote(s.Local)
		if local == "" {
			local = "(unnamed)"
		}
		var hs []string
		for _, h := range s.Holders {
			ce := "no-cloexec"
			if h.Cloexec {
				ce = "cloexec"
			}
			hs = append(hs, fmt.Sprintf("%d %s fd %d %s", h.PID, display.Quote(h.Comm), h.FD, ce))
		}
		if len(hs) == 0 {
			hs = []string{"(none readable)"}
		}
		row := []string{s.Proto, local, s.State, queue, strconv.FormatUint(s.Inode, 10), strings.Join(hs, "\n")}
		if len(spaces) > 1 {
			row = append(row, fmt.Sprintf("net:[%d]", s.NetNS))
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Processes holding sockets: %d\n", len(doc.Processes))
	t = newTable(w, "PID", "PPID", "COMMAND", "EXE", "SOCKETS", "LISTENERS", "CLOSE_WAIT", "FDS/LIMIT")
	for _, p := range doc.Processes {
		fds := "?"
		if p.FDs >= 0 {
			fds = strconv.Itoa(p.FDs)
		}
		limit := "unlimited"
		if p.FDLimit != nil {
			limit = strconv.FormatInt(*p.FDLimit, 10)
			if p.FDs >= 0 {
				limit += fmt.Sprintf(" (%.0f%%)", 100*float64(p.FDs)/float64(*p.FDLimit))
			}
		}
		if err := t.Append([]string{strconv.Itoa(p.PID), strconv.Itoa(p.PPID), display.Quote(p.Comm), dash(display.Quote(p.Exe)), strconv.Itoa(p.Sockets),
			strconv.Itoa(p.Listeners), strconv.Itoa(p.CloseWait), fds + "/" + limit}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if doc.Unread > 0 {
		hint := "run as root to see every process"
		if os.Geteuid() == 0 {
			hint = "even as root: a sandbox or security module hides them"
		}
		named := make([]audit.ProcessName, len(doc.UnreadableProcesses))
		for i, p := range doc.UnreadableProcesses {
			named[i] = audit.ProcessName(p)
		}
		list := ""
		if len(named) > 0 {
			list = " (" + audit.ProcessList(named) + ")"
		}
		fmt.Fprintf(w, "note: the descriptors of %d processes%s could not be read: their sockets have holders not shown (%s)\n", doc.Unread, list, hint)
	}
	for _, n := range doc.Notes {
		fmt.Fprintln(w, "note: "+display.Quote(n))
	}
	return nil
}

// NewSocketsSummary says what a descriptor snapshot covered.
func NewSocketsSummary(s *fdscan.Snapshot) *SocketsSummary {
	sum := &SocketsSummary{Processes: len(s.Processes), Sockets: len(s.Sockets), Unreadable: s.Unreadable, Vanished: s.Vanished, Notes: s.Notes}
	if s.Unreadable > 0 {
		hint := "run as root to see every process"
		if os.Geteuid() == 0 {
			hint = "even as root: a sandbox or security module hides them"
		}
		var named string
		sum.UnreadableProcesses, named = unreadableList(audit.DescriptorsUnreadable(s))
		if named != "" {
			named = " (" + named + ")"
		}
		sum.Notes = append([]string{fmt.Sprintf("the descriptors of %d of %d processes%s could not be read (%s): their sockets' holders are not checked", s.Unreadable, len(s.Processes), named, hint)}, sum.Notes...)
	}
	return sum
}
