package explain

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/endpoint"
	"github.com/ipckeys/ipckeys/fdscan"
)

// Socket is what explain says of one socket: who holds it, through which
// descriptor, how the holders descend from each other, and the likely
// story.
type Socket struct {
	Query   string         `json:"query"`
	Inode   uint64         `json:"inode"`
	NetNS   uint64         `json:"netns"`
	Proto   string         `json:"proto"`
	State   string         `json:"state"`
	Local   string         `json:"local"`
	Remote  string         `json:"remote,omitempty"`
	Queue   int            `json:"queue"`   // a listener's accept queue; -1 unknown
	Backlog int            `json:"backlog"` // its limit; -1 unknown
	Holders []SocketHolder `json:"holders"`
	Origin  int            `json:"origin,omitempty"` // the holder the others got it from
	// Path says, for a unix listener bound to an absolute path, whether
	// the path still names it: "names-it", "replaced" or "missing"
	// (orphaned); absent when not known.
	Path     string   `json:"path,omitempty"`
	Intended string   `json:"intended,omitempty"` // why sharing is by design
	Story    []string `json:"story"`
}

// SocketHolder is one descriptor holding the socket, and its process.
type SocketHolder struct {
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	FD      int    `json:"fd"`
	Cloexec bool   `json:"cloexec"`
	Comm    string `json:"comm"`
	Exe     string `json:"exe"`
	Unit    string `json:"unit,omitempty"`
	// Ancestry is the line of descent from the origin, for holders that
	// descend from it: "a (100) → sh (229) → b (230)".
	Ancestry string `json:"ancestry,omitempty"`
}

// Sockets explains every socket the endpoint names.
func Sockets(snap *fdscan.Snapshot, e endpoint.Endpoint) []*Socket {
	var inodes []uint64
	for ino, s := range snap.Sockets {
		if e.Matches(s.Proto, s.Local, ino) {
			inodes = append(inodes, ino)
		}
	}
	sort.Slice(inodes, func(i, j int) bool {
		a, b := snap.Sockets[inodes[i]], snap.Sockets[inodes[j]]
		if a.Listening() != b.Listening() {
			return a.Listening()
		}
		return inodes[i] < inodes[j]
	})
	var out []*Socket
	for _, ino := range inodes {
		out = append(out, explainSocket(snap, snap.Sockets[ino], e.Text))
	}
	return out
}

func explainSocket(snap *fdscan.Snapshot, s *fdscan.Socket, query string) *Socket {
	a, chain, name := audit.Analyze(snap, s)
	x := &Socket{Query: query, Inode: s.Inode, NetNS: s.NetNS, Proto: s.Proto, State: s.State, Local: s.Local, Remote: s.Remote,
		Queue: s.Queue, Backlog: s.Backlog, Holders: []SocketHolder{}, Origin: a.Origin, Intended: a.Intended, Path: string(s.Path)}
	for _, h := range a.Holders {
		sh := SocketHolder{PID: h.PID, FD: h.FD, Cloexec: h.CloseOnExec}
		if p := snap.Processes[h.PID]; p != nil {
			sh.PPID, sh.Comm, sh.Exe, sh.Unit = p.PPID, p.Comm, p.Exe, p.Unit
		}
		if a.Origin != 0 && h.PID != a.Origin {
			sh.Ancestry = chain(a.Origin, h.PID)
		}
		x.Holders = append(x.Holders, sh)
	}
	x.Story = story(snap, a, x, name)
	return x
}

