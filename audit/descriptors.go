package audit

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// Descriptor finding codes: sockets held by processes that were not meant
// to hold them. Stable, like the others.
const (
	InheritedListener      = "inherited-listener"
	ListenerNotAccepting   = "listener-not-accepting"
	ListenerWrongHolder    = "listener-wrong-holder"
	ListenerMissing        = "listener-missing"
	ListenerCloexecMissing = "listener-cloexec-missing"
	CloseWaitLeak          = "close-wait-leak"
	FDExhaustion           = "fd-exhaustion"
)

func init() {
	Rules = append(Rules,
		Rule{InheritedListener, Error, "a listening socket is held by processes running different executables: one inherited it (fork and exec without close-on-exec, as system() and popen() do) and holds the port, so the server's restart fails with \"address already in use\"", "create the socket with SOCK_CLOEXEC (or set FD_CLOEXEC), close descriptors with close_range(3, ~0U, 0) before exec, or start the other program from its own supervisor instead of system()"},
		Rule{ListenerNotAccepting, Error, "connections wait in a listening socket's accept queue, but no holder is a program that accepts them: its server is gone and an inheritor keeps the socket open, so connect() succeeds and health checks say up while requests are never answered", "stop the processes holding it (named in the message) so the server can be restarted, and fix the inheritance (see inherited-listener)"},
		Rule{ListenerWrongHolder, Error, "a listener the manifest declares is held by a program other than the one it names", "stop that program or fix how it got the socket (see inherited-listener) before restarting the declared one"},
		Rule{ListenerMissing, Warning, "a listener the manifest declares is not listening", "start the program that provides it, or correct the manifest"},
		Rule{ListenerCloexecMissing, Warning, "a listening socket without close-on-exec in a process that starts other programs: each program it starts inherits the listener (the inherited-listener incident before it happens)", "create the socket with SOCK_CLOEXEC or set FD_CLOEXEC on it"},
		Rule{CloseWaitLeak, Warning, "a process holds many TCP sockets in CLOSE_WAIT: the peers closed, the program never did, and descriptors leak until it runs out", "close the socket when read() returns 0 (or on error) in the program; restarting it only buys time"},
		Rule{FDExhaustion, Warning, "a process uses 80% or more of its open-files limit (an error at 95%): the next accept() or open() fails with EMFILE", "find what it leaks (close-wait-leak, ls --sockets), or raise LimitNOFILE / ulimit -n if the load is real"},
	)
}

// SocketRef names the socket or process a descriptor finding is about.
type SocketRef struct {
	Proto, Local, State string // of the socket; empty for a process finding
	Inode               uint64
	Queue               int // a listener's accept queue, -1 unknown
	Holders             []SocketHolder
	// PID, Comm and Exe name the process a per-process finding is about.
	PID       int
	Comm, Exe string
}

// SocketHolder is one descriptor through which a process holds a socket.
type SocketHolder struct {
	PID, FD     int
	CloseOnExec bool
	Comm, Exe   string
}

// Text names the socket or process for people: "tcp 127.0.0.1:5555",
// "pid 123 (server)".
func (r *SocketRef) Text() string {
	if r.Proto == "" {
		return fmt.Sprintf("pid %d (%s)", r.PID, r.Comm)
	}
	local := r.Local
	if local == "" {
		local = fmt.Sprintf("socket:[%d]", r.Inode)
	}
	return r.Proto + " " + local
}

// Descriptors is what the descriptor checks look at.
type Descriptors struct {
	Snap      *fdscan.Snapshot
	Listeners []manifest.Listener
	// CloseWait is the number of CLOSE_WAIT sockets that makes a leak
	// (--close-wait); 0 means 10.
	CloseWait int
}

// nonServers are programs that run other programs or wait, and never
// accept connections: a listener held only by them is held by mistake.
var nonServers = map[string]bool{
	"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "ash": true, "busybox": true,
	"sleep": true, "cat": true, "tee": true, "timeout": true, "env": true, "nohup": true, "setsid": true,
	"flock": true, "logger": true, "xargs": true, "su": true, "sudo": true, "runuser": true, "tail": true,
}

