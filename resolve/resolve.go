// Package resolve turns what a user names — key-file paths, globs,
// application configs with the files they include, manifests — into the
// entries a check is made of, as this host, another root directory
// (--root) or a process (--pid) sees them. It is the one place that
// decides what an input is, and it fails closed:
//
//   - a glob that matches nothing and a path that does not exist are
//     entries that cannot be used (findings), in every mode, --static
//     included;
//   - a file that looks like a configuration, by its name or its content,
//     and cannot be read (permission, size, syntax, an include that is
//     missing) is an error naming the file and the reason, never a key
//     file;
//   - a file that is no configuration (binary data, an extension that
//     names no format, no setting that names a key file) is a key file,
//     and the run's inputs say why;
//   - a key-file setting whose value refers to a variable that cannot be
//     resolved gives a warning naming it (setting-unresolved), never a key
//     computed from a literal "$APP_DATA/ipc.key".
//
// Configs, their includes and globs are read under the view's root, so
// `--root /srv/h07 /etc/app/*.conf` reads /srv/h07/etc/app/*.conf and
// the files they name there.
package resolve

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ipckeys/ipckeys/appconfig"
	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
)

// StdinName names standard input where a file name is shown.
const StdinName = "<stdin>"

// Request is what a command was told to check.
type Request struct {
	Projs     []int    // the -p proj ids, each once
	Manifests []string // -m files; "-" is standard input
	Args      []string // positional paths and globs: key files or configs
	Configs   *Configs // nil: positional paths are key files only
	Static    bool     // --static: never look at a key file
	View      View
	// Stdin hands standard input to the flag that names it ("-"); nil
	// refuses "-".
	Stdin func(flag string) (io.Reader, error)
}

// Configs is how configs are read.
type Configs struct {
	Settings []string // --setting patterns, replacing the default rule
	Base     string   // --base: where the services run
	// Env is where variable references in key-file settings expand from
	// after the files' own assignments: --env files, and the process
	// environment when the user asks for it.
	Env map[string]string
}

// Result is what a Request resolves to.
type Result struct {
	Entries   []audit.Entry
	Channels  []manifest.Channel  // from manifests
	Listeners []manifest.Listener // from manifests
	Inputs    []report.Input      // what each positional file was taken as
	// Findings are about inputs rather than keys: key-file settings whose
	// variables could not be resolved.
	Findings []audit.Finding
}

// UsageError is a bad command line: the caller prints it as one line and
// exits 2, as for a bad flag.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// Resolve reads the manifests and the positional paths (globs expanded,
// configs read with their includes) as entries.
func Resolve(r Request) (*Result, error) {
	chans, listeners, err := loadManifests(r.Manifests, r.Stdin)
	if err != nil {
		return nil, err
	}
	b := &builder{req: r, projs: r.Projs, files: &keyFiles{view: r.View, in: ipcscan.NewInspector()}, seen: map[seenKey]bool{}}
	if err := b.args(); err != nil {
		return nil, err
	}
	b.manifestChannels(chans)
	b.markConfigKeyFiles()
	return &Result{Entries: b.entries, Channels: chans, Listeners: listeners, Inputs: b.inputs, Findings: b.findings}, nil
}

// loadManifests reads every -m file; any problem is an operational error.
func loadManifests(paths []string, stdin func(string) (io.Reader, error)) ([]manifest.Channel, []manifest.Listener, error) {
	var all []manifest.Channel
	var listeners []manifest.Listener
	where := map[string]string{}
	for _, p := range paths {
		var m *manifest.Manifest
		var err error
		if p == "-" {
			if stdin == nil {
				return nil, nil, usagef("-m -: standard input cannot be read here: give a file")
			}
			var r io.Reader
			if r, err = stdin("-m"); err != nil {
				return nil, nil, err
			}
			m, err = manifest.ParseManifest(r, StdinName)
		} else {
			m, err = manifest.LoadManifest(p)
		}
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			return nil, nil, fmt.Errorf("manifest %s: %v: check the -m path", audit.Display(p), pe.Err)
		case err != nil:
			return nil, nil, err
		}
		if len(paths) == 1 {
			// Parse already refused a name given twice in one manifest.
			return m.Channels, m.Listeners, nil
		}
		names := make([]string, 0, len(m.Channels)+len(m.Listeners))
		lines := map[string]int{}
		for _, c := range m.Channels {
			names, lines[c.Name] = append(names, c.Name), c.Line
		}
		for _, l := range m.Listeners {
			names, lines[l.Name] = append(names, l.Name), l.Line
		}
		file := p
		if p == "-" {
			file = StdinName
		}
		for _, name := range names {
			loc := fmt.Sprintf("%s:%d", audit.Display(file), lines[name])
			if prev, dup := where[name]; dup {
				return nil, nil, fmt.Errorf("%s: channel %q is already defined at %s: give each channel its own name", loc, name, prev)
			}
			where[name] = loc
		}
		all = append(all, m.Channels...)
		listeners = append(listeners, m.Listeners...)
	}
	return all, listeners, nil
}

