package audit_test

import (
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// attachedSnapshot is one segment, id 5 with key 0x6c014001 in IPC
// namespace 7, with the kernel's nattch and the holders and executables
// the maps and exe links showed.
func attachedSnapshot(nattch int, holders []ipcscan.Holder, exes map[int]string) *ipcscan.Snapshot {
	const ns = 7
	a := &ipcscan.Attachments{
		Holders: map[ipcscan.SegmentRef][]ipcscan.Holder{{NS: ns, ShmID: 5}: holders},
		Keys:    map[ipcscan.SegmentRef]int32{{NS: ns, ShmID: 5}: 0x6c014001},
		Exes:    exes,
		// Processes read: the holders and one process holding nothing.
		Processes: len(holders) + 1,
	}
	return &ipcscan.Snapshot{NS: ns, Attach: a, Procs: map[int]ipcscan.Proc{100: {Alive: true, Comm: "app"}},
		Shm: []ipcscan.Segment{{Perm: ipcscan.Perm{Key: 0x6c014001, ID: 5, Mode: 0o600}, Size: 4096, CPID: 100, Nattch: nattch}}}
}

// withExes is channelOn for the channel web on key 0x6c014001, declaring
// executables; nattch "-" leaves it unset.
func withExes(typ, nattch string, exes ...string) audit.Entry {
	e := channelOn("web", 'l', 0x014001, typ, strings.Replace(nattch, "-", "0+", 1))
	if nattch == "-" {
		e.Channel.Nattch = nil
	}
	e.Channel.Exes = exes
	return e
}

const webChannel = "channel web (/etc/app/web.key, proj 108 'l', dev 0:1, ino 16385 = 0x4001)"

// TestUnexpectedHolder: each process attached to a channel's segment that
// runs none of its executables is an unexpected-user, naming it; a holder
// whose executable was deleted since it started still runs the program
// its path named.
func TestUnexpectedHolder(t *testing.T) {
	holders := []ipcscan.Holder{{PID: 100, Comm: "app", Mappings: 1}, {PID: 101, Comm: "app", Mappings: 1}, {PID: 102, Comm: "intruder", Mappings: 2}, {PID: 103, Comm: "tool", Mappings: 1}}
	exes := map[int]string{100: "/usr/bin/app", 101: "/usr/bin/app (deleted)", 102: "/tmp/my tools/intruder", 103: "/usr/local/bin/tool"}
	snap := attachedSnapshot(5, holders, exes)
	e := withExes("shm", "4", "/usr/bin/app", "/usr/bin/app2")
	got := findingsOf(audit.CheckLive([]audit.Entry{e}, audit.Live{Snap: snap}), audit.UnexpectedUser)
	want := []string{
		webChannel + " declares exe=/usr/bin/app exe=/usr/bin/app2, but process 102 (intruder, exe /tmp/my tools/intruder) is attached to its segment id 5 (key 0x6c014001): another program uses the channel's key (it computes the same key, or was given the segment's id); find out why, or add exe=/tmp/my\\040tools/intruder to the channel if it is one of the channel's programs",
		webChannel + " declares exe=/usr/bin/app exe=/usr/bin/app2, but process 103 (tool, exe /usr/local/bin/tool) is attached to its segment id 5 (key 0x6c014001): another program uses the channel's key (it computes the same key, or was given the segment's id); find out why, or add exe=/usr/local/bin/tool to the channel if it is one of the channel's programs",
	}
	if len(got) != len(want) {
		t.Fatalf("%d unexpected-user findings, want %d: %+v", len(got), len(want), got)
	}
	for i, f := range got {
		if f.Message != want[i] || f.Severity != audit.Warning || f.Object == nil || f.Object.ID != 5 || f.Key == nil || *f.Key != 0x6c014001 || len(f.Entries) != 1 || f.Entries[0] != 0 {
			t.Errorf("finding %d: %s %+v %v %v\n%s\nwant warning about segment 5, entry 0:\n%s", i, f.Severity, f.Object, f.Key, f.Entries, f.Message, want[i])
		}
	}
	// The wrong holders are found: nothing is left open.
	if gaps := audit.LiveGaps([]audit.Entry{e}, audit.Live{Snap: snap}); len(gaps) != 0 {
		t.Errorf("gaps %+v, want none", gaps)
	}
	// Without exe= in the manifest, any executable may attach; a channel
	// of another facility has no holders to judge.
	for _, e := range []audit.Entry{withExes("shm", "4"), withExes("sem", "-", "/usr/bin/app")} {
		if got := findingsOf(audit.CheckLive([]audit.Entry{e}, audit.Live{Snap: snap}), audit.UnexpectedUser); len(got) != 0 {
			t.Errorf("type %q, exes %q: %+v, want no unexpected-user", e.Channel.Type, e.Channel.Exes, got)
		}
	}
}

// TestUnexpectedHolderOpen: a holder whose executable cannot be read, or
// holders that are not all known, leave the check open: a gap that names
// them, as severe as the findings it may hide.
func TestUnexpectedHolderOpen(t *testing.T) {
	holders := []ipcscan.Holder{{PID: 100, Comm: "app", Mappings: 1}, {PID: 104, Comm: "secret", Mappings: 1}}
	exes := map[int]string{100: "/usr/bin/app"}
	tests := []struct {
		name   string
		snap   *ipcscan.Snapshot
		entry  audit.Entry
		worst  audit.Severity
		cause  string
		conseq string
	}{
		{"an exe link that cannot be read", attachedSnapshot(2, holders, exes), withExes("shm", "-", "/usr/bin/app"), audit.Warning,
			"the executables of 1 process attached to segment id 5 could not be read (104 secret)",
			"whether the processes attached to channel web run its executables (exe=/usr/bin/app) cannot be checked"},
		{"a holder not found", unreadableMaps(attachedSnapshot(3, holders, map[int]string{100: "/usr/bin/app", 104: "/usr/bin/app"})), withExes("shm", "-", "/usr/bin/app"), audit.Warning,
			"the maps of 1 process could not be read (300 hidden)",
			"who is attached to segment id 5 of channel web is not known (nattch 3, 2 found) and whether they run its executables (exe=/usr/bin/app) cannot be checked"},
		{"a holder not found, with a nattch", unreadableMaps(attachedSnapshot(3, holders, map[int]string{100: "/usr/bin/app", 104: "/usr/bin/app"})), withExes("shm", "3", "/usr/bin/app"), audit.Error,
			"the maps of 1 process could not be read (300 hidden)",
			"who is attached to segment id 5 of channel web is not known (nattch 3, 2 found) and its expected 3 processes and whether they run its executables (exe=/usr/bin/app) cannot be checked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := audit.Live{Snap: tc.snap}
			if got := findingsOf(audit.CheckLive([]audit.Entry{tc.entry}, in), audit.UnexpectedUser); len(got) != 0 {
				t.Errorf("unexpected-user %+v, want none: no holder is known to run another executable", got)
			}
			gaps := audit.LiveGaps([]audit.Entry{tc.entry}, in)
			if len(gaps) != 1 {
				t.Fatalf("%d gaps, want 1: %+v", len(gaps), gaps)
			}
			g := gaps[0]
			if g.Cause != tc.cause || g.Consequence != tc.conseq || g.Worst != tc.worst || g.About.Object == nil || g.About.Object.ID != 5 {
				t.Errorf("gap %s %+v:\n%s\n%s\nwant %s:\n%s\n%s", g.Worst, g.About.Object, g.Cause, g.Consequence, tc.worst, tc.cause, tc.conseq)
			}
		})
	}
	// A holder running another executable is reported whatever is
	// hidden: the exe check is not open, the nattch one is.
	snap := unreadableMaps(attachedSnapshot(3, holders, map[int]string{100: "/usr/bin/app", 104: "/usr/bin/other"}))
	e := withExes("shm", "3", "/usr/bin/app")
	if got := findingsOf(audit.CheckLive([]audit.Entry{e}, audit.Live{Snap: snap}), audit.UnexpectedUser); len(got) != 1 {
		t.Errorf("%d unexpected-user findings, want 1 (pid 104): %+v", len(got), got)
	}
	want := "who is attached to segment id 5 of channel web is not known (nattch 3, 2 found) and its expected 3 processes cannot be checked"
	if gaps := audit.LiveGaps([]audit.Entry{e}, audit.Live{Snap: snap}); len(gaps) != 1 || gaps[0].Consequence != want {
		t.Errorf("gaps %+v, want one: %s", gaps, want)
	}
}

