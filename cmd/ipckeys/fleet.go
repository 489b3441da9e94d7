package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/internal/inputfile"
	"github.com/ipckeys/ipckeys/report"
)

var fleetCommand = &command{
	name:    "fleet",
	summary: "merge the scan reports of many hosts into one view",
	usage: `Usage: ipckeys fleet [flags] REPORT.json|DIR|-...

Merges the JSON reports of ipckeys scan -o json from many hosts: inode
numbers are per host, so a collision can exist on one host of eleven. Says
per finding on which hosts it is ("on 1 of 10 checked hosts: host07"), per
channel its key, device, inode, file system and live state on each host
(marking the hosts that differ from most), and which hosts could not be
checked and why.

Inputs are report files, directories of them (their *.json files, and
HOST.failed markers holding the error of a scan that failed, which writes
no JSON), and - for reports on standard input, one after another. A host
is named by its report's label (scan --label), else its hostname, else the
file name. A report that is missing, empty, not JSON or of another schema,
or a marker, makes its host "not checked". A report file may hold 256 MiB,
standard input 1 GiB (256 MiB per report), a directory 100,000 reports and
markers, --hosts-file 16 MiB and the inventory 1,000,000 hosts: an input
over its cap is an error (exit 2).

Flags:
  -o, --output FMT[=PATH]
                         output format, repeatable; to PATH or stdout (at
                         most one): table (default on a terminal, as wide
                         as $COLUMNS or the terminal), text (default
                         otherwise), json (ipckeys/fleet/v1), sarif (one
                         run for the whole fleet), github, junit (a suite
                         per host, a test case per channel), html (one
                         self-contained page: failing hosts first, then
                         hosts not checked, then hosts that differ; the
                         other passing hosts counted), hosts (a JSON object
                         per line per host: name, status, reason_code,
                         reason)
      --hosts LIST       the hosts that should have a report, comma-separated,
                         repeatable (the inventory): those without one are
                         not checked
      --hosts-file FILE  the same, one host per line (# comments)
      --max-age DURATION
                         a report older than this (by its time) counts as
                         not checked: 30m, 2h
      --max-skew DURATION
                         how far a report's time may be ahead of this
                         machine's clock (default 5m): a report dated later
                         is not checked, and never hides another report of
                         its host
      --fail-on LEVEL    exit 1 when a host has a finding at least LEVEL:
                         error (default), warning, info or never
      --allow-unchecked  hosts not checked do not make the exit status 2
      --source-root DIR  SARIF: locations of files under DIR are relative
                         to it (uriBaseId SRCROOT), so that code scanning
                         ties them to the repository's files
  -q, --quiet            print nothing but error findings and hosts not checked
      --color WHEN       auto (default), always or never

Exit status: 2 when a host could not be checked (unless --allow-unchecked)
or on a usage error; else 1 when a host has a finding at or above
--fail-on; else 0.
`,
	run: runFleet,
}

// fleetRenderers are the fleet output formats.
var fleetRenderers = map[string]func(io.Writer, *fleet.View, report.Style, fleetRender) error{
	"table": func(w io.Writer, v *fleet.View, st report.Style, r fleetRender) error {
		return report.FleetTableWidth(w, v, st, r.width)
	},
	"text": func(w io.Writer, v *fleet.View, st report.Style, _ fleetRender) error {
		return report.FleetText(w, v, st)
	},
	"json": func(w io.Writer, v *fleet.View, _ report.Style, _ fleetRender) error { return report.FleetJSON(w, v) },
	"sarif": func(w io.Writer, v *fleet.View, _ report.Style, r fleetRender) error {
		return report.FleetSARIF(w, v, buildVersion(), r.sourceRoot)
	},
	"github": func(w io.Writer, v *fleet.View, _ report.Style, _ fleetRender) error { return report.FleetGitHub(w, v) },
	"junit":  func(w io.Writer, v *fleet.View, _ report.Style, _ fleetRender) error { return report.FleetJUnit(w, v) },
	"html":   func(w io.Writer, v *fleet.View, _ report.Style, _ fleetRender) error { return report.FleetHTML(w, v) },
	"hosts":  func(w io.Writer, v *fleet.View, _ report.Style, _ fleetRender) error { return report.FleetHosts(w, v) },
}

// fleetRender holds what a format is told besides the view and style.
type fleetRender struct {
	sourceRoot string // SARIF: locations under it are relative to it
	width      int    // table: the terminal's columns; 0: no limit
}

// terminalWidth is the width a table on w is fitted to: $COLUMNS when it
// is a number, else the terminal's width when w is one, else 0 (no
// limit: a table written to a file or pipe is as wide as its content).
func terminalWidth(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 0
}

const fleetFormatList = "table, text, json, sarif, github, junit, html or hosts"

