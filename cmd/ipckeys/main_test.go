package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/oracle"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script when cmp fails")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ipckeys": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("script"))
}

// TestLiveScripts runs the scripts that create IPC objects
// (testdata/script-live), each in its own private IPC namespace so that
// no script sees another's objects.
func TestLiveScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "script-live", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no live scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			if !nstest.Run(t) {
				return
			}
			p := scriptParams("")
			p.Dir, p.Files = "", []string{file}
			p.Cmds["hold"] = cmdHold
			p.Cmds["unhold"] = cmdUnhold
			testscript.Run(t, p)
		})
	}
}

func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir:           filepath.Join("..", "..", "testdata", dir),
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			// A fixed locale, so that nothing the tests run depends on the
			// one they were started in.
			env.Setenv("LANG", "C.UTF-8")
			env.Setenv("LC_ALL", "C.UTF-8")
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				// CI runs as root: there a script's [!root] skip would
				// hide what it tests, so it fails instead.
				if os.Geteuid() != 0 && os.Getenv(nstest.RequireEnv) != "" {
					return false, fmt.Errorf("%s is set but the tests do not run as root", nstest.RequireEnv)
				}
				return os.Geteuid() == 0, nil
			case "shmtmpfs":
				var st syscall.Statfs_t
				return syscall.Statfs("/dev/shm", &st) == nil && st.Type == 0x01021994, nil
			case "devtmpfs":
				// /dev/null is on devtmpfs, as util-linux findmnt says.
				out, err := exec.Command("findmnt", "-n", "-o", "FSTYPE", "--target", "/dev/null").Output()
				return err == nil && strings.TrimSpace(string(out)) == "devtmpfs", nil
			case "oracle":
				// The C library ftok oracle can be built (always true
				// where it is required, so a missing compiler fails).
				_, err := oracle.Run(nil, nil)
				return err == nil || !errors.Is(err, oracle.ErrUnavailable) || oracle.Required(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkcollision": cmdMkcollision,
			"cftok":       cmdCftok,
			"inode":       cmdInode,
			"mkfile":      cmdMkfile,
			"exits":       cmdExits,
		},
	}
}

// holders are the holder processes the live script started, by name (one
// script runs per process).
var holders = map[string]*nstest.Holder{}

// cmdHold starts a holder process (testdata/holder/holder.c) that keeps
// the IPC objects and attachments its steps make until unhold or the end
// of the script. It sets $NAME_PID (and $NAME_PID2… for forked children)
// and $NAME_SHM, $NAME_SEM, $NAME_MSG for the first ids it created.
// "as UID:GID" first runs it as that user.
//
//	hold NAME [as UID:GID] STEP...
func cmdHold(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: hold NAME [as UID:GID] STEP...")
	}
	name, steps := args[0], args[1:]
	var cred *syscall.Credential
	if steps[0] == "as" && len(steps) > 2 {
		var uid, gid uint32
		if _, err := fmt.Sscanf(steps[1], "%d:%d", &uid, &gid); err != nil {
			ts.Fatalf("hold: %q is not UID:GID", steps[1])
		}
		cred, steps = &syscall.Credential{Uid: uid, Gid: gid}, steps[2:]
	}
	h, err := nstest.Start(cred, steps...)
	ts.Check(err)
	holders[name] = h
	ts.Defer(h.Stop)
	up := strings.ToUpper(name)
	for i, pid := range h.PIDs {
		suffix := ""
		if i > 0 {
			suffix = strconv.Itoa(i + 1)
		}
		ts.Setenv(up+"_PID"+suffix, strconv.Itoa(pid))
	}
	for fac, ids := range map[string][]int{"SHM": h.Shm, "SEM": h.Sem, "MSG": h.Msg} {
		if len(ids) > 0 {
			ts.Setenv(up+"_"+fac, strconv.Itoa(ids[0]))
		}
	}
}

// cmdUnhold ends a holder: its attachments go, the objects it made stay.
//
//	unhold NAME
func cmdUnhold(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || holders[args[0]] == nil {
		ts.Fatalf("usage: unhold NAME (a running holder)")
	}
	holders[args[0]].Stop()
}

