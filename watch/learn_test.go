package watch

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
)

// The users of a semaphore set are every program that named its key: the
// one that looked it up and the one that only operated on its id.
func TestLearnUsers(t *testing.T) {
	const ns = 4026531839
	ev := func(kind Kind, exe string, key int32, id int) Event {
		return Event{Kind: kind, IPCNS: ns, Comm: exe[strings.LastIndexByte(exe, '/')+1:], UID: 0, Key: key, KeyKnown: true, ID: id,
			Process: Process{Exe: exe, User: "root"}}
	}
	ftokCall := ev(Ftok, "/usr/bin/writer", 0x6c0102ab, 0)
	ftokCall.Path, ftokCall.Proj = "lock.key", 'l'
	ftokCall.File = &FileID{Path: "/srv/app/lock.key", Dev: 2049, Ino: 0x102ab}
	failed := ev(SemOp, "/usr/bin/stranger", 0x6c0102ab, 3)
	failed.Errno = syscall.EINVAL
	events := []Event{
		ftokCall,
		ev(SemGet, "/usr/bin/writer", 0x6c0102ab, 3),
		ev(SemOp, "/usr/bin/writer", 0x6c0102ab, 3),
		ev(SemOp, "/usr/bin/reader", 0x6c0102ab, 3),
		failed,
		ev(ShmGet, "/usr/bin/writer", 0x1234, 4), // no ftok derived it
	}
	var b strings.Builder
	if err := WriteManifest(&b, Learn(events)); err != nil {
		t.Fatal(err)
	}
	want := `# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner
# used by /usr/bin/writer, /usr/bin/reader
writer-sem /srv/app/lock.key 0x6c sem - root
`
	if b.String() != want {
		t.Errorf("manifest:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The file and object of an event are written in snake_case, the key in
// hex, like the rest of ipckeys' JSON.
func TestEventJSONFileAndObject(t *testing.T) {
	f := Event{Kind: Ftok, Path: "a.key", Proj: 108, Key: 0x6c0102ab, KeyKnown: true, PID: 7, TID: 7, Comm: "w",
		File: &FileID{Path: "/srv/a.key", Dev: 2049, Ino: 66219}}
	g := Event{Kind: ShmGet, Key: 0x6c0102ab, KeyKnown: true, Size: 8192, Flags: 0o1600, Ret: -22, Errno: syscall.EINVAL, PID: 8, TID: 8, Comm: "b",
		Object: &Object{Facility: "shm", ID: 3, Key: 0x6c0102ab, UID: 0, CUID: 1000, Size: 4096, Mode: 0o600}}
	for _, c := range []struct {
		e    Event
		want string
	}{
		{f, `{"time":"0001-01-01T00:00:00Z","call":"ftok","pid":7,"tid":7,"uid":0,"gid":0,"comm":"w","ipc_ns":0,"cgroup_id":0,"path":"a.key","proj":108,"key":"0x6c0102ab","result":0,"file":{"path":"/srv/a.key","dev":2049,"ino":66219},"process":{}}`},
		{g, `{"time":"0001-01-01T00:00:00Z","call":"shmget","pid":8,"tid":8,"uid":0,"gid":0,"comm":"b","ipc_ns":0,"cgroup_id":0,"key":"0x6c0102ab","size":8192,"flags":896,"result":-22,"errno":"invalid argument","object":{"facility":"shm","id":3,"uid":0,"cuid":1000,"size":4096,"mode":384,"key":"0x6c0102ab"},"process":{}}`},
	} {
		b, err := json.Marshal(c.e)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("JSON:\n%s\nwant:\n%s", b, c.want)
		}
	}
}
