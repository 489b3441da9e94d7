package main

import (
	"fmt"
	"io"

	"github.com/ipckeys/ipckeys/report"
	"github.com/spf13/pflag"
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
	entries, _, err := configured(*projFlags, *manifests, fs.Args(), v)
	if err != nil {
		return fail(stderr, err)
	}
	snaps, spaces, err := v.snapshots()
	if err != nil {
		return fail(stderr, liveError(err))
	}
	kf := report.NewKeyFiles(entries)
	docs := make([]report.Ls, len(snaps))
	for i, snap := range snaps {
		docs[i] = report.NewLs(snap, kf, f)
		if spaces != nil {
			docs[i].PID, docs[i].Comm = spaces[i].PID, spaces[i].Comm
		}
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
	return exitClean
}
