package explain

import (
	"fmt"
	"io"
	"sort"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/endpoint"
	"github.com/ipckeys/ipckeys/fdscan"
)

// Socket is what explain says of one socket: who holds it, through which
// descriptor, how the holders descend from each other, and the likely
// story.
type Socket struct {
	Query    string         `json:"query"`
	Inode    uint64         `json:"inode"`
	NetNS    uint64         `json:"netns"`
	Proto    string         `json:"proto"`
	State    string         `json:"state"`
	Local    string         `json:"local"`
	Remote   string         `json:"remote,omitempty"`
	Queue    int            `json:"queue"`   // a listener's accept queue; -1 unknown
	Backlog  int            `json:"backlog"` // its limit; -1 unknown
	Holders  []SocketHolder `json:"holders"`
	Origin   int            `json:"origin,omitempty"`   // the holder taken for its maker
	Intended string         `json:"intended,omitempty"` // why sharing is by design
	Story    []string       `json:"story"`
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
		Queue: s.Queue, Backlog: s.Backlog, Holders: []SocketHolder{}, Origin: a.Origin, Intended: a.Intended}
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
			restart := "the server's restart"
			if a.Origin != 0 {
				restart = snap.Processes[a.Origin].Comm + "'s restart"
			}
			after += " and " + restart + " fails with \"address already in use\""
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

// WriteSocketTable writes one block per socket for people.
func WriteSocketTable(w io.Writer, query string, out []*Socket) error {
	if len(out) == 0 {
		_, err := fmt.Fprintf(w, "%s: no socket here matches (in any network namespace ipckeys can read)\n", query)
		return err
	}
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
	return nil
}
