package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
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
	b := &builder{req: r, projs: projs, files: &keyFiles{view: r.view, seen: map[string]keyFile{}}, seen: map[seenKey]bool{}}
	if err := b.args(); err != nil {
		return nil, err
	}
	for i := range chans {
		b.channel(&chans[i], chans[i].Proj, true)
	}
	b.markConfigKeyFiles()
	return &checked{entries: b.entries, chans: chans, listeners: listeners, inputs: b.inputs}, nil
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

// keyFiles stats each path once, however many proj ids and channels use it.
type keyFiles struct {
	view *view
	seen map[string]keyFile
}

type keyFile struct {
	file ipcscan.KeyFile
	host *ipcscan.KeyFile
	err  error
}

func (k *keyFiles) inspect(path string) keyFile {
	if r, ok := k.seen[path]; ok {
		return r
	}
	var r keyFile
	if k.view == nil {
		r.file, r.err = ipcscan.InspectKeyFile(path)
	} else {
		r.file, r.host, r.err = k.view.inspect(path)
	}
	k.seen[path] = r
	return r
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
		paths, err := ipcscan.Expand(arg)
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
		for _, path := range paths {
			if b.req.configs != nil {
				isConfig, err := b.config(path)
				if err != nil {
					return err
				}
				if isConfig {
					continue
				}
			}
			b.keyFilePath(path, pattern)
		}
	}
	return nil
}

// keyFilePath adds a path given as a key file, with every -p proj id (or
// none: fingerprint only).
func (b *builder) keyFilePath(path, pattern string) {
	var kf keyFile
	if !b.req.static {
		kf = b.files.inspect(path)
	}
	add := func(proj int, hasProj bool) {
		if b.seen[seenKey{path, proj}] {
			return
		}
		b.seen[seenKey{path, proj}] = true
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

// channel adds a manifest or config channel with one proj id.
func (b *builder) channel(c *manifest.Channel, proj int, hasProj bool) {
	path := c.Resolved()
	e := audit.Entry{Channel: c, Path: path, Proj: proj, HasProj: hasProj, Static: b.req.static}
	if !b.req.static && path != "" {
		kf := b.files.inspect(path)
		e.File, e.HostFile, e.Err = kf.file, kf.host, kf.err
	}
	b.entries = append(b.entries, e)
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
	data, err := io.ReadAll(io.LimitReader(f, appconfig.MaxSize+1))
	if err != nil {
		return keyFile("not readable: " + unwrapPathError(err).Error())
	}
	cfg, err := appconfig.Parse(path, data)
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
