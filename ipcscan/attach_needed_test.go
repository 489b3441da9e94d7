package ipcscan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
)

const shmHeader = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n"

// procTree writes a procfs tree: the shm table with one segment per
// nattch given (shmid 0, 1, …), empty sem and msg tables, and the
// processes: a pid whose maps is "" has maps that cannot be read (a
// directory in its place), any other maps its text. Every process and
// the reader are in IPC namespace 4026532281.
func procTree(t *testing.T, nattch []int, maps map[int]string) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, text string) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shm := shmHeader
	for id, n := range nattch {
		shm += fmt.Sprintf("%10d %10d   600                  4096     1     1 %6d     0     0     0     0          0          0 1795276637                     0                     0\n", 0x6c000100+id, id, n)
	}
	write("sysvipc/shm", shm)
	write("sysvipc/sem", "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n")
	write("sysvipc/msg", "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n")
	names := []string{"self"}
	for pid := range maps {
		names = append(names, fmt.Sprint(pid))
	}
	for _, pid := range names {
		if err := os.MkdirAll(filepath.Join(root, pid, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("ipc:[4026532281]", filepath.Join(root, pid, "ns", "ipc")); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(pid, "comm"), "p"+pid+"\n")
	}
	for pid, text := range maps {
		if text == "" {
			if err := os.Mkdir(filepath.Join(root, fmt.Sprint(pid), "maps"), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		write(filepath.Join(fmt.Sprint(pid), "maps"), text)
	}
	return root
}

// sysvLine is one shared mapping of segment shmid with key.
func sysvLine(shmid, key int) string {
	return fmt.Sprintf("7f0000000000-7f0000001000 rw-s 00000000 00:01 %d                          /SYSV%08x (deleted)\n", shmid, key)
}

const plainMaps = "55ec34c39000-55ec34c3b000 r--p 00000000 fe:00 247278                     /usr/bin/sleep\n"

// With nattch 0 on every segment no maps file is read: there is nothing
// to find, and a process whose maps cannot be read hides nothing.
func TestSnapshotReadsNoMapsWithoutAttachments(t *testing.T) {
	root := procTree(t, []int{0, 0}, map[int]string{100: plainMaps, 200: ""})
	s, err := ipcscan.NewFS(root).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	a := s.Attach
	if a == nil || a.Processes != 0 || a.Unreadable != 0 || len(a.Holders) != 0 || !a.Complete() {
		t.Fatalf("attachments %+v: want none read, complete", a)
	}
	// Attachments, which --all-namespaces uses, still reads every process.
	all, err := ipcscan.NewFS(root).Attachments()
	if err != nil {
		t.Fatal(err)
	}
	if all.Processes != 2 || all.Unreadable != 1 {
		t.Errorf("Attachments: processes %d unreadable %d, want 2 1", all.Processes, all.Unreadable)
	}
}

// The scan stops at the process holding the last mapping nattch counts:
// the processes after it are not read, and one before it that could not
// be read hides nothing.
func TestSnapshotStopsWhenEveryMappingIsFound(t *testing.T) {
	root := procTree(t, []int{0, 2}, map[int]string{
		50:  "",
		100: plainMaps + sysvLine(1, 0x6c000101),
		150: plainMaps,
		200: sysvLine(1, 0x6c000101),
		300: "", // after the last holder: never read
		400: plainMaps + sysvLine(1, 0x6c000101),
	})
	s, err := ipcscan.NewFS(root).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	a := s.Attach
	want := []ipcscan.Holder{{PID: 100, Comm: "p100", Mappings: 1}, {PID: 200, Comm: "p200", Mappings: 1}}
	if got := s.Holders(1); !reflect.DeepEqual(got, want) {
		t.Errorf("holders of shmid 1: %+v, want %+v", got, want)
	}
	if a.Processes != 4 || a.Unreadable != 0 || !a.Complete() {
		t.Errorf("processes %d unreadable %d, want 4 0", a.Processes, a.Unreadable)
	}
}

// When a mapping is still missing, every process is read and those that
// could not be read are named.
func TestSnapshotReadsAllWhenMappingsAreMissing(t *testing.T) {
	root := procTree(t, []int{3}, map[int]string{
		100: sysvLine(0, 0x6c000100),
		200: "",
		300: plainMaps + sysvLine(0, 0x6c000100),
	})
	s, err := ipcscan.NewFS(root).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	a := s.Attach
	if a.Processes != 3 || a.Unreadable != 1 || ipcscan.Mappings(s.Holders(0)) != 2 {
		t.Fatalf("processes %d unreadable %d mappings %d, want 3 1 2", a.Processes, a.Unreadable, ipcscan.Mappings(s.Holders(0)))
	}
	if want := []ipcscan.ProcName{{PID: 200, Comm: "p200"}}; !reflect.DeepEqual(a.UnreadableProcesses, want) {
		t.Errorf("unreadable %+v, want %+v", a.UnreadableProcesses, want)
	}
}

// SnapshotOf (ls --pid, scan --pid) reads the attachments as Snapshot
// does: no maps file when no segment has a mapping, and none after the
// last holder nattch counts.
func TestSnapshotOfReadsOnlyWhatItNeeds(t *testing.T) {
	root := procTree(t, []int{0, 0}, map[int]string{100: plainMaps, 200: ""})
	s, err := ipcscan.NewFS(root).SnapshotOf(100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Attach; a == nil || a.Processes != 0 || a.Unreadable != 0 || !a.Complete() {
		t.Fatalf("nattch 0: attachments %+v: want none read, complete", a)
	}
	root = procTree(t, []int{1}, map[int]string{100: sysvLine(0, 0x6c000100), 200: ""})
	s, err = ipcscan.NewFS(root).SnapshotOf(100, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := s.Attach
	if a.Processes != 1 || a.Unreadable != 0 || ipcscan.Mappings(s.Holders(0)) != 1 {
		t.Errorf("nattch 1: processes %d unreadable %d mappings %d, want 1 0 1 (pid 200 after the holder is not read)", a.Processes, a.Unreadable, ipcscan.Mappings(s.Holders(0)))
	}
}
