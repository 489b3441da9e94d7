package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/hostinfo"
	"github.com/ipckeys/ipckeys/internal/outfile"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
	"github.com/ipckeys/ipckeys/watch"
)

var watchCommand = &command{
	name:    "watch",
	summary: "see which programs derive and use which keys, as they do",
	usage: `Usage: ipckeys watch [--pid PID] [--exe PATH] [--cgroup NAME] [--ipc-ns NS] [--hooks MODE] [--for DURATION] [-m MANIFEST]... [flags]

Watches, through eBPF, every call of ftok in the C libraries the processes
map (glibc's libc.so.6, musl's loader) and the System V IPC system calls:
shmget, semget, msgget, shmat, shmdt, semop, semtimedop, msgsnd, msgrcv,
and shmctl, semctl, msgctl with IPC_RMID or IPC_SET. Each call is printed
as it happens with its process, executable, user and IPC namespace, until
--for has passed or SIGINT or SIGTERM arrives; then the findings are
written in the report formats:
  runtime-collision  two programs derived one key from different files
  ipc-error          shmget EINVAL, EEXIST under IPC_EXCL, EACCES
  unexpected-user    a manifest channel's key used by another user than
                     its owner, or another executable than its exe=

Needs root (CAP_SYS_ADMIN: the kernel opens the uprobe on ftok only with
it) and the kernel's BTF (/sys/kernel/btf/vmlinux); without them it exits 2
naming what is missing.
Everything it attaches goes away when it exits or is killed. Events the
kernel could not hand over (a full ring buffer) are counted, and make a
check-incomplete warning.

Flags:
      --pid PID          show and judge only the calls of this process
      --exe PATH         only the calls of programs running this executable
      --cgroup NAME      only the calls of processes whose cgroup path,
                         systemd unit or container contains NAME
      --ipc-ns NS        only the calls made in this IPC namespace:
                         ipc:[INODE] as /proc/PID/ns/ipc shows it, the
                         inode, or a path to it (/proc/PID/ns/ipc)
      --hooks MODE       how the system calls are seen. libc (the default):
                         uprobes after the system call in the C libraries'
                         IPC functions, which cost other system calls
                         nothing, but miss programs that use no probed C
                         library (static and Go programs, named in a
                         check-incomplete warning); syscalls: the system
                         call tracepoints, which see every program and add
                         about 10 ns to every system call of the host
      --for DURATION     stop after DURATION (10s, 5m); default: until
                         SIGINT or SIGTERM
  -m, --manifest FILE    channel manifest, repeatable: calls using a
                         channel's key as another user than its owner, or
                         from another executable than its exe=, are
                         unexpected-user findings
      --learn            write a manifest of the channels seen, with their
                         users' executables and the segments' attach
                         counts (needs -o manifest=FILE)
      --libc FILE        another C library to probe, repeatable (one that
                         no running process maps yet)
  -o, --output FMT[=PATH]
                         repeatable: the event stream, events (text lines,
                         the default) or jsonl, or none; the findings, in
                         table, text, json, sarif, github, junit or
                         prometheus (default: text after the events);
                         manifest=FILE with --learn (checked before the
                         watch starts). At most one stream and one report
                         format go to stdout
      --fail-on LEVEL    exit 1 when a finding is at least LEVEL:
                         error (default), warning, info or never
  -q, --quiet            print nothing but error findings
      --color WHEN       auto (default), always or never

Exit status: 0 no finding at or above --fail-on, 1 there is one, 2 usage
or operational error (a missing capability or BTF, a kernel refusing the
programs).
`,
	run: runWatch,
}

// streamFormats are watch's event stream formats.
var streamFormats = map[string]bool{"events": true, "jsonl": true, "none": true}

