package fdscan_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/internal/reftool"
)

// lsofFile is one descriptor as lsof -F pftGin prints it.
type lsofFile struct {
	PID, FD int
	Type    string
	Flags   uint64 // fdinfo's flags, which lsof prints in hex (+fg)
	Inode   uint64 // unix sockets only
	Name    string
}

// lsofFiles runs lsof with the given selection and returns the numbered
// descriptors it lists. Without lsof it skips the comparison (or fails the
// test under reftool.RequireEnv, which scripts/test sets).
func lsofFiles(t *testing.T, sel ...string) []lsofFile {
	t.Helper()
	if reftool.Lookup(t, "lsof", "lsof") == "" {
		return nil
	}
	out := run(t, append([]string{"lsof", "-nP", "+fg", "-F", "pftGin"}, sel...)...)
	var files []lsofFile
	pid := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			continue
		}
		v := l[1:]
		switch l[0] {
		case 'p':
			pid, _ = strconv.Atoi(v)
		case 'f':
			fd, err := strconv.Atoi(v)
			if err != nil {
				fd = -1 // cwd, txt, mem…
			}
			files = append(files, lsofFile{PID: pid, FD: fd})
		case 't':
			files[len(files)-1].Type = v
		case 'G':
			hex, _, _ := strings.Cut(v, ";")
			files[len(files)-1].Flags, _ = strconv.ParseUint(strings.TrimPrefix(hex, "0x"), 16, 64)
		case 'i':
			files[len(files)-1].Inode, _ = strconv.ParseUint(v, 10, 64)
		case 'n':
			files[len(files)-1].Name = v
		}
	}
	return slices.DeleteFunc(files, func(f lsofFile) bool { return f.FD < 0 })
}

// lsofHolders are lsof's descriptors as holders, close-on-exec included.
func lsofHolders(files []lsofFile) map[fdscan.Holder]bool {
	m := map[fdscan.Holder]bool{}
	for _, f := range files {
		m[fdscan.Holder{PID: f.PID, FD: f.FD, CloseOnExec: f.Flags&fdscan.OCloexec != 0}] = true
	}
	return m
}

func holderSet(hs []fdscan.Holder) map[fdscan.Holder]bool {
	m := map[fdscan.Holder]bool{}
	for _, h := range hs {
		m[h] = true
	}
	return m
}

// lsfdCloexec checks every holder's close-on-exec bit against lsfd.
func lsfdCloexec(t *testing.T, inode uint64, hs []fdscan.Holder) {
	t.Helper()
	var ref []fdscan.Holder
	for _, e := range parseLsfd(t, []byte(run(t, "lsfd", "-J", "-o", "PID,FD,FLAGS,INODE,TYPE", "-Q", `TYPE == "SOCK"`))) {
		if e.Inode == inode {
			ref = append(ref, fdscan.Holder{PID: e.PID, FD: *e.FD, CloseOnExec: e.cloexec()})
		}
	}
	if !reflect.DeepEqual(holderSet(hs), holderSet(ref)) {
		t.Errorf("inode %d: holders %+v, lsfd says %+v", inode, hs, ref)
	}
}

// ssRowOf finds the row ss printed for inode.
func ssRowOf(t *testing.T, out string, inode uint64) ssRow {
	t.Helper()
	for _, r := range parseSS(t, out) {
		if r.Inode == inode {
			return r
		}
	}
	t.Fatalf("ss does not list inode %d:\n%s", inode, out)
	return ssRow{}
}

// listener finds the one listening socket on local.
func listener(t *testing.T, snap *fdscan.Snapshot, local string) *fdscan.Socket {
	t.Helper()
	var found *fdscan.Socket
	for _, s := range snap.Sockets {
		if s.Local == local && s.Listening() {
			if found != nil {
				t.Fatalf("two listeners on %s", local)
			}
			found = s
		}
	}
	if found == nil {
		t.Fatalf("no listener on %s", local)
	}
	return found
}

