package main

import (
	"bytes"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/manpage"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/report"
)

// topic is help on something other than a command: `ipckeys help NAME`
// prints it, and it is a section of the man page.
type topic struct {
	name  string // what help takes
	title string // the man page section
	text  func() string
}

// topics are in the man page's order, after the commands.
var topics = []topic{
	{"manifest", "MANIFEST", constant(manifestHelp)},
	{"configs", "CONFIGS", constant(configsHelp)},
	{"ignore", "IGNORE FILES", constant(ignoreHelp)},
	{"outputs", "OUTPUTS", outputsHelp},
	{"findings", "FINDINGS", findingsHelp},
	{"exit-status", "EXIT STATUS", constant(exitStatusHelp)},
	{"environment", "ENVIRONMENT", constant(environmentHelp)},
	{"files", "FILES", constant(filesHelp)},
}

func constant(s string) func() string { return func() string { return s } }

// topicNamed returns the topic help takes by that name, or nil.
func topicNamed(name string) *topic {
	for i := range topics {
		if topics[i].name == name {
			return &topics[i]
		}
	}
	return nil
}

const manifestHelp = `The manifest names the System V IPC channels a deployment expects, one per
line. Fields are separated by white space, # starts a comment and - leaves
an optional field unset:

  # name     path                   proj  type  nattch  owner  flags   exe=...
  orders     /etc/app/orders.conf   l     shm   2       app    config  exe=/usr/bin/w
  audit-q    /etc/app/audit.conf    0x41  msg   -       -
  locks      /etc/app/locks.conf    '1'

  name    letters, digits and _ . : @ / + -; unique across all the
          manifests of a run
  path    the file the channel's programs pass to ftok; a relative path is
          taken from the manifest's directory; as in fstab, a space is
          written \040, a tab \011, a newline \012, a backslash \134
  proj    the proj id: a character (l), a quoted character ('1'), decimal
          (108) or hex (0x6c)
  type    optional: shm, sem or msg
  nattch  optional: the processes expected attached: N, N-M or N+
  owner   optional: the user name or numeric uid that must own the live
          object
  flags   optional: config, the key file is a configuration file that
          deploys and editors rewrite (key-file-replaceable)
  exe=PATH
          optional, repeatable, after the other fields: an executable that
          may use the channel, as /proc/PID/exe shows it (escaped like the
          path); a process attached to its segment, or a watched call, from
          another one is unexpected-user

A line whose second field starts with tcp:, tcp6:, udp:, udp6: or unix:
declares a listening socket and the program that must hold it (exe= its
executable as /proc/PID/exe shows it, unit= its systemd unit), and turns
on scan's descriptor checks:

  web      tcp:127.0.0.1:5555   exe=/usr/sbin/a
  fcgi     unix:/run/app.sock   unit=app-fcgi.service

A malformed line stops the run with exit status 2 and one line naming the
file, the line and the field.
`

const configsHelp = `A PATH given to scan, ls or explain -f that is an application's
configuration file naming key files is read as one: each setting that names
a key file becomes a channel named FILE:SETTING, with its file and line in
every finding. A file in which no such setting is found is a key file.

The line format (key = value, key : value and key value lines, [sections],
#, ; and // comments, shell env files with export and quotes) is read for
.conf, .ini, .cfg, .cnf, .config, .env, .properties and files without an
extension; YAML for .yaml and .yml, JSON for .json, TOML for .toml. A file
that starts with { or --- is read as JSON or YAML whatever its name.
Malformed YAML, JSON or TOML is exit status 2; binary files, files over
1 MiB and other extensions are key files.

Setting names are dotted (section.key) and split into words at ., _, - and
camelCase. A setting names a key file when its name mentions shared memory,
semaphores, message queues or ftok (shm, sem, msg, ipc, sysv, ftok) or a
key file (keyfile, key_file, KeyPath), is not about cryptography, TLS, SSH,
sockets, logs, pid files or shm_open names, and its value reads as a path:
chnl_shm_path, ipc.shm.keyfile and SEM_KEY_PATH are taken, kernel.shmmax
and ssl_key_file are not. --setting PATTERN replaces this rule.

The proj id comes from -p, or from a sibling setting of the same prefix,
which wins: chnl_shm_path with chnl_shm_proj = l, ipc.shm.keyfile with
ipc.shm.proj (also _proj_id, _projid, _ftok_proj). Services naming one key
file with one proj id share one channel (same-file). A relative key-file
path is taken from the config's directory, or from --base DIR.
`

