package fdscan_test

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/fdscan"
)

// The fixture tree is a copy of /proc taken in private namespaces while
// the three incidents were running (testdata/fdproc/capture.py), with what
// ss, lsfd, ps and prlimit said at that moment under oracle/.
const (
	treeDir   = "../testdata/fdproc/tree"
	oracleDir = "../testdata/fdproc/oracle"
)

func oracle(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oracleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// psRows reads "pid ppid rest" lines (ps -eo pid=,ppid=,comm= or pid=,args=).
func psRows(t *testing.T, text string, cols int) map[int][]string {
	t.Helper()
	rows := map[int][]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " ")
		var f []string
		for range cols - 1 {
			i := strings.IndexByte(line, ' ')
			if i < 0 {
				t.Fatalf("ps line %q", sc.Text())
			}
			f = append(f, line[:i])
			line = strings.TrimLeft(line[i:], " ")
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("ps line %q", sc.Text())
		}
		rows[pid] = append(f[1:], line)
	}
	return rows
}

func fixtureSnapshot(t *testing.T) *fdscan.Snapshot {
	t.Helper()
	snap, err := fdscan.NewFS(treeDir).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestSnapshotFixtureHolders holds every socket's holders and state against
// ss -p in both network namespaces, and every holder's close-on-exec bit
// against lsfd.
func TestSnapshotFixtureHolders(t *testing.T) {
	snap := fixtureSnapshot(t)
	seen := map[uint64]bool{}
	for _, file := range []string{"ss-tanpe.txt", "ss-uanpe.txt", "ss-xanp.txt", "ss-tanpe-other.txt"} {
		for _, r := range parseSS(t, oracle(t, file)) {
			if r.Inode == 0 {
				continue
			}
			seen[r.Inode] = true
			if got, want := pidFDs(snap.Holders[r.Inode]), r.holders(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s inode %d: holders %v, ss says %v", file, r.Inode, got, want)
			}
			s := snap.Sockets[r.Inode]
			if s == nil {
				t.Errorf("%s inode %d: not among the sockets", file, r.Inode)
				continue
			}
			if want := ssState(s.Proto, r.State); s.State != want {
				t.Errorf("inode %d: state %s, ss says %s", r.Inode, s.State, want)
			}
			if s.Local != ssAddr(s.Proto, r.Local) {
				t.Errorf("inode %d: local %q, ss says %q", r.Inode, s.Local, r.Local)
			}
			// A copy of /proc has no sock_diag: unix queues are unknown,
			// tcp's receive and accept queues are in the table.
			switch {
			case s.Proto == "unix" && s.Queue != -1:
				t.Errorf("inode %d: unix queue %d without sock_diag, want -1", r.Inode, s.Queue)
			case s.Proto != "unix" && s.Queue != r.RecvQ:
				t.Errorf("inode %d: queue %d, ss says %d", r.Inode, s.Queue, r.RecvQ)
			}
		}
	}
	// The three incidents, as ss showed them.
	want := map[string][]fdscan.Holder{
		// fdholder -> sh -> sleep all hold the inherited listener at fd 3.
		"127.0.0.1:5555": {{PID: 3, FD: 3}, {PID: 4, FD: 3}, {PID: 5, FD: 3}},
		// sh and sleep hold the dead program's unix listener as fd 0.
		"/tmp/fdproc run/app sock": {{PID: 8, FD: 0}, {PID: 9, FD: 0}},
		// systemd-style activation: fd 3, close-on-exec clear.
		"[::1]:8080": {{PID: 10, FD: 3}},
	}
	for local, hs := range want {
		found := false
		for ino, s := range snap.Sockets {
			if s.Local == local && s.Listening() {
				found = true
				if got := snap.Holders[ino]; !reflect.DeepEqual(got, hs) {
					t.Errorf("%s: holders %+v, want %+v", local, got, hs)
				}
			}
		}
		if !found {
			t.Errorf("no listener on %s", local)
		}
	}
	closeWait := 0
	for ino, s := range snap.Sockets {
		if s.State == "CLOSE_WAIT" {
			closeWait++
			if hs := snap.Holders[ino]; len(hs) != 1 || hs[0].PID != 6 {
				t.Errorf("CLOSE_WAIT %d held by %+v, want the hoarding server (pid 6) alone", ino, hs)
			}
		}
	}
	if closeWait != 3 {
		t.Errorf("%d CLOSE_WAIT sockets, want 3", closeWait)
	}

	// Close-on-exec of every socket descriptor, against lsfd.
	lsfd := parseLsfd(t, []byte(oracle(t, "lsfd.json")))
	total := 0
	for _, hs := range snap.Holders {
		total += len(hs)
	}
	if total != len(lsfd) {
		t.Errorf("%d socket descriptors, lsfd shows %d", total, len(lsfd))
	}
	for _, e := range lsfd {
		h := fdscan.Holder{PID: e.PID, FD: *e.FD, CloseOnExec: e.cloexec()}
		found := false
		for _, got := range snap.Holders[e.Inode] {
			found = found || got == h
		}
		if !found {
			t.Errorf("lsfd: %+v on inode %d; fdscan has %+v", h, e.Inode, snap.Holders[e.Inode])
		}
	}
	// Every socket descriptor's inode is one ss listed: no holder of a
	// socket the tables do not have.
	for ino := range snap.Holders {
		if !seen[ino] {
			t.Errorf("inode %d held by %+v but not in ss", ino, snap.Holders[ino])
		}
	}
}

// TestSnapshotFixtureProcesses holds the process tree against ps, the
// limits against prlimit, and counts the process that vanished.
func TestSnapshotFixtureProcesses(t *testing.T) {
	snap := fixtureSnapshot(t)
	if snap.Vanished != 1 || snap.Unreadable != 0 {
		t.Errorf("vanished %d unreadable %d, want 1 0", snap.Vanished, snap.Unreadable)
	}
	if len(snap.Notes) != 1 || !strings.Contains(snap.Notes[0], "not a live procfs") {
		t.Errorf("notes %q, want one saying sock_diag was not asked", snap.Notes)
	}
	ps := psRows(t, oracle(t, "ps.txt"), 3)
	args := psRows(t, oracle(t, "ps-args.txt"), 2)
	limits := psRows(t, oracle(t, "prlimit.txt"), 2)
	var pids []int
	for pid := range snap.Processes {
		pids = append(pids, pid)
	}
	if len(pids) != 9 {
		t.Errorf("processes %v, want the 9 of the scene", pids)
	}
	for pid, pr := range snap.Processes {
		row, ok := ps[pid]
		if !ok {
			t.Errorf("pid %d not in ps", pid)
			continue
		}
		if strconv.Itoa(pr.PPID) != row[0] || pr.Comm != row[1] {
			t.Errorf("pid %d: ppid %d comm %q; ps says %s %q", pid, pr.PPID, pr.Comm, row[0], row[1])
		}
		if got := strings.Join(pr.Cmdline, " "); got != args[pid][0] {
			t.Errorf("pid %d: cmdline %q; ps says %q", pid, got, args[pid][0])
		}
		if strconv.FormatUint(pr.FDLimit, 10) != limits[pid][0] {
			t.Errorf("pid %d: open files limit %d; prlimit says %s", pid, pr.FDLimit, limits[pid][0])
		}
		entries, err := os.ReadDir(filepath.Join(treeDir, strconv.Itoa(pid), "fd"))
		if err != nil || pr.FDs != len(entries) {
			t.Errorf("pid %d: %d descriptors, the copy has %d (%v)", pid, pr.FDs, len(entries), err)
		}
		if pr.ListenFDs != (pid == 10) {
			t.Errorf("pid %d: ListenFDs %v; only pid 10 was started with LISTEN_PID=$$", pid, pr.ListenFDs)
		}
		if pr.Unit != "" {
			t.Errorf("pid %d: unit %q in a scene without systemd", pid, pr.Unit)
		}
	}
	// fdholder -> sh -> sleep, as ps shows the chain.
	if snap.Processes[5].PPID != 4 || snap.Processes[4].PPID != 3 || snap.Processes[3].Exe != "/tmp/fdholder" {
		t.Errorf("chain: %+v %+v %+v", snap.Processes[3], snap.Processes[4], snap.Processes[5])
	}
	if snap.Processes[10].Comm != "a) (b c" || snap.Processes[10].Exe != "/tmp/fdproc run/a) (b c" {
		t.Errorf("activated process %+v", snap.Processes[10])
	}
	// Two network namespaces; the second holds the listener on 7000.
	host, other := snap.Processes[1].NetNS, snap.Processes[11].NetNS
	if host == 0 || other == 0 || host == other {
		t.Fatalf("namespaces %d and %d", host, other)
	}
	for pid, pr := range snap.Processes {
		if pid != 11 && pr.NetNS != host {
			t.Errorf("pid %d in namespace %d", pid, pr.NetNS)
		}
	}
	n := 0
	for _, s := range snap.Sockets {
		if s.NetNS == other {
			n++
			if s.Local != "127.0.0.1:7000" || !s.Listening() {
				t.Errorf("other namespace: %+v", s)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d sockets in the other namespace, want 1", n)
	}
}

// TestProcessAndDescriptorsFixture reads one process alone.
func TestProcessAndDescriptorsFixture(t *testing.T) {
	fs := fdscan.NewFS(treeDir)
	pr, err := fs.Process(6)
	if err != nil || pr.FDLimit != 777 || pr.FDs != 7 || pr.Comm != "fdholder" {
		t.Fatalf("Process(6) = %+v, %v", pr, err)
	}
	ds, err := fs.Descriptors(6)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 7 {
		t.Fatalf("%d descriptors: %+v", len(ds), ds)
	}
	for _, d := range ds {
		isSocket := strings.HasPrefix(d.Target, "socket:[")
		if isSocket != (d.Inode != 0) || d.PID != 6 {
			t.Errorf("descriptor %+v", d)
		}
		// The hoarding server makes every socket with SOCK_CLOEXEC.
		if isSocket && !d.CloseOnExec {
			t.Errorf("socket descriptor %+v without close-on-exec", d)
		}
	}
	if _, err := fs.Process(99999); !os.IsNotExist(err) {
		t.Errorf("Process(99999): %v, want not exist", err)
	}
	socks, err := fs.Sockets(11)
	if err != nil || len(socks) != 1 || socks[0].LocalPort != 7000 {
		t.Errorf("Sockets(11) = %+v, %v", socks, err)
	}
}

func pidFDs(hs []fdscan.Holder) map[[2]int]bool {
	m := map[[2]int]bool{}
	for _, h := range hs {
		m[[2]int{h.PID, h.FD}] = true
	}
	return m
}