func snapshot(t *testing.T) *fdscan.Snapshot {
	t.Helper()
	snap, err := fdscan.NewFS("/proc").Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Notes) > 0 || snap.Unreadable > 0 {
		t.Errorf("as root in private namespaces: unreadable %d, notes %q", snap.Unreadable, snap.Notes)
	}
	return snap
}

// TestLiveInheritedListener reproduces the inherited listener: a program
// listens on 127.0.0.1:5555 without close-on-exec and system()s a shell
// that starts a long-running child. The listener must show as held by
// all three, at the same descriptor, without close-on-exec, along the
// chain program -> sh -> sleep; ss, lsof, lsfd and ps must agree.
func TestLiveInheritedListener(t *testing.T) {
	if !inPrivateNamespaces(t) {
		return
	}
	bin := fdholderPath(t)
	h := startHolder(t, nil, bin, "inherit", "127.0.0.1", "5555", "sleep 600 & echo child $!; wait")
	ready := h.expect(t, "ready")
	parent, fd := ready[0], ready[1]
	child := h.expect(t, "child")[0]

	// $! is known once sh has forked, before the child has exec'd sleep.
	var snap *fdscan.Snapshot
	eventually(t, "the child exec'd sleep", func() bool {
		snap = snapshot(t)
		return snap.Processes[child] != nil && snap.Processes[child].Comm == "sleep"
	})
	l := listener(t, snap, "127.0.0.1:5555")
	if l.Proto != "tcp" || l.Queue != 0 || l.Backlog != 16 {
		t.Errorf("listener %+v: want tcp, queue 0, backlog 16", *l)
	}
	sleep := snap.Processes[child]
	if sleep == nil {
		t.Fatalf("sleep (pid %d) not in the snapshot", child)
	}
	sh := snap.Processes[sleep.PPID]
	if sh == nil || sh.Comm != "sh" || sh.PPID != parent || sleep.Comm != "sleep" {
		t.Fatalf("chain: sleep %+v, its parent %+v; want sh whose parent is %d", sleep, sh, parent)
	}
	p := snap.Processes[parent]
	if p.Exe != bin || p.Comm != "fdholder" || p.FDs != 4 {
		t.Errorf("program %+v: want exe %s and 4 descriptors (0, 1, 2 and the listener)", p, bin)
	}
	if !(p.Start <= sh.Start && sh.Start <= sleep.Start) || sleep.Start == 0 {
		t.Errorf("start times %d %d %d: not in the order the processes were made", p.Start, sh.Start, sleep.Start)
	}
	want := []fdscan.Holder{{PID: parent, FD: fd}, {PID: sh.PID, FD: fd}, {PID: child, FD: fd}}
	if got := snap.Holders[l.Inode]; !reflect.DeepEqual(got, want) {
		t.Errorf("holders %+v, want %+v", got, want)
	}

	// ss: the same holders, state and backlog.
	r := ssRowOf(t, run(t, "ss", "-tlnpe"), l.Inode)
	if !reflect.DeepEqual(pidFDs(snap.Holders[l.Inode]), r.holders()) || r.State != "LISTEN" || r.SendQ != l.Backlog || r.RecvQ != l.Queue {
		t.Errorf("ss: %+v; fdscan: %+v %+v", r, *l, snap.Holders[l.Inode])
	}
	// lsof and lsfd: the same holders and close-on-exec bits.
	if files := lsofFiles(t, "-a", "-iTCP:5555", "-sTCP:LISTEN"); files != nil {
		if got, ref := holderSet(snap.Holders[l.Inode]), lsofHolders(files); !reflect.DeepEqual(got, ref) {
			t.Errorf("lsof: %+v; fdscan: %+v", ref, got)
		}
	}
	lsfdCloexec(t, l.Inode, snap.Holders[l.Inode])
	// ps: the process tree.
	ps := psRows(t, run(t, "ps", "-o", "pid=,ppid=,comm=", "-p", fmt.Sprintf("%d,%d,%d", parent, sh.PID, child)), 3)
	for _, pr := range []*fdscan.Process{p, sh, sleep} {
		if row := ps[pr.PID]; row == nil || row[0] != strconv.Itoa(pr.PPID) || row[1] != pr.Comm {
			t.Errorf("pid %d: ppid %d comm %q; ps says %q", pr.PID, pr.PPID, pr.Comm, row)
		}
		soft := strings.TrimSpace(run(t, "prlimit", "--pid", strconv.Itoa(pr.PID), "--nofile", "--raw", "--noheadings", "-o", "SOFT"))
		if strconv.FormatUint(pr.FDLimit, 10) != soft {
			t.Errorf("pid %d: open files limit %d, prlimit says %s", pr.PID, pr.FDLimit, soft)
		}
	}
}

