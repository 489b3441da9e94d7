package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/endpoint"
	"github.com/ipckeys/ipckeys/explain"
	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/report"
)

var explainCommand = &command{
	name:    "explain",
	summary: "say where a key comes from: its parts, filesystems, live objects and files",
	usage: `Usage: ipckeys explain KEY... [--search DIR]... [--cross-mounts] [-m MANIFEST]... [-p PROJ -f PATH]... [-o table|json]
       ipckeys explain SOCKET... [-o table|json]

Takes keys apart and says where they can come from. A KEY is written as ipcs
prints it (0x6c014001) or as /proc/sysvipc does (signed decimal). For each:

  - the proj byte (and its character), the device byte, the inode low bits;
  - the mounted filesystems whose device minor ends in that byte (the
    major never counts), from /proc/self/mountinfo;
  - the live objects with that key in this IPC namespace, and who is
    attached (a removed segment counts by the key its holders still map);
  - the configured channels and paths (-m, -p with -f) that give the key;
  - with --search, every file under the given directories whose ftok with
    the key's proj gives the key. The search reads inode numbers from the
    directory entries and stats only candidates; it stays on each
    directory's filesystem unless --cross-mounts is given. Unreadable
    directories are counted, not fatal. Symbolic links are not followed:
    a link gives the key of its target, which is found under its own name.

A SOCKET is tcp:5555, :5555 (any protocol), tcp:127.0.0.1:5555,
tcp:[::1]:5555, udp:53, /run/app.sock (or unix:/path, unix:@abstract), or
socket:[12345] as /proc/PID/fd shows it. For each matching socket: every
process holding it, through which descriptor and whether close-on-exec is
set, how the holders descend from each other (a (100) → sh (229) → b (230)),
the accept queue, and the likely story: an inherited listener that keeps a
port taken, a dead server whose listener still accepts, CLOSE_WAIT leaks.

Flags:
      --search DIR        search this tree for the key's files, repeatable
      --cross-mounts      let the search enter other filesystems
  -m, --manifest FILE     channel manifest, repeatable
  -p, --proj PROJ         proj id for the -f paths, repeatable
  -f, --file PATH         a key file, or an application config naming key
                          files, to hold against the keys, repeatable
  -o, --output FMT        table (default) or json
      --all-namespaces    look for live objects in every IPC namespace
` + configUsage + viewUsage + `
With --pid, the filesystems are those of the process's mount namespace.

A port with many connections (six or more of one protocol on one local
address) is summarised in one block: counts by state and by holder, the
longest-running holder first, and a holder's CLOSE_WAIT pile is set
against its open-files limit; -o json still lists every socket.

Exit status: 0; 1 for a SOCKET that matches no socket (one line on
stderr, as for a missing key file); 2 for a key that cannot be read or a
search root that is not a directory.
`,
	run: runExplain,
}

