package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/internal/reftool"
)

// fleetDataLimit bounds (RLIMIT_DATA) the fleet runs of TestFleetCaps:
// the runtime and a hosts list of a million names fit; reading a sparse
// 2 GiB input, or an endless one, to its end would not.
const fleetDataLimit = 512 << 20

// TestFleetCaps runs the built binary (not the race-instrumented test
// binary) under prlimit --data on inputs over the fleet's caps: sparse
// files of 2 GiB, /dev/zero and endless streams on standard input. Each
// fails at once, exit status 2, with one line naming the input and its
// cap; zeros are not JSON, and leave a host not checked.
func TestFleetCaps(t *testing.T) {
	prlimit := reftool.Need(t, "prlimit", "util-linux")
	dir := t.TempDir()
	bin := builtBinary(t, dir)
	sparse := func(name string) string { return sparseFile(t, dir, name, "") }
	report := sparse("h07.json")
	reports := filepath.Join(dir, "reports")
	if err := os.Mkdir(reports, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(sparse("h08.json"), filepath.Join(reports, "h08.json")); err != nil {
		t.Fatal(err)
	}
	hosts := sparse("hosts")
	a := filepath.Join(dir, "a.json")
	writeFile(t, a, `{"schema":"ipckeys/scan/v1","host":{"label":"a","time":"`+time.Now().UTC().Format(time.RFC3339)+`"},"entries":[],"findings":[],"live":{"checked":false}}`)
	names := func(w io.Writer) error { // a million and one host names
		var b bytes.Buffer
		for i := range 1_000_001 {
			fmt.Fprintf(&b, "h%07d\n", i)
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	endless := func(head, unit string) func(io.Writer) error {
		return func(w io.Writer) error {
			if _, err := io.WriteString(w, head); err != nil {
				return err
			}
			u := []byte(strings.Repeat(unit, (64<<10)/len(unit)))
			for {
				if _, err := w.Write(u); err != nil {
					return err
				}
			}
		}
	}
	big := `"` + strings.Repeat("a", 4<<10) + `",`
	// Reports of 200 MiB, one after another, without end.
	stream := func(w io.Writer) error {
		units := []byte(strings.Repeat(big, 16))
		for {
			if _, err := io.WriteString(w, `{"schema":"ipckeys/scan/v1","x":[`); err != nil {
				return err
			}
			for range (200 << 20) / len(units) {
				if _, err := w.Write(units); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(w, `""]}`); err != nil {
				return err
			}
		}
	}
	for _, tc := range []struct {
		name  string
		stdin func(io.Writer) error // nil: none; zero: /dev/zero
		zero  bool
		args  []string
		code  int
		out   string // a line of stdout, or ""
		err   string
	}{
		{name: "report-sparse", args: []string{report}, code: 2,
			err: "ipckeys: " + report + ": larger than the 256 MiB a report file may have; check what wrote it (a scan report of 100,000 paths is about 130 MB)\n"},
		{name: "dir-sparse", args: []string{reports}, code: 2,
			err: "ipckeys: " + filepath.Join(reports, "h08.json") + ": larger than the 256 MiB a report file may have; check what wrote it (a scan report of 100,000 paths is about 130 MB)\n"},
		{name: "stdin-zero", zero: true, args: []string{"-"}, code: 2,
			out: `not checked: <stdin> document 1: not a JSON report: invalid character '\x00' looking for beginning of value`},
		{name: "stdin-endless-report", stdin: endless(`{"schema":"ipckeys/scan/v1","x":[`, big), args: []string{"-"}, code: 2,
			err: "ipckeys: <stdin> document 1: larger than the 256 MiB a report may have; check what wrote it (a scan report of 100,000 paths is about 130 MB)\n"},
		{name: "stdin-endless-stream", stdin: stream, args: []string{"-"}, code: 2,
			err: "ipckeys: <stdin>: larger than the 1 GiB standard input may have; give the reports as files or directories\n"},
		{name: "hosts-file-sparse", args: []string{"--hosts-file", hosts, a}, code: 2,
			err: "ipckeys: --hosts-file " + hosts + ": larger than the 16 MiB a hosts file may have; give one host name per line\n"},
		{name: "hosts-file-zero", zero: true, args: []string{"--hosts-file", "-", a}, code: 2,
			err: "ipckeys: --hosts-file -:1: line longer than 65536 bytes; give one host name per line\n"},
		{name: "hosts-file-endless", stdin: endless("", "# a comment\n"), args: []string{"--hosts-file", "-", a}, code: 2,
			err: "ipckeys: --hosts-file -: larger than the 16 MiB a hosts file may have; give one host name per line\n"},
		{name: "hosts-file-names", stdin: names, args: []string{"--hosts-file", "-", a}, code: 2,
			err: "ipckeys: --hosts-file -:1000001: more than the 1,000,000 hosts the inventory may have; split the fleet and run ipckeys fleet per part\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(prlimit, append([]string{"--data=" + strconv.Itoa(fleetDataLimit), "--", bin, "fleet", "-o", "text"}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var feed *os.File
			switch {
			case tc.zero:
				f, err := os.Open("/dev/zero")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd.Stdin = f
			case tc.stdin != nil:
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stdin, feed = r, w
				defer r.Close()
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if feed != nil {
				cmd.Stdin.(*os.File).Close()
				go func() {
					tc.stdin(feed)
					feed.Close()
				}()
			}
			err := cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || stderr.String() != tc.err || (tc.out != "" && !strings.Contains("\n"+stdout.String(), "\n"+tc.out+"\n")) {
				t.Errorf("ipckeys fleet %s: exit %d, stderr %q, stdout %q\nwant exit %d, stderr %q, stdout line %q",
					strings.Join(tc.args, " "), code, stderr.String(), stdout.String(), tc.code, tc.err, tc.out)
			}
		})
	}
}

// TestFleetFutureReport: a clean report dated 9999-12-31 does not hide
// the host's current report, which has an error (exit 1); alone it leaves
// the host not checked (exit 2).
func TestFleetFutureReport(t *testing.T) {
	dir := t.TempDir()
	rep := func(name, when, findings string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, `{"schema":"ipckeys/scan/v1","host":{"label":"web1","machine_id":"m1","time":"`+when+`"},"entries":[],"findings":[`+findings+`],"live":{"checked":false}}`)
		return p
	}
	future := rep("future.json", "9999-12-31T00:00:00Z", "")
	current := rep("current.json", time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		`{"code":"stale-object","severity":"error","key":"0x00001234","message":"segment 4 is stale","entries":[],"object":{"facility":"shm","id":4,"key":"0x00001234"}}`)
	var stdout, stderr bytes.Buffer
	code := run([]string{"fleet", "-o", "text", "--max-age", "30m", future, current}, nil, &stdout, &stderr)
	if code != 1 || stderr.Len() != 0 || !strings.Contains(stdout.String(), "\nnote: web1: 2 reports; the newest ("+current+") is used, not "+future+" (dated in the future, 9999-12-31T00:00:00Z)\n") ||
		!strings.Contains(stdout.String(), "stale-object") {
		t.Errorf("future and current: exit %d, stderr %q, stdout:\n%s", code, stderr.String(), stdout.String())
	}
	stdout.Reset()
	code = run([]string{"fleet", "-o", "text", "--max-age", "30m", future}, nil, &stdout, &stderr)
	want := "\nnot checked: web1: dated in the future (9999-12-31T00:00:00Z, more than 292 years ahead of this machine's clock, more than --max-skew 5m0s): correct the clock of the host or of this machine\n"
	if code != 2 || stderr.Len() != 0 || !strings.Contains("\n"+stdout.String(), want) {
		t.Errorf("future alone: exit %d, stderr %q, stdout:\n%s", code, stderr.String(), stdout.String())
	}
	code = run([]string{"fleet", "-o", "text", "--max-skew", "-1s", future}, nil, &stdout, &stderr)
	if code != 2 || stderr.String() != "ipckeys: fleet: --max-skew -1s: give a duration of 0 or more (5m, 1h)\n" {
		t.Errorf("--max-skew -1s: exit %d, stderr %q", code, stderr.String())
	}
}
