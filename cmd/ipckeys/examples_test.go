package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/cbuild"
	"github.com/ipckeys/ipckeys/internal/nstest"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the example outputs in README.md and docs/*.md from real runs (docs/examples.sh)")

// A docExample is an example in the documentation: the commands shown,
// run for real in a setting made for it, with their output as a terminal
// shows it. In the Markdown it sits between
//
//	<!-- example: NAME -->
//	<!-- /example -->
//
// as one fenced block, "$ COMMAND" lines followed by what they printed.
type docExample struct {
	name string
	// setup makes the files the commands read, in dir (the working
	// directory), and returns shell lines that run before the commands,
	// unseen (starting holder processes), and the values that vary from
	// run to run that the output must not show unnormalised.
	setup func(t *testing.T, dir string) (hidden string, varying []string)
	cmds  []string
}

var docExamples = []docExample{
	{
		name: "scan-collision",
		setup: func(t *testing.T, dir string) (string, []string) {
			// Two key files whose inodes agree in their low 16 bits,
			// and a third that collides with neither.
			b, c := makeDocCollision(t, filepath.Join(dir, "app"), "b.conf", "c.conf")
			a := filepath.Join(dir, "app", "a.conf")
			writeFile(t, a, "")
			if docInode(t, a)&0xffff == docInode(t, b)&0xffff {
				t.Fatalf("a.conf collides with b.conf by chance: run again")
			}
			return "", docInodes(t, a, b, c)
		},
		cmds: []string{`ipckeys scan -p l 'app/*.conf'`, `echo $?`},
	},
	{
		name:  "incident-manifest",
		setup: incidentSetting,
		cmds:  []string{`cat app.manifest`},
	},
	{
		name:  "scan-incident",
		setup: incidentSetting,
		cmds:  []string{`ipckeys scan -m app.manifest`},
	},
	{
		name:  "ls-shm",
		setup: incidentSetting,
		cmds:  []string{`ipckeys ls --shm -m app.manifest`},
	},
	{
		name:  "explain-key",
		setup: incidentSetting,
		cmds:  []string{`ipckeys explain $KEY --search keys -m app.manifest`},
	},
}

// incidentSetting is the incident of the README: the key files of two
// channels collide, and one process of each attaches to the segment.
func incidentSetting(t *testing.T, dir string) (string, []string) {
	orders, audit := makeDocCollision(t, filepath.Join(dir, "keys"), "orders.conf", "audit.conf")
	writeFile(t, filepath.Join(dir, "app.manifest"), "# name  path              proj  type  nattch  owner\n"+
		"orders  keys/orders.conf  l     shm   1       root\n"+
		"audit   keys/audit.conf   l     shm   1       root\n")
	holder, err := cbuild.Build(cbuild.Source("holder/holder.c"))
	if err != nil {
		if errors.Is(err, cbuild.ErrNoCompiler) && os.Getenv(nstest.RequireEnv) == "" {
			t.Skipf("the examples' holder processes need a C compiler: %v", err)
		}
		t.Fatal(err)
	}
	// Each holder reads a FIFO the shell keeps open, so it holds its
	// attachment until the shell ends, and writes its lines to another,
	// read with the shell's own read: no process is started in between,
	// so the holders' pids are the same at every run (3 and 4).
	hidden := fmt.Sprintf(`mkfifo .hold .o1 .o2
exec 3<>.hold
%[1]s shmftok keys/orders.conf 108 65536 0600 attach last <.hold >.o1 &
exec 4<.o1
while read -r w v <&4; do case $w in key) k=$v ;; ready) break ;; esac; done
%[1]s attach 0 <.hold >.o2 &
exec 5<.o2
while read -r w v <&5; do case $w in ready) break ;; esac; done
KEY=$(printf '0x%%08x' $((k & 0xffffffff)))
`, holder)
	return hidden, docInodes(t, orders, audit)
}

// makeDocCollision is makeCollision for the examples: two files in dir
// whose inode numbers agree in their low 16 bits.
func makeDocCollision(t *testing.T, dir, a, b string) (string, string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pa, pb, _, err := makeCollision(dir, a, b)
	if err != nil {
		t.Fatal(err)
	}
	return pa, pb
}

func docInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func docInodes(t *testing.T, paths ...string) []string {
	var v []string
	for _, p := range paths {
		v = append(v, strconv.FormatUint(docInode(t, p), 10))
	}
	return v
}

// TestDocsExamples runs every example of README.md and docs/*.md for real
// and fails when the output committed there is not what the commands print
// now: docs/examples.sh (go test -run TestDocsExamples -update-docs)
// rewrites them. What differs from machine to machine and run to run
// (inode and device numbers, the keys and fingerprints made of them,
// namespace inodes) is replaced by placeholders on both sides, and table
// padding is not compared (wider inode numbers widen a column); every word
// and count is.
func TestDocsExamples(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatalf("%s is set but the tests do not run as root", nstest.RequireEnv)
		}
		t.Skip("the examples run in private IPC, pid, mount and network namespaces: run as root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to run the examples in private namespaces: %v", err)
	}
	root := filepath.Join("..", "..")
	docs := docFiles(t, root)
	// Every marker names an example, and every example is in the docs once.
	seen := map[string]string{}
	for _, f := range docs {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range exampleMarker.FindAllStringSubmatch(string(data), -1) {
			if !slices.ContainsFunc(docExamples, func(e docExample) bool { return e.name == m[1] }) {
				t.Errorf("%s: example %q is not one TestDocsExamples runs", f, m[1])
			}
			if prev, ok := seen[m[1]]; ok {
				t.Errorf("example %q is in %s and %s: name each once", m[1], prev, f)
			}
			seen[m[1]] = f
		}
	}
	for _, e := range docExamples {
		if seen[e.name] == "" {
			t.Errorf("example %s is in no page: put <!-- example: %s --> <!-- /example --> where it belongs", e.name, e.name)
		}
	}
	if t.Failed() {
		return
	}
	bin := filepath.Join(t.TempDir(), "bin")
	copyExecutable(t, filepath.Join(bin, "ipckeys"))
	outputs := map[string]string{}
	for _, e := range docExamples {
		out, varying := runDocExample(t, e, bin)
		norm := normaliseExample(out)
		for _, v := range varying {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(v) + `\b`).MatchString(norm) {
				t.Errorf("example %s: %s, which changes from run to run, is left in the output after normalising:\n%s", e.name, v, norm)
			}
		}
		outputs[e.name] = out
	}
	for _, f := range docs {
		committed, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := fillExamples(string(committed), outputs)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if *updateDocs {
			if fresh != string(committed) {
				if err := os.WriteFile(f, []byte(fresh), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s", f)
			}
			continue
		}
		// The page regenerated, in a temporary copy, against the page
		// committed.
		copyPath := filepath.Join(t.TempDir(), filepath.Base(f))
		if err := os.WriteFile(copyPath, []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
		regenerated, err := os.ReadFile(copyPath)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffExamples(string(committed), string(regenerated)); d != "" {
			t.Errorf("%s: the example outputs are not what the commands print now; run docs/examples.sh and commit the result:\n%s", f, d)
		}
	}
}

func docFiles(t *testing.T, root string) []string {
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(root, "README.md")}, pages...)
}

var exampleMarker = regexp.MustCompile(`<!-- example: ([a-z0-9-]+) -->`)

// fillExamples puts each example's output between its markers, as one
// fenced block, and leaves the rest of the page as it is.
func fillExamples(page string, outputs map[string]string) (string, error) {
	var b strings.Builder
	rest := page
	for {
		m := exampleMarker.FindStringSubmatchIndex(rest)
		if m == nil {
			b.WriteString(rest)
			return b.String(), nil
		}
		name := rest[m[2]:m[3]]
		b.WriteString(rest[:m[1]])
		rest = rest[m[1]:]
		end := strings.Index(rest, "<!-- /example -->")
		if end < 0 {
			return "", fmt.Errorf("example %s has no <!-- /example --> after it", name)
		}
		out, ok := outputs[name]
		if !ok {
			return "", fmt.Errorf("no example named %s", name)
		}
		b.WriteString("\n```\n" + out + "```\n")
		rest = rest[end:]
	}
}

// runDocExample makes the example's setting and runs its commands as a
// terminal would show them, in private IPC, pid, mount and network
// namespaces (a fresh IPC namespace, pids counted from 1), with the
// working directory on ext4 (the filesystem the examples show).
func runDocExample(t *testing.T, e docExample, bin string) (string, []string) {
	t.Helper()
	dir := ext4Dir(t)
	hidden, varying := e.setup(t, dir)
	var script strings.Builder
	// The setting, unseen: the working directory bound on /srv (a fixed
	// path for the output to show), then the example's own steps.
	script.WriteString("set -e\n{\nmount --bind \"$PWD\" /srv\ncd /srv\n" + hidden + "} >.setup.log 2>&1\nset +e\ns=0\n")
	for _, c := range e.cmds {
		// The command as typed, with $KEY shown as its value; then the
		// command, with $? the status of the one before.
		shown := strings.ReplaceAll(shellQuote("$ "+c), "$KEY", `'"$KEY"'`)
		fmt.Fprintf(&script, "printf '%%s\\n' %s\n(exit $s)\n%s\ns=$?\n", shown, c)
	}
	out, err := onTerminal(dir, []string{
		"PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "NO_COLOR=1", "HOME=" + dir, "TERM=dumb",
	}, "unshare", "--ipc", "--pid", "--mount", "--net", "--fork", "--mount-proc", "sh", "-c", script.String())
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, ".setup.log"))
		t.Fatalf("example %s: %v:\n%s\nsetting up:\n%s", e.name, err, out, log)
	}
	return out, append(varying, dir)
}

// ext4Dir returns a fresh directory on ext4: the temporary directory, or
// one under /var/tmp.
func ext4Dir(t *testing.T) string {
	t.Helper()
	for _, parent := range []string{"", "/var/tmp"} {
		dir, err := os.MkdirTemp(parent, "ipckeys-doc")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.EXT4_SUPER_MAGIC {
			return dir
		}
	}
	if os.Getenv(nstest.RequireEnv) != "" {
		t.Fatalf("the examples show key files on ext4, and neither %s nor /var/tmp is ext4", os.TempDir())
	}
	t.Skipf("the examples show key files on ext4, and neither %s nor /var/tmp is ext4", os.TempDir())
	return ""
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// onTerminal runs argv with standard output and error on a new
// pseudo-terminal, and returns what it printed there.
func onTerminal(dir string, env []string, argv ...string) (string, error) {
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return "", fmt.Errorf("open a pseudo-terminal: %v", err)
	}
	defer ptm.Close()
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return "", err
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		return "", err
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return "", err
	}
	// Lines end in \n as in a file, not \r\n.
	tio, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
	if err != nil {
		pts.Close()
		return "", err
	}
	tio.Oflag &^= unix.ONLCR
	if err := unix.IoctlSetTermios(int(pts.Fd()), unix.TCSETS, tio); err != nil {
		pts.Close()
		return "", err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		pts.Close()
		return "", err
	}
	pts.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, ptm)
		// The terminal reports EIO once every process has closed it.
		if errors.Is(err, syscall.EIO) {
			err = nil
		}
		done <- err
	}()
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	werr := cmd.Wait()
	rerr := <-done
	if werr != nil {
		return out.String(), fmt.Errorf("%s: %v", strings.Join(argv[:2], " "), werr)
	}
	return out.String(), rerr
}

// What differs between runs and machines, and its placeholder.
var exampleVarying = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b(ipc|net|mnt|pid|user|uts|cgroup):\[\d+\]`), "$1:[NS]"},
	{regexp.MustCompile(`\b\d+:\d+\b`), "MAJ:MIN"},
	// A key keeps its proj byte; the rest comes from the file.
	{regexp.MustCompile(`\b0x([0-9a-f]{2})[0-9a-f]{6}\b`), "0x${1}XXXXXX"},
	{regexp.MustCompile(`\(-?\d{5,}\)`), "(KEY)"},
	// Fingerprints, inode numbers and their low bits.
	{regexp.MustCompile(`\b0x[0-9a-f]{4,7}\b`), "0xINO"},
	{regexp.MustCompile(`(device byte:?\s+)0x[0-9a-f]{2}`), "${1}0xDEV"},
	{regexp.MustCompile(`(minor ends in )0x[0-9a-f]{2}`), "${1}0xDEV"},
	{regexp.MustCompile(`\b\d+( modulo 65536)`), "INO$1"},
	{regexp.MustCompile(`(ino |INODE\s)\d+\b`), "${1}INO"},
	{regexp.MustCompile(`\b\d{4,}\b`), "INO"},
	// The filesystems whose minor ends in the device byte: one per
	// machine's disks, as many as it has.
	{regexp.MustCompile(`(?m)^(\s*filesystem:\s+).*\n(\s*filesystem:.*\n)*`), "${1}FILESYSTEMS\n"},
}

// normaliseExample replaces what varies with placeholders and drops the
// table padding: box-drawing characters and runs of blanks.
func normaliseExample(s string) string {
	// The box drawing goes first: a table wraps a message wherever its
	// column ends, so "device byte" and its value may stand on two rows
	// with a border between them, depending on the length of the paths.
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune("│┌┬┐├┼┤└┴┘─", r) {
			return ' '
		}
		return r
	}, s)
	for _, v := range exampleVarying {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return strings.Join(strings.Fields(s), " ")
}

// diffExamples compares two versions of a page example by example,
// normalised, and says where they part.
func diffExamples(committed, fresh string) string {
	a, b := splitExamples(committed), splitExamples(fresh)
	var d strings.Builder
	for name, fa := range a {
		na, nb := normaliseExample(fa), normaliseExample(b[name])
		if na == nb {
			continue
		}
		i := 0
		for i < len(na) && i < len(nb) && na[i] == nb[i] {
			i++
		}
		from := max(0, i-80)
		fmt.Fprintf(&d, "example %s, normalised, from byte %d:\n  in the page: %s\n  real run:    %s\n", name, i, clip(na[from:], 240), clip(nb[from:], 240))
	}
	return d.String()
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// splitExamples returns each example's text between its markers.
func splitExamples(page string) map[string]string {
	m := map[string]string{}
	for _, loc := range exampleMarker.FindAllStringSubmatchIndex(page, -1) {
		rest := page[loc[1]:]
		end := strings.Index(rest, "<!-- /example -->")
		if end < 0 {
			end = len(rest)
		}
		m[page[loc[2]:loc[3]]] = rest[:end]
	}
	return m
}

// The comparison catches what drifts: a count, a line that is new or gone.
func TestDocsExamplesCatchDrift(t *testing.T) {
	page := "intro\n<!-- example: x -->\n```\n$ ipckeys scan -p l 'app/*.conf'\n" +
		"│ error    │ key-collision │ 0x6c00e001 │ app/b.conf (proj 108 'l', dev 254:0, ino 9953281 = 0x97e001) │\n" +
		"live: checked against /proc/sysvipc in IPC namespace ipc:[4026532178]\n" +
		"FAIL: 3 entries, 1 error, 0 warnings, 0 info (--fail-on error)\n```\n<!-- /example -->\nend\n"
	// Another machine: other inode, device and namespace numbers, and a
	// wider column.
	same := "$ ipckeys scan -p l 'app/*.conf'\n" +
		"│ error    │ key-collision   │ 0x6c01a0b3 │ app/b.conf (proj 108 'l', dev 8:1, ino 12361907 = 0xbca0b3) │\n" +
		"live: checked against /proc/sysvipc in IPC namespace ipc:[4026531839]\n" +
		"FAIL: 3 entries, 1 error, 0 warnings, 0 info (--fail-on error)\n"
	fresh, err := fillExamples(page, map[string]string{"x": same})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffExamples(page, fresh); d != "" {
		t.Errorf("the same output on another machine differs:\n%s", d)
	}
	if !strings.HasPrefix(fresh, "intro\n<!-- example: x -->\n```\n$ ipckeys") || !strings.HasSuffix(fresh, "```\n<!-- /example -->\nend\n") {
		t.Errorf("fillExamples changed the page around the example:\n%s", fresh)
	}
	for _, drift := range []struct{ from, to string }{
		{"0 info", "2 info"},
		{"live: checked against /proc/sysvipc in IPC namespace ipc:[4026531839]\n", ""},
		{"proj 108 'l'", "proj 109 'm'"},
		{"0x6c01a0b3", "0x6d01a0b3"},
		{"key-collision", "fingerprint-collision"},
	} {
		out, _ := fillExamples(page, map[string]string{"x": strings.Replace(same, drift.from, drift.to, 1)})
		if diffExamples(page, out) == "" {
			t.Errorf("%q changed to %q is not caught", drift.from, drift.to)
		}
	}
	if _, err := fillExamples("<!-- example: x -->\n", map[string]string{"x": ""}); err == nil {
		t.Error("an example without its end marker is not an error")
	}
}

// TestNormaliseAcrossTableRows: a value a table wrapped onto the next row,
// behind a border, is normalised as when it stands beside its words.
func TestNormaliseAcrossTableRows(t *testing.T) {
	wrapped := "│ same device byte │\n│ 0x00 and inode low 16 bits 0x6054 │"
	inline := "│ same device byte 0x01 and │\n│ inode low 16 bits 0x4001 │"
	if a, b := normaliseExample(wrapped), normaliseExample(inline); a != b {
		t.Errorf("normalised differently:\n %q\n %q", a, b)
	}
}