func runExplain(c *command, args []string, stdout, stderr io.Writer) int {
	fl := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	searchRoots := fl.StringArray("search", nil, "")
	cross := fl.Bool("cross-mounts", false, "")
	manifests := fl.StringArrayP("manifest", "m", nil, "")
	projFlags := fl.StringArrayP("proj", "p", nil, "")
	files := fl.StringArrayP("file", "f", nil, "")
	output := fl.StringP("output", "o", "table", "")
	v := addViewFlags(fl, true)
	cf := addConfigFlags(fl)
	if done, err := parseFlags(fl, c, negativeKeysLast(fl, args), stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if *output != "table" && *output != "json" {
		return fail(stderr, usagef("explain: -o %q: use table or json", *output))
	}
	if err := v.check(); err != nil {
		return fail(stderr, err)
	}
	if fl.NArg() == 0 {
		return fail(stderr, usagef("explain: no key given: write it as ipcs prints it (0x6c014001) or as /proc/sysvipc does (-559038737), or name a socket (tcp:5555, /run/app.sock)"))
	}
	var keys []int32
	var sockets []endpoint.Endpoint
	for _, a := range fl.Args() {
		k, err := ftok.ParseKey(a)
		if err == nil {
			keys = append(keys, k)
			continue
		}
		if e, eerr := endpoint.Parse(a); eerr == nil && !looksNumeric(a) {
			sockets = append(sockets, e)
			continue
		}
		return fail(stderr, usageError{"explain: " + err.Error() + "; or name a socket: tcp:5555, :5555, tcp:127.0.0.1:5555, /run/app.sock, socket:[12345]"})
	}
	if len(sockets) > 0 {
		if len(keys) > 0 {
			return fail(stderr, usagef("explain: give keys or sockets, not both: explain them in two runs"))
		}
		if len(*searchRoots) > 0 || len(*manifests) > 0 || len(*files) > 0 || len(*projFlags) > 0 || v.pidSet || v.root != "" || v.all {
			return fail(stderr, usagef("explain: --search, -m, -f, -p, --pid, --root and --all-namespaces apply to keys: a socket is looked for in every process and network namespace"))
		}
		return explainSockets(sockets, *output, v.proc, stdout, stderr)
	}
	if err := cf.check(); err != nil {
		return fail(stderr, err)
	}
	if len(*projFlags) > 0 && len(*files) == 0 {
		return fail(stderr, usagef("explain: -p applies to -f files: name the key files (or configs) to hold against the keys with -f PATH"))
	}
	got, err := configured(request{projFlags: *projFlags, manifests: *manifests, args: *files, configs: cf, view: v})
	if err != nil {
		return fail(stderr, err)
	}
	entries := got.entries
	if e := withoutProj(entries); e != nil {
		return fail(stderr, usagef("explain: -f needs -p PROJ for %s: a file's key depends on the proj id it is used with (ipckeys explain KEY -p l -f PATH)%s", noProjName(e), noProjHint(e)))
	}
	for _, e := range entries {
		if !e.OK() {
			if e.Pattern != "" && e.Err == ipcscan.ErrNoMatch {
				return fail(stderr, fmt.Errorf("explain: -f %s: pattern matches no file: name existing key files", e.Pattern))
			}
			if e.Channel == nil {
				return fail(stderr, fmt.Errorf("explain: -f %s: %v: name an existing key file (ftok would return -1 for it)", e.Path, e.Err))
			}
		}
	}
	// The filesystems as the process sees them, with --pid.
	mountinfo := v.proc + "/self/mountinfo"
	if v.pid > 0 {
		mountinfo = fmt.Sprintf("%s/%d/mountinfo", v.proc, v.pid)
	}
	mounts, mountErr := ipcscan.ReadMountInfo(mountinfo)
	snaps, _, snapErr := v.snapshots()
	if snapErr != nil && (v.pid > 0 || v.all) {
		return fail(stderr, liveError(snapErr))
	}

	// What could not be seen is said, as ls says it.
	in := explain.Inputs{Mounts: mounts, MountErr: mountErr, Snaps: snaps, SnapErr: snapErr, KeyFiles: report.NewKeyFiles(entries)}
	if snapErr == nil {
		for _, snap := range snaps {
			if n := report.AttachCompleteness(snap.Attach).Note; n != "" {
				in.Notes = append(in.Notes, n)
				break
			}
		}
		in.Notes = append(in.Notes, v.notes...)
	}
	out := explain.Keys(keys, in)
	if len(*searchRoots) > 0 {
		if err := explain.Search(out, *searchRoots, *cross); err != nil {
			return fail(stderr, err)
		}
	}
	if *output == "json" {
		err = report.WriteJSON(stdout, out)
	} else {
		err = explain.WriteTable(stdout, out)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitClean
}

// negativeKeysLast moves keys written as negative decimals (-559038737,
// what /proc/sysvipc prints) behind "--", so the flag parser does not take
// them for flags. A value of a flag that takes one stays where it is.
func negativeKeysLast(fl *pflag.FlagSet, args []string) []string {
	var rest, keys []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "0123456789") == "" {
			keys = append(keys, a)
			continue
		}
		rest = append(rest, a)
		if takesValue(fl, a) && i+1 < len(args) {
			i++
			rest = append(rest, args[i])
		}
	}
	if len(keys) == 0 {
		return args
	}
	if !slices.Contains(rest, "--") {
		rest = append(rest, "--")
	}
	return append(rest, keys...)
}

// takesValue reports whether arg is a flag whose value is the next argument.
func takesValue(fl *pflag.FlagSet, arg string) bool {
	var f *pflag.Flag
	switch {
	case strings.HasPrefix(arg, "--") && !strings.Contains(arg, "="):
		f = fl.Lookup(arg[2:])
	case len(arg) == 2 && arg[0] == '-':
		f = fl.ShorthandLookup(arg[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// looksNumeric reports whether a word is a number (a key that did not
// parse), not an endpoint: 5555 is no socket.
func looksNumeric(a string) bool {
	return strings.Trim(strings.TrimPrefix(strings.ToLower(a), "0x"), "0123456789abcdef-") == ""
}

// explainSockets says who holds each socket and how they came to. A
// query that matches no socket is said on stderr, as a missing key file
// is, and makes the exit status 1.
func explainSockets(queries []endpoint.Endpoint, output, proc string, stdout, stderr io.Writer) int {
	snap, err := fdscan.NewFS(proc).Snapshot()
	if err != nil {
		return fail(stderr, fmt.Errorf("read the processes' descriptors: %v (is /proc mounted? use --proc for another procfs tree)", err))
	}
	status := exitClean
	all := []*explain.Socket{}
	printed := false
	for _, q := range queries {
		out := explain.Sockets(snap, q)
		if len(out) == 0 {
			fmt.Fprintf(stderr, "ipckeys: %s: no socket matches in any network namespace ipckeys can read (nothing listens or is connected there)\n", audit.Display(q.Text))
			status = exitFindings
			continue
		}
		all = append(all, out...)
		if output == "json" {
			continue
		}
		if printed {
			fmt.Fprintln(stdout)
		}
		printed = true
		singles, groups := explain.Summarise(snap, out, 0)
		if err := explain.WriteSocketTable(stdout, singles, groups); err != nil {
			return fail(stderr, err)
		}
	}
	if output == "json" {
		if err := report.WriteJSON(stdout, all); err != nil {
			return fail(stderr, err)
		}
	} else if snap.Unreadable > 0 {
		fmt.Fprintf(stdout, "note: the descriptors of %d processes could not be read: holders may be missing (run as root)\n", snap.Unreadable)
	}
	for _, n := range snap.Notes {
		if output != "json" {
			fmt.Fprintln(stdout, "note: "+n)
		}
	}
	return status
}