// TestLiveDeadUnixListener reproduces the dead listener: a unix listener
// handed as fd 0 to a program that system()s sleep. With the program
// killed, connect() still succeeds, and the accept queue (sock_diag's
// UNIX_DIAG_RQLEN) counts the pending connections exactly.
func TestLiveDeadUnixListener(t *testing.T) {
	if !inPrivateNamespaces(t) {
		return
	}
	bin := fdholderPath(t)
	path := filepath.Join(t.TempDir(), "app.sock")
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 8); err != nil {
		t.Fatal(err)
	}
	lf := os.NewFile(uintptr(lfd), path)
	h := startHolder(t, lf, bin, "system", "sleep 600")
	program := h.expect(t, "ready")[0]
	lf.Close()
	// Wait for sleep, then kill the program that started it.
	var sleepPID int
	eventually(t, "sleep started", func() bool {
		for pid, pr := range snapshot(t).Processes {
			if pr.Comm == "sleep" {
				sleepPID = pid
				return true
			}
		}
		return false
	})
	h.cmd.Process.Kill()
	h.cmd.Wait()

	connect := func(n int) {
		for range n {
			c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Connect(c, &unix.SockaddrUnix{Name: path}); err != nil {
				t.Fatalf("connect to the dead program's listener: %v", err)
			}
			t.Cleanup(func() { unix.Close(c) })
		}
	}
	connect(3)
	if l := listener(t, snapshot(t), path); l.Queue != 3 {
		t.Errorf("listener %+v: want 3 pending", *l)
	}
	connect(2)
	snap := snapshot(t)
	l := listener(t, snap, path)
	if l.Queue != 5 || l.Backlog != 8 || l.Type != "stream" {
		t.Errorf("listener %+v: want 5 pending of a backlog of 8", *l)
	}
	if snap.Processes[program] != nil {
		t.Errorf("the killed program %d is still in the snapshot", program)
	}
	hs := snap.Holders[l.Inode]
	for _, h := range hs {
		pr := snap.Processes[h.PID]
		if h.FD != 0 || h.CloseOnExec || pr == nil || (pr.Comm != "sleep" && pr.Comm != "sh") {
			t.Errorf("holder %+v (%+v): want sleep or its sh, at fd 0, without close-on-exec", h, pr)
		}
	}
	if !slices.ContainsFunc(hs, func(h fdscan.Holder) bool { return h.PID == sleepPID }) {
		t.Errorf("holders %+v: sleep (pid %d) is not one", hs, sleepPID)
	}
	r := ssRowOf(t, run(t, "ss", "-xlnp"), l.Inode)
	if r.RecvQ != l.Queue || r.SendQ != l.Backlog || !reflect.DeepEqual(pidFDs(hs), r.holders()) {
		t.Errorf("ss: %+v; fdscan: %+v %+v", r, *l, hs)
	}
	if files := lsofFiles(t, "-a", "-U", "-d", "0"); files != nil {
		var ref []lsofFile
		for _, f := range files {
			if f.Inode == l.Inode {
				ref = append(ref, f)
			}
		}
		if got := holderSet(hs); !reflect.DeepEqual(got, lsofHolders(ref)) {
			t.Errorf("lsof: %+v; fdscan: %+v", ref, hs)
		}
	}
	lsfdCloexec(t, l.Inode, hs)
}