// cmdMkcollision makes a real ftok collision: it creates files in DIR until
// two have inode numbers equal in their low 16 bits, keeps those two as A and
// B, and removes the rest. It sets $DIR to the directory and $INO_A and
// $INO_B to the inode numbers. A DIR ending in / gets a fresh directory made
// below it and removed at the end.
//
//	mkcollision DIR A B
func cmdMkcollision(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mkcollision DIR A B")
	}
	dir := ts.MkAbs(args[0])
	if strings.HasSuffix(args[0], "/") {
		// A fresh directory below the one named, removed afterwards.
		var err error
		dir, err = os.MkdirTemp(dir, "ipckeys-test")
		ts.Check(err)
		ts.Defer(func() { os.RemoveAll(dir) })
	} else {
		if _, err := os.Stat(dir); err == nil {
			ts.Fatalf("mkcollision: %s exists: give it a fresh directory", dir)
		}
		ts.Check(os.MkdirAll(dir, 0o755))
	}
	ts.Setenv("DIR", dir)
	a, b, n, err := makeCollision(dir, args[1], args[2])
	ts.Check(err)
	ts.Setenv("INO_A", strconv.FormatUint(inode(ts, a), 10))
	ts.Setenv("INO_B", strconv.FormatUint(inode(ts, b), 10))
	ts.Logf("collision after %d files: inodes %s and %s", n, ts.Getenv("INO_A"), ts.Getenv("INO_B"))
}

// makeCollision creates files in dir until two have inode numbers equal in
// their low 16 bits, keeps those as nameA and nameB, and removes the rest.
func makeCollision(dir, nameA, nameB string) (a, b string, files int, err error) {
	seen := map[uint64]string{}
	var made []string
	const limit = 300_000 // ext4 needs ~25k here, tmpfs 65537
	for i := 0; i < limit; i++ {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		f, err := os.Create(p)
		if err != nil {
			return "", "", i, err
		}
		f.Close()
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return "", "", i, err
		}
		made = append(made, p)
		other, dup := seen[st.Ino&0xffff]
		if !dup {
			seen[st.Ino&0xffff] = p
			continue
		}
		a, b = filepath.Join(dir, nameA), filepath.Join(dir, nameB)
		if err := os.Rename(other, a); err != nil {
			return "", "", i, err
		}
		if err := os.Rename(p, b); err != nil {
			return "", "", i, err
		}
		for _, m := range made {
			if m != other && m != p {
				os.Remove(m)
			}
		}
		return a, b, i + 1, nil
	}
	return "", "", limit, fmt.Errorf("no low-16-bit inode collision among %d files in %s", limit, dir)
}

func inode(ts *testscript.TestScript, path string) uint64 {
	var st syscall.Stat_t
	ts.Check(syscall.Stat(path, &st))
	return st.Ino
}

// cmdCftok asks the C library's own ftok for a key and stores it, as ipcs
// prints it, in an environment variable. Scripts guard it with [oracle].
//
//	cftok VAR PROJ PATH
func cmdCftok(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: cftok VAR PROJ PATH")
	}
	proj, err := strconv.Atoi(args[1])
	ts.Check(err)
	rs, err := oracle.Run([]int{proj}, []string{ts.MkAbs(args[2])})
	ts.Check(err)
	r := rs[0]
	if r.Errno != 0 {
		ts.Fatalf("C ftok(%s, %d) failed: errno %d", args[2], proj, r.Errno)
	}
	ts.Setenv(args[0], fmt.Sprintf("0x%08x", uint32(r.Key)))
}

// cmdInode stores a file's inode number (from stat, following links).
//
//	inode VAR PATH
func cmdInode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: inode VAR PATH")
	}
	ts.Setenv(args[0], strconv.FormatUint(inode(ts, ts.MkAbs(args[1])), 10))
}

// cmdMkfile creates an empty file whose name is a Go-quoted string, so
// scripts can make names with newlines and bytes that are not UTF-8.
//
//	mkfile "name\nwith\xffbytes"
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkfile QUOTED-NAME")
	}
	name, err := strconv.Unquote(args[0])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(name), nil, 0o644))
}