func runWatch(c *command, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	pid := fs.Int("pid", 0, "")
	exe := fs.String("exe", "", "")
	cgroup := fs.String("cgroup", "", "")
	ipcNS := fs.String("ipc-ns", "", "")
	hooks := fs.String("hooks", "", "") // "": libc, or what IPCKEYS_WATCH_HOOKS says
	duration := fs.Duration("for", 0, "")
	manifests := fs.StringArrayP("manifest", "m", nil, "")
	learn := fs.Bool("learn", false, "")
	libc := fs.StringArray("libc", nil, "")
	gate := addGateFlags(fs)
	if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if fs.NArg() > 0 {
		return fail(stderr, usagef("watch takes no arguments: filter with --pid, --exe, --cgroup or --ipc-ns"))
	}
	mode, err := watch.ParseHookMode(*hooks)
	if err != nil {
		return fail(stderr, usagef("watch: --hooks %v", err))
	}
	var ns uint32
	if *ipcNS != "" {
		var err error
		if ns, err = watch.ParseIPCNamespace(*ipcNS); err != nil {
			return fail(stderr, usagef("watch: --ipc-ns: %v", err))
		}
	}
	if *duration < 0 {
		return fail(stderr, usagef("watch: --for %s: give a positive duration (10s, 5m)", *duration))
	}
	var streams, reports []string
	learnPath := ""
	for _, o := range gate.outputs {
		format, path, _ := strings.Cut(o, "=")
		switch {
		case format == "manifest":
			if !*learn || path == "" || path == "-" {
				return fail(stderr, usagef("watch: -o manifest=FILE writes what --learn learnt: give --learn and a file"))
			}
			learnPath = path
		case streamFormats[format]:
			if path != "" {
				return fail(stderr, usagef("watch: -o %s: the event stream goes to standard output (redirect it)", o))
			}
			streams = append(streams, format)
		default:
			reports = append(reports, o)
		}
	}
	if *learn && learnPath == "" {
		return fail(stderr, usagef("watch: --learn needs -o manifest=FILE, where the manifest is written"))
	}
	if len(streams) > 1 {
		return fail(stderr, usagef("watch: -o %s and -o %s: give one event stream", streams[0], streams[1]))
	}
	stream := "events"
	if len(streams) == 1 {
		stream = streams[0]
	}
	if len(reports) == 0 {
		reports = []string{"text"}
	}
	gate.outputs = reports
	outs, failOn, color, err := gate.parse(stdout, scanFormat, formatList+", or the streams events, jsonl, none, or manifest=FILE")
	if err != nil {
		return fail(stderr, err)
	}
	expected, err := expectedChannels(*manifests)
	if err != nil {
		return fail(stderr, err)
	}
	if err := prepareOutputs(outs, stdout); err != nil {
		return fail(stderr, err)
	}
	// The manifest's file is checked before the watch starts: a path it
	// cannot be written to fails now, not after a long watch.
	learnt, err := prepareLearnt(learnPath, outs)
	if err != nil {
		closeOutputs(outs)
		return fail(stderr, err)
	}
	abandon := func() {
		closeOutputs(outs)
		if learnt != nil {
			learnt.Close()
		}
	}
	w, err := watch.Start(watch.Options{Libraries: *libc, Hooks: mode})
	if err != nil {
		abandon()
		return fail(stderr, err)
	}
	var sampler *attachSampler
	if learnt != nil {
		sampler = startSampler(ipcscan.DefaultRoot)
	}
	filter := watch.Filter{PID: *pid, Exe: *exe, Cgroup: *cgroup, IPCNS: ns}
	events, dropped, err := collect(w, filter, *duration, stream, stdout, sampler)
	attached := sampler.finish()
	if err != nil {
		abandon()
		return fail(stderr, err)
	}
	result := &report.Result{FailOn: failOn, Time: time.Now(), Version: buildVersion()}
	host := hostinfo.Read("/proc", "/etc")
	host.Time = result.Time.UTC().Format(time.RFC3339)
	result.Host = &host
	// What was watched, and at what cost to the host: the notes say which
	// kernel hooks saw the system calls.
	result.Live = report.LiveSummary{Checked: true, Source: "the IPC calls seen through eBPF", Notes: []string{w.Hooks()}}
	result.Findings = audit.CheckRuntime(audit.Runtime{Events: events, Expected: expected})
	if dropped > 0 {
		result.Findings = append(result.Findings, audit.Finding{Code: audit.CheckIncomplete, Severity: audit.Warning,
			Message: fmt.Sprintf("%d events were lost (the kernel's ring buffer was full), so the findings may miss what they showed: watch fewer processes, or read faster", dropped)})
	}
	missed, notes := unseen(w)
	result.Findings = append(result.Findings, missed...)
	result.Live.Notes = append(result.Live.Notes, notes...)
	audit.Sort(result.Findings)
	if learnt != nil {
		if err := learnt.Write(func(w io.Writer) error { return watch.WriteManifest(w, watch.Learn(events, attached)) }); err != nil {
			closeOutputs(outs)
			return fail(stderr, fmt.Errorf("-o manifest=%s: %v", learnPath, err))
		}
	}
	if err := writeOutputs(outs, result, stdout, report.Style{Color: color, Quiet: gate.quiet}); err != nil {
		return fail(stderr, err)
	}
	if result.Summary().Failed {
		return exitFindings
	}
	return exitClean
}