// TestLiveCloseWait reproduces the CLOSE_WAIT leak: a server accepts and
// never closes; 20 clients connect and close. Exactly 20 CLOSE_WAIT
// sockets must be held, each by the server alone, at the descriptors
// accept returned.
func TestLiveCloseWait(t *testing.T) {
	if !inPrivateNamespaces(t) {
		return
	}
	bin := fdholderPath(t)
	h := startHolder(t, nil, bin, "hoard", "127.0.0.1", "6000")
	server := h.expect(t, "ready")[0]
	accepted := map[int]bool{}
	for i := range 20 {
		c, err := net.Dial("tcp", "127.0.0.1:6000")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		got := h.expect(t, "accepted")
		if got[0] != i+1 {
			t.Fatalf("accepted %v, want connection %d", got, i+1)
		}
		accepted[got[1]] = true
	}
	var snap *fdscan.Snapshot
	var closeWait []*fdscan.Socket
	eventually(t, "20 CLOSE_WAIT sockets", func() bool {
		snap, closeWait = snapshot(t), nil
		for _, s := range snap.Sockets {
			if s.State == "CLOSE_WAIT" {
				closeWait = append(closeWait, s)
			}
		}
		return len(closeWait) >= 20
	})
	if len(closeWait) != 20 {
		t.Fatalf("%d CLOSE_WAIT sockets, want 20", len(closeWait))
	}
	fds := map[int]bool{}
	for _, s := range closeWait {
		hs := snap.Holders[s.Inode]
		if len(hs) != 1 || hs[0].PID != server || !hs[0].CloseOnExec || s.Local != "127.0.0.1:6000" || s.Queue != 1 {
			t.Errorf("CLOSE_WAIT %+v held by %+v: want the server alone, with close-on-exec", *s, hs)
			continue
		}
		fds[hs[0].FD] = true
	}
	if !reflect.DeepEqual(fds, accepted) {
		t.Errorf("CLOSE_WAIT descriptors %v, accept returned %v", fds, accepted)
	}
	if pr := snap.Processes[server]; pr.FDs != 3+1+20 {
		t.Errorf("server holds %d descriptors, want 24 (0-2, the listener, 20 accepted)", pr.FDs)
	}

	// ss: the same 20 sockets, each held by the server at the same fd.
	rows := parseSS(t, run(t, "ss", "-tanpe", "state", "close-wait"))
	if len(rows) != 20 {
		t.Errorf("ss lists %d CLOSE_WAIT sockets, want 20", len(rows))
	}
	for _, r := range rows {
		if got := pidFDs(snap.Holders[r.Inode]); !reflect.DeepEqual(got, r.holders()) {
			t.Errorf("inode %d: holders %v, ss says %v", r.Inode, got, r.holders())
		}
	}
	// Every descriptor of the server, against lsfd and lsof.
	ds, err := fdscan.NewFS("/proc").Descriptors(server)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 24 {
		t.Errorf("%d descriptors: %+v", len(ds), ds)
	}
	ref := map[int]lsofFile{}
	for _, f := range lsofFiles(t, "-a", "-p", strconv.Itoa(server), "-d", "0-1023") {
		ref[f.FD] = f
	}
	for _, d := range ds {
		f, ok := ref[d.FD]
		if !ok && len(ref) > 0 {
			t.Errorf("descriptor %+v: not in lsof", d)
			continue
		}
		if ok && (f.Flags&fdscan.OCloexec != 0) != d.CloseOnExec {
			t.Errorf("descriptor %+v: lsof flags %#x", d, f.Flags)
		}
	}
}