// story says in sentences what the holders mean.
func story(snap *fdscan.Snapshot, a audit.ListenerAnalysis, x *Socket, name func(int) string) []string {
	var st []string
	if len(a.Holders) == 0 {
		return append(st, "no process ipckeys can read holds it: it is held by processes of another user or hidden by a sandbox (run as root), or it is being closed")
	}
	if !a.Socket.Listening() {
		if a.Socket.State == "CLOSE_WAIT" {
			st = append(st, fmt.Sprintf("the peer closed the connection and %s never did: one of these is harmless, many are a leak (close-wait-leak)", name(a.Holders[0].PID)))
		}
		return st
	}
	switch a.Socket.Path {
	case fdscan.PathReplaced:
		st = append(st, "orphaned: "+a.Socket.Local+" now names another file (a socket bound there since): no new connection reaches this listener; it blocks nothing, but its holders keep running (unix-listener-orphaned)")
	case fdscan.PathMissing:
		st = append(st, "orphaned: nothing is at "+a.Socket.Local+" any more: no new connection reaches this listener; it blocks nothing, but its holders keep running (unix-listener-orphaned)")
	}
	if a.Intended != "" {
		st = append(st, "shared on purpose: "+a.Intended)
	}
	origin := name(a.Origin)
	switch {
	case a.MakerGone:
		st = append(st, "the program that made it is gone: every holder is a shell, sleep or the like that inherited it (none of them can make a socket)")
	case a.Origin != 0 && len(a.Inheritors) > 0:
		st = append(st, fmt.Sprintf("%s had it first: the others descend from it or started after it", origin))
	}
	for _, h := range a.Holders {
		if how, ok := a.Serving[h.PID]; ok {
			st = appendOnce(st, fmt.Sprintf("%s serves it: %s", name(h.PID), how))
		} else if what, ok := a.Idle[h.PID]; ok {
			st = appendOnce(st, fmt.Sprintf("%s does not accept on it: %s", name(h.PID), what))
		}
	}
	for _, in := range a.Inheritors {
		exe := ""
		if p := snap.Processes[in.PID]; p != nil {
			exe = audit.ProgramOf(p)
		}
		how := "from " + origin + ", without descending from it (a common parent handed it to both)"
		switch {
		case a.Origin == 0:
			how = "from a program that is gone"
		case in.Chain != "":
			how = "through " + in.Chain
		}
		after := "while it runs " + audit.Held(a.Socket)
		if a.Socket.Proto != "unix" {
			restart := "the server"
			if a.Origin != 0 {
				restart = origin
			}
			after += " and a restart of " + restart + " fails with \"address already in use\""
		}
		st = append(st, fmt.Sprintf("%s, running %s, inherited it %s and holds it as fd %d%s; %s",
			name(in.PID), exe, how, in.FD, map[bool]string{true: "", false: " without close-on-exec"}[in.CloseOnExec], after))
	}
	if len(a.Inheritors) > 0 {
		st = append(st, "fix: create the socket with SOCK_CLOEXEC (or set FD_CLOEXEC), close descriptors with close_range(3, ~0U, 0) before exec, or start the other program from its own supervisor instead of system()")
	}
	if a.Socket.Queue > 0 && len(a.Serving) == 0 && len(a.CanAccept) == 0 {
		st = append(st, fmt.Sprintf("%d connection(s) wait in the accept queue, and no holder accepts them: connect() still succeeds and health checks say up while nobody answers; continue or stop these holders so its server can serve it (or be restarted)", a.Socket.Queue))
	}
	for _, h := range a.Holders {
		if h.PID == a.Origin && !h.CloseOnExec && len(a.Inheritors) == 0 {
			st = append(st, fmt.Sprintf("%s holds it as fd %d without close-on-exec: every program it starts will inherit it", origin, h.FD))
			break
		}
	}
	if len(a.Holders) == 1 && a.Origin != 0 {
		st = append(st, "held by "+origin+" alone")
	}
	return st
}

func appendOnce(st []string, s string) []string {
	for _, v := range st {
		if v == s {
			return st
		}
	}
	return append(st, s)
}

// SummaryAt is the number of connections of one protocol on one local
// address from which the table summarises them in one block.
const SummaryAt = 6

// SocketGroup summarises the connections (sockets that do not listen) of
// one protocol on one local address: counts by state and by holder.
type SocketGroup struct {
	Proto, Local string
	Count        int
	// States are the counts by state, the largest first.
	States []StateCount
	// Holders are the processes holding them, the one started first
	// first; sockets no process holds are counted in Unheld.
	Holders []GroupHolder
	Unheld  int
	Story   []string
}

// StateCount is how many sockets are in one state.
type StateCount struct {
	State string
	Count int
}

// GroupHolder is one process holding sockets of a group.
type GroupHolder struct {
	PID       int
	Comm, Exe string
	Count     int
	States    []StateCount
	// FDs and FDLimit are the descriptors the process has open and its
	// limit (RLIMIT_NOFILE, as /proc/PID/limits gives it): FDs -1 and
	// FDLimit 0 when unknown, FDLimit math.MaxUint64 when unlimited.
	FDs     int
	FDLimit uint64
}

// Summarise splits what Sockets found into the sockets the table shows
// one by one (listeners, and connections few to their address) and groups
// of connections of one protocol on one local address, SummaryAt or more.
// closeWait is the count of CLOSE_WAIT sockets that makes a leak (scan's
// --close-wait; 0 means 10).
func Summarise(snap *fdscan.Snapshot, out []*Socket, closeWait int) ([]*Socket, []*SocketGroup) {
	if closeWait <= 0 {
		closeWait = 10
	}
	type key struct{ proto, local string }
	members := map[key][]*Socket{}
	for _, x := range out {
		if x.State != "LISTEN" {
			k := key{x.Proto, x.Local}
			members[k] = append(members[k], x)
		}
	}
	var singles []*Socket
	var groups []*SocketGroup
	done := map[key]bool{}
	for _, x := range out {
		k := key{x.Proto, x.Local}
		if x.State == "LISTEN" || len(members[k]) < SummaryAt {
			singles = append(singles, x)
			continue
		}
		if !done[k] {
			done[k] = true
			groups = append(groups, group(snap, members[k], closeWait))
		}
	}
	return singles, groups
}