// collect streams the events that pass the filter until the duration has
// passed or a signal arrives, and returns them with the drop count. The
// sampler, when not nil, sees each of them.
func collect(w *watch.Watcher, filter watch.Filter, d time.Duration, stream string, stdout io.Writer, sampler *attachSampler) ([]watch.Event, uint64, error) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var timeout <-chan time.Time
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	stopped := make(chan uint64, 1)
	done := make(chan struct{})
	var dropErr error
	go func() {
		select {
		case <-sigs:
		case <-timeout:
		case <-done:
		}
		n, err := w.Dropped()
		dropErr = err
		w.Close()
		stopped <- n
	}()
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	var events []watch.Event
	seen := map[string]bool{}
	var readErr error
	for {
		e, err := w.Next()
		if errors.Is(err, watch.ErrClosed) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if !filter.Match(&e) {
			continue
		}
		sampler.saw(&e)
		if k, ok := watch.Judged(&e); ok && !seen[k] && len(seen) < maxJudged {
			seen[k] = true
			events = append(events, e)
		}
		switch stream {
		case "events":
			fmt.Fprintln(out, e.Text())
		case "jsonl":
			_ = enc.Encode(e)
		}
		out.Flush()
	}
	close(done)
	n := <-stopped
	if readErr == nil {
		readErr = dropErr
	}
	return events, n, readErr
}

// maxJudged bounds the distinct calls kept for the findings over a long
// watch (the stream shows every call).
const maxJudged = 100_000

// expectedChannels reads the manifests' channels with the keys their
// files give now and their owners' uids.
func expectedChannels(paths []string) ([]audit.Expected, error) {
	var out []audit.Expected
	for _, p := range paths {
		chans, err := manifest.Load(p)
		if err != nil {
			return nil, err
		}
		for _, c := range chans {
			key, err := ftok.FileKey(c.Resolved(), c.Proj)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: channel %s: %v: ftok cannot use its key file", c.File, c.Line, c.Name, err)
			}
			x := audit.Expected{Name: c.Name, Key: key, Owner: c.Owner, Exes: c.Exes}
			if c.Owner != "" {
				uid, err := ipcscan.LookupOwner(c.Owner)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: channel %s: owner %s: %v: use a numeric uid or a user this host knows", c.File, c.Line, c.Name, c.Owner, err)
				}
				x.UID = uid
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// prepareLearnt checks and prepares the file --learn writes its manifest
// to (nil for none), which must be none of the report files.
func prepareLearnt(path string, outs []output) (*outfile.Target, error) {
	if path == "" {
		return nil, nil
	}
	t, err := outfile.Prepare(path)
	if err != nil {
		return nil, fmt.Errorf("-o manifest=%s: %v", path, err)
	}
	for _, o := range outs {
		if o.target != nil && o.target.Same(t) {
			t.Close()
			return nil, usagef("-o manifest=%s and -o %s=%s are the same file: give each its own file", path, o.format, o.path)
		}
	}
	return t, nil
}

// attachSampler samples, while --learn watches, how many processes are
// attached to each segment: the count scan --live holds a manifest's
// nattch to (audit.AttachCount: distinct processes when every mapping's
// process is known, the kernel's nattch otherwise), so that the learnt
// range passes scan on the same system. The calls cannot tell it (a fork
// inherits an attachment without a call, an exit detaches without one),
// so the tables and maps are read: when the watch starts, after the shm
// calls watched (at most once every sampleEvery, and once more after the
// last of a burst), and when it ends.
//
// Its own IPC namespace is read directly. Another namespace a shm call
// came from is read through the last process seen calling in it
// (ipcscan.SnapshotOf enters the namespace, which needs CAP_SYS_ADMIN), as
// long as that process lives and is still in it; a namespace that could
// never be read leaves its segments' nattch unset.
type attachSampler struct {
	fs      ipcscan.FS
	self    uint32
	ranges  *watch.NattchRanges
	kick    chan struct{} // a shm call was seen
	stop    chan struct{}
	stopped chan struct{}

	mu      sync.Mutex
	callers map[uint32]int // a pid seen calling in each other namespace
}

// sampleEvery is the shortest time between two samples: a sample reads
// the maps of processes, and a busy program makes thousands of calls a
// second.
const sampleEvery = 250 * time.Millisecond

// startSampler takes the first sample and starts sampling after the calls.
func startSampler(proc string) *attachSampler {
	s := &attachSampler{fs: ipcscan.NewFS(proc), ranges: watch.NewNattchRanges(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}), callers: map[uint32]int{}}
	if ns, err := s.fs.IPCNamespace("self"); err == nil {
		s.self = uint32(ns)
	}
	s.sample()
	go s.loop()
	return s
}

// saw notes a watched call: a shm call asks for a sample.
func (s *attachSampler) saw(e *watch.Event) {
	if s == nil || e.Kind.Facility() != "shm" {
		return
	}
	if e.IPCNS != s.self && e.PID > 0 {
		s.mu.Lock()
		s.callers[e.IPCNS] = e.PID
		s.mu.Unlock()
	}
	select {
	case s.kick <- struct{}{}:
	default: // a sample is asked for already
	}
}

func (s *attachSampler) loop() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		s.sample()
		select {
		case <-s.stop:
			return
		case <-time.After(sampleEvery):
		}
	}
}

