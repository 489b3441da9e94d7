package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/report"
)

var keyCommand = &command{
	name:    "key",
	summary: "show the ftok keys of paths",
	usage: `Usage: ipckeys key [-p PROJ]... [-o table|json] PATH...

Shows, for each path and proj id, the key ftok(3) gives: as ipcs prints it
(0x6c014001) and as /proc/sysvipc prints it (signed decimal), with the
device (major:minor), the inode and the fingerprint (device byte and inode
low 16 bits) it is made of. Symbolic links are followed, as ftok does.
Without -p only the fingerprint is shown.

A path ftok cannot use is shown with key 0xffffffff (-1, ftok's error
return) and makes the exit status 1.

Flags:
  -p, --proj PROJ     proj id, repeatable: l, '1', 108 or 0x6c
  -o, --output FMT    table (default) or json
`,
	run: runKey,
}

func runKey(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	projFlags := fs.StringArrayP("proj", "p", nil, "")
	output := fs.StringP("output", "o", "table", "")
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if *output != "table" && *output != "json" {
		return fail(stderr, usagef("key: -o %q: use table or json", *output))
	}
	if fs.NArg() == 0 {
		return fail(stderr, usagef("key: no path given: name the files programs pass to ftok (ipckeys key -p l /etc/app/a.conf)"))
	}
	// Patterns are expanded as scan, ls and explain expand them; a file
	// whose name holds a '*' is still found when it exists as written.
	// key shows the keys of the files themselves, configs included.
	got, err := configured(request{projFlags: *projFlags, args: fs.Args()})
	if err != nil {
		return fail(stderr, err)
	}
	entries := got.entries
	status := exitClean
	reported := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if !e.OK() && !reported[e.Path] {
			reported[e.Path] = true
			if e.Pattern != "" && e.Err == ipcscan.ErrNoMatch {
				fmt.Fprintf(stderr, "ipckeys: pattern %s matches no file\n", audit.Display(e.Pattern))
			} else {
				fmt.Fprintf(stderr, "ipckeys: %s: %v (ftok would return -1 for it)\n", audit.Display(e.Path), e.Err)
			}
			status = exitFindings
		}
	}
	if *output == "json" {
		err = writeEntriesJSON(stdout, entries)
	} else {
		err = report.KeyTable(stdout, entries)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return status
}

// writeEntriesJSON writes the entries as report.WriteJSON writes a slice of
// their report.Entry values, byte for byte, but one entry at a time: the
// keys of a glob of a million files are not a million report entries and
// their whole encoding in memory at once.
func writeEntriesJSON(w io.Writer, entries []audit.Entry) error {
	if len(entries) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	out := bufio.NewWriterSize(w, 64<<10)
	var one bytes.Buffer
	enc := json.NewEncoder(&one)
	// Inside the array every line of an entry is indented once more.
	enc.SetIndent("  ", "  ")
	enc.SetEscapeHTML(false)
	out.WriteString("[\n")
	for i := range entries {
		one.Reset()
		if err := enc.Encode(report.NewEntry(&entries[i])); err != nil {
			return err
		}
		out.WriteString("  ")
		out.Write(bytes.TrimSuffix(one.Bytes(), []byte("\n")))
		if i < len(entries)-1 {
			out.WriteByte(',')
		}
		out.WriteByte('\n')
	}
	out.WriteString("]\n")
	return out.Flush()
}
