package ipcscan_test

import (
	"reflect"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
)

func TestAttachmentsFixture(t *testing.T) {
	fs := ipcscan.NewFS("../testdata/proc/linux-6.18")
	a, err := fs.Attachments()
	if err != nil {
		t.Fatal(err)
	}
	const ns = 4026532281
	self, err := fs.IPCNamespace("self")
	if err != nil || self != ns {
		t.Fatalf("IPCNamespace(self) = %d, %v; want %d", self, err, ns)
	}
	want := map[ipcscan.SegmentRef][]ipcscan.Holder{
		// The mprotect split: 3 mappings per process, 6 in all, which is
		// the nattch the kernel printed for shmid 0 in the same namespace.
		{NS: ns, ShmID: 0}: {{PID: 15184, Comm: "mk", Mappings: 3}, {PID: 15185, Comm: "mk", Mappings: 3}},
		{NS: ns, ShmID: 1}: {{PID: 15184, Comm: "mk", Mappings: 1}, {PID: 15185, Comm: "mk", Mappings: 1}},
		// Another namespace's shmid 0; private (rw-p) and malformed SYSV
		// names do not count.
		{NS: 4026531839, ShmID: 0}: {{PID: 15190, Comm: "postgres", Mappings: 1}},
	}
	if !reflect.DeepEqual(a.Holders, want) {
		t.Errorf("holders:\n got %+v\nwant %+v", a.Holders, want)
	}
	// The removed segment's table key is 0; its mappings keep the original.
	if k := a.Keys[ipcscan.SegmentRef{NS: ns, ShmID: 1}]; uint32(k) != 0x6c014001 {
		t.Errorf("key of removed segment = %#x, want 0x6c014001", uint32(k))
	}
	if k := a.Keys[ipcscan.SegmentRef{NS: ns, ShmID: 0}]; uint32(k) != 0xdeadbeef {
		t.Errorf("key of shmid 0 = %#x, want 0xdeadbeef", uint32(k))
	}
	if a.Processes != 4 || a.Vanished != 1 || a.Unreadable != 0 {
		t.Errorf("processes %d vanished %d unreadable %d, want 4 1 0", a.Processes, a.Vanished, a.Unreadable)
	}
	shm, err := fs.Shm()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shm {
		if got := ipcscan.Mappings(a.In(ns, s.ID)); got != s.Nattch {
			t.Errorf("shmid %d: %d mappings found, kernel nattch %d", s.ID, got, s.Nattch)
		}
	}
}
