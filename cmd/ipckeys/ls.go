package main

import (
	"fmt"
	"io"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/report"
)

var lsCommand = &command{
	name:    "ls",
	summary: "show the live System V IPC objects and who is attached",
	usage: `Usage: ipckeys ls [--shm] [--sem] [--msg] [-m MANIFEST]... [-p PROJ]... [-o table|json] [PATH]...

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
  -m, --manifest FILE     channel manifest naming key files, repeatable
  -p, --proj PROJ         proj id for the PATH arguments, repeatable
  -o, --output FMT        table (default) or json (typed values)
      --all-namespaces    every IPC namespace on the host, one set of tables
                          each (JSON: an array of documents)
` + viewUsage,
	run: runLs,
}

func runLs(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	var f report.Facilities
	fs.BoolVar(&f.Shm, "shm", false, "")
	fs.BoolVar(&f.Sem, "sem", false, "")
	fs.BoolVar(&f.Msg, "msg", false, "")
	projFlags := fs.StringArrayP("proj", "p", nil, "")
	manifests := fs.StringArrayP("manifest", "m", nil, "")
	output := fs.StringP("output", "o", "table", "")
	v := addViewFlags(fs, true)
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if err := v.check(); err != nil {
		return fail(stderr, err)
	}
	if *output != "table" && *output != "json" {
		return fail(stderr, usagef("ls: -o %q: use table or json", *output))
	}
	if !f.Shm && !f.Sem && !f.Msg {
		f = report.Facilities{Shm: true, Sem: true, Msg: true}
	}
	if fs.NArg() > 0 && len(*projFlags) == 0 {
		return fail(stderr, usagef("ls: PATH arguments need -p PROJ: a file gives a key only with a proj id (ipckeys ls -p l %s)", fs.Arg(0)))
	}
	if len(*projFlags) > 0 && fs.NArg() == 0 {
		return fail(stderr, usagef("ls: -p applies to PATH arguments: name the key files (ipckeys ls -p l /etc/app/a.conf)"))
	}
	entries, _, err := configured(*projFlags, *manifests, fs.Args(), v)
	if err != nil {
		return fail(stderr, err)
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
				fmt.Fprintf(stdout, "== IPC namespace ipc:[%d] (pid %d %s)\n", doc.Namespace, doc.PID, doc.Comm)
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
			name = "channel " + e.Channel.Name + " (" + name + ")"
		}
		notes = append(notes, fmt.Sprintf("no live object has key %s of %s with proj %s: nothing made it yet, or its programs use another proj id or key file", ftok.Hex(k), name, ftok.ProjString(e.Proj)))
	}
	return notes
}
