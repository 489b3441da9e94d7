package watch

import (
	"encoding/json"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/manifest"
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
	if err := WriteManifest(&b, Learn(events, nil)); err != nil {
		t.Fatal(err)
	}
	want := `# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner  exe=...
# used by /usr/bin/writer, /usr/bin/reader
writer-sem /srv/app/lock.key 0x6c sem - root exe=/usr/bin/reader exe=/usr/bin/writer
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

// A learnt segment declares the executables of its users, sorted and
// once each, and the range of attach counts sampled for its namespace and
// key; a channel with a user whose executable is unknown declares none,
// and says why.
func TestLearnExesAndNattch(t *testing.T) {
	const ns, other = 4026531839, 4026532500
	ev := func(kind Kind, ipcns uint32, exe string, key int32) Event {
		e := Event{Kind: kind, IPCNS: ipcns, Comm: exe[strings.LastIndexByte(exe, '/')+1:], Key: key, KeyKnown: true,
			Process: Process{Exe: exe, User: "app"}}
		if !strings.HasPrefix(exe, "/") {
			e.Process.Exe = "" // it ended before /proc was read
		}
		return e
	}
	ftokCall := func(ipcns uint32, path string, proj int, key int32) Event {
		e := ev(Ftok, ipcns, "/usr/bin/w", key)
		e.Path, e.Proj = path, proj
		e.File = &FileID{Path: path, Dev: 2049, Ino: uint64(key) & 0xffff}
		return e
	}
	const orders, cache, lock, spaced = int32(0x6c0102ab), int32(0x630102ac), int32(0x730102ad), int32(0x780102ae)
	events := []Event{
		ftokCall(ns, "/srv/orders.key", 'l', orders),
		ev(ShmGet, ns, "/usr/bin/w", orders),
		ev(ShmAt, ns, "/usr/bin/w", orders),
		ev(ShmGet, ns, "/opt/app/r", orders),
		ev(ShmAt, ns, "/opt/app/r", orders),
		ev(ShmAt, ns, "/usr/bin/w", orders),
		ftokCall(ns, "/srv/cache.key", 'c', cache),
		ev(ShmGet, ns, "/usr/bin/w", cache),
		ev(ShmGet, ns, "reader", cache),                 // executable unknown
		ftokCall(other, "/srv/orders.key", 'l', orders), // the same key in another namespace
		ev(ShmGet, other, "/usr/bin/w", orders),
		ftokCall(ns, "/srv/lock.key", 's', lock),
		ev(SemGet, ns, "/usr/bin/w", lock),
		ftokCall(ns, "/srv/my app/x.key", 'x', spaced),
		ev(ShmGet, ns, "/opt/my app/w", spaced),
	}
	samples := NewNattchRanges()
	for _, s := range []struct {
		ns  uint32
		key int32
		n   int
	}{
		{ns, orders, 2}, {ns, orders, 1}, {ns, orders, 3}, {ns, orders, 2},
		{ns, cache, 0}, {ns, cache, 0},
		{ns, lock, 5}, // a semaphore set has no nattch
		{ns, spaced, 1},
	} {
		samples.Add(s.ns, s.key, s.n)
	}
	learnt := Learn(events, samples)
	var b strings.Builder
	if err := WriteManifest(&b, learnt); err != nil {
		t.Fatal(err)
	}
	want := `# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner  exe=...
# used by /usr/bin/w
w-sem /srv/lock.key 0x73 sem - app exe=/usr/bin/w
# used by /usr/bin/w, /opt/app/r
w-shm /srv/orders.key 0x6c shm 1-3 app exe=/opt/app/r exe=/usr/bin/w
# used by /usr/bin/w, (reader)
# no exe=: the executable of (reader) could not be read (it ended before the watch looked)
w-shm-2 /srv/cache.key 0x63 shm 0 app
# used by /usr/bin/w
w-shm-3 /srv/orders.key 0x6c shm - app exe=/usr/bin/w
# used by /opt/my app/w
w-shm-4 /srv/my\040app/x.key 0x78 shm 1 app exe=/opt/my\040app/w
`
	if b.String() != want {
		t.Errorf("manifest:\n%s\nwant:\n%s", b.String(), want)
	}
	// What is written reads back as what was learnt.
	chans, err := manifest.Parse(strings.NewReader(b.String()), "learnt")
	if err != nil {
		t.Fatal(err)
	}
	if len(chans) != len(learnt) {
		t.Fatalf("%d channels read back, %d learnt", len(chans), len(learnt))
	}
	for i, c := range chans {
		l := learnt[i].Channel
		if c.Name != l.Name || c.Path != l.Path || !reflect.DeepEqual(c.Exes, l.Exes) || !reflect.DeepEqual(c.Nattch, l.Nattch) {
			t.Errorf("channel %d read back as %+v, learnt %+v", i, c, l)
		}
	}
}

// A program whose path holds a newline stays in its comment line.
func TestLearnNewlineInPath(t *testing.T) {
	l := Learnt{Programs: []string{"/tmp/a\nb"}, Channel: manifest.Channel{Name: "b-shm", Path: "/srv/k\n", Proj: 'k', Type: "shm", Owner: "root", Exes: []string{"/tmp/a\nb"}}}
	var b strings.Builder
	if err := WriteManifest(&b, []Learnt{l}); err != nil {
		t.Fatal(err)
	}
	want := `# learnt by ipckeys watch: the channels seen derived with ftok and used
# name  path  proj  type  nattch  owner  exe=...
# used by "/tmp/a\nb"
b-shm /srv/k\012 0x6b shm - root exe=/tmp/a\012b
`
	if b.String() != want {
		t.Errorf("manifest:\n%s\nwant:\n%s", b.String(), want)
	}
	chans, err := manifest.Parse(strings.NewReader(b.String()), "learnt")
	if err != nil || len(chans) != 1 || chans[0].Path != l.Channel.Path || !reflect.DeepEqual(chans[0].Exes, l.Channel.Exes) {
		t.Errorf("read back as %+v, %v", chans, err)
	}
}
