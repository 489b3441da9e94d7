package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/reftool"
	"github.com/ipckeys/ipckeys/report"
)

// dataLimit is the kernel's bound (RLIMIT_DATA: the heap and every other
// private writable mapping) on the ipckeys runs of TestInputCaps. The Go
// runtime itself needs some 100 MiB of it, a manifest of MaxSize (128 MiB)
// from standard input twice its size; reading an endless or sparse input to
// its end, or past the cap, would need gigabytes and die.
const dataLimit = 512 << 20

// TestInputCaps runs the built binary (not the race-instrumented test
// binary, whose shadow memory no such limit fits) under prlimit --data on
// inputs that never end (/dev/zero, an endless stream of comment lines on
// standard input) and sparse files of 2 GiB that cost no disk: each must
// fail at once with exit status 2 and one line naming the input, its cap
// and what to do.
func TestInputCaps(t *testing.T) {
	prlimit := reftool.Need(t, "prlimit", "util-linux")
	dir := t.TempDir()
	bin := builtBinary(t, dir)
	manifest := filepath.Join(dir, "app.manifest")
	if err := os.WriteFile(manifest, []byte("orders "+manifest+" l\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := func(name, head string) string { return sparseFile(t, dir, name, head) }
	bigManifest := sparse("big.manifest", "")
	bigIgnore := sparse("big.ignore", "")
	// A config's first 64 KiB decide that it is one: text, and an
	// extension that names a format.
	bigConfig := sparse("big.toml", strings.Repeat("# generated\n", 64<<10/12+1))
	bigBinary := sparse("big.conf", "")
	for _, tc := range []struct {
		name  string
		stdin string // "zero": /dev/zero; "comments": an endless "#\n" stream
		args  []string
		code  int
		want  string
	}{
		{"manifest-stdin-zero", "zero", []string{"scan", "--no-live", "-m", "-"}, 2,
			"ipckeys: <stdin>:1: line longer than 65536 bytes\n"},
		{"manifest-stdin-endless", "comments", []string{"scan", "--no-live", "-m", "-"}, 2,
			"ipckeys: <stdin>: larger than the 128 MiB a manifest may have; split it into several, each given with -m\n"},
		{"manifest-sparse", "", []string{"scan", "--no-live", "-m", bigManifest}, 2,
			"ipckeys: " + bigManifest + ": larger than the 128 MiB a manifest may have; split it into several, each given with -m\n"},
		{"manifest-device", "", []string{"scan", "--no-live", "-m", "/dev/zero"}, 2,
			"ipckeys: manifest /dev/zero: is a character device, not a regular file: check the -m path\n"},
		{"ignore-stdin-zero", "zero", []string{"scan", "--no-live", "-m", manifest, "--ignore-file", "-"}, 2,
			"ipckeys: <stdin>:1: line longer than 65536 bytes\n"},
		{"ignore-stdin-endless", "comments", []string{"scan", "--no-live", "-m", manifest, "--ignore-file", "-"}, 2,
			"ipckeys: <stdin>: larger than the 16 MiB an ignore file may have; remove the entries that match no finding\n"},
		{"ignore-sparse", "", []string{"scan", "--no-live", "-m", manifest, "--ignore-file", bigIgnore}, 2,
			"ipckeys: " + bigIgnore + ": larger than the 16 MiB an ignore file may have; remove the entries that match no finding\n"},
		{"config-sparse", "", []string{"scan", "--no-live", "-p", "l", bigConfig}, 2,
			"ipckeys: " + bigConfig + ": larger than the 64 MiB a configuration file may have; shorten it, or give it as a key file in a manifest (-m)\n"},
		// Zeros are binary data: a key file, not a config, whatever its
		// size; it is not read past its first 64 KiB.
		{"binary-sparse", "", []string{"key", "-p", "l", bigBinary}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(prlimit, append([]string{"--data=" + strconv.Itoa(dataLimit), "--", bin}, tc.args...)...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var feed *os.File
			switch tc.stdin {
			case "zero":
				f, err := os.Open("/dev/zero")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd.Stdin = f
			case "comments":
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
					line := bytes.Repeat([]byte("#\n"), 32<<10)
					for {
						if _, err := feed.Write(line); err != nil {
							feed.Close()
							return
						}
					}
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
			if code != tc.code || stderr.String() != tc.want {
				t.Errorf("ipckeys %s: exit %d, stderr %q; want exit %d, %q", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.want)
			}
		})
	}
}

// TestKeyJSONStreams: key -o json writes entry by entry exactly the bytes
// report.WriteJSON writes for the whole slice.
func TestKeyJSONStreams(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, name := range []string{"a.conf", "b", "\xff.bin", "c d<&>"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	args = append(args, filepath.Join(dir, "missing"), filepath.Join(dir, "*.none"))
	got, err := configured(request{projFlags: []string{"l", "1"}, args: args})
	if err != nil {
		t.Fatal(err)
	}
	for _, entries := range [][]audit.Entry{got.entries, got.entries[:1], nil} {
		var want, stream bytes.Buffer
		out := make([]report.Entry, len(entries))
		for i := range entries {
			out[i] = report.NewEntry(&entries[i])
		}
		if err := report.WriteJSON(&want, out); err != nil {
			t.Fatal(err)
		}
		if err := writeEntriesJSON(&stream, entries); err != nil {
			t.Fatal(err)
		}
		if stream.String() != want.String() {
			t.Errorf("%d entries: streamed\n%s\nwant\n%s", len(entries), stream.String(), want.String())
		}
	}
	if len(got.entries) < 10 {
		t.Errorf("%d entries, want 12: the comparison covers too little", len(got.entries))
	}
}