// cmdExits runs a command like exec and asserts its exact exit status;
// stdout and stderr stay available to the next assertions.
//
//	exits N COMMAND ARGS...
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N COMMAND ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// TestExitStatus asserts the exit codes CI jobs and deploy scripts branch
// on, directly: 0 clean, 1 findings at or above --fail-on, 2 usage or
// operational error.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.conf")
	b := filepath.Join(dir, "b.conf")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.manifest")
	if err := os.WriteFile(good, []byte("a "+a+" l\nb "+b+" l\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	twice := filepath.Join(dir, "twice.manifest")
	if err := os.WriteFile(twice, []byte("a "+a+" l\nb "+a+" l\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.manifest")
	if err := os.WriteFile(bad, []byte("a "+a+" nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"scan", "-p", "l", a, b}, 0},
		{[]string{"scan", "-m", good}, 0},
		{[]string{"scan", "-m", twice}, 1},
		{[]string{"scan", "-m", twice, "--fail-on", "never"}, 0},
		{[]string{"scan", "-p", "l", missing}, 1},
		{[]string{"scan", "-p", "l", filepath.Join(dir, "*.none")}, 1},
		{[]string{"scan", "-p", "l", a, link}, 0},                      // same-file is info
		{[]string{"scan", "-p", "l", a, link, "--fail-on", "info"}, 1}, // … unless info fails
		{[]string{"scan", "-p", "0", a, "--fail-on", "error"}, 0},      // proj-zero is a warning
		{[]string{"scan", "-p", "0", a, "--fail-on", "warning"}, 1},    // … that can fail the gate
		{[]string{"scan", "-p", "256", a, "--fail-on", "warning"}, 1},  // proj-truncated
		{[]string{"scan", "-p", "1", "-p", "257", a}, 1},               // truncation collides
		{[]string{"scan", "-m", bad}, 2},
		{[]string{"scan", "-m", missing}, 2},
		{[]string{"scan", "-p", "zz", a}, 2},
		{[]string{"scan", "--bogus", a}, 2},
		{[]string{"scan", "--fail-on", "sometimes", a}, 2},
		{[]string{"scan", "-o", "xml", a}, 2},
		{[]string{"scan"}, 2},
		{[]string{"scan", "-p", "l", "["}, 2},
		{[]string{"scan", "--help"}, 0},
		{[]string{"key", "-p", "l", a}, 0},
		{[]string{"key", "-p", "l", a, missing}, 1},
		{[]string{"key"}, 2},
		{[]string{"key", "-p", "010", a}, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{}, 2},
		{[]string{"help"}, 0},
		{[]string{"help", "scan"}, 0},
		{[]string{"help", "nothing"}, 2},
		{[]string{"version"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"version", "extra"}, 2},
	}
	// Every --fail-on level against runs whose worst finding is each
	// severity, in every output format.
	worst := map[string][]string{
		"none":    {"scan", "--no-live", "-p", "l", a},
		"info":    {"scan", "--no-live", "-p", "l", a, link},
		"warning": {"scan", "--no-live", "-p", "0", a},
		"error":   {"scan", "--no-live", "-p", "l", missing},
	}
	rank := map[string]int{"none": 0, "info": 1, "warning": 2, "error": 3, "never": 4}
	for name, args := range worst {
		for _, level := range []string{"error", "warning", "info", "never"} {
			for _, format := range []string{"table", "text", "json", "sarif", "github", "junit", "prometheus"} {
				want := 0
				if level != "never" && rank[name] >= rank[level] {
					want = 1
				}
				tests = append(tests, struct {
					args []string
					want int
				}{append(append([]string{}, args...), "--fail-on", level, "-o", format), want})
			}
		}
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		got := run(tc.args, nil, &stdout, &stderr)
		if got != tc.want {
			t.Errorf("ipckeys %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), got, tc.want, stdout.String(), stderr.String())
		}
		// Errors are one line with the ipckeys: prefix.
		if got == exitUsage && len(tc.args) > 0 {
			msg := stderr.String()
			if !strings.HasPrefix(msg, "ipckeys: ") || strings.Count(msg, "\n") != 1 {
				t.Errorf("ipckeys %s: error is not one 'ipckeys:' line: %q", strings.Join(tc.args, " "), msg)
			}
		}
	}
}

// TestLsUnprivileged runs ls as nobody: it shows every object and says
// plainly what it could not see, in the table and in JSON.
func TestLsUnprivileged(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	nstest.Hold(t, nil, "shm", "0x51", "4096", "0600", "attach", "last")
	// This binary is ipckeys when called by that name; nobody needs a
	// copy it may execute.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ipckeys-nobody")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "ipckeys")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) []byte {
		cmd := &exec.Cmd{Path: bin, Args: append([]string{"ipckeys"}, args...), Dir: "/",
			SysProcAttr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ipckeys %v as nobody: %v", args, err)
		}
		return out
	}
	out := string(asNobody("ls", "--shm"))
	for _, want := range []string{"│ 0x00000051 │", "│ 1 unreadable │", "note: attachments unknown for "} {
		if !strings.Contains(out, want) {
			t.Errorf("ls as nobody lacks %q:\n%s", want, out)
		}
	}
	var doc struct {
		Shm []struct {
			Attached         []any `json:"attached"`
			AttachedComplete bool  `json:"attached_complete"`
		} `json:"shm"`
		Attachments struct {
			Complete   bool   `json:"complete"`
			Unreadable int    `json:"unreadable"`
			Note       string `json:"note"`
		} `json:"attachments"`
	}
	js := asNobody("ls", "--shm", "-o", "json")
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Shm) != 1 || doc.Shm[0].AttachedComplete || doc.Attachments.Complete || doc.Attachments.Unreadable == 0 ||
		!strings.Contains(doc.Attachments.Note, "permission denied") {
		t.Errorf("JSON does not show the incompleteness: %s", js)
	}
	// explain says what it could not read, as ls does.
	ex := string(asNobody("explain", "0x51"))
	if !strings.Contains(ex, "note:         attachments unknown for ") {
		t.Errorf("explain as nobody does not say which holders it could not read:\n%s", ex)
	}
	// --all-namespaces cannot enter other namespaces without
	// CAP_SYS_ADMIN: exit 2 and one line, not a pass over its own only.
	for _, args := range [][]string{{"ls", "--all-namespaces"}, {"scan", "--all-namespaces", "-p", "l", "/"}, {"explain", "0x51", "--all-namespaces"}} {
		cmd := &exec.Cmd{Path: bin, Args: append([]string{"ipckeys"}, args...), Dir: "/",
			SysProcAttr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}}
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), "--all-namespaces: cannot enter the IPC namespace of other processes without CAP_SYS_ADMIN") ||
			strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%v as nobody: %v, stderr %q; want exit 2 and one line saying it needs CAP_SYS_ADMIN", args, err, errOut.String())
		}
	}
	// Another process's IPC namespace (pid 1 is outside this test's) needs
	// CAP_SYS_ADMIN: a clear one-line error and exit 2, not a partial view.
	cmd := &exec.Cmd{Path: bin, Args: []string{"ipckeys", "ls", "--pid", "1"}, Dir: "/",
		SysProcAttr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.HasPrefix(errOut.String(), "ipckeys: ") ||
		!strings.Contains(errOut.String(), "cannot enter the IPC namespace") || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("ls --pid 1 as nobody: %v, stderr %q; want exit 2 and one line saying it cannot enter the namespace", err, errOut.String())
	}
}

