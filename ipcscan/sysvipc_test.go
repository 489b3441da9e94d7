package ipcscan_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
)

// The fixture under testdata/proc/linux-6.18 was captured from a private
// IPC namespace on Linux 6.18 holding: a segment with a negative key
// (0xdeadbeef) attached by two processes, one mapping split by mprotect
// (nattch 6); a segment removed while attached (key 0, mode 1600); a locked
// one (mode 2666); an unattached one; an IPC_PRIVATE one; two semaphore
// sets and two queues, one holding two messages.
var wantShm = []ipcscan.Segment{
	{Perm: ipcscan.Perm{Key: -559038737, ID: 0, Mode: 0o640}, Size: 12288, CPID: 15184, LPID: 15184, Nattch: 6, Atime: 1795276637, Ctime: 1795276637},
	{Perm: ipcscan.Perm{Key: 0, ID: 1, Mode: 0o1600}, Size: 8192, CPID: 15184, LPID: 15184, Nattch: 2, Atime: 1795276637, Ctime: 1795276637},
	{Perm: ipcscan.Perm{Key: 0x1234, ID: 2, Mode: 0o2666}, Size: 65536, CPID: 15184, Ctime: 1795276637},
	{Perm: ipcscan.Perm{Key: 0x7fffffff, ID: 3, Mode: 0o644}, Size: 100, CPID: 15184, Ctime: 1795276637},
	{Perm: ipcscan.Perm{Key: 0, ID: 4, Mode: 0o600}, Size: 4096, CPID: 15184, Ctime: 1795276637},
}

func TestShmFixtures(t *testing.T) {
	for _, root := range []string{"linux-6.18", "linux-old-14col"} {
		got, err := ipcscan.NewFS("../testdata/proc/" + root).Shm()
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		if !reflect.DeepEqual(got, wantShm) {
			t.Errorf("%s:\n got %+v\nwant %+v", root, got, wantShm)
		}
	}
	s := wantShm
	if !s[1].Removed() || s[1].Locked() || s[1].Perms() != 0o600 {
		t.Errorf("removed segment: removed %v locked %v perms %o", s[1].Removed(), s[1].Locked(), s[1].Perms())
	}
	if !s[2].Locked() || s[2].Removed() || s[2].Perms() != 0o666 {
		t.Errorf("locked segment: removed %v locked %v perms %o", s[2].Removed(), s[2].Locked(), s[2].Perms())
	}
}

func TestSemMsgFixture(t *testing.T) {
	fs := ipcscan.NewFS("../testdata/proc/linux-6.18")
	sem, err := fs.Sem()
	if err != nil {
		t.Fatal(err)
	}
	wantSem := []ipcscan.SemSet{
		{Perm: ipcscan.Perm{Key: -2147483647, ID: 0, Mode: 0o660}, NSems: 3, Ctime: 1795276637},
		{Perm: ipcscan.Perm{Key: 97, ID: 1, Mode: 0o600}, NSems: 1, Ctime: 1795276637},
	}
	if !reflect.DeepEqual(sem, wantSem) {
		t.Errorf("sem:\n got %+v\nwant %+v", sem, wantSem)
	}
	msg, err := fs.Msg()
	if err != nil {
		t.Fatal(err)
	}
	wantMsg := []ipcscan.Queue{
		{Perm: ipcscan.Perm{Key: -2, ID: 0, Mode: 0o620}, CBytes: 56, QNum: 2, LSPID: 15184, Stime: 1795276637, Ctime: 1795276637},
		{Perm: ipcscan.Perm{Key: 42, ID: 1, Mode: 0o600}, Ctime: 1795276637},
	}
	if !reflect.DeepEqual(msg, wantMsg) {
		t.Errorf("msg:\n got %+v\nwant %+v", msg, wantMsg)
	}
}

func TestParseErrors(t *testing.T) {
	hdr := "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n"
	tests := []struct{ in, want string }{
		{"", "empty: no header line"},
		{"key shmid perms\n", `header has no "size" column`},
		{hdr + "1 2 600 4096 1 1 0 0 0 0 0 0 0\n", "line 2: 13 fields, no ctime column"},
		{hdr + "x 2 600 4096 1 1 0 0 0 0 0 0 0 0 0 0\n", `line 2: key "x" is not a 32-bit integer`},
		{hdr + "4294967296 2 600 4096 1 1 0 0 0 0 0 0 0 0 0 0\n", `line 2: key "4294967296" is not a 32-bit integer`},
		{hdr + "1 2 689 4096 1 1 0 0 0 0 0 0 0 0 0 0\n", `line 2: perms "689" is not octal`},
		{hdr + "1 2 600 -1 1 1 0 0 0 0 0 0 0 0 0 0\n", `line 2: size "-1" is not an unsigned 64-bit integer`},
	}
	for _, tc := range tests {
		_, err := ipcscan.ParseShm(strings.NewReader(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseShm(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
	// Blank lines are skipped; a header alone is an empty table.
	got, err := ipcscan.ParseShm(strings.NewReader(hdr + "\n\n"))
	if err != nil || len(got) != 0 {
		t.Errorf("header only: %v, %v", got, err)
	}
}

func fuzzSeeds(f *testing.F, files ...string) {
	for _, s := range files {
		f.Add(s)
	}
}

func FuzzParseShm(f *testing.F) {
	fuzzSeeds(f,
		"       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n-559038737          0   640                 12288 15184 15184      6     0     0     0     0 1795276637          0 1795276637                     0                     0\n",
		"key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime\n0 1 1600 8192 1 1 2 0 0 0 0 0 0 0\n",
		"key shmid perms\n",
		"",
	)
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := ipcscan.ParseShm(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, seg := range segs {
			if seg.Perms() > 0o777 || seg.Nattch < -1<<62 {
				t.Fatalf("bad segment %+v", seg)
			}
		}
	})
}

func FuzzParseSem(f *testing.F) {
	fuzzSeeds(f,
		"       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n-2147483647          0   660          3     0     0     0     0          0 1795276637\n",
		"key semid\n",
	)
	f.Fuzz(func(t *testing.T, s string) { _, _ = ipcscan.ParseSem(strings.NewReader(s)) })
}

func FuzzParseMsg(f *testing.F) {
	fuzzSeeds(f,
		"       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n        -2          0   620          56          2 15184     0     0     0     0     0 1795276637          0 1795276637\n",
		"key msqid perms\n",
	)
	f.Fuzz(func(t *testing.T, s string) { _, _ = ipcscan.ParseMsg(strings.NewReader(s)) })
}
