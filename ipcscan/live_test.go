package ipcscan_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// lsipc runs util-linux lsipc --json for one facility with the given
// columns and returns its rows (every value a string, or null).
func lsipc(t *testing.T, facility string, columns string) []map[string]*string {
	t.Helper()
	if _, err := exec.LookPath("lsipc"); err != nil {
		t.Fatalf("lsipc (util-linux) is the reference for the live tables: %v", err)
	}
	out, err := exec.Command("lsipc", facility, "--json", "--bytes", "--notruncate", "-o", columns).Output()
	if err != nil {
		t.Fatalf("lsipc %s: %v", facility, err)
	}
	var doc map[string][]map[string]*string
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("lsipc %s printed %s: %v", facility, out, err)
	}
	for _, rows := range doc {
		return rows
	}
	return nil
}

func s(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// row renders our values the way lsipc prints them, for comparison.
type row map[string]string

func permString(mode uint32) string {
	const rwx = "rwxrwxrwx"
	b := []byte("---------")
	for i := range 9 {
		if mode&(1<<(8-i)) != 0 {
			b[i] = rwx[i]
		}
	}
	return string(b)
}

func compare(t *testing.T, facility string, got []row, ref []map[string]*string) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("%s: %d objects, lsipc shows %d", facility, len(got), len(ref))
	}
	sort.Slice(got, func(i, j int) bool { return got[i]["id"] < got[j]["id"] })
	sort.Slice(ref, func(i, j int) bool { return s(ref[i]["id"]) < s(ref[j]["id"]) })
	for i := range got {
		for col, v := range got[i] {
			if r := s(ref[i][col]); r != v {
				t.Errorf("%s id %s: %s = %q, lsipc says %q", facility, got[i]["id"], col, v, r)
			}
		}
	}
}

// TestLiveTablesAgainstLsipc creates real segments, semaphore sets and
// queues in a private IPC namespace, some owned by another user, and holds
// the parsed tables against util-linux lsipc on the same objects.
func TestLiveTablesAgainstLsipc(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	other := &syscall.Credential{Uid: 1234, Gid: 5678}
	// Negative key, mprotect split, a fork: nattch 6 from 2 processes.
	a := nstest.Hold(t, nil, "shm", "0xdeadbeef", "12288", "0640", "attach", "0", "split", "fork")
	// Removed while attached, and a locked one, created by another user.
	b := nstest.Hold(t, other, "shm", "0x6c014001", "8192", "0600", "attach", "1", "rmid", "1",
		"shm", "0x1234", "65536", "0666", "sem", "0x80000001", "3", "0660", "msg", "-2", "0620", "send", "0", "56", "send", "0", "44")
	// Attached, then detached again.
	nstest.Hold(t, nil, "shm", "0x7fffffff", "100", "0644", "attach", "3", "detach", "sem", "97", "1", "0600", "msg", "42", "0600", "lock", "2")
	_ = a
	_ = b

	fs := ipcscan.NewFS("/proc")
	shm, err := fs.Shm()
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for _, sg := range shm {
		status := "<null>"
		switch {
		case sg.Removed() && sg.Locked():
			status = "dest,locked"
		case sg.Removed():
			status = "dest"
		case sg.Locked():
			status = "locked"
		}
		got = append(got, row{
			"key": fmt.Sprintf("0x%08x", uint32(sg.Key)), "id": strconv.Itoa(sg.ID), "perms": permString(sg.Mode),
			"uid": fmt.Sprint(sg.UID), "cuid": fmt.Sprint(sg.CUID), "size": fmt.Sprint(sg.Size),
			"nattch": strconv.Itoa(sg.Nattch), "status": status, "cpid": strconv.Itoa(sg.CPID), "lpid": strconv.Itoa(sg.LPID),
		})
	}
	compare(t, "shm", got, lsipc(t, "-m", "KEY,ID,PERMS,UID,CUID,SIZE,NATTCH,STATUS,CPID,LPID"))

	sem, err := fs.Sem()
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, st := range sem {
		got = append(got, row{
			"key": fmt.Sprintf("0x%08x", uint32(st.Key)), "id": strconv.Itoa(st.ID), "perms": permString(st.Mode),
			"uid": fmt.Sprint(st.UID), "gid": fmt.Sprint(st.GID), "cuid": fmt.Sprint(st.CUID), "cgid": fmt.Sprint(st.CGID),
			"nsems": strconv.Itoa(st.NSems),
		})
	}
	compare(t, "sem", got, lsipc(t, "-s", "KEY,ID,PERMS,UID,GID,CUID,CGID,NSEMS"))

	msg, err := fs.Msg()
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, q := range msg {
		got = append(got, row{
			"key": fmt.Sprintf("0x%08x", uint32(q.Key)), "id": strconv.Itoa(q.ID), "perms": permString(q.Mode),
			"uid": fmt.Sprint(q.UID), "gid": fmt.Sprint(q.GID), "cuid": fmt.Sprint(q.CUID),
			"usedbytes": fmt.Sprint(q.CBytes), "msgs": fmt.Sprint(q.QNum), "lspid": strconv.Itoa(q.LSPID), "lrpid": strconv.Itoa(q.LRPID),
		})
	}
	// lsipc up to 2.42 prints the creator's uid as CGID for shm and msg:
	// the creator gid is checked against the credential that made it.
	compare(t, "msg", got, lsipc(t, "-q", "KEY,ID,PERMS,UID,GID,CUID,USEDBYTES,MSGS,LSPID,LRPID"))
	for _, q := range msg {
		if want := map[int32]uint32{-2: 5678, 42: 0}[q.Key]; q.CGID != want || q.GID != want {
			t.Errorf("queue %#x: gid %d cgid %d, created with gid %d", uint32(q.Key), q.GID, q.CGID, want)
		}
	}
	for _, sg := range shm {
		want := uint32(0)
		if sg.CUID == 1234 {
			want = 5678
		}
		if sg.CGID != want {
			t.Errorf("segment %d: cgid %d, created with gid %d", sg.ID, sg.CGID, want)
		}
	}

	// Sanity: the objects really are the ones made above.
	if len(shm) != 4 || len(sem) != 2 || len(msg) != 2 {
		t.Errorf("made 4 segments, 2 sets, 2 queues; tables show %d, %d, %d", len(shm), len(sem), len(msg))
	}
	if os.Getenv("IPCKEYS_DEBUG") != "" {
		t.Logf("shm %+v\nsem %+v\nmsg %+v", shm, sem, msg)
	}
}