func runFleet(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	gate := addGateFlags(fs)
	hostsFlags := fs.StringArray("hosts", nil, "")
	hostsFile := fs.String("hosts-file", "", "")
	maxAge := fs.Duration("max-age", 0, "")
	maxSkew := fs.Duration("max-skew", defaultMaxSkew, "")
	allowUnchecked := fs.Bool("allow-unchecked", false, "")
	sourceRoot := fs.String("source-root", "", "")
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	outs, failOn, color, err := gate.parse(stdout, func(f string) bool { return fleetRenderers[f] != nil }, fleetFormatList)
	if err != nil {
		return fail(stderr, err)
	}
	if *maxAge < 0 {
		return fail(stderr, usagef("fleet: --max-age %s: give a positive duration (30m, 2h)", *maxAge))
	}
	if *maxSkew < 0 {
		return fail(stderr, usagef("fleet: --max-skew %s: give a duration of 0 or more (5m, 1h)", *maxSkew))
	}
	var render fleetRender
	if *sourceRoot != "" {
		if render.sourceRoot, err = filepath.Abs(*sourceRoot); err != nil {
			return fail(stderr, usagef("fleet: --source-root %s: %v", *sourceRoot, err))
		}
	}
	if fs.NArg() == 0 {
		return fail(stderr, usagef("fleet: no reports: give report files, a directory of them, or - for standard input"))
	}
	var in io.Reader
	for _, a := range fs.Args() {
		if a == "-" {
			if in, err = stdin.take("fleet"); err != nil {
				return fail(stderr, err)
			}
		}
	}
	expected, err := expectedHosts(*hostsFlags, *hostsFile)
	if err != nil {
		return fail(stderr, err)
	}
	if err := prepareOutputs(outs, stdout); err != nil {
		return fail(stderr, err)
	}
	loaded, err := fleet.Load(fs.Args(), in)
	if err != nil {
		closeOutputs(outs)
		return fail(stderr, err)
	}
	v := fleet.Merge(loaded, fleet.Options{Expected: expected, MaxAge: *maxAge, MaxSkew: *maxSkew, Now: time.Now(), FailOn: failOn, AllowUnchecked: *allowUnchecked, Version: buildVersion().Module})
	if len(v.Hosts) == 0 {
		closeOutputs(outs)
		return fail(stderr, fmt.Errorf("fleet: no host reports in %s: give the scan reports (*.json), or --hosts so missing ones are named", strings.Join(fs.Args(), ", ")))
	}
	st := report.Style{Color: color, Quiet: gate.quiet}
	if err := writeEach(outs, stdout, func(format string, w io.Writer, toStdout bool) error {
		style, r := st, render
		if toStdout {
			r.width = terminalWidth(stdout)
		} else {
			style = report.Style{Quiet: st.Quiet}
		}
		return fleetRenderers[format](w, v, style, r)
	}); err != nil {
		return fail(stderr, err)
	}
	return v.Summary.ExitStatus
}

// defaultMaxSkew is how far a report's time may be ahead of this
// machine's clock by default: more than hosts kept by NTP ever differ.
const defaultMaxSkew = 5 * time.Minute

// The inventory's caps: --hosts-file, and the hosts of --hosts and
// --hosts-file together. A million host names take 16 MiB at most.
const (
	maxHostsFileBytes = 16 << 20
	maxHosts          = 1_000_000
)

// expectedHosts reads --hosts and --hosts-file into one list.
func expectedHosts(lists []string, file string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(name, where string) error {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil
		}
		if strings.ContainsAny(name, " \t") {
			return usagef("fleet: %s: host name %q has white space: separate names with commas (--hosts) or lines (--hosts-file)", where, name)
		}
		if !seen[name] {
			if len(out) == maxHosts {
				return fmt.Errorf("%s: more than the 1,000,000 hosts the inventory may have; split the fleet and run ipckeys fleet per part", where)
			}
			seen[name] = true
			out = append(out, name)
		}
		return nil
	}
	for _, l := range lists {
		for _, name := range strings.Split(l, ",") {
			if err := add(name, "--hosts"); err != nil {
				return nil, err
			}
		}
	}
	if file == "" {
		return out, nil
	}
	var r io.Reader
	if file == "-" {
		var err error
		if r, err = stdin.take("--hosts-file"); err != nil {
			return nil, err
		}
	} else {
		f, err := inputfile.Open(file)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("--hosts-file %s: %v: give a file with one host name per line", file, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Size() > maxHostsFileBytes {
			return nil, hostsFileTooLarge(file)
		}
		r = f
	}
	lr := &io.LimitedReader{R: r, N: maxHostsFileBytes + 1}
	sc := bufio.NewScanner(lr)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		if err := add(line, fmt.Sprintf("--hosts-file %s:%d", file, n)); err != nil {
			return nil, err
		}
	}
	if lr.N == 0 {
		return nil, hostsFileTooLarge(file)
	}
	if err := sc.Err(); err == bufio.ErrTooLong {
		return nil, fmt.Errorf("--hosts-file %s:%d: line longer than %d bytes; give one host name per line", file, n+1, bufio.MaxScanTokenSize)
	} else if err != nil {
		return nil, fmt.Errorf("--hosts-file %s: %v", file, err)
	}
	return out, nil
}

func hostsFileTooLarge(file string) error {
	return fmt.Errorf("--hosts-file %s: larger than the 16 MiB a hosts file may have; give one host name per line", file)
}