// CheckDescriptors returns the findings of the descriptor checks.
func CheckDescriptors(d Descriptors) []Finding {
	if d.Snap == nil {
		return nil
	}
	if d.CloseWait <= 0 {
		d.CloseWait = 10
	}
	t := newTree(d.Snap)
	var out []Finding
	inodes := make([]uint64, 0, len(d.Snap.Sockets))
	for ino, s := range d.Snap.Sockets {
		if s.Listening() && len(d.Snap.Holders[ino]) > 0 {
			inodes = append(inodes, ino)
		}
	}
	sort.Slice(inodes, func(i, j int) bool { return inodes[i] < inodes[j] })
	declared := map[uint64]bool{}
	for _, l := range d.Listeners {
		out = append(out, t.checkDeclared(l, declared)...)
	}
	for _, ino := range inodes {
		s := d.Snap.Sockets[ino]
		a := t.Analyze(s)
		out = append(out, t.inherited(a)...)
		if !declared[ino] {
			out = append(out, t.notAccepting(a, nil)...)
		}
		if len(a.Inheritors) == 0 {
			// Once inherited, inherited-listener says it all.
			out = append(out, t.cloexecMissing(a)...)
		}
	}
	out = append(out, t.perProcess(d.CloseWait)...)
	return out
}

// tree is the process tree of a snapshot.
type tree struct {
	snap     *fdscan.Snapshot
	children map[int][]int
}

func newTree(s *fdscan.Snapshot) *tree {
	t := &tree{snap: s, children: map[int][]int{}}
	for pid, p := range s.Processes {
		t.children[p.PPID] = append(t.children[p.PPID], pid)
	}
	for _, c := range t.children {
		sort.Ints(c)
	}
	return t
}

// program is what tells two programs apart: the executable (an upgraded
// one, shown " (deleted)", is still the same program), else the command
// name.
func (t *tree) program(pid int) string {
	p := t.snap.Processes[pid]
	if p == nil {
		return fmt.Sprintf("pid %d", pid)
	}
	if exe := strings.TrimSuffix(p.Exe, " (deleted)"); exe != "" {
		return exe
	}
	return p.Comm
}

// Name is "comm (pid)" for messages.
func (t *tree) Name(pid int) string {
	if p := t.snap.Processes[pid]; p != nil {
		return fmt.Sprintf("%s (%d)", p.Comm, pid)
	}
	return fmt.Sprintf("pid %d", pid)
}

// Chain is the line of descent from ancestor to pid, "a (100) → sh (229)
// → b (230)", or "" when ancestor is not an ancestor of pid.
func (t *tree) Chain(ancestor, pid int) string {
	var line []string
	for cur, hops := pid, 0; cur > 0 && hops < 4096; hops++ {
		line = append(line, t.Name(cur))
		if cur == ancestor {
			for i, j := 0, len(line)-1; i < j; i, j = i+1, j-1 {
				line[i], line[j] = line[j], line[i]
			}
			return strings.Join(line, " → ")
		}
		p := t.snap.Processes[cur]
		if p == nil {
			break
		}
		cur = p.PPID
	}
	return ""
}

// ListenerAnalysis is who holds a listener and how they came to.
type ListenerAnalysis struct {
	Socket *fdscan.Socket
	// Holders are the descriptors, sorted by pid and fd.
	Holders []fdscan.Holder
	// Origin is the holder that has held it longest (the earliest
	// started), taken for the program that made it; 0 when none.
	Origin int
	// Inheritors are holders running another program than Origin, each
	// with its line of descent from Origin ("" when it does not descend
	// from it: the origin's parent handed it down to both).
	Inheritors []Inheritor
	// Intended says why sharing among the holders is by design: a
	// pre-fork server, systemd socket activation; "" otherwise.
	Intended string
	// CanAccept lists the holders that may be the program that accepts
	// connections: not shells, sleep and the like.
	CanAccept []int
	// MakerGone is set when the longest holder is itself a shell, sleep
	// or the like: the program that made the listener has exited, and
	// every holder inherited it.
	MakerGone bool
}

// Inheritor is a holder that got a listener it did not make.
type Inheritor struct {
	PID, FD     int
	CloseOnExec bool
	Chain       string
}