// unreadableMaps marks one process, 300 (hidden), as one whose maps could
// not be read.
func unreadableMaps(s *ipcscan.Snapshot) *ipcscan.Snapshot {
	s.Attach.Unreadable++
	s.Attach.UnreadableProcesses = append(s.Attach.UnreadableProcesses, ipcscan.ProcName{PID: 300, Comm: "hidden"})
	return s
}

// TestAttachCount: the count a manifest's nattch is held to is the
// distinct processes when their mappings add up to the kernel's nattch,
// and the kernel's nattch otherwise.
func TestAttachCount(t *testing.T) {
	split := []ipcscan.Holder{{PID: 100, Comm: "app", Mappings: 3}, {PID: 101, Comm: "app", Mappings: 1}}
	for _, tc := range []struct {
		snap      *ipcscan.Snapshot
		n         int
		processes bool
	}{
		{attachedSnapshot(4, split, nil), 2, true},
		{attachedSnapshot(5, split, nil), 5, false},
		{&ipcscan.Snapshot{Shm: attachedSnapshot(4, nil, nil).Shm}, 4, false}, // no process table
	} {
		n, processes := audit.AttachCount(tc.snap, &tc.snap.Shm[0])
		if n != tc.n || processes != tc.processes {
			t.Errorf("nattch %d, holders %+v: AttachCount = %d, %v; want %d, %v", tc.snap.Shm[0].Nattch, tc.snap.Holders(5), n, processes, tc.n, tc.processes)
		}
	}
}