// TestLiveAttachments attaches real processes to real segments (one split
// by mprotect, one forked, one detached again, one removed while attached)
// and checks the holders found in /proc/PID/maps against the pids the
// holders reported and the kernel's nattch.
func TestLiveAttachments(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	split := nstest.Hold(t, nil, "shm", "0x51", "16384", "0600", "attach", "0", "split", "fork")
	once := nstest.Hold(t, nil, "attach", "0")
	nstest.Hold(t, nil, "attach", "0", "detach")
	removed := nstest.Hold(t, nil, "shm", "0x6c014001", "4096", "0600", "attach", "1", "rmid", "1")

	fs := ipcscan.NewFS("/proc")
	ns, err := fs.IPCNamespace("self")
	if err != nil {
		t.Fatal(err)
	}
	a, err := fs.Attachments()
	if err != nil {
		t.Fatal(err)
	}
	want := []ipcscan.Holder{
		{PID: split.PIDs[0], Comm: "holder", Mappings: 3},
		{PID: split.PIDs[1], Comm: "holder", Mappings: 3},
		{PID: once.PIDs[0], Comm: "holder", Mappings: 1},
	}
	sort.Slice(want, func(i, j int) bool { return want[i].PID < want[j].PID })
	if got := a.In(ns, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("holders of shmid 0:\n got %+v\nwant %+v", got, want)
	}
	if got, want := a.In(ns, 1), []ipcscan.Holder{{PID: removed.PIDs[0], Comm: "holder", Mappings: 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("holders of removed shmid 1: got %+v, want %+v", got, want)
	}
	if k := a.Keys[ipcscan.SegmentRef{NS: ns, ShmID: 1}]; uint32(k) != 0x6c014001 {
		t.Errorf("removed segment's original key = %#x, want 0x6c014001", uint32(k))
	}
	shm, err := fs.Shm()
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range shm {
		if got := ipcscan.Mappings(a.In(ns, sg.ID)); got != sg.Nattch {
			t.Errorf("shmid %d: %d mappings found, kernel nattch %d", sg.ID, got, sg.Nattch)
		}
	}
	if shm[0].Nattch != 7 {
		t.Errorf("shmid 0 nattch %d, want 7 (3+3 split and forked, 1 plain, 0 detached)", shm[0].Nattch)
	}
}

// TestLiveUnprivileged reads a namespace as an unprivileged user: the
// tables are all there, the attachments of root's processes are not, and
// the snapshot says how many processes it could not read.
func TestLiveUnprivileged(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	h := nstest.Hold(t, nil, "shm", "0x51", "4096", "0600", "attach", "last")
	if err := syscall.Setgroups(nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setgid(65534); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setuid(65534); err != nil {
		t.Fatal(err)
	}
	snap, err := ipcscan.NewFS("/proc").Snapshot()
	if err != nil {
		t.Fatalf("as nobody: %v", err)
	}
	if len(snap.Shm) != 1 || snap.Shm[0].Nattch != 1 || snap.Shm[0].ID != h.Shm[0] {
		t.Fatalf("as nobody the table shows %+v, want segment %d with nattch 1", snap.Shm, h.Shm[0])
	}
	if snap.Attach == nil || snap.Attach.Unreadable == 0 || snap.Attach.Complete() {
		t.Fatalf("as nobody, attachments %+v: want unreadable processes counted", snap.Attach)
	}
	if hs := snap.Holders(h.Shm[0]); len(hs) != 0 {
		t.Errorf("as nobody, root's holder %d should be unreadable, got %+v", h.PIDs[0], hs)
	}
	t.Logf("as nobody: %d of %d processes unreadable", snap.Attach.Unreadable, snap.Attach.Processes)
}