// Analyze says who holds socket s and how they came to.
func (t *tree) Analyze(s *fdscan.Socket) ListenerAnalysis {
	a := ListenerAnalysis{Socket: s, Holders: t.snap.Holders[s.Inode]}
	pids := map[int]bool{}
	var order []int
	for _, h := range a.Holders {
		if !pids[h.PID] {
			pids[h.PID] = true
			order = append(order, h.PID)
		}
	}
	// systemd's socket activation and fd store: PID 1 keeps the listener
	// and hands it to a service that knows (LISTEN_FDS).
	var rest []int
	activated := false
	for _, pid := range order {
		if pid == 1 {
			activated = true
			continue
		}
		rest = append(rest, pid)
	}
	if activated {
		all := true
		for _, pid := range rest {
			if p := t.snap.Processes[pid]; p == nil || !p.ListenFDs {
				all = false
			}
		}
		if all {
			a.Intended = "systemd socket activation: PID 1 holds it and hands it to the service (LISTEN_FDS)"
		}
	}
	for _, pid := range rest {
		if !nonServers[filepath.Base(t.program(pid))] {
			a.CanAccept = append(a.CanAccept, pid)
		}
	}
	if len(rest) == 0 {
		return a
	}
	origin := rest[0]
	for _, pid := range rest[1:] {
		p, o := t.snap.Processes[pid], t.snap.Processes[origin]
		if p != nil && o != nil && (p.Start < o.Start || p.Start == o.Start && pid < origin) {
			origin = pid
		}
	}
	a.Origin = origin
	a.MakerGone = nonServers[filepath.Base(t.program(origin))] && len(a.CanAccept) == 0
	programs := map[string]bool{}
	for _, pid := range rest {
		programs[t.program(pid)] = true
	}
	if len(programs) == 1 && a.Intended == "" && len(rest) > 1 {
		a.Intended = "a pre-fork server: every holder runs " + t.program(origin)
	}
	for _, h := range a.Holders {
		if h.PID == 1 || t.program(h.PID) == t.program(origin) && !a.MakerGone {
			continue
		}
		if p := t.snap.Processes[h.PID]; p != nil && p.ListenFDs {
			continue // handed over on purpose, the systemd way
		}
		a.Inheritors = append(a.Inheritors, Inheritor{PID: h.PID, FD: h.FD, CloseOnExec: h.CloseOnExec, Chain: t.Chain(origin, h.PID)})
	}
	return a
}

// Analyze is the listener analysis for callers outside the checks
// (explain).
func Analyze(snap *fdscan.Snapshot, s *fdscan.Socket) (ListenerAnalysis, func(ancestor, pid int) string, func(pid int) string) {
	t := newTree(snap)
	return t.Analyze(s), t.Chain, t.Name
}

func (t *tree) socketRef(s *fdscan.Socket, hs []fdscan.Holder) *SocketRef {
	r := &SocketRef{Proto: s.Proto, Local: s.Local, State: s.State, Inode: s.Inode, Queue: s.Queue}
	for _, h := range hs {
		sh := SocketHolder{PID: h.PID, FD: h.FD, CloseOnExec: h.CloseOnExec}
		if p := t.snap.Processes[h.PID]; p != nil {
			sh.Comm, sh.Exe = p.Comm, p.Exe
		}
		r.Holders = append(r.Holders, sh)
	}
	return r
}

func (t *tree) processRef(pid int) *SocketRef {
	r := &SocketRef{PID: pid}
	if p := t.snap.Processes[pid]; p != nil {
		r.Comm, r.Exe = p.Comm, p.Exe
	}
	return r
}

// where names a socket for messages: "tcp 127.0.0.1:5555".
func where(s *fdscan.Socket) string {
	local := s.Local
	if local == "" {
		local = fmt.Sprintf("socket:[%d]", s.Inode)
	}
	return s.Proto + " " + local
}

