package main

import (
	"io"

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
	if fs.NArg() == 0 && len(*manifests) == 0 {
		return fail(stderr, usagef("scan: nothing to scan: give the paths programs pass to ftok, or a manifest with -m"))
	}
	projs, err := parseProjs(*projFlags)
	if err != nil {
		return fail(stderr, err)
	}
	chans, err := loadManifests(*manifests)
	if err != nil {
		return fail(stderr, err)
	}
	entries, err := buildEntries(fs.Args(), projs, chans, true)
	if err != nil {
		return fail(stderr, err)
	}
	findings := audit.Check(entries)
	if *output == "json" {
		err = report.WriteJSON(stdout, report.NewScan(entries, findings, failOn))
	} else {
		err = report.ScanTable(stdout, entries, findings, failOn)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if report.Summarize(len(entries), findings, failOn).Failed {
		return exitFindings
	}
	return exitClean
}