// TestLiveOtherNamespace reads a network namespace other than the
// reader's: its tables through /proc/PID/net, its listeners' queues from a
// sock_diag socket made inside it. The unix listener is reached by path
// from the test's namespace, so its queue fills across namespaces.
func TestLiveOtherNamespace(t *testing.T) {
	if !inPrivateNamespaces(t) {
		return
	}
	bin := fdholderPath(t)
	path := filepath.Join(t.TempDir(), "other.sock")
	u := startHolder(t, nil, "unshare", "-n", bin, "unix", path, "4")
	upid := u.expect(t, "ready")[0]
	tcp := startHolder(t, nil, "unshare", "-n", "sh", "-c", "ip link set lo up && exec "+bin+" hoard 127.0.0.1 7000")
	tpid := tcp.expect(t, "ready")[0]
	for range 3 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	snap := snapshot(t)
	self := snap.Processes[os.Getpid()].NetNS
	ul, tl := listener(t, snap, path), listener(t, snap, "127.0.0.1:7000")
	if ul.NetNS != snap.Processes[upid].NetNS || ul.NetNS == self || tl.NetNS != snap.Processes[tpid].NetNS || tl.NetNS == self || ul.NetNS == tl.NetNS {
		t.Errorf("namespaces: self %d, unix listener %d (pid %d in %d), tcp listener %d (pid %d in %d)",
			self, ul.NetNS, upid, snap.Processes[upid].NetNS, tl.NetNS, tpid, snap.Processes[tpid].NetNS)
	}
	if ul.Queue != 3 || ul.Backlog != 4 {
		t.Errorf("unix listener in another namespace %+v: want 3 pending of 4", *ul)
	}
	if tl.Queue != 0 || tl.Backlog != 64 {
		t.Errorf("tcp listener in another namespace %+v: want backlog 64", *tl)
	}
	r := ssRowOf(t, run(t, "nsenter", "-t", strconv.Itoa(upid), "-n", "ss", "-xlnp"), ul.Inode)
	if r.RecvQ != 3 || r.SendQ != 4 || !reflect.DeepEqual(pidFDs(snap.Holders[ul.Inode]), r.holders()) {
		t.Errorf("ss in that namespace: %+v; fdscan %+v %+v", r, *ul, snap.Holders[ul.Inode])
	}
	r = ssRowOf(t, run(t, "nsenter", "-t", strconv.Itoa(tpid), "-n", "ss", "-tlnpe"), tl.Inode)
	if r.SendQ != 64 || !reflect.DeepEqual(pidFDs(snap.Holders[tl.Inode]), r.holders()) {
		t.Errorf("ss in that namespace: %+v; fdscan %+v %+v", r, *tl, snap.Holders[tl.Inode])
	}
	// The inode the bind made is the one stat finds at the path.
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || ul.BoundIno != st.Ino || ul.BoundDev != st.Dev || ul.Path != fdscan.PathNamesIt {
		t.Errorf("unix listener bound to inode %d on %d (%s); stat %s: inode %d on %d, %v", ul.BoundIno, ul.BoundDev, ul.Path, path, st.Ino, st.Dev, err)
	}
	// Sockets knows no holders: it does not look paths up.
	want := *ul
	want.Path = fdscan.PathUnknown
	socks, err := fdscan.NewFS("/proc").Sockets(upid)
	if err != nil || !slices.ContainsFunc(socks, func(s fdscan.Socket) bool { return s == want }) {
		t.Errorf("Sockets(%d) = %+v, %v; want %+v among them", upid, socks, err, want)
	}
}

// TestLiveSocketActivation: LISTEN_FDS with a LISTEN_PID naming the
// process marks it; naming another process does not.
func TestLiveSocketActivation(t *testing.T) {
	if !inPrivateNamespaces(t) {
		return
	}
	bin := fdholderPath(t)
	yes := startHolder(t, nil, "sh", "-c", "export LISTEN_PID=$$ LISTEN_FDS=1; exec "+bin+" hoard 127.0.0.1 6001")
	no := startHolder(t, nil, "sh", "-c", "export LISTEN_PID=1 LISTEN_FDS=1; exec "+bin+" hoard 127.0.0.1 6002")
	none := startHolder(t, nil, bin, "hoard", "127.0.0.1", "6003")
	y, n, z := yes.expect(t, "ready")[0], no.expect(t, "ready")[0], none.expect(t, "ready")[0]
	snap := snapshot(t)
	for pid, want := range map[int]bool{y: true, n: false, z: false} {
		if got := snap.Processes[pid].ListenFDs; got != want {
			t.Errorf("pid %d: ListenFDs %v, want %v", pid, got, want)
		}
	}
}

