package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/nstest"
)

// Live checks that cannot be made in full: as an ordinary user, other
// users' processes hide their maps and descriptors. A check they could
// change fails the run (exit 2) naming them, unless accepted.

// nobody is the user the tool or a holder runs as to be another user.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// unprivileged copies this test binary (ipckeys when called by that name)
// where nobody can run it, and returns a function running it as nobody:
// exit status, stdout, stderr.
func unprivileged(t *testing.T) func(args ...string) (int, string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := publicDir(t)
	bin := filepath.Join(dir, "ipckeys")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) (int, string, string) {
		cmd := &exec.Cmd{Path: bin, Args: append([]string{"ipckeys"}, args...), Dir: "/",
			SysProcAttr: &syscall.SysProcAttr{Credential: nobody}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), stdout.String(), stderr.String()
		case err != nil:
			t.Fatalf("ipckeys %v as nobody: %v", args, err)
		}
		return 0, stdout.String(), stderr.String()
	}
}

// publicDir is a temporary directory every user can read.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipckeys-public")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writePublic(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type incompleteReport struct {
	Findings []struct {
		Code     string `json:"code"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	} `json:"findings"`
	Live struct {
		Attachments struct {
			Unreadable          int `json:"unreadable"`
			UnreadableProcesses []struct {
				PID  int    `json:"pid"`
				Comm string `json:"comm"`
			} `json:"unreadable_processes"`
		} `json:"attachments"`
		Sockets *struct {
			Unreadable          int `json:"unreadable"`
			UnreadableProcesses []struct {
				PID  int    `json:"pid"`
				Comm string `json:"comm"`
			} `json:"unreadable_processes"`
		} `json:"sockets"`
	} `json:"live"`
}

func parseIncomplete(t *testing.T, out string) incompleteReport {
	t.Helper()
	var rep incompleteReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep
}

func codesOf(rep incompleteReport) map[string]int {
	m := map[string]int{}
	for _, f := range rep.Findings {
		m[f.Code]++
	}
	return m
}

// TestIncompleteListener: root runs a program on the port the manifest
// gives another program. Run as nobody, scan cannot see who holds the
// listener: exit 2, naming the processes it could not read; accepted with
// --allow-incomplete, a warning; run as root, the wrong holder.
func TestIncompleteListener(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	bin := fdholder(t)
	h := nstest.StartProc(t, nil, nil, nil, bin, "hoard", "127.0.0.1", "5555")
	wrong := h.Expect(t, "ready")[0]
	dir := publicDir(t)
	m := filepath.Join(dir, "app.manifest")
	writePublic(t, m, "web tcp:127.0.0.1:5555 exe=/usr/sbin/a\n")
	asNobody := unprivileged(t)

	// Accepted: the gap is a warning, in JSON with every process named.
	code, out, errOut := asNobody("scan", "-o", "json", "--allow-incomplete", "-m", m)
	if code != 0 {
		t.Fatalf("--allow-incomplete as nobody: exit %d, want 0 (a warning under --fail-on error)\n%s%s", code, out, errOut)
	}
	rep := parseIncomplete(t, out)
	if rep.Live.Sockets == nil || rep.Live.Sockets.Unreadable < 2 || len(rep.Live.Sockets.UnreadableProcesses) != rep.Live.Sockets.Unreadable {
		t.Fatalf("live.sockets does not list the unreadable processes:\n%s", out)
	}
	var names []string
	sawWrong := false
	for i, p := range rep.Live.Sockets.UnreadableProcesses {
		sawWrong = sawWrong || p.PID == wrong && p.Comm == "fdholder"
		if i < 5 {
			names = append(names, fmt.Sprintf("%d %s", p.PID, p.Comm))
		}
	}
	if !sawWrong {
		t.Errorf("unreadable processes %+v lack %d fdholder", rep.Live.Sockets.UnreadableProcesses, wrong)
	}
	list := strings.Join(names, ", ")
	if n := len(rep.Live.Sockets.UnreadableProcesses); n > 5 {
		list += fmt.Sprintf(" and %d more", n-5)
	}
	text := fmt.Sprintf("the descriptors of %d processes could not be read (%s), so the listener web tcp:127.0.0.1:5555 may be held by one of them: run as root, or accept it with --allow-incomplete",
		rep.Live.Sockets.Unreadable, list)
	if c := codesOf(rep); c["check-incomplete"] != 1 || c["listener-wrong-holder"] != 0 {
		t.Errorf("as nobody: %v, want one check-incomplete and no listener-wrong-holder", c)
	}
	for _, f := range rep.Findings {
		if f.Code == "check-incomplete" && (f.Severity != "warning" || f.Message != text) {
			t.Errorf("check-incomplete: %s %q\nwant warning %q", f.Severity, f.Message, text)
		}
	}
	if code, out, _ := asNobody("scan", "-o", "text", "--allow-incomplete", "--fail-on", "warning", "-m", m); code != 1 ||
		!strings.Contains(out, ": warning: check-incomplete") {
		t.Errorf("--allow-incomplete --fail-on warning: exit %d, want 1\n%s", code, out)
	}

	// Not accepted: exit 2, one line.
	code, out, errOut = asNobody("scan", "-o", "text", "-m", m)
	if want := "ipckeys: incomplete: " + text + "\n"; code != 2 || errOut != want || strings.Contains(out, "pass") {
		t.Errorf("as nobody: exit %d, stderr %q, stdout %q\nwant exit 2 and %q", code, errOut, out, want)
	}

	// As root every holder is seen.
	code, rep2, out := scanJSON(t, "-m", m)
	if c := codes(rep2); code != exitFindings || c["listener-wrong-holder"] != 1 || c["check-incomplete"] != 0 ||
		!strings.Contains(out, fmt.Sprintf("fdholder (%d), running %s", wrong, bin)) {
		t.Errorf("as root: exit %d, %v\n%s", code, c, out)
	}
}

// TestIncompleteSegment: a segment whose mappings found add up to its
// nattch is checked in full, whatever else could not be read; one whose
// holder is hidden is not.
func TestIncompleteSegment(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	dir := publicDir(t)
	own, hidden := filepath.Join(dir, "own.key"), filepath.Join(dir, "hidden.key")
	writePublic(t, own, "")
	writePublic(t, hidden, "")
	ownKey, err := ftok.FileKey(own, 'l')
	if err != nil {
		t.Fatal(err)
	}
	hiddenKey, err := ftok.FileKey(hidden, 'l')
	if err != nil {
		t.Fatal(err)
	}
	mine := nstest.Hold(t, nobody, "shm", ftok.Hex(ownKey), "4096", "0600", "attach", "last")
	root := nstest.Hold(t, nil, "shm", ftok.Hex(hiddenKey), "4096", "0600", "attach", "last")
	asNobody := unprivileged(t)

	m := filepath.Join(dir, "own.manifest")
	writePublic(t, m, "own own.key l shm 1 nobody\n")
	code, out, errOut := asNobody("scan", "-o", "json", "-m", m)
	rep := parseIncomplete(t, out)
	if code != 0 || codesOf(rep)["check-incomplete"] != 0 || rep.Live.Attachments.Unreadable == 0 ||
		len(rep.Live.Attachments.UnreadableProcesses) != rep.Live.Attachments.Unreadable {
		t.Errorf("segment held by nobody, scanned as nobody: exit %d (want 0, with other processes unreadable)\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "nattch-mismatch") {
		t.Errorf("nattch-mismatch for a segment whose holder %d was read:\n%s", mine.PIDs[0], out)
	}

	m = filepath.Join(dir, "hidden.manifest")
	writePublic(t, m, "hidden hidden.key l shm 1 root\n")
	code, _, errOut = asNobody("scan", "-o", "json", "-m", m)
	want := fmt.Sprintf(", so who is attached to segment id %d of channel hidden is not known (nattch 1, 0 found) and its expected 1 process cannot be checked: run as root, or accept it with --allow-incomplete\n", root.Shm[0])
	if code != 2 || !strings.HasPrefix(errOut, "ipckeys: incomplete: the maps of ") || !strings.HasSuffix(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("segment held by root, scanned as nobody: exit %d, stderr %q; want exit 2 and one line ending %q", code, errOut, want)
	}
	// As root, complete.
	var stdout, stderr bytes.Buffer
	if c := run([]string{"scan", "-o", "text", "-m", m}, nil, &stdout, &stderr); c != 0 || strings.Contains(stdout.String(), "check-incomplete") {
		t.Errorf("as root: exit %d\n%s%s", c, stdout.String(), stderr.String())
	}
}

// TestDriftNeedsEvidence: another user's segment that happens to have a
// channel's proj and device byte, made before the key file changed, is a
// coincidence (info); the channel's own program left on its old key after
// the key file was replaced is key-drift.
func TestDriftNeedsEvidence(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	dir := publicDir(t)
	app, foreign := filepath.Join(dir, "app.key"), filepath.Join(dir, "foreign.key")
	writePublic(t, app, "key\n")
	writePublic(t, foreign, "theirs\n")
	oldKey, err := ftok.FileKey(app, 'l')
	if err != nil {
		t.Fatal(err)
	}
	foreignKey, err := ftok.FileKey(foreign, 'l')
	if err != nil {
		t.Fatal(err)
	}
	old := nstest.Hold(t, nil, "shm", ftok.Hex(oldKey), "4096", "0600", "attach", "last")
	theirs := nstest.Hold(t, nobody, "shm", ftok.Hex(foreignKey), "4096", "0600", "attach", "last")
	time.Sleep(1100 * time.Millisecond) // ctimes are in seconds
	// Replaced the way editors do: a new file renamed over the old one.
	writePublic(t, app+".new", "key\n")
	if err := os.Rename(app+".new", app); err != nil {
		t.Fatal(err)
	}
	newKey, err := ftok.FileKey(app, 'l')
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int32{oldKey, foreignKey} {
		if k == newKey || ftok.Decode(k).InoBits == ftok.Decode(newKey).InoBits {
			t.Fatalf("key %s shares inode bits with the new key %s: rerun", ftok.Hex(k), ftok.Hex(newKey))
		}
	}
	nstest.Hold(t, nil, "shm", ftok.Hex(newKey), "4096", "0600", "attach", "last")
	m := filepath.Join(dir, "app.manifest")
	writePublic(t, m, "orders app.key l shm 1 root\n")

	code, rep, out := scanJSON(t, "-m", m)
	if c := codes(rep); code != exitClean || c["key-drift"] != 1 || c["key-coincidence"] != 1 {
		t.Fatalf("exit %d, %v; want 0, one key-drift, one key-coincidence\n%s", code, c, out)
	}
	for _, f := range rep.Findings {
		switch f.Code {
		case "key-drift":
			want := fmt.Sprintf("shared-memory segment id %d has key %s: the proj and device byte of channel orders", old.Shm[0], ftok.Hex(oldKey))
			if f.Severity != "warning" || !strings.HasPrefix(f.Message, want) ||
				!strings.Contains(f.Message, "and its owner or creator is the channel's owner root") ||
				!strings.Contains(f.Message, fmt.Sprintf("still attached: %d (holder)", old.PIDs[0])) {
				t.Errorf("key-drift: %s %q", f.Severity, f.Message)
			}
		case "key-coincidence":
			want := fmt.Sprintf("shared-memory segment id %d has key %s (owned by nobody (uid 65534), creator pid %d (holder); still attached: %d (holder)): the proj and device byte of channel orders",
				theirs.Shm[0], ftok.Hex(foreignKey), theirs.PIDs[0], theirs.PIDs[0])
			if f.Severity != "info" || !strings.HasPrefix(f.Message, want) ||
				!strings.Contains(f.Message, "neither its owner nor its creator is the channel's owner root") {
				t.Errorf("key-coincidence: %s %q\nwant prefix %q", f.Severity, f.Message, want)
			}
		}
	}
}

// TestNothingChecked: a manifest that declares nothing, with the live
// checks off, checked nothing: not a pass.
func TestNothingChecked(t *testing.T) {
	m := filepath.Join(t.TempDir(), "empty.manifest")
	writePublic(t, m, "# no channels yet\n")
	var stdout, stderr bytes.Buffer
	code := run([]string{"scan", "-o", "text", "--no-live", "-m", m}, nil, &stdout, &stderr)
	want := "ipckeys: scan: nothing was checked: no key file or channel to check (1 manifest declared none) and no live checks made (--no-live): give paths, a manifest that declares channels or listeners, or drop --no-live\n"
	if code != exitUsage || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout.String(), stderr.String(), want)
	}
}