type seenKey struct {
	path string
	proj int
}

// builder turns a request into entries.
type builder struct {
	req      Request
	projs    []int
	files    *keyFiles
	seen     map[seenKey]bool
	entries  []audit.Entry
	inputs   []report.Input
	findings []audit.Finding
	configs  []configFile // the config files read, to spot one used as a key file
}

type configFile struct {
	path string
	dev  uint64
	ino  uint64
}

// args expands the positional paths and reads each as a config or a key
// file. A pattern that matches nothing, and in --static a path that does
// not exist, becomes an unusable entry so the gate reports it rather than
// passing in silence.
func (b *builder) args() error {
	for _, arg := range b.req.Args {
		if arg == "" {
			return usagef("empty path argument: ftok needs a file name")
		}
		var paths []string
		var found []ipcscan.Inspected
		var hosts []*ipcscan.KeyFile
		var err error
		if b.req.Static {
			paths, err = b.files.expandOnly(arg) // --static looks at no key file
		} else {
			paths, found, hosts, err = b.files.expand(arg)
		}
		pattern := ""
		if len(paths) != 1 || paths[0] != arg {
			pattern = arg
		}
		switch {
		case errors.Is(err, filepath.ErrBadPattern):
			if strings.Contains(err.Error(), "**") {
				return usagef("pattern %s: %v", audit.Display(arg), err)
			}
			return usagef("bad pattern %s: %v (quote the path or escape [ with \\[)", audit.Display(arg), err)
		case errors.Is(err, ipcscan.ErrNoMatch):
			b.entries = append(b.entries, audit.Entry{Pattern: arg, Path: arg, Err: err, StaticMissing: b.req.Static})
			continue
		case err != nil:
			return err
		}
		if b.req.Static {
			for _, path := range paths {
				if err := b.staticPath(path, pattern); err != nil {
					return err
				}
			}
			continue
		}
		b.entries = slices.Grow(b.entries, len(paths)*max(1, len(b.projs)))
		for i := range found {
			kf := keyFile{file: found[i].KeyFile, err: found[i].Err}
			if hosts != nil {
				kf.host = hosts[i]
			}
			if err := b.path(paths[i], pattern, kf); err != nil {
				return err
			}
		}
	}
	return nil
}

// staticPath adds one positional path of a --static run: the configs are
// in the checkout, the key files they name are not looked at.
func (b *builder) staticPath(path, pattern string) error {
	if _, err := b.files.statPath(path); errors.Is(err, fs.ErrNotExist) {
		// --static reads the configs it is given: one that is missing
		// is a typo or a broken checkout, not a key file of the hosts.
		b.entries = append(b.entries, audit.Entry{Pattern: pattern, Path: path, Err: err, StaticMissing: true})
		return nil
	}
	if b.req.Configs != nil {
		isConfig, err := b.config(path, keyFile{})
		if err != nil || isConfig {
			return err
		}
	}
	b.keyFilePath(path, pattern, keyFile{}, true)
	return nil
}

