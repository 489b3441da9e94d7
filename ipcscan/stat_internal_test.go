package ipcscan

import (
	"reflect"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

// TestStatAllMatchesProc holds the system-call fallback against
// /proc/sysvipc on the same real objects.
func TestStatAllMatchesProc(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	nstest.Hold(t, nil, "shm", "0xdeadbeef", "12288", "0640", "attach", "0", "split",
		"shm", "0x6c014001", "8192", "0600", "attach", "1", "rmid", "1", "lock", "0",
		"sem", "0x80000001", "3", "0660", "sem", "0x61", "1", "0600",
		"msg", "-2", "0620", "send", "0", "56", "msg", "42", "0600")
	fs := NewFS("/proc")
	shm, err := fs.Shm()
	if err != nil {
		t.Fatal(err)
	}
	sem, err := fs.Sem()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := fs.Msg()
	if err != nil {
		t.Fatal(err)
	}
	gshm, gsem, gmsg, err := statAll()
	if err != nil {
		t.Fatal(err)
	}
	for i := range shm {
		shm[i].RSS, shm[i].Swap = 0, 0 // not in shmid_ds
	}
	if !reflect.DeepEqual(gshm, shm) {
		t.Errorf("shm:\nsyscalls %+v\n   /proc %+v", gshm, shm)
	}
	if !reflect.DeepEqual(gsem, sem) {
		t.Errorf("sem:\nsyscalls %+v\n   /proc %+v", gsem, sem)
	}
	if !reflect.DeepEqual(gmsg, msg) {
		t.Errorf("msg:\nsyscalls %+v\n   /proc %+v", gmsg, msg)
	}
	if len(shm) != 2 || len(sem) != 2 || len(msg) != 2 {
		t.Errorf("want 2 of each, got %d %d %d", len(shm), len(sem), len(msg))
	}
}
