package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/oracle"
)

// changingIPC matches an strace line of a System V IPC call that makes,
// changes, removes or uses an object; reading one (IPC_STAT, *_STAT_ANY,
// IPC_INFO) does not match.
var changingIPC = regexp.MustCompile(`\b(shmget|semget|msgget|shmat|shmdt|semop|semtimedop|msgsnd|msgrcv)\(|IPC_RMID|IPC_SET|SETVAL|SETALL|SHM_LOCK|SHM_UNLOCK`)

// strace runs argv under strace, tracing the System V IPC calls, and
// returns its exit status, its standard output and the trace.
func strace(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal("strace is needed to show that rekey makes no IPC call")
		}
		t.Skip("strace is not installed")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "strace", append([]string{"-f", "-qq", "-o", trace, "-e", "trace=ipc,shmctl,semctl,msgctl,shmget"}, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("strace %v: %v\n%s", argv, err, stderr.String())
	}
	out, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String() + stderr.String(), string(out)
}

// TestRekeyLiveSegment: a real collision on a private tmpfs, a live
// segment under the old key. rekey names the segment and leaves it: it
// makes no IPC call that changes anything (strace), and the segment is
// still there.
func TestRekeyLiveSegment(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	// The filter can fail: it sees the shmget of ipcmk.
	if _, _, tr := strace(t, "ipcmk", "-M", "4096"); !changingIPC.MatchString(tr) {
		t.Fatalf("the strace filter misses ipcmk's shmget:\n%s", tr)
	}
	dir, err := os.MkdirTemp("", "ipckeys-rekey-live")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	b, c, _, err := makeCollision(dir, "b.conf", "c.conf")
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "app.manifest")
	if err := os.WriteFile(manifest, []byte("b "+b+" l\nc "+c+" l\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// This binary is ipckeys when called by that name.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ipckeys")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	old := oracle.Keys(t, []int{'l'}, []string{c})[0].Key
	h := nstest.Hold(t, nil, "shmftok", c, "108", "4096", "0600", "attach", "last")
	ino := inodeOf(t, c)

	// --fail-if-live: exit 1, one line, nothing changed.
	code, out, tr := strace(t, bin, "rekey", "--fail-if-live", "-o", "json", "-m", manifest, c)
	if code != exitFindings || inodeOf(t, c) != ino || !strings.Contains(out, fmt.Sprintf("ipckeys: %s: shared-memory segment id %d (key 0x%08x) still uses its key: nothing was changed (--fail-if-live)", c, h.Shm[0], uint32(old))) {
		t.Fatalf("--fail-if-live: exit %d, inode %d (was %d):\n%s", code, inodeOf(t, c), ino, out)
	}
	if m := changingIPC.FindString(tr); m != "" {
		t.Errorf("rekey --fail-if-live made an IPC call: %s\n%s", m, tr)
	}

	code, out, tr = strace(t, bin, "rekey", "-o", "json", "-m", manifest, c)
	if code != 0 {
		t.Fatalf("rekey: exit %d\n%s", code, out)
	}
	if m := changingIPC.FindString(tr); m != "" {
		t.Errorf("rekey made an IPC call: %s\n%s", m, tr)
	}
	var doc struct {
		Files []struct {
			NewInode uint64 `json:"new_inode"`
			Keys     []struct{ Old, New string }
			Live     []struct {
				Facility     string
				ID           int
				KeptBy       string `json:"kept_by"`
				CreatorPID   int    `json:"creator_pid"`
				AfterRestart string `json:"after_restart"`
				Attached     []struct{ PID int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	newKey := oracle.Keys(t, []int{'l'}, []string{c})[0].Key
	f := doc.Files[0]
	if f.NewInode != inodeOf(t, c) || f.Keys[0].Old != fmt.Sprintf("0x%08x", uint32(old)) || f.Keys[0].New != fmt.Sprintf("0x%08x", uint32(newKey)) || newKey == old {
		t.Errorf("reported %+v; C ftok %#x -> %#x, inode %d", f, uint32(old), uint32(newKey), inodeOf(t, c))
	}
	// The segment's key is still channel b's: it is left to b.
	if len(f.Live) != 1 || f.Live[0].ID != h.Shm[0] || f.Live[0].KeptBy != "channel b" || f.Live[0].AfterRestart != "" ||
		f.Live[0].CreatorPID != h.PIDs[0] || len(f.Live[0].Attached) != 1 || f.Live[0].Attached[0].PID != h.PIDs[0] {
		t.Errorf("live: %+v; want shm %d kept by channel b, made by and attached to %d", f.Live, h.Shm[0], h.PIDs[0])
	}

	// A segment under c's key that no other channel has: after the
	// restart it is stale, and rekey says how to remove it.
	h2 := nstest.Hold(t, nil, "shmftok", c, "108", "4096", "0600")
	code, out, tr = strace(t, bin, "rekey", "-o", "text", "-p", "l", c)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("live: %s: shared-memory segment id %d (key 0x%08x), owner root, creator pid %d (holder), attached: none; its service keeps using it until it restarts; after the restart remove it: ipcrm -m %d\n", c, h2.Shm[0], uint32(newKey), h2.PIDs[0], h2.Shm[0])) {
		t.Errorf("rekey of a key a segment holds: exit %d\n%s", code, out)
	}
	if m := changingIPC.FindString(tr); m != "" {
		t.Errorf("rekey made an IPC call: %s\n%s", m, tr)
	}
	shm, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{h.Shm[0], h2.Shm[0]} {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^\s*-?\d+\s+%d\s`, id)).Match(shm) {
			t.Errorf("segment %d is gone:\n%s", id, shm)
		}
	}
	// The gate is clean (tmpfs is a warning of its own).
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--no-live", "-o", "text", "-m", manifest}, nil, &stdout, &stderr); code != 0 || strings.Contains(stdout.String(), "collision") {
		t.Errorf("scan after rekey: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
