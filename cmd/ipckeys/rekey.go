package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/rekey"
)

var rekeyCommand = &command{
	name:    "rekey",
	summary: "give key files new inodes whose keys are free",
	usage: `Usage: ipckeys rekey [-p PROJ]... [-m MANIFEST]... [--config FILE]... [flags] PATH...

Fixes a key collision without changing a program: ftok takes the low 16
bits of the key file's inode number, so each PATH is re-created in its own
directory as a new file (the same bytes, owner, group, mode, times and
readable extended attributes; a new inode), until its key for every proj id
it is used with is held by no channel the run knows (-p with the PATHs, the
-m manifests, the --config files' key-file settings) and by no live IPC
object, and its fingerprint by no other key file. The new file then
replaces the old one in one rename, and the file and the directory are
synced. It writes nothing but the PATHs (and temporary files beside them,
always removed), and never an IPC object.

Refused, with one line and exit 2, before any file is changed: a PATH that
is not a regular file, has other hard links, is in a directory another
user can write (a sticky one must be the caller's), is reached through a
symbolic link owned by another user than the caller or root, or has no proj
id. A PATH for which 64 new files in a row gave taken keys is left as it
was, with exit 2.

A live object that still uses an old key is named (id, owner, creator,
attached processes) with the ipcrm command that removes it once its
service has restarted on the new key; when the old key is still another
channel's, the object is left to that channel.

Flags:
  -p, --proj PROJ         proj id of the PATHs, repeatable: l, '1', 108, 0x6c
  -m, --manifest FILE     channel manifest whose channels the new keys must
                          not hit, repeatable; - reads standard input
      --config FILE       application config whose key-file settings are
                          channels the new keys must not hit, repeatable
                          (PATH arguments are the files to re-create, never
                          read as configs)
      --dry-run           create nothing: say what each PATH collides with,
                          which live objects use its key, and that a new
                          inode would be tried
      --fail-if-live      exit 1, changing nothing, when a live object still
                          uses a PATH's key: for deploys that must not change
                          a key under a running service
  -o, --output FMT        table (default on a terminal), text (default
                          otherwise) or json
` + configUsage + `      --root DIR          resolve the PATHs and the channels' key files under
                          DIR (IPC unchanged)
      --proc DIR          read this procfs tree instead of /proc

Exit status: 0 every PATH re-created (with --dry-run: would be), 1
--fail-if-live found a live object using a key (nothing changed), 2 usage
or operational error, or a refused PATH.
`,
	run: runRekey,
}

func runRekey(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	projFlags := fs.StringArrayP("proj", "p", nil, "")
	manifests := fs.StringArrayP("manifest", "m", nil, "")
	configs := fs.StringArray("config", nil, "")
	dryRun := fs.Bool("dry-run", false, "")
	failIfLive := fs.Bool("fail-if-live", false, "")
	output := fs.StringP("output", "o", "", "")
	_ = fs.SetAnnotation("output", annotationWords, []string{"table", "text", "json"})
	cf := addConfigFlags(fs)
	v := &view{fl: fs}
	fs.StringVar(&v.root, "root", "", "")
	fs.StringVar(&v.proc, "proc", ipcscan.DefaultRoot, "")
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	format := *output
	if format == "" {
		format = "text"
		if isTerminal(stdout) {
			format = "table"
		}
	}
	if format != "table" && format != "text" && format != "json" {
		return fail(stderr, usagef("rekey: -o %q: use table, text or json", *output))
	}
	if fs.NArg() == 0 {
		return fail(stderr, usagef("rekey: no path given: name the key files to re-create (ipckeys rekey -p l /etc/app/b.conf)"))
	}
	if err := v.check(); err != nil {
		return fail(stderr, err)
	}
	if err := cf.check(); err != nil {
		return fail(stderr, err)
	}
	projs, err := parseProjs(*projFlags)
	if err != nil {
		return fail(stderr, err)
	}
	// The channels the new keys are held against: the manifests and the
	// configs' settings, read as scan reads them. The PATHs are the
	// files to re-create: package rekey reads them itself.
	got, err := configured(request{projFlags: *projFlags, manifests: *manifests, args: *configs, configs: cf, view: v})
	if err != nil {
		return fail(stderr, err)
	}
	for _, in := range got.inputs {
		if in.TakenAs != "config" {
			return fail(stderr, usagef("rekey: --config %s is not an application config (%s): give it as a PATH to re-create it, or name the config", audit.Display(in.Path), in.Why))
		}
	}
	for _, e := range got.entries {
		if e.Channel == nil {
			return fail(stderr, usagef("rekey: --config %s: not an application config: name the config", audit.Display(e.Path)))
		}
	}
	snaps, _, err := v.snapshots()
	if err != nil {
		return fail(stderr, fmt.Errorf("rekey must know the live objects to choose a free key: %v", liveError(err)))
	}
	res, err := rekey.Run(rekey.Request{Paths: fs.Args(), Root: v.root, Projs: uniqueProjs(projs), Entries: got.entries, Snaps: snaps, DryRun: *dryRun, FailIfLive: *failIfLive})
	if res != nil {
		var werr error
		switch format {
		case "json":
			werr = rekey.WriteJSON(stdout, res)
		case "table":
			werr = rekey.WriteTable(stdout, res)
		default:
			werr = rekey.WriteText(stdout, res)
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	var live *rekey.LiveError
	if errors.As(err, &live) {
		fail(stderr, err)
		return exitFindings
	}
	return exitFor(stderr, err)
}