// TestPidAsRootWording: when root is refused another process's namespace
// (a sandbox, another user namespace), the message says so instead of
// telling root to run as root.
func TestPidAsRootWording(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"ls", "--pid", "1"}, nil, &stdout, &stderr)
	if code == exitClean {
		t.Skip("this root may enter pid 1's namespace: nothing to word")
	}
	if code != exitUsage || strings.Contains(stderr.String(), "run as root") || !strings.Contains(stderr.String(), "even as root") {
		t.Errorf("ls --pid 1 as root: exit %d, %q; want exit 2 saying why root was refused", code, stderr.String())
	}
}

// TestSuggestionFixesCollision applies the first proj id scan suggests for
// a real inode collision and scans again: the gate passes, and the C
// library agrees that the two keys now differ.
func TestSuggestionFixesCollision(t *testing.T) {
	dir := t.TempDir()
	a, b, _, err := makeCollision(dir, "a.conf", "b.conf")
	if err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "app.manifest")
	if err := os.WriteFile(m, []byte("first "+a+" l\nsecond "+b+" l\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--no-live", "-o", "json", "-m", m}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("scan of a collision: exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Findings []struct {
			Code        string `json:"code"`
			Suggestions []struct {
				Kind    string `json:"kind"`
				Channel string `json:"channel"`
				Proj    int    `json:"proj"`
				Key     string `json:"key"`
			} `json:"suggestions"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 || rep.Findings[0].Code != "key-collision" || len(rep.Findings[0].Suggestions) == 0 {
		t.Fatalf("no suggestion for the collision: %s", stdout.String())
	}
	// The first proj id offered, after the rekey of the key file.
	sgs := rep.Findings[0].Suggestions
	for len(sgs) > 1 && sgs[0].Kind == "rekey" {
		sgs = sgs[1:]
	}
	sg := sgs[0]
	if sg.Channel != "second" {
		t.Fatalf("suggestion for %q, want the second channel", sg.Channel)
	}
	keys := oracle.Keys(t, []int{'l'}, []string{a})
	moved := oracle.Keys(t, []int{sg.Proj}, []string{b})
	if keys[0].Key == moved[0].Key || fmt.Sprintf("0x%08x", uint32(moved[0].Key)) != sg.Key {
		t.Fatalf("C ftok: first %#x, second with proj %d %#x; suggestion said %s", uint32(keys[0].Key), sg.Proj, uint32(moved[0].Key), sg.Key)
	}
	fixed := filepath.Join(dir, "fixed.manifest")
	if err := os.WriteFile(fixed, []byte(fmt.Sprintf("first %s l\nsecond %s %d\n", a, b, sg.Proj)), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run([]string{"scan", "--no-live", "-o", "text", "-m", fixed}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("scan with the suggested proj %d: exit %d:\n%s", sg.Proj, code, stdout.String())
	}
	if strings.Contains(stdout.String(), "key-collision") {
		t.Errorf("the suggested proj still collides:\n%s", stdout.String())
	}
}

// TestPidView plays a container: a holder in IPC and mount namespaces of
// its own, where a tmpfs hides the host's key file behind another file of
// the same path, makes a segment with the key the C library computes
// there. ipckeys --pid must see that key, that segment and its holder; the
// host's view of the path gives another key, and scan says so.
func TestPidView(t *testing.T) {
	if !nstest.Run(t) {
		return
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed to make the container")
	}
	dir, err := os.MkdirTemp("", "ipckeys-pid")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	key := filepath.Join(dir, "app.key")
	if err := os.WriteFile(key, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	launcher := []string{"unshare", "--ipc", "--mount", "--propagation", "private", "--fork", "sh", "-c",
		`mount -t tmpfs tmpfs "` + dir + `" && : > "` + key + `" && exec "$0" "$@"`}
	h, err := nstest.StartIn(launcher, nil, "shmftok", key, "108", "4096", "0600", "attach", "last")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	inside := fmt.Sprintf("0x%08x", uint32(h.Keys[0]))
	hostKey := oracle.Keys(t, []int{'l'}, []string{key})[0].Key
	if uint32(hostKey) == uint32(h.Keys[0]) {
		t.Fatalf("host and container keys agree (%#x): the test made no difference", uint32(hostKey))
	}
	pid := strconv.Itoa(h.PIDs[0])
	manifest := filepath.Join(dir + "-manifest")
	if err := os.WriteFile(manifest, []byte("app "+key+" l shm 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(manifest)

	runJSON := func(args ...string) (int, map[string]any, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, nil, &stdout, &stderr)
		var doc map[string]any
		_ = json.Unmarshal(stdout.Bytes(), &doc)
		return code, doc, stdout.String() + stderr.String()
	}

	// scan --pid: the container's key, its live segment, and the host's
	// different view of the file.
	code, _, out := runJSON("scan", "--pid", pid, "-o", "json", "-m", manifest)
	if code != 0 {
		t.Fatalf("scan --pid: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		`"key": "` + inside + `"`,
		`"code": "key-view-differs"`,
		`"code": "key-in-use"`,
		fmt.Sprintf(`is already held by shared-memory segment id %d`, h.Shm[0]),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scan --pid lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nattch-mismatch") || strings.Contains(out, "missing-object") {
		t.Errorf("scan --pid found the segment wanting:\n%s", out)
	}

	// ls --pid shows the segment and its holder; plain ls (this
	// namespace) does not.
	_, _, out = runJSON("ls", "--pid", pid, "--shm", "-o", "json")
	if !strings.Contains(out, `"key":"`+inside+`"`) || !strings.Contains(out, fmt.Sprintf(`"pid":%d,`, h.PIDs[0])) {
		t.Errorf("ls --pid does not show the container's segment and holder:\n%s", out)
	}
	_, _, out = runJSON("ls", "--shm", "-o", "json")
	if strings.Contains(out, inside) {
		t.Errorf("ls without --pid shows the container's segment:\n%s", out)
	}
	_, _, out = runJSON("ls", "--all-namespaces", "-o", "json")
	if !strings.HasPrefix(out, "[\n") || !strings.Contains(out, `"key":"`+inside+`"`) || strings.Count(out, `"schema"`) < 2 {
		t.Errorf("ls --all-namespaces does not list both namespaces:\n%s", out)
	}
	// explain --pid finds the live segment; --all-namespaces labels it.
	var stdout, stderr bytes.Buffer
	run([]string{"explain", inside, "--pid", pid}, nil, &stdout, &stderr)
	if !strings.Contains(stdout.String(), fmt.Sprintf("live:         shm id %d, owner root, 4096 bytes, nattch 1, attached: %d (holder)", h.Shm[0], h.PIDs[0])) {
		t.Errorf("explain --pid:\n%s%s", stdout.String(), stderr.String())
	}
	stdout.Reset()
	run([]string{"explain", inside, "--all-namespaces"}, nil, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "live:         ipc:[") {
		t.Errorf("explain --all-namespaces does not label the namespace:\n%s", stdout.String())
	}

	// A process that does not exist is a usage error.
	if code, _, out := runJSON("scan", "--pid", "999999999", "-m", manifest); code != 2 {
		t.Errorf("scan --pid 999999999: exit %d\n%s", code, out)
	}
}

// TestRootView resolves key files under another root, where an absolute
// symbolic link must stay inside the root.
func TestRootView(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	inRoot := filepath.Join(root, "etc", "app.key")
	if err := os.WriteFile(inRoot, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Inside the root, /etc/link points to /etc/app.key: the root's, not
	// the host's (which does not exist).
	if err := os.Symlink("/etc/app.key", filepath.Join(root, "etc", "link")); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(t.TempDir(), "app.manifest")
	if err := os.WriteFile(m, []byte("app /etc/link l\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"key": "0x%08x"`, uint32(oracle.Keys(t, []int{'l'}, []string{inRoot})[0].Key))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--no-live", "--root", root, "-o", "json", "-m", m}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("scan --root: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("scan --root: want %s (the C library on the root's file):\n%s", want, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"scan", "--no-live", "--root", filepath.Join(root, "nope"), "-m", m}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("--root to nowhere: exit %d", code)
	}
}

