package main

import (
	"io"

	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/report"
	"github.com/spf13/pflag"
)

var scanCommand = &command{
	name:    "scan",
	summary: "check paths and manifest channels for key collisions",
	usage: `Usage: ipckeys scan [-p PROJ]... [-m MANIFEST]... [flags] [PATH|GLOB]...

The pre-deploy gate. Computes the ftok key of every path (with every -p proj
id) and every manifest channel, and reports keys that collide, files that
would collide given the same proj id, keys ftok makes dangerous (0 is
IPC_PRIVATE, 0xffffffff its error value), unusable paths and key files on
filesystems whose inode or device numbers do not last.

PATH arguments are the files programs pass to ftok. Quoted globs are
expanded by ipckeys; a glob that matches nothing is a finding. Without -p
and without a manifest only fingerprints are compared.

A manifest names the channels, one per line (# comments, - for unset):
  name  path  proj  [type shm|sem|msg|-]  [nattch N|N-M|N+|-]  [owner user|uid|-]

Flags:
  -p, --proj PROJ        proj id for the PATH arguments, repeatable: l, '1', 108, 0x6c
  -m, --manifest FILE    channel manifest, repeatable
  -o, --output FMT       table (default) or json
      --fail-on LEVEL    exit 1 when a finding is at least LEVEL:
                         error (default), warning, info or never
      --no-live          skip the live checks
      --live             require the live checks: exit 2 when the live
                         tables cannot be read
      --proc DIR         read this procfs tree instead of /proc

Live checks (on by default when the tables can be read) hold each key
against the running objects: nattch-mismatch, missing-object, key-in-use,
type-mismatch, and for every segment stale-object and removed-attached.

Exit status: 0 no finding at or above --fail-on, 1 there is one,
2 usage or operational error (bad flag, unreadable or malformed manifest).
`,
	run: runScan,
}

func runScan(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	projFlags := fs.StringArrayP("proj", "p", nil, "")
	manifests := fs.StringArrayP("manifest", "m", nil, "")
	output := fs.StringP("output", "o", "table", "")
	failOnFlag := fs.String("fail-on", "error", "")
	noLive := fs.Bool("no-live", false, "")
	forceLive := fs.Bool("live", false, "")
	procRoot := fs.String("proc", ipcscan.DefaultRoot, "")
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if *output != "table" && *output != "json" {
		return fail(stderr, usagef("scan: -o %q: use table or json", *output))
	}
	failOn, err := audit.ParseThreshold(*failOnFlag)
	if err != nil {
		return fail(stderr, usageError{err.Error()})
	}
	if *noLive && *forceLive {
		return fail(stderr, usagef("scan: --live and --no-live contradict each other: give one"))
	}
	if fs.NArg() == 0 && len(*manifests) == 0 {
		return fail(stderr, usagef("scan: nothing to scan: give the paths programs pass to ftok, or a manifest with -m"))
	}
	entries, chans, err := configured(*projFlags, *manifests, fs.Args())
	if err != nil {
		return fail(stderr, err)
	}
	findings := audit.Check(entries)
	live := report.LiveSummary{Reason: "--no-live"}
	if !*noLive {
		snap, err := ipcscan.NewFS(*procRoot).Snapshot()
		switch {
		case err != nil && *forceLive:
			return fail(stderr, liveError(err))
		case err != nil:
			live = report.NewLiveSummary(nil, err.Error())
		default:
			live = report.NewLiveSummary(snap, "")
			findings = append(findings, audit.CheckLive(entries, audit.Live{Snap: snap, OwnerUIDs: ownerUIDs(chans)})...)
			audit.Sort(findings)
		}
	}
	if *output == "json" {
		err = report.WriteJSON(stdout, report.NewScan(entries, findings, live, failOn))
	} else {
		err = report.ScanTable(stdout, entries, findings, live, failOn)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if report.Summarize(len(entries), findings, failOn).Failed {
		return exitFindings
	}
	return exitClean
}

// ownerUIDs resolves the owners the manifests name; one this host does not
// know is left out, and a live object holding its key cannot be its.
func ownerUIDs(chans []manifest.Channel) map[string]uint32 {
	uids := map[string]uint32{}
	for _, c := range chans {
		if c.Owner == "" {
			continue
		}
		if uid, err := ipcscan.LookupOwner(c.Owner); err == nil {
			uids[c.Owner] = uid
		}
	}
	return uids
}