func (t *tree) inherited(a ListenerAnalysis) []Finding {
	if len(a.Inheritors) == 0 {
		return nil
	}
	var who []string
	for _, in := range a.Inheritors {
		how := "not a descendant of it"
		if in.Chain != "" {
			how = "through " + in.Chain
		}
		cloexec := "without close-on-exec"
		if in.CloseOnExec {
			cloexec = "with close-on-exec (set after it was inherited)"
		}
		if in.PID == a.Origin {
			how = "held longest"
		}
		who = append(who, fmt.Sprintf("%s, running %s, holds it as fd %d %s (%s)", t.Name(in.PID), t.program(in.PID), in.FD, cloexec, how))
	}
	if a.MakerGone {
		return []Finding{{Code: InheritedListener, Severity: Error, Socket: t.socketRef(a.Socket, a.Holders),
			Message: fmt.Sprintf("listener %s is held only by processes that inherited it, the program that made it gone: %s; while they run the port stays taken and the server's restart fails with \"address already in use\"; stop them, then give the socket SOCK_CLOEXEC (or FD_CLOEXEC) or close descriptors with close_range before exec in the server",
				where(a.Socket), strings.Join(who, "; "))}}
	}
	return []Finding{{Code: InheritedListener, Severity: Error, Socket: t.socketRef(a.Socket, a.Holders),
		Message: fmt.Sprintf("listener %s made by %s, running %s, is also held by processes that run other programs: %s; while they hold it the port stays taken, and %s's restart fails with \"address already in use\"; create the socket with SOCK_CLOEXEC (or set FD_CLOEXEC), close descriptors with close_range before exec, or start those programs from their own supervisor",
			where(a.Socket), t.Name(a.Origin), t.program(a.Origin), strings.Join(who, "; "), t.snap.Processes[a.Origin].Comm)}}
}

// notAccepting: connections queue, and no holder will take them. accept,
// when not nil, says which holders are the program that should accept
// (a declared listener); otherwise any holder that is not a shell, sleep
// or the like may be.
func (t *tree) notAccepting(a ListenerAnalysis, accept func(pid int) bool) []Finding {
	if a.Socket.Queue <= 0 {
		return nil
	}
	var holders []string
	for _, h := range a.Holders {
		if accept != nil && accept(h.PID) || accept == nil && contains(a.CanAccept, h.PID) {
			return nil
		}
		holders = append(holders, fmt.Sprintf("%s fd %d", t.Name(h.PID), h.FD))
	}
	return []Finding{{Code: ListenerNotAccepting, Severity: Error, Socket: t.socketRef(a.Socket, a.Holders),
		Message: fmt.Sprintf("listener %s has %d connection(s) waiting in its accept queue, but it is held only by %s, which do not accept them: its server is gone, connect() still succeeds and health checks say up; stop these processes so the server can be restarted, and fix how they inherited the socket",
			where(a.Socket), a.Socket.Queue, strings.Join(holders, ", "))}}
}

