package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/appconfig"
	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/inputfile"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
)

// configFlags are how scan, ls and explain -f read application configs.
type configFlags struct {
	settings []string // --setting: patterns replacing the default rule
	base     string   // --base: where the services run
}

const configUsage = `      --setting PATTERN   take the config settings whose dotted name matches
                          PATTERN (case-insensitive glob, '*.shm_path') as
                          key-file settings, instead of the default rule;
                          repeatable
      --base DIR          resolve relative key-file paths in configs from DIR
                          (where the services run), not the config's directory
`

func addConfigFlags(fl *pflag.FlagSet) *configFlags {
	c := &configFlags{}
	fl.StringArrayVar(&c.settings, "setting", nil, "")
	fl.StringVar(&c.base, "base", "", "")
	return c
}

func (c *configFlags) check() error {
	for _, p := range c.settings {
		if err := appconfig.ValidatePattern(p); err != nil {
			return usagef("--setting: %v", err)
		}
	}
	if c.base != "" {
		var st unix.Stat_t
		if err := unix.Stat(c.base, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return usagef("--base %s: not a directory: name the directory the services run in", c.base)
		}
		if abs, err := filepath.Abs(c.base); err == nil {
			c.base = abs
		}
	}
	return nil
}

// request is what a command was told to check.
type request struct {
	projFlags []string
	manifests []string
	args      []string     // positional paths: key files or configs
	configs   *configFlags // nil: positional paths are key files only
	static    bool         // --static: never look at a key file
	view      *view
}

// checked is what a request resolves to.
type checked struct {
	entries   []audit.Entry
	chans     []manifest.Channel  // from manifests
	listeners []manifest.Listener // from manifests
	inputs    []report.Input      // what each positional file was taken as
}

// configured reads the -p proj ids, the -m manifests and the positional
// paths (globs expanded; configs read for their key-file settings) as
// entries.
func configured(r request) (*checked, error) {
	projs, err := parseProjs(r.projFlags)
	if err != nil {
		return nil, err
	}
	chans, listeners, err := loadManifests(r.manifests)
	if err != nil {
		return nil, err
	}
	// The paths, their stat results and the entries live until the
	// report is written: the collector waits until they are made (or the
	// heap has grown by 256 MiB).
	defer holdCollector(256 << 20)()
	b := &builder{req: r, projs: uniqueProjs(projs), files: &keyFiles{view: r.view, in: ipcscan.NewInspector()}, seen: map[seenKey]bool{}}
	if err := b.args(); err != nil {
		return nil, err
	}
	b.manifestChannels(chans)
	b.markConfigKeyFiles()
	return &checked{entries: b.entries, chans: chans, listeners: listeners, inputs: b.inputs}, nil
}