// finish stops the sampling, takes the last sample and returns them all
// (nil for a nil sampler).
func (s *attachSampler) finish() *watch.NattchRanges {
	if s == nil {
		return nil
	}
	select {
	case <-s.stopped:
		return s.ranges
	default:
	}
	close(s.stop)
	<-s.stopped
	s.sample()
	return s.ranges
}

// sample reads the segments of its own namespace and of the others seen.
func (s *attachSampler) sample() {
	if snap, err := s.fs.Snapshot(); err == nil {
		s.add(snap)
	}
	s.mu.Lock()
	callers := maps.Clone(s.callers)
	s.mu.Unlock()
	var attach *ipcscan.Attachments // one scan of the maps serves every namespace
	for ns, pid := range callers {
		if attach == nil {
			a, err := s.fs.Attachments()
			if err != nil {
				return
			}
			attach = a
		}
		snap, err := s.fs.SnapshotOf(pid, attach)
		if err != nil || uint32(snap.NS) != ns {
			continue // it ended, or the pid is another process's now
		}
		s.add(snap)
	}
}

// add records a snapshot's segments; removed ones (key 0) have no key a
// channel could name.
func (s *attachSampler) add(snap *ipcscan.Snapshot) {
	for i := range snap.Shm {
		sg := &snap.Shm[i]
		if sg.Key == 0 {
			continue
		}
		n, _ := audit.AttachCount(snap, sg)
		s.ranges.Add(uint32(snap.NS), sg.Key, n)
	}
}

// uncoveredShown is how many unwatched processes a finding names.
const uncoveredShown = 5

// unseen says what the hooks could not see: as check-incomplete warnings,
// the IPC functions of a C library a process maps that make their call
// elsewhere, and the processes running now that use no probed C library
// (static and Go programs); as notes, the same functions of a library no
// process was seen to map (the host's musl, found on disk).
func unseen(w *watch.Watcher) (findings []audit.Finding, notes []string) {
	const remedy = "watch with --hooks syscalls to see them (the system call tracepoints, about 10 ns on every system call of the host)"
	cov, err := w.Coverage("")
	if err != nil {
		return []audit.Finding{{Code: audit.CheckIncomplete, Severity: audit.Warning,
			Message: fmt.Sprintf("which processes the C library hooks cover could not be read: %v", err)}}, nil
	}
	for _, g := range cov.Gaps {
		findings = append(findings, audit.Finding{Code: audit.CheckIncomplete, Severity: audit.Warning, Message: g + ": " + remedy})
	}
	for _, g := range cov.Idle {
		notes = append(notes, g+" (no running process was seen to map it)")
	}
	var procs, unreadable []watch.UncoveredProcess
	for _, p := range cov.Uncovered {
		if p.Unreadable {
			unreadable = append(unreadable, p)
		} else {
			procs = append(procs, p)
		}
	}
	if len(procs) > 0 {
		findings = append(findings, audit.Finding{Code: audit.CheckIncomplete, Severity: audit.Warning,
			Message: fmt.Sprintf("the System V IPC calls of %d running %s using no C library the watch probes (static or Go programs) were not seen: %s; %s",
				len(procs), pluralWord(len(procs), "process", "processes"), processList(procs), remedy)})
	}
	if len(unreadable) > 0 {
		findings = append(findings, audit.Finding{Code: audit.CheckIncomplete, Severity: audit.Warning,
			Message: fmt.Sprintf("whether the C library hooks see the System V IPC calls of %d %s is not known: %s could not be read (hidden even from root): %s; %s",
				len(unreadable), pluralWord(len(unreadable), "process", "processes"), pluralWord(len(unreadable), "its maps", "their maps"), processList(unreadable), remedy)})
	}
	return findings, notes
}

// processList names the first uncoveredShown processes, "PID COMM (EXE)",
// and counts the rest.
func processList(procs []watch.UncoveredProcess) string {
	names := make([]string, 0, uncoveredShown+1)
	for i, p := range procs {
		if i == uncoveredShown {
			names = append(names, fmt.Sprintf("and %d more", len(procs)-i))
			break
		}
		exe := p.Exe
		if exe == "" {
			exe = "exe unknown"
		}
		names = append(names, fmt.Sprintf("%d %s (%s)", p.PID, p.Comm, exe))
	}
	return strings.Join(names, ", ")
}
