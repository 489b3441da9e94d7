package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/report"
)

var lsCommand = &command{
	name:    "ls",
	summary: "show live IPC objects and who is attached, or who holds sockets",
	usage: `Usage: ipckeys ls [--shm] [--sem] [--msg] [-m MANIFEST]... [-p PROJ]... [-o table|json] [PATH]...
       ipckeys ls --sockets [--all] [-o table|json]

Shows the live shared-memory segments, semaphore sets and message queues of
this IPC namespace (all three unless some are named), with key (as ipcs
prints it), id, owner, permissions, size or count, nattch, status (dest:
removed while attached; locked), creator and last pids, the processes
attached to each segment and how many mappings each holds, and the key file
each key comes from when a manifest (-m) or a PATH with -p gives it.

Reads /proc/sysvipc, or the *_STAT_ANY system calls where it is missing,
and every /proc/PID/maps. Run as root to see every process's attachments;
otherwise the output says how many processes could not be read.

Flags:
      --shm               shared-memory segments
      --sem               semaphore sets
      --msg               message queues
      --sockets           instead of IPC objects: the listening sockets of
                          every process, each with every holder (pid,
                          command, fd, close-on-exec) and its accept queue,
                          and per process its CLOSE_WAIT sockets and
                          descriptors against its limit
      --all               with --sockets: every socket, not only listeners
  -m, --manifest FILE     channel manifest naming key files, repeatable
  -p, --proj PROJ         proj id for the PATH arguments, repeatable (a config
                          setting's sibling proj setting wins)
  -o, --output FMT        table (default) or json (typed values)
      --all-namespaces    every IPC namespace on the host, one set of tables
                          each (JSON: an array of documents)
` + configUsage + viewUsage + `
A PATH that is an application config naming key files (chnl_shm_path = …)
is read as one: the FILE column names its settings.
`,
	run: runLs,
}