// TestDocsCICommands ties the CI examples of docs/outputs.md to the script
// that runs them verbatim (testdata/script/static.txtar) on a checkout
// without the hosts' key files: neither can change without the other.
func TestDocsCICommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "docs", "outputs.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "testdata", "script", "static.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var found int
	for _, line := range strings.Split(string(readme), "\n") {
		_, cmd, ok := strings.Cut(line, "ipckeys scan --static")
		if !ok {
			continue
		}
		found++
		want := "exits 0 ipckeys scan --static" + cmd + "\n"
		if !strings.Contains(string(script), want) {
			t.Errorf("the CI command %q of docs/outputs.md is not run verbatim by static.txtar (want a line %q)", strings.TrimSpace(line), strings.TrimSpace(want))
		}
	}
	if found < 2 {
		t.Errorf("docs/outputs.md has %d CI commands with --static, want the GitHub Actions and GitLab ones", found)
	}
}

// TestReportNamesHost: every JSON scan report says which machine, which
// boot and when, read back against the system's own files.
func TestReportNamesHost(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "a.key")
	if err := os.WriteFile(key, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "-o", "json", "--label", "host07", "-p", "l", key}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Host struct {
			Label, Hostname, Time string
			MachineID             string `json:"machine_id"`
			BootID                string `json:"boot_id"`
			IPCNamespace          uint64 `json:"ipc_namespace"`
		} `json:"host"`
		Live struct {
			Checked   bool   `json:"checked"`
			Namespace uint64 `json:"ipc_namespace"`
		} `json:"live"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	h := rep.Host
	hostname, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if h.Label != "host07" || h.Hostname != hostname || h.BootID != strings.TrimSpace(string(boot)) || h.BootID == "" {
		t.Errorf("host %+v; want label host07, hostname %q, boot id %q", h, hostname, boot)
	}
	if mid, err := os.ReadFile("/etc/machine-id"); err == nil && h.MachineID != strings.TrimSpace(string(mid)) {
		t.Errorf("machine id %q, /etc/machine-id says %q", h.MachineID, mid)
	}
	if when, err := time.Parse(time.RFC3339, h.Time); err != nil || time.Since(when) > time.Minute || time.Since(when) < -time.Minute {
		t.Errorf("time %q: %v", h.Time, err)
	}
	if rep.Live.Checked && h.IPCNamespace != rep.Live.Namespace {
		t.Errorf("host ipc_namespace %d, live %d", h.IPCNamespace, rep.Live.Namespace)
	}
}
