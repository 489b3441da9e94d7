package ipcscan_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipckeys/ipckeys/internal/cbuild"
	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// The executable of each holder is read from its exe link; a holder
// whose link cannot be read has none, and is still a holder.
func TestHolderExeFixture(t *testing.T) {
	root := procTree(t, []int{2}, map[int]string{
		100: sysvLine(0, 0x6c000100),
		200: sysvLine(0, 0x6c000100),
	})
	if err := os.Symlink("/usr/sbin/app (deleted)", filepath.Join(root, "100", "exe")); err != nil {
		t.Fatal(err)
	}
	s, err := ipcscan.NewFS(root).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Holders(0)); n != 2 {
		t.Fatalf("%d holders of shmid 0, want 2", n)
	}
	if exe, ok := s.Attach.Exe(100); !ok || exe != "/usr/sbin/app (deleted)" {
		t.Errorf("Exe(100) = %q, %v; want the link's text", exe, ok)
	}
	if exe, ok := s.Attach.Exe(200); ok {
		t.Errorf("Exe(200) = %q, want none: it has no exe link", exe)
	}
}

// A real holder's executable is the program it runs.
func TestHolderExeLive(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	h := nstest.Hold(t, nil, "shm", "0x51", "4096", "0600", "attach", "last", "fork")
	bin, err := cbuild.Build(cbuild.Source("holder/holder.c"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ipcscan.NewFS("/proc").Attachments()
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range h.PIDs {
		if exe, ok := a.Exe(pid); !ok || exe != want {
			t.Errorf("Exe(%d) = %q, %v; want %s", pid, exe, ok, want)
		}
	}
}