func runLs(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	var f report.Facilities
	fs.BoolVar(&f.Shm, "shm", false, "")
	fs.BoolVar(&f.Sem, "sem", false, "")
	fs.BoolVar(&f.Msg, "msg", false, "")
	sockets := fs.Bool("sockets", false, "")
	allSockets := fs.Bool("all", false, "")
	projFlags := fs.StringArrayP("proj", "p", nil, "")
	manifests := fs.StringArrayP("manifest", "m", nil, "")
	output := fs.StringP("output", "o", "table", "")
	v := addViewFlags(fs, true)
	cf := addConfigFlags(fs)
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if err := v.check(); err != nil {
		return fail(stderr, err)
	}
	if *output != "table" && *output != "json" {
		return fail(stderr, usagef("ls: -o %q: use table or json", *output))
	}
	if *allSockets && !*sockets {
		return fail(stderr, usagef("ls: --all applies to --sockets (every socket, not only listeners)"))
	}
	if *sockets {
		if f.Shm || f.Sem || f.Msg || fs.NArg() > 0 || len(*manifests) > 0 || len(*projFlags) > 0 || v.pidSet || v.root != "" || v.all {
			return fail(stderr, usagef("ls: --sockets lists the sockets of every process on the host: give it alone (with --all, -o, --proc)"))
		}
		return lsSockets(*output, *allSockets, v.proc, stdout, stderr)
	}
	if !f.Shm && !f.Sem && !f.Msg {
		f = report.Facilities{Shm: true, Sem: true, Msg: true}
	}
	if err := cf.check(); err != nil {
		return fail(stderr, err)
	}
	if len(*projFlags) > 0 && fs.NArg() == 0 {
		return fail(stderr, usagef("ls: -p applies to PATH arguments: name the key files or configs (ipckeys ls -p l /etc/app/a.conf)"))
	}
	got, err := configured(request{projFlags: *projFlags, manifests: *manifests, args: fs.Args(), configs: cf, view: v})
	if err != nil {
		return fail(stderr, err)
	}
	entries := got.entries
	if e := withoutProj(entries); e != nil {
		return fail(stderr, usagef("ls: %s gives no key without a proj id: add -p PROJ%s", noProjName(e), noProjHint(e)))
	}
	// A key file that cannot be used is said, as key says it: exit 1.
	status := exitClean
	reported := map[string]bool{}
	for _, e := range entries {
		if !e.OK() && !reported[e.Path] {
			reported[e.Path] = true
			fmt.Fprintf(stderr, "ipckeys: %s: %v (ftok would return -1 for it)\n", audit.Display(e.Path), e.Err)
			status = exitFindings
		}
	}
	snaps, spaces, err := v.snapshots()
	if err != nil {
		return fail(stderr, liveError(err))
	}
	kf := report.NewKeyFiles(entries)
	unmatched := unmatchedKeys(entries, snaps)
	docs := make([]report.Ls, len(snaps))
	for i, snap := range snaps {
		docs[i] = report.NewLs(snap, kf, f)
		if spaces != nil {
			docs[i].PID, docs[i].Comm = spaces[i].PID, spaces[i].Comm
		}
		docs[i].Notes = append(append([]string{}, v.notes...), unmatched...)
	}
	switch {
	case *output == "json" && v.all:
		err = report.WriteLsAll(stdout, docs)
	case *output == "json":
		err = report.WriteLs(stdout, docs[0])
	default:
		for i, doc := range docs {
			if v.all {
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				fmt.Fprintf(stdout, "== IPC namespace ipc:[%d] (pid %d %s)\n", doc.Namespace, doc.PID, audit.Display(doc.Comm))
			}
			if err = report.LsTables(stdout, doc, f); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	return status
}

// unmatchedKeys says which configured keys no live object holds, so a
// wrong proj id or a replaced key file is not mistaken for "nothing there".
func unmatchedKeys(entries []audit.Entry, snaps []*ipcscan.Snapshot) []string {
	if len(entries) == 0 {
		return nil // nothing configured: no key to look up
	}
	held := map[int32]bool{}
	for _, snap := range snaps {
		for _, sg := range snap.Shm {
			if k, ok := snap.OriginalKey(sg); ok {
				held[k] = true
			}
		}
		for _, st := range snap.Sem {
			held[st.Key] = true
		}
		for _, q := range snap.Msg {
			held[q.Key] = true
		}
	}
	var notes []string
	for i := range entries {
		e := &entries[i]
		k, ok := e.Key()
		if !ok || !e.OK() || held[k] {
			continue
		}
		name := audit.Display(e.Path)
		if e.Channel != nil {
			name = "channel " + audit.Display(e.Channel.Name) + " (" + name + ")"
		}
		notes = append(notes, fmt.Sprintf("no live object has key %s of %s with proj %s: nothing made it yet, or its programs use another proj id or key file", ftok.Hex(k), name, ftok.ProjString(e.Proj)))
	}
	return notes
}

// withoutProj returns the first positional entry (a key file, or a config
// setting without a sibling proj) that has no proj id, or nil.
func withoutProj(entries []audit.Entry) *audit.Entry {
	for i := range entries {
		e := &entries[i]
		if !e.HasProj && e.OK() && (e.Channel == nil || e.Channel.FromConfig()) {
			return e
		}
	}
	return nil
}

// noProjName names an entry that has no proj id, for the usage error.
func noProjName(e *audit.Entry) string {
	if e.Channel != nil {
		return fmt.Sprintf("%s (%s:%d)", audit.Display(e.Channel.Name), audit.Display(e.Channel.File), e.Channel.Line)
	}
	return audit.Display(e.Path)
}

// noProjHint says where else a config setting could take its proj id.
func noProjHint(e *audit.Entry) string {
	if e.Channel != nil && e.Channel.FromConfig() {
		return ", or a sibling setting that names it (" + projSibling(e.Channel.Setting) + " = l)"
	}
	return ""
}

// projSibling is the name a sibling proj setting of a key-file setting
// would have: chnl_shm_path → chnl_shm_proj.
func projSibling(setting string) string {
	for _, sep := range []string{".", "_", "-"} {
		if i := strings.LastIndex(setting, sep); i > 0 {
			return setting[:i+1] + "proj"
		}
	}
	return setting + "_proj"
}

// lsSockets lists the listening sockets (all with --all) with every
// holder, and per process the CLOSE_WAIT sockets and descriptors in use.
func lsSockets(output string, all bool, proc string, stdout, stderr io.Writer) int {
	snap, err := fdscan.NewFS(proc).Snapshot()
	if err != nil {
		return fail(stderr, fmt.Errorf("read the processes' descriptors: %v (is /proc mounted? use --proc for another procfs tree)", err))
	}
	doc := report.NewSockets(snap, all)
	if output == "json" {
		err = report.WriteJSON(stdout, doc)
	} else {
		err = report.SocketsTable(stdout, doc)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitClean
}