const ignoreHelp = `An ignore file suppresses findings, each with a reason. scan reads the files
given with --ignore-file and the .ipckeys-ignore beside each manifest. One
entry per line; # starts a comment:

  # CODE              TARGET        reason="..."                       [expires=YYYY-MM-DD]
  key-in-use          orders        reason="blue/green: old instance"  expires=2026-12-31
  stale-object        0x00abcdef    reason="kept for the crash dump"
  unstable-filesystem /dev/shm/k    reason="tmpfs on purpose: rebuilt at boot"

CODE is a finding code (ipckeys help findings). TARGET is a channel name, a
path as given on the command line or in the manifest, or a key written 0x
and hex digits. The reason is required. A suppressed finding stays in the
json and sarif reports, marked, and no longer fails the run. An entry past
its expiry date suppresses nothing and is itself a finding
(suppression-expired), as is an entry that matches no finding
(suppression-unused).
`

const outputsHelp0 = `scan writes any number of formats from one run: -o FORMAT to standard
output (at most one), -o FORMAT=PATH to a file. Output paths are checked
before the scan runs. A regular file is replaced whole (a new file renamed
over it, keeping its mode and owner); a file with other hard links, a
device, a FIFO or a descriptor is written in place; a directory, block
device or socket is refused.

  table       for people; the default on a terminal
  text        one finding per line, LOCATION: SEVERITY: CODE KEY: MESSAGE;
              the default when standard output is not a terminal
  json        the report, schema ipckeys/scan/v1
  sarif       SARIF 2.1.0, one rule per finding code, for code scanning
  github      GitHub Actions workflow commands (::error file=...::message)
  junit       JUnit XML, one test case per channel and path
  prometheus  the text exposition format for the node_exporter textfile
              collector

The prometheus format has these gauges:
`

// outputsHelp lists the metrics as the prometheus output itself
// describes them.
func outputsHelp() string {
	var buf bytes.Buffer
	// A run that checked live objects writes every metric.
	live := &ipcscan.Snapshot{Attach: &ipcscan.Attachments{}}
	_ = report.Prometheus(&buf, &report.Result{FailOn: audit.Error, Snap: live})
	var metrics manpage.Block
	metrics.Kind = manpage.Definitions
	for _, line := range strings.Split(buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(rest, " ")
			metrics.Items = append(metrics.Items, manpage.Item{Term: name, Text: text})
		}
	}
	return outputsHelp0 + "\n" + manpage.Text([]manpage.Block{metrics})
}

// findingsHelp lists every finding code from the rules themselves.
func findingsHelp() string {
	intro := manpage.Block{Kind: manpage.Paragraph, Lines: []string{
		"Every finding has a stable code, which scripts and ignore files name, a",
		"severity (--fail-on says which fail the run) and a message naming the",
		"entries, their keys and what to do. The codes, with their usual severity:",
	}}
	codes := manpage.Block{Kind: manpage.Definitions}
	for _, r := range audit.Rules {
		codes.Items = append(codes.Items, manpage.Item{
			Term: r.Code + " (" + r.Severity.String() + ")",
			Text: r.Summary + ". Fix: " + r.Fix + ".",
		})
	}
	return manpage.Text([]manpage.Block{intro, codes})
}

const exitStatusHelp = `What CI jobs and deploy scripts branch on; treat 2 as a failure too, never
as a pass:

  0   no finding at or above --fail-on (scan); every path usable (key,
      ls); help and version
  1   a finding at or above --fail-on (scan, whatever the output
      formats); a path ftok cannot use (key, ls)
  2   a usage or operational error: a bad flag or argument, an unreadable
      or malformed manifest, config or ignore file, an output that cannot
      be written, live tables that cannot be read with --live
`

const environmentHelp = `  NO_COLOR
      when set and not empty, --color auto does not colour the tables
  LANG, LC_ALL, LC_CTYPE
      the table output measures the width of characters by the locale
  SOURCE_DATE_EPOCH
      the date ipckeys man gives the page (for reproducible builds); the
      commit date of the build otherwise
`

const filesHelp = `  /proc/sysvipc/shm, /proc/sysvipc/sem, /proc/sysvipc/msg
      the live IPC objects (the *_STAT_ANY system calls where they are
      missing); --proc DIR reads another tree
  /proc/PID/maps
      which processes are attached to which segment
  /proc/PID/fd, /proc/PID/fdinfo, /proc/PID/net
      the descriptors, sockets and listener queues of the descriptor checks
  /proc/self/mountinfo
      the filesystems explain matches a key's device byte against
  .ipckeys-ignore
      suppressions, read beside each manifest
  /usr/lib/systemd/system/ipckeys.service, ipckeys.timer
      the packaged check every 5 minutes, disabled until
      systemctl enable --now ipckeys.timer
  /etc/ipckeys/app.manifest
      the manifest the packaged ipckeys.service checks
  /var/lib/node_exporter/textfile/ipckeys.prom
      the metrics ipckeys.service writes for the textfile collector
`