func group(snap *fdscan.Snapshot, xs []*Socket, closeWait int) *SocketGroup {
	g := &SocketGroup{Proto: xs[0].Proto, Local: xs[0].Local, Count: len(xs)}
	states := map[string]int{}
	byPID := map[int]map[string]int{}
	for _, x := range xs {
		states[x.State]++
		seen := map[int]bool{}
		for _, h := range x.Holders {
			if seen[h.PID] {
				continue
			}
			seen[h.PID] = true
			if byPID[h.PID] == nil {
				byPID[h.PID] = map[string]int{}
			}
			byPID[h.PID][x.State]++
		}
		if len(x.Holders) == 0 {
			g.Unheld++
		}
	}
	g.States = counts(states)
	for pid, st := range byPID {
		h := GroupHolder{PID: pid, States: counts(st), FDs: -1}
		for _, c := range h.States {
			h.Count += c.Count
		}
		if p := snap.Processes[pid]; p != nil {
			h.Comm, h.Exe, h.FDs, h.FDLimit = p.Comm, p.Exe, p.FDs, p.FDLimit
		}
		g.Holders = append(g.Holders, h)
	}
	start := func(pid int) uint64 {
		if p := snap.Processes[pid]; p != nil {
			return p.Start
		}
		return math.MaxUint64
	}
	slices.SortFunc(g.Holders, func(a, b GroupHolder) int {
		return cmp.Or(cmp.Compare(start(a.PID), start(b.PID)), cmp.Compare(a.PID, b.PID))
	})
	for _, h := range g.Holders {
		cw := 0
		for _, c := range h.States {
			if c.State == "CLOSE_WAIT" {
				cw = c.Count
			}
		}
		name := fmt.Sprintf("%s (%d)", h.Comm, h.PID)
		switch {
		case cw >= closeWait && h.FDs >= 0 && h.FDLimit > 0 && h.FDLimit != math.MaxUint64:
			g.Story = append(g.Story, fmt.Sprintf("%s holds %d sockets in CLOSE_WAIT on %s and has %d descriptors open of its limit %d (%.0f%%): the peers closed and it never did; each connection it leaks takes one more descriptor, and at %d accept() and open() fail with EMFILE (close-wait-leak, fd-exhaustion)",
				name, cw, g.Local, h.FDs, h.FDLimit, 100*float64(h.FDs)/float64(h.FDLimit), h.FDLimit))
		case cw >= closeWait:
			g.Story = append(g.Story, fmt.Sprintf("%s holds %d sockets in CLOSE_WAIT on %s: the peers closed and it never did; it leaks a descriptor per connection (close-wait-leak)", name, cw, g.Local))
		}
	}
	return g
}

// counts lists a count per state, the largest first.
func counts(m map[string]int) []StateCount {
	var out []StateCount
	for st, n := range m {
		out = append(out, StateCount{st, n})
	}
	slices.SortFunc(out, func(a, b StateCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.State, b.State)) })
	return out
}

func countText(cs []StateCount) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%d %s", c.Count, c.State))
	}
	return strings.Join(parts, ", ")
}

// WriteSocketTable writes one block per socket for people, and one per
// group of connections that Summarise made.
func WriteSocketTable(w io.Writer, out []*Socket, groups []*SocketGroup) error {
	for n, x := range out {
		if n > 0 {
			fmt.Fprintln(w)
		}
		local := x.Local
		if local == "" {
			local = "(unnamed)"
		}
		fmt.Fprintf(w, "socket %s %s %s (inode %d, net:[%d])\n", x.Proto, local, x.State, x.Inode, x.NetNS)
		if x.State == "LISTEN" {
			q := "unknown"
			if x.Queue >= 0 {
				q = fmt.Sprintf("%d waiting", x.Queue)
				if x.Backlog > 0 {
					q += fmt.Sprintf(" of %d", x.Backlog)
				}
			}
			fmt.Fprintf(w, "  accept queue: %s\n", q)
		}
		for _, h := range x.Holders {
			ce := "no close-on-exec"
			if h.Cloexec {
				ce = "close-on-exec"
			}
			unit := ""
			if h.Unit != "" {
				unit = ", unit " + h.Unit
			}
			fmt.Fprintf(w, "  holder:       pid %d (%s, %s%s) fd %d, %s, parent %d\n", h.PID, h.Comm, h.Exe, unit, h.FD, ce, h.PPID)
		}
		for _, h := range x.Holders {
			if h.Ancestry != "" {
				fmt.Fprintf(w, "  ancestry:     %s\n", h.Ancestry)
			}
		}
		for _, s := range x.Story {
			fmt.Fprintf(w, "  story:        %s\n", s)
		}
	}
	for n, g := range groups {
		if n > 0 || len(out) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "sockets %s %s: %d connections, summarised (-o json lists each)\n", g.Proto, g.Local, g.Count)
		fmt.Fprintf(w, "  states:       %s\n", countText(g.States))
		for _, h := range g.Holders {
			fds := ""
			if h.FDs >= 0 && h.FDLimit > 0 && h.FDLimit != math.MaxUint64 {
				fds = fmt.Sprintf("; %d descriptors open of its limit %d", h.FDs, h.FDLimit)
			}
			fmt.Fprintf(w, "  holder:       pid %d (%s, %s) %d: %s%s\n", h.PID, h.Comm, h.Exe, h.Count, countText(h.States), fds)
		}
		if g.Unheld > 0 {
			fmt.Fprintf(w, "  holder:       none readable for %d\n", g.Unheld)
		}
		for _, s := range g.Story {
			fmt.Fprintf(w, "  story:        %s\n", s)
		}
	}
	return nil
}
