package audit_test

import (
	"strings"
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

// TestUnexpectedExecutable: a call on a channel's key from an executable
// the channel does not declare is an unexpected-user, alone or beside
// another user; a declared one, or one whose executable could not be
// read, is judged by its user only.
func TestUnexpectedExecutable(t *testing.T) {
	const ns = 4026531839
	const key = int32(0x78014001)
	call := func(kind watch.Kind, pid int, exe string, uid uint32, user string) watch.Event {
		comm := exe[strings.LastIndexByte(exe, '/')+1:]
		return watch.Event{Kind: kind, PID: pid, Comm: comm, IPCNS: ns, UID: uid, Key: key, KeyKnown: true,
			Process: watch.Process{Exe: exe, User: user}}
	}
	gone := call(watch.ShmGet, 14, "/usr/bin/gone", 0, "root")
	gone.Process.Exe = "" // it ended before /proc was read
	events := []watch.Event{
		call(watch.ShmGet, 10, "/usr/bin/app", 0, "root"),
		call(watch.ShmAt, 10, "/usr/bin/app", 0, "root"),
		call(watch.ShmGet, 11, "/tmp/intruder", 0, "root"),
		call(watch.ShmAt, 11, "/tmp/intruder", 0, "root"), // the same program: one finding
		call(watch.ShmAt, 12, "/usr/bin/peek", 65534, "nobody"),
		call(watch.ShmAt, 13, "/usr/bin/app", 65534, "nobody"),
		gone,
	}
	channels := []audit.Expected{
		{Name: "orders", Key: key, Owner: "root", UID: 0, Exes: []string{"/usr/bin/app", "/usr/bin/app2"}},
		{Name: "any-exe", Key: key, Owner: "root", UID: 0},
		{Name: "any-user", Key: key, Exes: []string{"/usr/bin/app"}},
	}
	got := audit.CheckRuntime(audit.Runtime{Events: events, Expected: channels})
	want := []string{
		"channel any-exe (key 0x78014001, owner root) was used by /usr/bin/app (pid 13, app, user nobody): shmat as uid 65534, not the declared owner",
		"channel any-exe (key 0x78014001, owner root) was used by /usr/bin/peek (pid 12, peek, user nobody): shmat as uid 65534, not the declared owner",
		"channel any-user (key 0x78014001, exe=/usr/bin/app) was used by /tmp/intruder (pid 11, intruder, user root): shmget from /tmp/intruder, not a declared executable",
		"channel any-user (key 0x78014001, exe=/usr/bin/app) was used by /usr/bin/peek (pid 12, peek, user nobody): shmat from /usr/bin/peek, not a declared executable",
		"channel orders (key 0x78014001, exe=/usr/bin/app exe=/usr/bin/app2) was used by /tmp/intruder (pid 11, intruder, user root): shmget from /tmp/intruder, not a declared executable",
		"channel orders (key 0x78014001, owner root) was used by /usr/bin/app (pid 13, app, user nobody): shmat as uid 65534, not the declared owner",
		"channel orders (key 0x78014001, owner root, exe=/usr/bin/app exe=/usr/bin/app2) was used by /usr/bin/peek (pid 12, peek, user nobody): shmat as uid 65534, not the declared owner, and from /usr/bin/peek, not a declared executable",
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d:\n%+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Code != audit.UnexpectedUser || got[i].Severity != audit.Warning || got[i].Message != w {
			t.Errorf("finding %d:\n%s %s %s\nwant warning unexpected-user:\n%s", i, got[i].Severity, got[i].Code, got[i].Message, w)
		}
	}
}