// uniqueProjs drops proj ids given twice: each path gets each once.
func uniqueProjs(projs []int) []int {
	var out []int
	for _, p := range projs {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// parseProjs reads the -p values.
func parseProjs(values []string) ([]int, error) {
	projs := make([]int, 0, len(values))
	for _, v := range values {
		p, err := ftok.ParseProj(v)
		if err != nil {
			return nil, usageError{"-p: " + err.Error()}
		}
		projs = append(projs, p)
	}
	return projs, nil
}

// loadManifests reads every -m file; any problem is an operational error.
func loadManifests(paths []string) ([]manifest.Channel, []manifest.Listener, error) {
	var all []manifest.Channel
	var listeners []manifest.Listener
	where := map[string]string{}
	for _, p := range paths {
		var m *manifest.Manifest
		var err error
		if p == "-" {
			var r io.Reader
			if r, err = stdin.take("-m"); err != nil {
				return nil, nil, err
			}
			m, err = manifest.ParseManifest(r, stdinName)
		} else {
			m, err = manifest.LoadManifest(p)
		}
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			return nil, nil, fmt.Errorf("manifest %s: %v: check the -m path", p, pe.Err)
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
		for _, name := range names {
			loc := fmt.Sprintf("%s:%d", p, lines[name])
			if p == "-" {
				loc = fmt.Sprintf("%s:%d", stdinName, lines[name])
			}
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

// keyFiles stats key files: a batch in parallel through one Inspector
// (one stat per path, statfs once per filesystem, directory checks once per
// directory), or one path at a time through the view (--pid, --root).
type keyFiles struct {
	view *view
	in   *ipcscan.Inspector
}

type keyFile struct {
	file ipcscan.KeyFile
	host *ipcscan.KeyFile
	err  error
}

// inspectAll stats paths and returns what stat said of each, in order.
func (k *keyFiles) inspectAll(paths []string) []keyFile {
	out := make([]keyFile, len(paths))
	if k.view == nil || k.view.fileRoot() == "" {
		k.in.InspectAll(paths, func(i int, f ipcscan.KeyFile, err error) { out[i] = keyFile{file: f, err: err} })
		return out
	}
	for i, p := range paths {
		out[i].file, out[i].host, out[i].err = k.view.inspect(p)
	}
	return out
}

// expand returns the files arg names (as ipcscan.Expand does), each
// stat'ed: hosts[i] is the host's view of paths[i] where it differs (nil
// when none does). A batch on the host is matched and stat'ed at once.
func (k *keyFiles) expand(arg string) (paths []string, found []ipcscan.Inspected, hosts []*ipcscan.KeyFile, err error) {
	if k.view == nil || k.view.fileRoot() == "" {
		found, err = k.in.ExpandInspect(arg)
		paths = make([]string, len(found))
		for i := range found {
			paths[i] = found[i].Path
		}
		return paths, found, nil, err
	}
	if paths, err = ipcscan.Expand(arg); err != nil {
		return nil, nil, nil, err
	}
	found, hosts = make([]ipcscan.Inspected, len(paths)), make([]*ipcscan.KeyFile, len(paths))
	for i, p := range paths {
		found[i].KeyFile, hosts[i], found[i].Err = k.view.inspect(p)
	}
	return paths, found, hosts, nil
}

type seenKey struct {
	path string
	proj int
}

// builder turns a request into entries.
type builder struct {
	req     request
	projs   []int
	files   *keyFiles
	seen    map[seenKey]bool
	entries []audit.Entry
	inputs  []report.Input
	configs []configFile // the config files read, to spot one used as a key file
}

type configFile struct {
	path string
	dev  uint64
	ino  uint64
}

// args expands the positional paths and reads each as a config or a key
// file. A pattern that matches nothing becomes an unusable entry so the
// gate reports it rather than passing in silence.
func (b *builder) args() error {
	for _, arg := range b.req.args {
		if arg == "" {
			return usagef("empty path argument: ftok needs a file name")
		}
		var paths []string
		var found []ipcscan.Inspected
		var hosts []*ipcscan.KeyFile
		var err error
		if b.req.static {
			paths, err = ipcscan.Expand(arg) // --static looks at no file
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
			if !b.req.static {
				b.entries = append(b.entries, audit.Entry{Pattern: arg, Path: arg, Err: err})
			}
			continue
		}
		if b.req.static {
			for _, path := range paths {
				if err := b.path(path, pattern, keyFile{}, true); err != nil {
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
			// Only a regular file that could hold settings is read: an
			// empty key file, a device or a directory costs nothing more
			// than the stat ftok makes. A file over appconfig.MaxSize is
			// looked at too: a config that long is an error, not a skip.
			mayBeConfig := kf.err == nil && kf.file.Regular && kf.file.Size > 0
			if err := b.path(paths[i], pattern, kf, mayBeConfig); err != nil {
				return err
			}
		}
	}
	return nil
}

// path adds one positional path: the channels of a config's key-file
// settings, or the path as a key file.
func (b *builder) path(path, pattern string, kf keyFile, mayBeConfig bool) error {
	// A file that could not be a config (empty, a device) is
	// a key file without a word: a glob of 100,000 key files is not
	// 100,000 lines of "input:". Only the files read are accounted for.
	if b.req.configs != nil && mayBeConfig {
		isConfig, err := b.config(path)
		if err != nil || isConfig {
			return err
		}
	}
	b.keyFilePath(path, pattern, kf)
	return nil
}

// keyFilePath adds a path given as a key file, with every -p proj id (or
// none: fingerprint only).
func (b *builder) keyFilePath(path, pattern string, kf keyFile) {
	// One glob never names a path twice: paths repeat only across
	// arguments, so one argument needs no record of what it added.
	dedupe := len(b.req.args) > 1
	add := func(proj int, hasProj bool) {
		if dedupe {
			if b.seen[seenKey{path, proj}] {
				return
			}
			b.seen[seenKey{path, proj}] = true
		}
		b.entries = append(b.entries, audit.Entry{Pattern: pattern, Path: path, Proj: proj, HasProj: hasProj,
			File: kf.file, HostFile: kf.host, Err: kf.err, Static: b.req.static})
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
	e := audit.Entry{Channel: c, Path: path, Proj: proj, HasProj: hasProj, Static: b.req.static}
	if !b.req.static && path != "" {
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
		b.entries[start+i] = audit.Entry{Channel: &chans[i], Path: resolved[i], Proj: chans[i].Proj, HasProj: true, Static: b.req.static}
	}
	if b.req.static {
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

// config reads path as an application config. It reports false, and
// records why, when the file is not one or names no key file: then it is
// a key file, as every positional path was before configs were read.
func (b *builder) config(path string) (bool, error) {
	keyFile := func(why string) (bool, error) {
		b.inputs = append(b.inputs, report.Input{Path: path, TakenAs: "key file", Why: why})
		return false, nil
	}
	f, err := inputfile.Open(path)
	var nr *inputfile.NotRegularError
	switch {
	case errors.As(err, &nr):
		return keyFile(nr.Kind + ", not a regular file")
	case errors.Is(err, fs.ErrNotExist) && b.req.static:
		return keyFile("no such file here: --static does not look for key files")
	case err != nil:
		// Unreadable or missing: ftok itself needs only stat, and the
		// key-file checks say what is wrong with it.
		return keyFile("not readable: " + unwrapPathError(err).Error())
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	cfg, err := appconfig.Read(path, f, size)
	var tl *inputfile.TooLargeError
	switch {
	case errors.As(err, &tl):
		return false, err
	case err != nil && !errors.Is(err, appconfig.ErrNotConfig) && !errors.As(err, new(*appconfig.Error)):
		return keyFile("not readable: " + unwrapPathError(err).Error())
	}
	if errors.Is(err, appconfig.ErrNotConfig) {
		_, why, _ := strings.Cut(err.Error(), appconfig.ErrNotConfig.Error()+": ")
		return keyFile("not a configuration file: " + why)
	}
	if err != nil {
		return false, err
	}
	settings, err := appconfig.KeyFileSettings(cfg, b.req.configs.settings)
	if err != nil {
		return false, err
	}
	if len(settings) == 0 {
		rule := "no setting names a key file by the default rule"
		if len(b.req.configs.settings) > 0 {
			rule = "no setting matches --setting"
		}
		return keyFile(fmt.Sprintf("%s format, but %s", cfg.Format, rule))
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil {
		b.configs = append(b.configs, configFile{path: path, dev: uint64(st.Dev), ino: uint64(st.Ino)})
	}
	in := report.Input{Path: path, TakenAs: "config", Format: cfg.Format}
	for _, s := range settings {
		is := report.InputSetting{Name: s.Name, Line: s.Line, Value: s.Value}
		c := &manifest.Channel{Name: path + ":" + s.Name, Path: s.Value, File: path, Line: s.Line, Setting: s.Name, Base: b.req.configs.base}
		if s.Empty {
			c.Path = ""
		}
		switch {
		case s.HasProj:
			proj := s.Proj
			is.Proj = &proj
			c.Proj = proj
			b.channel(c, proj, true)
		case len(b.projs) == 0:
			b.channel(c, 0, false)
		default:
			for _, p := range b.projs {
				b.channel(c, p, true)
			}
		}
		in.Settings = append(in.Settings, is)
	}
	b.inputs = append(b.inputs, in)
	return true, nil
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
