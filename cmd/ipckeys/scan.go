package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/hostinfo"
	"github.com/ipckeys/ipckeys/ignore"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
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

PATH arguments are the files programs pass to ftok, or the application
configs that name them: a file with settings such as
"chnl_shm_path : /data/path_B" (INI, key : value, env, YAML, JSON, TOML)
is read as a config, and each key-file setting becomes a channel named
FILE:SETTING, with the proj id of a sibling setting (chnl_shm_proj = l) or
-p. Services naming one key file and proj share one channel (same-file).
Quoted globs are expanded by ipckeys; a glob that matches nothing is a
finding. Without -p and without a manifest only fingerprints are compared.

A manifest names the channels, one per line (# comments, - for unset):
  name  path  proj  [type shm|sem|msg|-]  [nattch N|N-M|N+|-]  [owner user|uid|-]

Flags:
  -p, --proj PROJ         proj id for the PATH arguments, repeatable: l, '1', 108, 0x6c
  -m, --manifest FILE     channel manifest, repeatable; - reads standard input
  -o, --output FMT[=PATH]
                          output format, repeatable; to PATH or stdout (at
                          most one): table (default on a terminal), text
                          (default otherwise), json, sarif, github, junit,
                          prometheus. A regular file is replaced atomically
                          (keeping its mode and owner); a device, FIFO or
                          hard-linked file is written in place
      --fail-on LEVEL     exit 1 when a finding is at least LEVEL:
                          error (default), warning, info or never; applies to
                          every format
      --ignore-file FILE  suppressions, repeatable; .ipckeys-ignore beside a
                          manifest is read too. Lines:
                          CODE TARGET reason="why" [expires=YYYY-MM-DD]
  -q, --quiet             print nothing but error findings
  -v, --verbose           also on a pass: what each PATH was taken as, the
                          entries table and the live checks' notes
      --label NAME        name this host in the JSON report (host.label), for
                          inventories whose names are not hostnames
      --color WHEN        auto (default: on a terminal, unless NO_COLOR is
                          set), always or never
      --no-live           skip the live checks
      --live              require the live checks: exit 2 when the live
                          tables cannot be read; alone (no paths, no
                          manifest): the host-wide live checks, IPC objects
                          and sockets
      --sockets           add the descriptor checks (who holds which socket)
      --close-wait N      CLOSE_WAIT sockets in one process that make a leak
                          (default 10)
      --allow-incomplete  accept live checks that could not be made in full
                          (processes whose maps or descriptors could not be
                          read): a check-incomplete warning instead of exit 2
      --all-namespaces    check the live objects of every IPC namespace on the host
      --static            the CI gate: check the configs and manifests alone,
                          without looking at key files or live objects (what
                          collides on every host, proj 0 and truncated proj
                          ids, key files under volatile directories or that
                          are configs, empty settings); missing key files are
                          not findings
      --volatile DIR      with --static: a directory whose files do not keep
                          their inode numbers, repeatable; replaces the
                          default /dev/shm, /run, /tmp, /var/tmp
` + configUsage + viewUsage + `
Descriptor checks (with --sockets, when a manifest declares listeners,
and in the host-wide run of --live alone) find sockets held by processes
that were not meant to hold them: inherited-listener, listener-not-accepting,
listener-wrong-holder, listener-missing, listener-cloexec-missing,
close-wait-leak, fd-exhaustion. A manifest line declares a listener and the
program that must hold it:
  web   tcp:127.0.0.1:5555   exe=/usr/sbin/a      (or unit=a.service)

Live checks (on by default when the tables can be read) hold each key
against the running objects: nattch-mismatch, missing-object, key-in-use,
type-mismatch, key-drift, and for every segment stale-object and
removed-attached. Findings come with suggested proj ids where a proj
change fixes them.

A live check left open by processes that could not be read (the holders
of a channel's segment, of a declared listener, or with --sockets any
process's descriptors) makes the run incomplete when it could hide a
finding at or above --fail-on: exit 2, naming the processes, unless
--allow-incomplete makes it a check-incomplete warning. A run that
already fails on other findings exits 1 with that warning.

Exit status: 0 no finding at or above --fail-on, 1 there is one,
2 usage or operational error (bad flag, unreadable or malformed manifest),
or an incomplete run (see above), or a run that checked nothing.
`,
	run: runScan,
}

func runScan(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	projFlags := fs.StringArrayP("proj", "p", nil, "")
	manifests := fs.StringArrayP("manifest", "m", nil, "")
	gate := addGateFlags(fs)
	noLive := fs.Bool("no-live", false, "")
	forceLive := fs.Bool("live", false, "")
	v := addViewFlags(fs, true)
	cf := addConfigFlags(fs)
	static := fs.Bool("static", false, "")
	volatile := fs.StringArray("volatile", nil, "")
	ignoreFiles := fs.StringArray("ignore-file", nil, "")
	socketChecks := fs.Bool("sockets", false, "")
	closeWait := fs.Int("close-wait", 10, "")
	allowIncomplete := fs.Bool("allow-incomplete", false, "")
	label := fs.String("label", "", "")
	verbose := fs.BoolP("verbose", "v", false, "")
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	outs, failOn, color, err := gate.parse(stdout, scanFormat, formatList)
	if err != nil {
		return fail(stderr, err)
	}
	if err := v.check(); err != nil {
		return fail(stderr, err)
	}
	if *verbose && gate.quiet {
		return fail(stderr, usagef("scan: --quiet and --verbose contradict each other: give one"))
	}
	if *noLive && *forceLive {
		return fail(stderr, usagef("scan: --live and --no-live contradict each other: give one"))
	}
	if err := cf.check(); err != nil {
		return fail(stderr, err)
	}
	if *static {
		switch {
		case *forceLive:
			return fail(stderr, usagef("scan: --static and --live contradict each other: --static checks the configuration alone"))
		case v.pidSet || v.root != "" || v.all:
			return fail(stderr, usagef("scan: --static does not look at key files or live objects: drop --pid, --root and --all-namespaces"))
		}
		*noLive = true
	}
	if len(*volatile) > 0 && !*static {
		return fail(stderr, usagef("scan: --volatile applies to --static (without it, the key files' real filesystems are checked)"))
	}
	for _, d := range *volatile {
		if !filepath.IsAbs(d) {
			return fail(stderr, usagef("scan: --volatile %s: give an absolute directory (/run, /tmp)", d))
		}
	}
	if *closeWait < 1 {
		return fail(stderr, usagef("scan: --close-wait %d: give the number of CLOSE_WAIT sockets that makes a leak (1 or more)", *closeWait))
	}
	// With nothing configured, --live runs the host-wide live checks
	// alone: leaked segments, and who holds which socket.
	hostWide := fs.NArg() == 0 && len(*manifests) == 0
	if hostWide && !*forceLive {
		return fail(stderr, usagef("scan: nothing to scan: give the paths programs pass to ftok (or the configs naming them), a manifest with -m, or --live for the host-wide live checks alone"))
	}
	if hostWide && *static {
		return fail(stderr, usagef("scan: --static needs configs or a manifest to check"))
	}
	if err := prepareOutputs(outs, stdout); err != nil {
		return fail(stderr, err)
	}
	result := &report.Result{FailOn: failOn, Time: time.Now(), Version: buildVersion()}
	host := hostinfo.Read(v.proc, "/etc")
	host.Label, host.Time = *label, result.Time.UTC().Format(time.RFC3339)
	result.Host = &host
	// From here on an operational error still leaves a metrics file
	// saying the last run failed, so alerts on a broken gate fire.
	failRun := func(err error) int {
		result.Err = err
		var metrics []output
		for _, o := range outs {
			if o.format == "prometheus" && o.path != "" {
				metrics = append(metrics, o)
			}
		}
		_ = writeOutputs(metrics, result, stdout, report.Style{})
		closeOutputs(outs)
		return fail(stderr, err)
	}
	got, err := configured(request{projFlags: *projFlags, manifests: *manifests, args: fs.Args(), configs: cf, static: *static, view: v})
	if err != nil {
		return failRun(err)
	}
	entries, chans := got.entries, got.chans
	rules, err := loadIgnoreFiles(*ignoreFiles, chans)
	if err != nil {
		return failRun(err)
	}
	result.Entries, result.Inputs, result.Static = entries, got.inputs, *static
	result.Findings = audit.CheckWith(entries, audit.Options{VolatileDirs: *volatile})
	result.Findings = append(result.Findings, got.findings...)
	// gaps are the live checks that could not be made in full.
	var gaps []audit.Gap
	result.Live = report.LiveSummary{Reason: "--no-live"}
	if *static {
		result.Live.Reason = "--static"
	}
	if !*noLive {
		snaps, _, err := v.snapshots()
		switch {
		case err != nil && (*forceLive || v.pid > 0 || v.all):
			return failRun(liveError(err))
		case err != nil:
			result.Live = report.NewLiveSummary(nil, err.Error())
		default:
			result.Snap = snaps[0]
			result.Live = report.NewLiveSummary(snaps[0], "")
			result.Live.Namespaces = len(snaps)
			result.Live.Notes = v.notes
			host.IPCNamespace = snaps[0].NS
			owners := ownerUIDs(chans)
			for _, snap := range snaps {
				in := audit.Live{Snap: snap, OwnerUIDs: owners}
				live := audit.CheckLive(entries, in)
				snapGaps := audit.LiveGaps(entries, in)
				if len(snaps) > 1 {
					for i := range live {
						live[i].Message = fmt.Sprintf("in IPC namespace ipc:[%d]: %s", snap.NS, live[i].Message)
					}
					for i := range snapGaps {
						snapGaps[i].Consequence = fmt.Sprintf("in IPC namespace ipc:[%d] %s", snap.NS, snapGaps[i].Consequence)
					}
				}
				result.Findings = append(result.Findings, live...)
				gaps = append(gaps, snapGaps...)
			}
		}
	}
	// The descriptor checks: who holds which socket. Host-wide, so they
	// run when asked (--sockets), when a manifest declares listeners, and
	// in the host-wide run.
	if !*noLive && (*socketChecks || len(got.listeners) > 0 || hostWide) {
		snap, err := fdscan.NewFS(v.proc).Snapshot()
		if err != nil {
			return failRun(fmt.Errorf("read the processes' descriptors: %v (is /proc mounted? use --proc for another procfs tree)", err))
		}
		d := audit.Descriptors{Snap: snap, Listeners: got.listeners, CloseWait: *closeWait}
		result.Findings = append(result.Findings, audit.CheckDescriptors(d)...)
		gaps = append(gaps, audit.DescriptorGaps(d, *socketChecks || hostWide)...)
		result.Live.Sockets = report.NewSocketsSummary(snap)
	}
	if len(entries) == 0 && len(got.findings) == 0 && !result.Live.Checked && result.Live.Sockets == nil {
		return failRun(usagef("scan: nothing was checked: no key file or channel to check (%s) and no live checks made (%s): give paths, a manifest that declares channels or listeners, or drop --no-live", inputsNamed(fs.NArg(), len(*manifests)), liveReason(result.Live)))
	}
	// A gap matters when what it hides could fail the gate.
	var open []audit.Gap
	for _, g := range gaps {
		if g.Worst >= failOn {
			open = append(open, g)
		}
	}
	result.Findings = append(result.Findings, audit.GapFindings(open)...)
	if !*static {
		audit.Suggest(result.Findings, entries, result.Snap)
	}
	result.Findings = ignore.Apply(result.Findings, entries, rules, time.Now().Format(time.DateOnly))
	audit.Sort(result.Findings)
	if len(open) > 0 && !*allowIncomplete {
		if left := unaccepted(open, result.Findings); len(left) > 0 && !failsWithout(result, audit.CheckIncomplete) {
			return failRun(fmt.Errorf("incomplete: %s", audit.GapLine(left)))
		}
	}
	if err := writeOutputs(outs, result, stdout, report.Style{Color: color, Quiet: gate.quiet, Verbose: *verbose}); err != nil {
		return fail(stderr, err)
	}
	if result.Summary().Failed {
		return exitFindings
	}
	return exitClean
}

// unaccepted returns the gaps whose check-incomplete finding no ignore
// file entry suppresses.
func unaccepted(gaps []audit.Gap, findings []audit.Finding) []audit.Gap {
	open := map[string]bool{}
	for _, f := range findings {
		if f.Code == audit.CheckIncomplete && f.Suppressed == nil {
			open[f.Message] = true
		}
	}
	var out []audit.Gap
	for _, g := range gaps {
		if open[g.Text()] {
			out = append(out, g)
		}
	}
	return out
}

// failsWithout reports whether the result fails its gate on findings
// other than those of code: then what an incomplete check could add
// cannot change the verdict.
func failsWithout(r *report.Result, code string) bool {
	var rest []audit.Finding
	for _, f := range r.Findings {
		if f.Code != code {
			rest = append(rest, f)
		}
	}
	return report.Summarize(len(r.Entries), rest, r.FailOn).Failed
}

// inputsNamed says what a scan that checked nothing was given.
func inputsNamed(paths, manifests int) string {
	count := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	switch {
	case paths > 0 && manifests > 0:
		return count(paths, "path", "paths") + " and " + count(manifests, "manifest", "manifests") + " gave none"
	case paths > 0:
		return count(paths, "path", "paths") + " gave none"
	case manifests > 0:
		return count(manifests, "manifest", "manifests") + " declared none"
	}
	return "none given"
}

// liveReason says why the live checks did not run.
func liveReason(l report.LiveSummary) string {
	if l.Reason == "" {
		return "not asked for"
	}
	return l.Reason
}

// loadIgnoreFiles reads every --ignore-file (each must exist) and the
// .ipckeys-ignore beside each manifest (where there is one).
func loadIgnoreFiles(explicit []string, chans []manifest.Channel) ([]ignore.Rule, error) {
	var rules []ignore.Rule
	seen := map[string]bool{}
	load := func(path string, mustExist bool) error {
		if seen[filepath.Clean(path)] {
			return nil
		}
		seen[filepath.Clean(path)] = true
		var rs []ignore.Rule
		var err error
		if path == "-" {
			var r io.Reader
			if r, err = stdin.take("--ignore-file"); err != nil {
				return err
			}
			rs, err = ignore.Parse(r, stdinName)
		} else {
			rs, err = ignore.Load(path)
		}
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) && !mustExist:
			return nil
		case errors.As(err, &pe):
			return fmt.Errorf("ignore file %s: %v: check the --ignore-file path", path, pe.Err)
		case err != nil:
			return err
		}
		rules = append(rules, rs...)
		return nil
	}
	for _, p := range explicit {
		if err := load(p, true); err != nil {
			return nil, err
		}
	}
	for _, c := range chans {
		if c.File == stdinName {
			continue // a manifest from standard input has no directory
		}
		if err := load(filepath.Join(filepath.Dir(c.File), ignore.DefaultName), false); err != nil {
			return nil, err
		}
	}
	return rules, nil
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