// path adds one positional path: the channels of a config's key-file
// settings, or the path as a key file.
func (b *builder) path(path, pattern string, kf keyFile) error {
	// Only a regular file that could hold settings is read: an empty key
	// file, a device or a directory costs nothing more than the stat ftok
	// makes, and a glob of 100,000 key files is not 100,000 lines of
	// "input:". A file that cannot be stat'ed is read if its name says it
	// is a config: then why it cannot be read is an error.
	mayBeConfig := kf.err == nil && kf.file.Regular && kf.file.Size > 0
	if kf.err != nil && !errors.Is(kf.err, fs.ErrNotExist) && appconfig.ConfigName(path) {
		mayBeConfig = true
	}
	if b.req.Configs != nil && mayBeConfig {
		isConfig, err := b.config(path, kf)
		if err != nil || isConfig {
			return err
		}
	}
	b.keyFilePath(path, pattern, kf, false)
	return nil
}

// keyFilePath adds a path given as a key file, with every -p proj id (or
// none: fingerprint only).
func (b *builder) keyFilePath(path, pattern string, kf keyFile, static bool) {
	// One glob never names a path twice: paths repeat only across
	// arguments, so one argument needs no record of what it added.
	dedupe := len(b.req.Args) > 1
	add := func(proj int, hasProj bool) {
		if dedupe {
			if b.seen[seenKey{path, proj}] {
				return
			}
			b.seen[seenKey{path, proj}] = true
		}
		b.entries = append(b.entries, audit.Entry{Pattern: pattern, Path: path, Proj: proj, HasProj: hasProj,
			File: kf.file, HostFile: kf.host, Err: kf.err, Static: static})
	}
	if len(b.projs) == 0 {
		add(0, false)
	}
	for _, p := range b.projs {
		add(p, true)
	}
}

// channel adds a config channel with one proj id.
func (b *builder) channel(c *manifest.Channel, proj int, hasProj bool) {
	path := c.Resolved()
	e := audit.Entry{Channel: c, Path: path, Proj: proj, HasProj: hasProj, Static: b.req.Static}
	if !b.req.Static && path != "" {
		kf := b.files.inspectAll([]string{path})[0]
		e.File, e.HostFile, e.Err = kf.file, kf.host, kf.err
	}
	b.entries = append(b.entries, e)
}

// manifestChannels adds the manifests' channels. Channels share key
// files: each distinct path is stat'ed once, all of them in one batch, so
// a manifest of a million channels costs a million stat calls spread over
// the CPUs and one entry each.
func (b *builder) manifestChannels(chans []manifest.Channel) {
	if len(chans) == 0 {
		return
	}
	resolved := make([]string, len(chans))
	type place struct{ manifest, path string }
	made := map[place]string{}
	for i := range chans {
		c := &chans[i]
		r, ok := made[place{c.File, c.Path}]
		if !ok {
			r = c.Resolved()
			made[place{c.File, c.Path}] = r
		}
		resolved[i] = r
	}
	start := len(b.entries)
	b.entries = slices.Grow(b.entries, len(chans))[:start+len(chans)]
	for i := range chans {
		b.entries[start+i] = audit.Entry{Channel: &chans[i], Path: resolved[i], Proj: chans[i].Proj, HasProj: true, Static: b.req.Static}
	}
	if b.req.Static {
		return
	}
	// Number the distinct paths, stat them, and hand each channel its
	// path's result.
	number := make(map[string]int, len(chans))
	var distinct []string
	ns := make([]int, len(chans))
	for i, r := range resolved {
		n, ok := number[r]
		if !ok {
			n = len(distinct)
			number[r] = n
			distinct = append(distinct, r)
		}
		ns[i] = n
	}
	number = nil
	got := b.files.inspectAll(distinct)
	for i := range chans {
		e, kf := &b.entries[start+i], &got[ns[i]]
		e.File, e.HostFile, e.Err = kf.file, kf.host, kf.err
	}
}

// markConfigKeyFiles notes entries whose key file is one of the configs
// read: deploys rewrite configs, and the key changes with them.
func (b *builder) markConfigKeyFiles() {
	if len(b.configs) == 0 {
		return
	}
	for i := range b.entries {
		e := &b.entries[i]
		for _, c := range b.configs {
			same := false
			if e.Static {
				same = filepath.Clean(e.Path) == filepath.Clean(c.path)
			} else {
				same = e.OK() && e.File.Dev == c.dev && e.File.Ino == c.ino
			}
			if same {
				e.ConfigKeyFile = c.path
				break
			}
		}
	}
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
