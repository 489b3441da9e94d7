package audit

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
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
	UnixListenerOrphaned   = "unix-listener-orphaned"
	CloseWaitLeak          = "close-wait-leak"
	FDExhaustion           = "fd-exhaustion"
)

func init() {
	Rules = append(Rules,
		Rule{InheritedListener, Error, "a listening socket is held by processes that run different programs (for an interpreter, a different script, module or class), and one of them got it by inheritance (fork and exec without close-on-exec, as system() and popen() do) rather than by a convention that passes a listener on purpose (socket activation, FastCGI's fd 0, pre-fork workers, a wrapper running its server); while it holds the socket, a tcp or udp port stays taken and a restart of the server fails with \"address already in use\", and a unix socket stays open", "create the socket with SOCK_CLOEXEC (or set FD_CLOEXEC), close descriptors with close_range(3, ~0U, 0) before exec, or start the other program from its own supervisor instead of system()"},
		Rule{ListenerNotAccepting, Error, "connections wait in a listening socket's accept queue and the kernel shows no holder taking them: none is blocked in accept on it or watches it with epoll, and each is stopped, seen waiting for something else (accept on another socket, epoll_wait, wait4, sleep), or a shell, sleep or the like (with a manifest: none runs the program it names); connect() succeeds and health checks say up while nobody answers", "continue a stopped holder, or stop the holders named in the message so the server can be started again; if one got the socket by inheritance, fix that (see inherited-listener)"},
		Rule{ListenerWrongHolder, Error, "a listener the manifest declares is held by a program other than the one it names", "stop that program or fix how it got the socket (see inherited-listener) before restarting the declared one"},
		Rule{ListenerMissing, Warning, "a listener the manifest declares is not listening", "start the program that provides it, or correct the manifest"},
		Rule{ListenerCloexecMissing, Warning, "a listening socket without close-on-exec in a process that starts other programs: each program it starts inherits the listener (the inherited-listener incident before it happens)", "create the socket with SOCK_CLOEXEC or set FD_CLOEXEC on it"},
		Rule{UnixListenerOrphaned, Warning, "a unix listener's path now names another file or nothing (it was unlinked, and perhaps bound again by a restarted copy of the server): no new connection reaches the old listener; it blocks nothing, but its process keeps running and holding its descriptors and memory", "stop the old process if it is left over from a restart (a server that unlinks its path before bind should first make sure no copy of it still runs)"},
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
// accept connections: they cannot have made a listener, and one held
// only by them is held by mistake (or passed through them on purpose, by
// a wrapper that runs its server).
var nonServers = map[string]bool{
	"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "ash": true, "busybox": true,
	"sleep": true, "cat": true, "tee": true, "timeout": true, "env": true, "nohup": true, "setsid": true,
	"flock": true, "logger": true, "xargs": true, "su": true, "sudo": true, "runuser": true, "tail": true,
}

// Interpreters are the executables whose program is the script or class
// they run, named on their command line: two python3 daemons are two
// programs. A name matches with any version suffix (python3.11, perl5.36).
var Interpreters = []string{"python", "pypy", "java", "node", "nodejs", "perl", "ruby", "php", "lua", "tclsh", "Rscript",
	"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"}

// interpreter returns the name in Interpreters that base is, "" if none.
func interpreter(base string) string {
	for _, name := range Interpreters {
		if rest, ok := strings.CutPrefix(base, name); ok && strings.Trim(rest, "0123456789.") == "" {
			return name
		}
	}
	return ""
}

// valueOptions are, per interpreter, the options whose value is the next
// argument; ends are those after which the program is named (-m module,
// -jar file) or given inline (-c, -e).
var valueOptions = map[string][]string{
	"python": {"-W", "-X", "-Q"}, "pypy": {"-W", "-X"},
	"java": {"-cp", "-classpath", "--class-path", "-p", "--module-path", "--add-modules", "--add-opens", "--add-exports"},
	"node": {"-r", "--require", "--import", "--loader", "--inspect-port"}, "nodejs": {"-r", "--require", "--import"},
	"perl": {"-I", "-M"}, "ruby": {"-I", "-r", "-C"}, "php": {"-d", "-c"},
}

var namingOptions = map[string][]string{
	"python": {"-m", "-c"}, "pypy": {"-m", "-c"}, "java": {"-jar", "-m", "--module"},
	"node": {"-e", "--eval", "-p", "--print"}, "nodejs": {"-e", "--eval"}, "perl": {"-e", "-E"}, "ruby": {"-e"},
	"php": {"-r", "-f"}, "lua": {"-e"}, "sh": {"-c"}, "bash": {"-c"}, "dash": {"-c"}, "zsh": {"-c"}, "ksh": {"-c"},
	"mksh": {"-c"}, "ash": {"-c"},
}

// ProgramOf is what tells two programs apart: the executable (an
// upgraded one, shown " (deleted)", is still the same program), for an
// interpreter followed by what it runs ("/usr/bin/python3.11
// /srv/a.py", "/usr/bin/java -jar app.jar", "/bin/sh -c"), else the
// command name.
func ProgramOf(p *fdscan.Process) string {
	exe := programPath(p.Exe)
	if exe == "" {
		return p.Comm
	}
	in := interpreter(filepath.Base(exe))
	if in == "" || len(p.Cmdline) < 2 {
		return exe
	}
	args := p.Cmdline[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return exe + " " + args[i+1]
			}
			return exe
		case slices.Contains(namingOptions[in], a):
			if i+1 < len(args) && a != "-c" && a != "-e" && a != "-E" && a != "--eval" && a != "-r" {
				return exe + " " + a + " " + args[i+1]
			}
			return exe + " " + a // inline code: the program is not named
		case slices.Contains(valueOptions[in], a):
			i++
		case strings.HasPrefix(a, "-") && a != "-":
		default:
			return exe + " " + a
		}
	}
	return exe
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
		if s.Orphaned() {
			// Its path names something else: it blocks no restart, and
			// whoever holds it, that is the one thing to say.
			out = append(out, t.orphaned(a))
			continue
		}
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

// program is what tells two programs apart (ProgramOf).
func (t *tree) program(pid int) string {
	p := t.snap.Processes[pid]
	if p == nil {
		return fmt.Sprintf("pid %d", pid)
	}
	return ProgramOf(p)
}

// nonServer reports whether pid runs a shell, sleep or the like.
func (t *tree) nonServer(pid int) bool {
	p := t.snap.Processes[pid]
	return p != nil && nonServers[filepath.Base(programPath(p.Exe))]
}

// serviceManager reports whether pid is systemd as the init of its pid
// namespace (the host's PID 1, or a container's): it keeps the listeners
// of socket units and the fd store, and hands them to services.
func (t *tree) serviceManager(pid int) bool {
	p := t.snap.Processes[pid]
	if p == nil {
		return false
	}
	nspid := p.NSPID
	if nspid == 0 {
		nspid = p.PID // not read: a process made by hand, or an old kernel
	}
	return nspid == 1 && filepath.Base(programPath(p.Exe)) == "systemd"
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

// ListenerAnalysis is who holds a listener, how they came to, and what
// each was seen doing.
type ListenerAnalysis struct {
	Socket *fdscan.Socket
	// Holders are the descriptors, sorted by pid and fd.
	Holders []fdscan.Holder
	// Origin is the holder the others got it from: of the holders no
	// other holder descends from, the earliest started that is not a
	// shell, sleep or the like (a shell cannot make a socket); 0 when
	// none.
	Origin int
	// Inheritors are holders that got it by inheritance, not by one of
	// the conventions that pass a listener on purpose, each with its line
	// of descent from Origin ("" when it does not descend from it).
	Inheritors []Inheritor
	// Intended says why sharing among the holders is by design: a
	// pre-fork server, socket activation, a FastCGI spawner, a wrapper;
	// "" otherwise.
	Intended string
	// Serving are the holders seen serving it, with how: a thread blocked
	// in accept on it, an epoll set watching it.
	Serving map[int]string
	// Idle are the holders seen not serving it, with what they were
	// doing: stopped, or every thread waiting for something else.
	Idle map[int]string
	// CanAccept lists the holders that may accept connections: not seen
	// idle, and not shells, sleep or the like.
	CanAccept []int
	// MakerGone is set when every holder is a shell, sleep or the like:
	// the program that made the listener has exited or closed it, and
	// every holder inherited it.
	MakerGone bool
}

// Inheritor is a holder that got a listener it did not make.
type Inheritor struct {
	PID, FD     int
	CloseOnExec bool
	Chain       string
}

// fdsOf lists the descriptors through which pid holds the socket.
func fdsOf(hs []fdscan.Holder, pid int) []int {
	var fds []int
	for _, h := range hs {
		if h.PID == pid {
			fds = append(fds, h.FD)
		}
	}
	return fds
}

// holderParent is the nearest ancestor of pid that is in holds, 0 if
// none.
func (t *tree) holderParent(pid int, holds map[int]bool) int {
	p := t.snap.Processes[pid]
	for hops := 0; p != nil && p.PPID > 0 && hops < 4096; hops++ {
		if holds[p.PPID] {
			return p.PPID
		}
		p = t.snap.Processes[p.PPID]
	}
	return 0
}

// handOver says which convention passes the listener from holder parent
// to holder child on purpose, "" when none does.
func (t *tree) handOver(hs []fdscan.Holder, parent, child int, wrapper bool) string {
	c := t.snap.Processes[child]
	switch {
	case c != nil && c.ListenFDs:
		return "socket activation: " + t.Name(parent) + " hands it to " + t.Name(child) + " with LISTEN_FDS"
	case slices.Equal(fdsOf(hs, child), []int{0}) && !slices.Contains(fdsOf(hs, parent), 0):
		return "FastCGI: " + t.Name(parent) + " keeps it and hands it to its worker " + t.Name(child) + " as fd 0"
	case t.program(parent) == t.program(child):
		return "a pre-fork server: " + t.Name(child) + " is a worker of " + t.Name(parent) + ", both running " + t.program(child)
	case wrapper:
		return "a wrapper: " + t.Name(parent) + " runs " + t.Name(child) + " on the descriptor it was given"
	}
	return ""
}

// Analyze says who holds socket s, how they came to, and who serves it.
func (t *tree) Analyze(s *fdscan.Socket) ListenerAnalysis {
	a := ListenerAnalysis{Socket: s, Holders: t.snap.Holders[s.Inode], Serving: map[int]string{}, Idle: map[int]string{}}
	holds := map[int]bool{}
	var order []int
	for _, h := range a.Holders {
		if !holds[h.PID] {
			holds[h.PID] = true
			order = append(order, h.PID)
		}
	}
	for _, pid := range order {
		p := t.snap.Processes[pid]
		if p == nil {
			continue
		}
		fds := fdsOf(a.Holders, pid)
		switch {
		case p.Stopped():
			a.Idle[pid] = fmt.Sprintf("stopped (state %c): it accepts nothing until continued", p.State)
		default:
			if how, ok := p.Activity.Serving(s.Inode, fds); ok {
				a.Serving[pid] = how
			} else if p.Activity.Elsewhere(s.Inode, fds) {
				a.Idle[pid] = p.Activity.Describe() + ", not on this socket"
			}
		}
		if _, idle := a.Idle[pid]; !idle && !t.nonServer(pid) && !t.serviceManager(pid) {
			a.CanAccept = append(a.CanAccept, pid)
		}
	}
	// systemd, as the init of its namespace, keeps the listeners of
	// socket units and the fd store: by design, whatever it runs.
	var rest []int
	var intended []string
	for _, pid := range order {
		if t.serviceManager(pid) {
			intended = append(intended, "systemd "+t.Name(pid)+" keeps it for a socket unit or the fd store")
			continue
		}
		rest = append(rest, pid)
	}
	if len(rest) == 0 {
		a.Intended = strings.Join(intended, "; ")
		return a
	}
	inRest := map[int]bool{}
	for _, pid := range rest {
		inRest[pid] = true
	}
	allNon := true
	for _, pid := range rest {
		allNon = allNon && t.nonServer(pid)
	}
	a.MakerGone = allNon
	// Walk the holders from the top of their tree down: a root holder
	// got it from outside (its maker, or a parent that closed its copy);
	// below, each holder got it from its nearest holder ancestor.
	parent := map[int]int{}
	var roots []int
	for _, pid := range rest {
		if pp := t.holderParent(pid, inRest); pp != 0 {
			parent[pid] = pp
		} else {
			roots = append(roots, pid)
		}
	}
	earlier := func(x, y int) bool {
		p, q := t.snap.Processes[x], t.snap.Processes[y]
		return p != nil && q != nil && (p.Start < q.Start || p.Start == q.Start && x < y)
	}
	for _, pid := range roots {
		if !t.nonServer(pid) && (a.Origin == 0 || earlier(pid, a.Origin)) {
			a.Origin = pid
		}
	}
	inherited := map[int]bool{}
	// handed are the holders given the listener by socket activation: a
	// service that got it with LISTEN_FDS holds it on purpose, whatever
	// it runs.
	handed := map[int]bool{}
	if a.MakerGone {
		for _, pid := range rest {
			inherited[pid] = true
		}
	}
	for _, pid := range roots {
		p := t.snap.Processes[pid]
		switch {
		case a.MakerGone || pid == a.Origin:
		case p != nil && p.ListenFDs:
			handed[pid] = true
			intended = append(intended, "socket activation: "+t.Name(pid)+" got it with LISTEN_FDS")
		case t.nonServer(pid):
			// A wrapper given the listener from outside, or an
			// inheritor: its descendants say which.
		case a.Origin != 0 && t.program(pid) == t.program(a.Origin):
			intended = append(intended, "a pre-fork server: every holder runs "+t.program(pid))
		default:
			inherited[pid] = true
		}
	}
	// Holders in start order, so a parent is decided before its children.
	byStart := slices.Clone(rest)
	slices.SortFunc(byStart, func(x, y int) int {
		if earlier(x, y) {
			return -1
		}
		if earlier(y, x) {
			return 1
		}
		return 0
	})
	for _, pid := range byStart {
		pp, ok := parent[pid]
		if !ok || a.MakerGone {
			continue
		}
		if inherited[pp] {
			inherited[pid] = true
			continue
		}
		// A shell, sleep or the like passes on what it was given, unless it
		// got it by inheritance itself.
		wrapper := t.nonServer(pp) && !t.nonServer(pid)
		if why := t.handOver(a.Holders, pp, pid, wrapper); why != "" {
			if p := t.snap.Processes[pid]; p != nil {
				handed[pid] = p.ListenFDs
			}
			intended = append(intended, why)
			continue
		}
		if t.nonServer(pp) && t.nonServer(pid) && pp != a.Origin {
			continue // decided by whether a server sits below
		}
		inherited[pid] = true
	}
	// A shell, sleep or the like that is no inheritor and passes the
	// listener to no server holds it for nothing: an inheritor, unless
	// nothing better is known (every holder is one).
	for _, pid := range rest {
		if !t.nonServer(pid) || inherited[pid] || handed[pid] || a.MakerGone {
			continue
		}
		if !t.passesToServer(pid, parent) {
			inherited[pid] = true
		}
	}
	for _, h := range a.Holders {
		if inherited[h.PID] {
			chain := ""
			if a.Origin != 0 {
				chain = t.Chain(a.Origin, h.PID)
			}
			a.Inheritors = append(a.Inheritors, Inheritor{PID: h.PID, FD: h.FD, CloseOnExec: h.CloseOnExec, Chain: chain})
		}
	}
	if len(a.Inheritors) == 0 {
		a.Intended = strings.Join(dedupe(intended), "; ")
	}
	return a
}

// passesToServer reports whether a holder below pid (by parent, the
// holders' nearest holder ancestors) is not a shell, sleep or the like.
func (t *tree) passesToServer(pid int, parent map[int]int) bool {
	for c, pp := range parent {
		for hops := 0; pp != 0 && hops < 4096; hops++ {
			if pp == pid {
				if !t.nonServer(c) {
					return true
				}
				break
			}
			pp = parent[pp]
		}
	}
	return false
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Analyze is the listener analysis for callers outside the checks
// (explain).
func Analyze(snap *fdscan.Snapshot, s *fdscan.Socket) (ListenerAnalysis, func(ancestor, pid int) string, func(pid int) string) {
	t := newTree(snap)
	return t.Analyze(s), t.Chain, t.Name
}

// Held says what keeping the socket open does, for explain: "the port
// stays taken".
func Held(s *fdscan.Socket) string { return held(s) }

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

// held says what keeping a listener open does: a port stays taken; a
// unix socket stays reachable at its path.
func held(s *fdscan.Socket) string {
	if s.Proto == "unix" {
		if s.Local == "" || s.Local[0] == '@' {
			return "the socket stays open"
		}
		switch s.Path {
		case fdscan.PathReplaced:
			return "the socket stays open, though " + s.Local + " now names another file"
		case fdscan.PathMissing:
			return "the socket stays open, though nothing is at " + s.Local + " any more"
		}
		return "the socket stays open, and bound to " + s.Local + " while that path names it"
	}
	return "the port stays taken"
}

// restartFails says what happens to the server's restart while others
// hold its listener, for tcp and udp: bind fails.
func restartFails(s *fdscan.Socket, who string) string {
	if s.Proto == "unix" {
		return ""
	}
	return fmt.Sprintf(", and %s fails with \"address already in use\"", who)
}

// observed says what pid was seen doing with the socket, "" when nothing
// was seen.
func (a ListenerAnalysis) observed(pid int) string {
	if how, ok := a.Serving[pid]; ok {
		return "it accepts on it: " + how
	}
	if what, ok := a.Idle[pid]; ok {
		return "it does not accept on it: " + what
	}
	return ""
}

func (t *tree) inherited(a ListenerAnalysis) []Finding {
	if len(a.Inheritors) == 0 {
		return nil
	}
	var who []string
	for _, in := range a.Inheritors {
		how := "not a descendant of it"
		if a.Origin == 0 {
			how = "the program that made it gone"
		} else if in.Chain != "" {
			how = "through " + in.Chain
		}
		cloexec := "without close-on-exec"
		if in.CloseOnExec {
			cloexec = "with close-on-exec (set after it was inherited)"
		}
		line := fmt.Sprintf("%s, running %s, holds it as fd %d %s (%s)", t.Name(in.PID), t.program(in.PID), in.FD, cloexec, how)
		if o := a.observed(in.PID); o != "" {
			line += "; " + o
		}
		who = append(who, line)
	}
	if a.Origin == 0 {
		return []Finding{{Code: InheritedListener, Severity: Error, Socket: t.socketRef(a.Socket, a.Holders),
			Message: fmt.Sprintf("listener %s is held only by processes that inherited it (shells, sleep and the like cannot make a socket), the program that made it gone: %s; while they run %s%s; stop them, then give the socket SOCK_CLOEXEC (or FD_CLOEXEC) or close descriptors with close_range before exec in the server",
				where(a.Socket), strings.Join(who, "; "), held(a.Socket), restartFails(a.Socket, "a restart of the server"))}}
	}
	from := "that got it from it"
	for _, in := range a.Inheritors {
		if in.Chain == "" {
			from = "" // not every holder descends from it
		}
	}
	origin := fmt.Sprintf("%s, running %s", t.Name(a.Origin), t.program(a.Origin))
	if o := a.observed(a.Origin); o != "" {
		origin += " (" + o + ")"
	}
	others := "processes " + from + " and run other programs"
	if from == "" {
		others = "processes that run other programs"
	}
	return []Finding{{Code: InheritedListener, Severity: Error, Socket: t.socketRef(a.Socket, a.Holders),
		Message: fmt.Sprintf("listener %s is held by %s, and also by %s: %s; while they hold it %s%s; create the socket with SOCK_CLOEXEC (or set FD_CLOEXEC), close descriptors with close_range before exec, or start those programs from their own supervisor",
			where(a.Socket), origin, others, strings.Join(who, "; "), held(a.Socket), restartFails(a.Socket, "a restart of "+t.Name(a.Origin)))}}
}

// orphaned: a unix listener whose path no longer names it.
func (t *tree) orphaned(a ListenerAnalysis) Finding {
	now := "nothing is at " + a.Socket.Local + " (it was unlinked)"
	if a.Socket.Path == fdscan.PathReplaced {
		now = a.Socket.Local + " now names another file (a socket bound there since, as by a restarted copy of the server)"
	}
	var holders []string
	seen := map[int]bool{}
	for _, h := range a.Holders {
		if seen[h.PID] {
			continue
		}
		seen[h.PID] = true
		line := fmt.Sprintf("%s, running %s, fd %s", t.Name(h.PID), t.program(h.PID), joinInts(fdsOf(a.Holders, h.PID)))
		if o := a.observed(h.PID); o != "" {
			line += " (" + o + ")"
		}
		holders = append(holders, line)
	}
	queued := ""
	if a.Socket.Queue > 0 {
		queued = fmt.Sprintf("; %d connection(s) made before that wait in its accept queue", a.Socket.Queue)
	}
	return Finding{Code: UnixListenerOrphaned, Severity: Warning, Socket: t.socketRef(a.Socket, a.Holders),
		Message: fmt.Sprintf("unix listener socket:[%d], bound to %s, is orphaned: %s, so no new connection reaches it; it is held by %s%s; it blocks nothing, but its holders keep running and holding descriptors and memory: stop them if they are left over from a restart",
			a.Socket.Inode, a.Socket.Local, now, strings.Join(holders, "; "), queued)}
}

// notAccepting: connections queue, and no holder will take them. accept,
// when not nil, says which holders are the program that should accept
// (a declared listener). Otherwise it is what the kernel shows: no holder
// is seen serving the socket, and every holder is seen doing something
// else (stopped, or every thread waiting elsewhere), or, where that could
// not be seen, is a shell, sleep or the like.
func (t *tree) notAccepting(a ListenerAnalysis, accept func(pid int) bool) []Finding {
	if a.Socket.Queue <= 0 {
		return nil
	}
	var holders []string
	seen := map[int]bool{}
	for _, h := range a.Holders {
		if accept != nil && accept(h.PID) || accept == nil && (len(a.Serving) > 0 || contains(a.CanAccept, h.PID)) {
			return nil
		}
		if seen[h.PID] {
			continue
		}
		seen[h.PID] = true
		state := ""
		if what, ok := a.Idle[h.PID]; ok {
			state = ": " + what
		} else if t.nonServer(h.PID) {
			state = ": a " + filepath.Base(t.program(h.PID)) + ", which never accepts"
		}
		holders = append(holders, fmt.Sprintf("%s, running %s, fd %s%s", t.Name(h.PID), t.program(h.PID), joinInts(fdsOf(a.Holders, h.PID)), state))
	}
	fix := ""
	if len(a.Inheritors) > 0 {
		fix = ", and fix how they got the socket (see inherited-listener)"
	}
	return []Finding{{Code: ListenerNotAccepting, Severity: Error, Socket: t.socketRef(a.Socket, a.Holders),
		Message: fmt.Sprintf("listener %s has %d connection(s) waiting in its accept queue, and no holder accepts them: %s; connect() still succeeds and health checks say up while nobody answers; continue or stop these processes so its server can serve it (or be started again)%s",
			where(a.Socket), a.Socket.Queue, strings.Join(holders, "; "), fix)}}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
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
		if h.CloseOnExec || t.serviceManager(h.PID) || contains(inheritorPIDs(a), h.PID) || t.handsOver(a, h.PID) {
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

// handsOver reports whether pid passes the listener on by design to a
// holder below it (socket activation, FastCGI, a wrapper, pre-fork
// workers): it has to keep it inheritable.
func (t *tree) handsOver(a ListenerAnalysis, pid int) bool {
	holds := map[int]bool{}
	for _, h := range a.Holders {
		holds[h.PID] = true
	}
	for _, h := range a.Holders {
		if h.PID == pid {
			continue
		}
		if pp := t.holderParent(h.PID, holds); pp == pid && t.handOver(a.Holders, pid, h.PID, t.nonServer(pid) && !t.nonServer(h.PID)) != "" {
			return true
		}
	}
	return false
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
		if l.Exe != "" && programPath(p.Exe) != l.Exe {
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
			if !matches(h.PID) && !t.serviceManager(h.PID) {
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