func contains(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

func (t *tree) cloexecMissing(a ListenerAnalysis) []Finding {
	var out []Finding
	for _, h := range a.Holders {
		if h.CloseOnExec || h.PID == 1 || contains(inheritorPIDs(a), h.PID) {
			continue
		}
		kids := t.children[h.PID]
		other := ""
		for _, k := range kids {
			if t.program(k) != t.program(h.PID) {
				other = t.Name(k)
				break
			}
		}
		if other == "" {
			continue // no children, or pre-fork workers of the same program
		}
		out = append(out, Finding{Code: ListenerCloexecMissing, Severity: Warning, Socket: t.socketRef(a.Socket, []fdscan.Holder{h}),
			Message: fmt.Sprintf("%s holds listener %s as fd %d without close-on-exec and starts other programs (%s): every program it starts inherits the listener and keeps the port when %s restarts; create it with SOCK_CLOEXEC or set FD_CLOEXEC",
				t.Name(h.PID), where(a.Socket), h.FD, other, t.snap.Processes[h.PID].Comm)})
	}
	return out
}

func inheritorPIDs(a ListenerAnalysis) []int {
	var pids []int
	for _, in := range a.Inheritors {
		pids = append(pids, in.PID)
	}
	return pids
}

// checkDeclared holds a manifest listener against the sockets that match
// it; declared records the inodes it covered.
func (t *tree) checkDeclared(l manifest.Listener, declared map[uint64]bool) []Finding {
	matches := func(pid int) bool {
		p := t.snap.Processes[pid]
		if p == nil {
			return false
		}
		if l.Exe != "" && strings.TrimSuffix(p.Exe, " (deleted)") != l.Exe {
			return false
		}
		return l.Unit == "" || p.Unit == l.Unit
	}
	want := l.Exe
	if want == "" {
		want = "unit " + l.Unit
	}
	var out []Finding
	found := false
	inodes := make([]uint64, 0)
	for ino, s := range t.snap.Sockets {
		if s.Listening() && l.Endpoint.Matches(s.Proto, s.Local, ino) {
			inodes = append(inodes, ino)
		}
	}
	sort.Slice(inodes, func(i, j int) bool { return inodes[i] < inodes[j] })
	for _, ino := range inodes {
		s := t.snap.Sockets[ino]
		found = true
		declared[ino] = true
		a := t.Analyze(s)
		var others []string
		for _, h := range a.Holders {
			if !matches(h.PID) && h.PID != 1 {
				others = append(others, fmt.Sprintf("%s, running %s, as fd %d", t.Name(h.PID), t.program(h.PID), h.FD))
			}
		}
		if len(others) > 0 {
			out = append(out, Finding{Code: ListenerWrongHolder, Severity: Error, Socket: t.socketRef(s, a.Holders), Where: &Place{File: l.File, Line: l.Line},
				Message: fmt.Sprintf("listener %s (%s:%d: %s) must be held by %s, but %s holds it: restarting %s will fail with \"address already in use\" while it does; stop it, and fix how it got the socket (SOCK_CLOEXEC, close_range before exec)",
					l.Name, l.File, l.Line, where(s), want, strings.Join(others, "; "), want)})
		}
		out = append(out, t.notAccepting(a, matches)...)
	}
	if !found {
		out = append(out, Finding{Code: ListenerMissing, Severity: Warning, Where: &Place{File: l.File, Line: l.Line},
			Message: fmt.Sprintf("listener %s (%s:%d: %s) is not listening: start %s, or correct the manifest", l.Name, l.File, l.Line, l.Endpoint, want)})
	}
	return out
}

// perProcess finds CLOSE_WAIT leaks and processes near their descriptor
// limit.
func (t *tree) perProcess(closeWait int) []Finding {
	type leak struct {
		total  int
		byPort map[string]int
	}
	leaks := map[int]*leak{}
	for ino, s := range t.snap.Sockets {
		if s.State != "CLOSE_WAIT" {
			continue
		}
		seen := map[int]bool{}
		for _, h := range t.snap.Holders[ino] {
			if seen[h.PID] {
				continue
			}
			seen[h.PID] = true
			l := leaks[h.PID]
			if l == nil {
				l = &leak{byPort: map[string]int{}}
				leaks[h.PID] = l
			}
			l.total++
			l.byPort[s.Local]++
		}
	}
	var out []Finding
	pids := make([]int, 0, len(t.snap.Processes))
	for pid := range t.snap.Processes {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		p := t.snap.Processes[pid]
		if l := leaks[pid]; l != nil && l.total >= closeWait {
			var ports []string
			for local, n := range l.byPort {
				ports = append(ports, fmt.Sprintf("%d on %s", n, local))
			}
			sort.Strings(ports)
			out = append(out, Finding{Code: CloseWaitLeak, Severity: Warning, Socket: t.processRef(pid),
				Message: fmt.Sprintf("%s, running %s, holds %d TCP sockets in CLOSE_WAIT (%s): the peers closed and the program never did; it leaks a descriptor per connection until accept() fails with EMFILE; close the socket when read() returns 0",
					t.Name(pid), t.program(pid), l.total, strings.Join(ports, ", "))})
		}
		if p.FDs > 0 && p.FDLimit > 0 && p.FDLimit != math.MaxUint64 && float64(p.FDs) >= 0.8*float64(p.FDLimit) {
			sev := Warning
			if float64(p.FDs) >= 0.95*float64(p.FDLimit) {
				sev = Error
			}
			out = append(out, Finding{Code: FDExhaustion, Severity: sev, Socket: t.processRef(pid),
				Message: fmt.Sprintf("%s, running %s, has %d descriptors open of its limit %d (%.0f%%): the next accept() or open() fails with EMFILE at the limit; find what it leaks (ipckeys ls --sockets), or raise its limit (LimitNOFILE=, ulimit -n) if the load is real",
					t.Name(pid), t.program(pid), p.FDs, p.FDLimit, 100*float64(p.FDs)/float64(p.FDLimit))})
		}
	}
	return out
}
