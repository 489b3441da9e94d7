package audit_test

import (
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/watch"
)

// TestCheckRuntime asserts the whole message of each runtime finding, and
// that one file reached by two paths is no collision.
func TestCheckRuntime(t *testing.T) {
	const ns = 4026531839
	const key = int32(0x6c0102ab)
	proc := func(exe string) watch.Process { return watch.Process{Exe: exe, User: "root"} }
	ftokBy := func(pid int, exe, path string, ino uint64) watch.Event {
		return watch.Event{Kind: watch.Ftok, PID: pid, Comm: "w", IPCNS: ns, Path: path, Proj: 'l', Key: key, KeyKnown: true,
			File: &watch.FileID{Path: path, Dev: 2049, Ino: ino}, Process: proc(exe)}
	}
	big := watch.Event{Kind: watch.ShmGet, PID: 9, Comm: "beta", IPCNS: ns, Key: key, KeyKnown: true, Size: 8192, Flags: 0o1600,
		Ret: -22, Errno: syscall.EINVAL, Process: proc("/usr/bin/beta"),
		Object: &watch.Object{Facility: "shm", ID: 3, Key: key, UID: 0, CUID: 1000, Size: 4096, Mode: 0o100600}}
	nobodyOp := watch.Event{Kind: watch.SemTimedOp, PID: 11, Comm: "reader", IPCNS: ns, UID: 65534, Key: 0x73000001, KeyKnown: true, ID: 0, Size: 1,
		Process: watch.Process{Exe: "/usr/bin/reader", User: "nobody"}}
	events := []watch.Event{
		ftokBy(7, "/usr/bin/alpha", "/srv/a.key", 0x102ab),
		ftokBy(8, "/usr/bin/alpha", "/srv/link-to-a.key", 0x102ab), // the same file
		ftokBy(9, "/usr/bin/beta", "/srv/b.key", 0x202ab),
		big, big,
		nobodyOp,
	}
	got := audit.CheckRuntime(audit.Runtime{Events: events, Expected: []audit.Expected{
		{Name: "locks", Key: 0x73000001, Owner: "root", UID: 0},
	}})
	want := []struct{ code, msg string }{
		{audit.IPCError, `shmget(key 0x6c0102ab, size 8192) by /usr/bin/beta (pid 9, beta, user root) failed with EINVAL (2 times) in ipc:[4026531839]: the object that holds the key is smaller than asked: shm id 3 (owner uid 0, creator uid 1000, mode 0600, 4096 bytes)`},
		{audit.RuntimeCollision, `key 0x6c0102ab was derived from 2 different files in ipc:[4026531839]: ftok(/srv/a.key, 'l') by /usr/bin/alpha (pid 7, w, user root); and ftok(/srv/b.key, 'l') by /usr/bin/beta (pid 9, w, user root): these programs share one IPC object without knowing it`},
		{audit.UnexpectedUser, `channel locks (key 0x73000001, owner root) was used by /usr/bin/reader (pid 11, reader, user nobody): semtimedop as uid 65534, not the declared owner`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Code != w.code || got[i].Message != w.msg {
			t.Errorf("finding %d:\n%s %s\nwant:\n%s %s", i, got[i].Code, got[i].Message, w.code, w.msg)
		}
	}
}