// TestLiveUnprivileged scans as nobody: root's processes are counted as
// unreadable and hold nothing, the reader's own namespace is still read,
// and its unix listener's queue (sock_diag needs no privilege there); in a
// namespace nobody cannot enter, a listener's queue is unknown and a note
// says why.
func TestLiveUnprivileged(t *testing.T) {
	if !inPrivateNamespaces(t) {
		return
	}
	bin := fdholderPath(t)
	h := startHolder(t, nil, bin, "hoard", "127.0.0.1", "6000")
	server := h.expect(t, "ready")[0]
	// nobody's own listener in a network namespace root made: its table
	// is readable, but entering the namespace for sock_diag is not.
	o := startHolder(t, nil, "unshare", "-n", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", bin, "unix", "@fdscan-other", "4")
	other := o.expect(t, "ready")[0]
	// An abstract name: no file for nobody to fail to clean up.
	path := "@fdscan-own"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 2 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if err := syscall.Setgroups(nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setgid(65534); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setuid(65534); err != nil {
		t.Fatal(err)
	}
	snap, err := fdscan.NewFS("/proc").Snapshot()
	if err != nil {
		t.Fatalf("as nobody: %v", err)
	}
	if snap.Unreadable != 1 || snap.Vanished != 0 {
		t.Errorf("as nobody: unreadable %d vanished %d, want 1 (the root server) and 0", snap.Unreadable, snap.Vanished)
	}
	ol := listener(t, snap, "@fdscan-other")
	if ol.NetNS == 0 || ol.NetNS != snap.Processes[other].NetNS || ol.Queue != -1 || ol.Backlog != -1 {
		t.Errorf("nobody's listener in another namespace %+v (its process %+v): want its queue unknown", *ol, snap.Processes[other])
	}
	if want := fmt.Sprintf("network namespace %d: unix listener queues and listen backlogs not read", ol.NetNS); len(snap.Notes) != 1 || !strings.HasPrefix(snap.Notes[0], want) || !strings.Contains(snap.Notes[0], "CAP_SYS_ADMIN") {
		t.Errorf("notes %q, want one: %s…, naming CAP_SYS_ADMIN", snap.Notes, want)
	}
	if pr := snap.Processes[server]; pr == nil || pr.FDs != -1 || pr.Comm != "fdholder" || pr.NetNS != 0 {
		t.Errorf("root's server as nobody sees it: %+v; want its stat but not its descriptors", pr)
	}
	for ino, hs := range snap.Holders {
		for _, h := range hs {
			if h.PID != os.Getpid() && h.PID != other {
				t.Errorf("inode %d: holder %+v is neither this process nor nobody's other", ino, h)
			}
		}
	}
	own := listener(t, snap, path)
	if own.Queue != 2 || len(snap.Holders[own.Inode]) != 1 {
		t.Errorf("own listener %+v held by %+v: want 2 pending, held here", *own, snap.Holders[own.Inode])
	}
	if snap.Complete() {
		t.Error("a snapshot with unreadable processes says it is complete")
	}
}

// TestHostKernelThreads reads the host's /proc (reading only): kernel
// threads, which ps shows in brackets for want of a command line, are
// marked and have nothing else read; this process is not one.
func TestHostKernelThreads(t *testing.T) {
	fs := fdscan.NewFS("")
	args := strings.TrimSpace(run(t, "ps", "-o", "args=", "-p", "2"))
	if args != "[kthreadd]" {
		t.Skipf("pid 2 is %q, not kthreadd: not a host pid namespace", args)
	}
	kt, err := fs.Process(2)
	if err != nil {
		t.Fatal(err)
	}
	if !kt.Kernel || kt.Exe != "" || kt.Cmdline != nil || kt.FDs != 0 || kt.Comm != "kthreadd" {
		t.Errorf("kthreadd: %+v", kt)
	}
	self, err := fs.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if self.Kernel || self.Exe != exe || self.FDs < 3 || !reflect.DeepEqual(self.Cmdline, os.Args) {
		t.Errorf("this process: %+v; exe %s, args %q", self, exe, os.Args)
	}
}
