package watch

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// record builds a ring buffer record as the kernel side writes it.
func record(kind Kind, ret int64, args [4]uint64, comm, path string) []byte {
	b := make([]byte, RecordSize)
	le := binary.LittleEndian
	le.PutUint64(b[0:], 1_000_000_000)
	le.PutUint64(b[8:], 7)
	le.PutUint64(b[16:], uint64(ret))
	for i, a := range args {
		le.PutUint64(b[24+8*i:], a)
	}
	for i, v := range []uint32{42, 43, 1000, 1001, 4026531839, uint32(kind)} {
		le.PutUint32(b[56+4*i:], v)
	}
	copy(b[80:96], comm)
	copy(b[96:], path)
	return b
}

func TestDecode(t *testing.T) {
	e, err := Decode(record(Ftok, 0x6c004045, [4]uint64{0x7ffd0000, 108}, "writer", "/etc/passwd"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != Ftok || e.Path != "/etc/passwd" || e.Proj != 108 || e.Key != 0x6c004045 || e.PID != 42 || e.TID != 43 ||
		e.UID != 1000 || e.GID != 1001 || e.Comm != "writer" || e.IPCNS != 4026531839 || e.CgroupID != 7 || e.Time.UnixNano() != 1_000_000_000 {
		t.Errorf("ftok: %+v", e)
	}
	e, err = Decode(record(ShmGet, -22, [4]uint64{0x6c004045, 8192, 0o1600}, "beta", ""), 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != ShmGet || e.Key != 0x6c004045 || e.Size != 8192 || e.Flags != 0o1600 || e.Errno != 22 || e.ID != 0 {
		t.Errorf("shmget: %+v", e)
	}
	if got, want := e.Call(), "shmget(0x6c004045, 8192, 01600) = -1 invalid argument"; got != want {
		t.Errorf("Call() = %q, want %q", got, want)
	}
	e, _ = Decode(record(SemCtl, 0, [4]uint64{5, 0, 0x100}, "x", ""), 0)
	if e.ID != 5 || e.Cmd != IPCRmid {
		t.Errorf("semctl: %+v", e)
	}
	if _, err := Decode(make([]byte, RecordSize-1), 0); err == nil {
		t.Error("a short record decoded")
	}
	if _, err := Decode(record(99, 0, [4]uint64{}, "", ""), 0); err == nil {
		t.Error("an unknown kind decoded")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(record(Ftok, 1, [4]uint64{1, 2}, "a", "/p"))
	f.Add(record(MsgRcv, -13, [4]uint64{1, 2, 3, 4}, "b", ""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Decode(raw, 0)
		if err != nil {
			return
		}
		_ = e.Text()
		if _, err := e.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParseMapsLibraries(t *testing.T) {
	maps := `55d4c0a00000-55d4c0a02000 r--p 00000000 fe:00 1234 /usr/bin/cat
7f1c2a000000-7f1c2a028000 r--p 00000000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2a028000-7f1c2a19d000 r-xp 00028000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f00000000-7f00001000 r-xp 00000000 00:2a 99 /lib/ld-musl-x86_64.so.1 (deleted)
7f00001000-7f00002000 rw-p 00000000 00:00 0                          [heap]
7f00002000-7f00003000 r--p 00000000 fe:00 77 /opt/my dir/libc.so.6
`
	got, err := ParseMapsLibraries(strings.NewReader(maps))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/ld-musl-x86_64.so.1", "/opt/my dir/libc.so.6"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseMapsLibraries(f *testing.F) {
	f.Add([]byte("7f-8f r-xp 0 fe:00 1 /lib/libc.so.6\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		paths, _ := ParseMapsLibraries(bytes.NewReader(b))
		for _, p := range paths {
			if !strings.HasPrefix(p, "/") || !IsCLibrary(p) {
				t.Fatalf("%q is not a C library path", p)
			}
		}
	})
}

func TestContainerID(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for path, want := range map[string]string{
		"/system.slice/docker-" + id + ".scope":                               "docker-" + id,
		"/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope": "cri-containerd-" + id,
		"/docker/" + id:                "docker/" + id,
		"/system.slice/app.service":    "",
		"/user.slice/docker-xyz.scope": "",
		"/":                            "",
	} {
		if got := ContainerID(path); got != want {
			t.Errorf("ContainerID(%q) = %q, want %q", path, got, want)
		}
	}
	if got := ParseCgroupPath([]byte("1:name=systemd:/x\n0::/system.slice/a.service\n")); got != "/system.slice/a.service" {
		t.Errorf("ParseCgroupPath = %q", got)
	}
}

func FuzzContainerID(f *testing.F) {
	f.Add("/system.slice/docker-0123456789abcdef.scope")
	f.Fuzz(func(t *testing.T, path string) {
		if id := ContainerID(path); id != "" && !strings.Contains(path, id) && !strings.Contains(path, strings.Replace(id, "/", "/", 1)) {
			t.Fatalf("ContainerID(%q) = %q, not in the path", path, id)
		}
	})
}
