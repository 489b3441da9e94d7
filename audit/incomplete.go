package audit

import (
	"fmt"
	"os"
	"strings"

	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// CheckIncomplete is the code of a check the inputs ask for that could not
// be made in full, accepted with --allow-incomplete (without it the run
// fails: exit 2).
const CheckIncomplete = "check-incomplete"

// A Gap is a check that could not be made in full, and what could hide
// behind it.
//
// Which checks a process that cannot be read leaves open:
//
//   - nattch-mismatch of a channel with an expected nattch: open when the
//     mappings found of its segment do not add up to the kernel's nattch
//     (some holder is among the unreadable processes, or in another pid
//     namespace). When they add up, every holder is known, whatever else
//     could not be read.
//   - unexpected-user of a channel that declares exe= and has a live
//     segment: open when its holders are not all known (as above), or
//     when the executable of a known holder could not be read; unless a
//     holder running another executable was found already (the warning
//     is there either way).
//   - listener-wrong-holder of a declared listener that is listening:
//     open while any process's descriptors could not be read, unless a
//     wrong holder was found already (the error is there either way).
//     Nothing bounds who holds a socket: a holder may have changed its
//     user after inheriting it (a server's workers) or received it over a
//     unix socket, so neither the socket's uid nor the reader's narrows
//     the processes that could hold it.
//   - listener-missing of a declared listener found nowhere: open when an
//     unreadable process's network namespace is unknown, since the
//     listener may be in that namespace; when every unreadable process's
//     namespace was read, the socket tables list it whoever holds it.
//   - with --sockets (and the host-wide run), every descriptor check:
//     open while any process's descriptors could not be read.
//
// The other live checks are never left open: key-in-use, type-mismatch,
// missing-object, stale-object and key-drift (or key-coincidence) read
// the tables and the uids in them, which every user can read; and
// removed-attached can only be lowered from a warning to info by what
// could not be read (the original key of a segment none of whose holders
// could be read), so it stays on the safe side.
type Gap struct {
	// Cause is what could not be read: "the descriptors of 29 processes
	// could not be read (1234 nginx, … and 26 more)".
	Cause string
	// Consequence is what may hide behind it: "the listener web
	// tcp:127.0.0.1:5555 may be held by one of them".
	Consequence string
	// Worst is the severity of the worst finding it may hide: it can
	// change the verdict only when that reaches --fail-on.
	Worst Severity
	// About holds what the check-incomplete finding is about (entries,
	// key, socket, manifest line), for locations and suppressions.
	About Finding
}

// Text is the gap in one sentence, ending in what to do.
func (g Gap) Text() string {
	return g.Cause + ", so " + g.Consequence + ": " + gapHint()
}

func gapHint() string {
	if os.Geteuid() == 0 {
		return "a sandbox or security module hides them even from root: accept it with --allow-incomplete"
	}
	return "run as root, or accept it with --allow-incomplete"
}

// GapFindings returns a check-incomplete warning for each gap.
func GapFindings(gaps []Gap) []Finding {
	out := make([]Finding, 0, len(gaps))
	for _, g := range gaps {
		f := g.About
		f.Code, f.Severity, f.Message = CheckIncomplete, Warning, g.Text()
		out = append(out, f)
	}
	return out
}

// GapLine writes gaps in one line, each cause once: "the descriptors of
// 29 processes could not be read (…), so the listener web … may be held
// by one of them, and …: run as root, or accept it with
// --allow-incomplete".
func GapLine(gaps []Gap) string {
	var causes []string
	byCause := map[string][]string{}
	for _, g := range gaps {
		if _, ok := byCause[g.Cause]; !ok {
			causes = append(causes, g.Cause)
		}
		byCause[g.Cause] = append(byCause[g.Cause], g.Consequence)
	}
	parts := make([]string, len(causes))
	for i, c := range causes {
		parts[i] = c + ", so " + strings.Join(byCause[c], ", and ")
	}
	return strings.Join(parts, "; ") + ": " + gapHint()
}

// ProcessName names a process in a report of what could not be read.
type ProcessName struct {
	PID  int
	Comm string
}

// shownProcesses is how many processes a sentence names before it counts
// the rest.
const shownProcesses = 5

// ProcessList writes processes for people: "1234 nginx, 1240 python3" and,
// past the first five, "and 26 more".
func ProcessList(ps []ProcessName) string {
	var b strings.Builder
	for i, p := range ps {
		if i == shownProcesses {
			fmt.Fprintf(&b, " and %d more", len(ps)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", p.PID)
		if p.Comm != "" {
			b.WriteString(" " + p.Comm)
		}
	}
	return b.String()
}

// MapsUnreadable converts an attachment scan's unreadable processes.
func MapsUnreadable(a *ipcscan.Attachments) []ProcessName {
	if a == nil {
		return nil
	}
	out := make([]ProcessName, len(a.UnreadableProcesses))
	for i, p := range a.UnreadableProcesses {
		out[i] = ProcessName(p)
	}
	return out
}

// DescriptorsUnreadable converts a descriptor scan's unreadable processes.
func DescriptorsUnreadable(s *fdscan.Snapshot) []ProcessName {
	out := make([]ProcessName, len(s.UnreadableProcesses))
	for i, p := range s.UnreadableProcesses {
		out[i] = ProcessName(p)
	}
	return out
}

func processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}

// LiveGaps returns the live IPC checks that could not be made in full:
// the expected nattch and the executables of a channel whose segment's
// holders are not all known, and the executables of holders whose exe
// link could not be read.
func LiveGaps(entries []Entry, live Live) []Gap {
	s := live.Snap
	if s == nil {
		return nil
	}
	current := map[int32]*ipcscan.Segment{}
	for i := range s.Shm {
		if sg := &s.Shm[i]; sg.Key != 0 {
			current[sg.Key] = sg
		}
	}
	var out []Gap
	for i := range entries {
		e := &entries[i]
		k, ok := e.Key()
		if !ok || !e.OK() || k == 0 || e.Channel == nil || e.Channel.Nattch == nil && len(e.Channel.Exes) == 0 {
			continue
		}
		if t := e.Channel.Type; t != "" && t != "shm" {
			continue
		}
		sg := current[k]
		if sg == nil {
			continue
		}
		if g, ok := holdersGap(e, i, k, sg, s); ok {
			out = append(out, g)
		}
	}
	return out
}

// holdersGap says whether what a channel expects of the processes
// attached to its segment sg (nattch, exe=) is left open (see Gap).
func holdersGap(e *Entry, i int, k int32, sg *ipcscan.Segment, s *ipcscan.Snapshot) (Gap, bool) {
	c := e.Channel
	hs := s.Holders(sg.ID)
	var unread []ProcessName // known holders whose executable is not
	wrong := false           // a known holder runs another executable
	if len(c.Exes) > 0 && s.Attach != nil {
		for _, h := range hs {
			exe, ok := s.Attach.Exe(h.PID)
			switch {
			case !ok:
				unread = append(unread, ProcessName{h.PID, h.Comm})
			case !declaredExe(c.Exes, exe):
				wrong = true
			}
		}
	}
	var open []string
	worst := Warning
	if c.Nattch != nil {
		open, worst = append(open, "its expected "+plural(c.Nattch.String(), "process")), Error
	}
	if len(c.Exes) > 0 && !wrong {
		open = append(open, "whether they run its executables ("+exeList(c.Exes)+")")
	}
	key := k
	about := Finding{Key: &key, Entries: []int{i}, Object: &ObjectRef{"shm", sg.ID, k}}
	found := ipcscan.Mappings(hs)
	if s.Attach == nil || found != sg.Nattch {
		if len(open) == 0 {
			return Gap{}, false
		}
		var cause string
		switch {
		case s.Attach == nil:
			cause = "the process table could not be read"
		case s.Attach.Unreadable > 0:
			cause = fmt.Sprintf("the maps of %s could not be read (%s)", processes(s.Attach.Unreadable), ProcessList(MapsUnreadable(s.Attach)))
		default:
			cause = fmt.Sprintf("segment id %d has mappings of processes this /proc does not show (another pid namespace)", sg.ID)
		}
		return Gap{Cause: cause, Worst: worst, About: about,
			Consequence: fmt.Sprintf("who is attached to segment id %d of channel %s is not known (nattch %d, %d found) and %s cannot be checked",
				sg.ID, e.Name(), sg.Nattch, found, strings.Join(open, " and "))}, true
	}
	if len(unread) == 0 || wrong {
		return Gap{}, false
	}
	return Gap{Worst: Warning, About: about,
		Cause: fmt.Sprintf("the executables of %s attached to segment id %d could not be read (%s)", processes(len(unread)), sg.ID, ProcessList(unread)),
		Consequence: fmt.Sprintf("whether the processes attached to channel %s run its executables (%s) cannot be checked",
			e.Name(), exeList(c.Exes))}, true
}

// DescriptorGaps returns the descriptor checks that could not be made in
// full: each declared listener, and with everyProcess (--sockets, the
// host-wide run) the checks of every process.
func DescriptorGaps(d Descriptors, everyProcess bool) []Gap {
	s := d.Snap
	if s == nil || s.Unreadable == 0 {
		return nil
	}
	cause := fmt.Sprintf("the descriptors of %s could not be read (%s)", processes(s.Unreadable), ProcessList(DescriptorsUnreadable(s)))
	t := newTree(s)
	var out []Gap
	for _, l := range d.Listeners {
		if g, ok := t.listenerGap(l, cause); ok {
			out = append(out, g)
		}
	}
	if everyProcess {
		out = append(out, Gap{Cause: cause, Worst: Error,
			Consequence: "the sockets they hold are not checked (inherited-listener, listener-not-accepting, listener-cloexec-missing, close-wait-leak, fd-exhaustion)"})
	}
	return out
}

// listenerGap says whether a declared listener's check is left open by
// the processes that could not be read (see Gap).
func (t *tree) listenerGap(l manifest.Listener, cause string) (Gap, bool) {
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
	var found *fdscan.Socket
	for ino, sk := range t.snap.Sockets {
		if !sk.Listening() || !l.Endpoint.Matches(sk.Proto, sk.Local, ino) {
			continue
		}
		if found == nil || ino < found.Inode {
			found = sk
		}
		for _, h := range t.snap.Holders[ino] {
			if h.PID != 1 && !matches(h.PID) {
				return Gap{}, false // listener-wrong-holder is there already
			}
		}
	}
	about := Finding{Where: &Place{File: l.File, Line: l.Line}}
	if found == nil {
		unknown := false
		for _, p := range t.snap.UnreadableProcesses {
			if pr := t.snap.Processes[p.PID]; pr == nil || pr.NetNS == 0 {
				unknown = true
				break
			}
		}
		if !unknown {
			return Gap{}, false // every namespace was read: it is not listening
		}
		return Gap{Cause: cause, Worst: Error, About: about,
			Consequence: fmt.Sprintf("the listener %s %s may be listening in a network namespace of theirs, held by one of them", l.Name, l.Endpoint)}, true
	}
	about.Socket = t.socketRef(found, t.snap.Holders[found.Inode])
	return Gap{Cause: cause, Worst: Error, About: about,
		Consequence: fmt.Sprintf("the listener %s %s may be held by one of them", l.Name, l.Endpoint)}, true
}
