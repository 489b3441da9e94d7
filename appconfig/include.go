package appconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// Include is an include directive of a configuration file: a line that names
// other files the application reads as part of this one.
type Include struct {
	// Pattern is the file, glob or directory as written. A relative one is
	// taken from the including file's directory.
	Pattern string
	Line    int
	// Dir is true for a directory whose *.cnf and *.conf files are all
	// included (MySQL's "!includedir", PostgreSQL's "include_dir").
	Dir bool
	// Glob is true when Pattern holds glob characters (*, ?, [): it may
	// match no file at all, and that is no error.
	Glob bool
	// Optional is true when a missing file is no error: Apache's
	// IncludeOptional, PostgreSQL's include_if_exists, systemd's
	// "EnvironmentFile=-/path".
	Optional bool
	// Env is true for a systemd EnvironmentFile=: the file is read as an
	// environment file (NAME=value lines) whatever its name.
	Env bool
}

// includeWords are the include directives of the line format that are
// words, lower-cased, and whether they are optional, directories, and
// allowed with '=' inside a section ("include = x" in a section is often an
// application's own setting, such as coverage.py's file filter).
var includeWords = map[string]struct{ optional, dir bool }{
	"include":           {},
	"includeoptional":   {optional: true},
	"include_if_exists": {optional: true},
	"include_dir":       {dir: true},
}

// includeDirective reads an include directive of the line format:
// "include FILE", "Include FILE", ".include FILE", "@include FILE",
// "!include FILE", "!includedir DIR", nginx's "include conf.d/*.conf;",
// Apache's "IncludeOptional FILE", PostgreSQL's "include_dir = 'conf.d'"
// and "include_if_exists = FILE", and "include = FILE" outside any section.
// s is the line without leading white space.
func includeDirective(s string, topLevel bool) (Include, bool) {
	var in Include
	var value string
	switch {
	case strings.HasPrefix(s, "!includedir") && isBlank(s, len("!includedir")):
		in.Dir, value = true, s[len("!includedir"):]
	case (strings.HasPrefix(s, "!include") || strings.HasPrefix(s, ".include") || strings.HasPrefix(s, "@include")) && isBlank(s, len("!include")):
		value = s[len("!include"):]
	default:
		key, v, ok := splitSetting(s)
		kind, isInclude := includeWords[strings.ToLower(key)]
		if !ok || !isInclude {
			return Include{}, false
		}
		sep := strings.TrimLeft(s[len(key):], " \t")
		if sep[0] == ':' || (sep[0] == '=' && !topLevel) {
			return Include{}, false
		}
		in.Optional, in.Dir, value = kind.optional, kind.dir, v
	}
	pattern, _, malformed := lineValue(value)
	if malformed != "" {
		pattern = strings.TrimSpace(value)
	}
	if pattern == "" {
		return Include{}, false
	}
	in.Pattern = pattern
	in.Glob = hasMeta(pattern)
	return in, true
}

// isBlank reports whether s has a space or tab at i.
func isBlank(s string, i int) bool {
	return i < len(s) && (s[i] == ' ' || s[i] == '\t')
}

func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// FS is how Load reads files and expands globs. Names are as Load builds
// them from the file it is given and the include directives: a caller that
// reads another root (a container's, /proc/PID/root) maps them there.
type FS interface {
	// ReadFile returns at most MaxSize+1 bytes of the named file. An error
	// for a missing file wraps fs.ErrNotExist.
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern, as filepath.Glob does.
	Glob(pattern string) ([]string, error)
}

// HostFS reads the files of this host. It opens only regular files (a FIFO
// or a device named by an include is an error, not a hang) and reads at most
// MaxSize+1 bytes of each.
type HostFS struct{}

// ReadFile reads at most MaxSize+1 bytes of the regular file name.
func (HostFS) ReadFile(name string) ([]byte, error) {
	f, err := inputfile.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxSize+1))
}

// Glob is filepath.Glob.
func (HostFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// DefaultIncludeDepth is how deep Load follows includes when
// Loader.MaxDepth is 0: the named file, and files included through at most
// 15 others.
const DefaultIncludeDepth = 16

// File is one configuration file as ParseFile or Load read it.
type File struct {
	*Config
	// Includes are the file's include directives, in file order. They
	// are not settings.
	Includes []Include
	// Chain is the files that included this one, the named file first;
	// empty for the named file itself.
	Chain []string

	literal   []bool               // per setting: taken as written (see isLiteral)
	env       *Env                 // nil: values are not expanded
	inherited map[string]expansion // the including files' variables at the include
}

// ParseFile reads the configuration file at path, whose content is data,
// as Parse does, and also its include directives and systemd units (see
// the package documentation). It reads no file itself. Values of the
// File's key-file settings are expanded from the file's own variables only;
// Load expands them from the including files and the caller's environment
// too.
func ParseFile(path string, data []byte) (*File, error) {
	if isUnit(path, data) {
		return parseUnitFile(path, data)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	return withLines(c, data), nil
}

// withLines adds to a Config of the line format what Parse does not keep:
// the include directives and which values are literal.
func withLines(c *Config, data []byte) *File {
	f := &File{Config: c, env: &Env{}}
	if c.Format != FormatLines {
		return f
	}
	lf, err := parseLineFile(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err == nil && len(lf.settings) == len(c.Settings) {
		f.Includes, f.literal = lf.includes, lf.literal
	}
	return f
}

// parseIncluded reads a file named by an include directive. The including
// file says it is a configuration, so a name that Parse would not read as
// one (nginx's mime.types) is read in the line format, and an environment
// file always is; data that is binary or too large is still not a
// configuration.
func parseIncluded(path string, data []byte, in Include) (*File, error) {
	if !in.Env {
		f, err := ParseFile(path, data)
		switch ext := strings.ToLower(filepath.Ext(path)); {
		case err == nil || !errors.Is(err, ErrNotConfig):
			return f, err
		case ext == ".json" || ext == ".yaml" || ext == ".yml" || ext == ".toml":
			return nil, err
		}
	}
	switch {
	case len(data) > MaxSize:
		// Named as a configuration, it is one: too large is an error, not
		// a key file.
		return nil, newError(path, 0, "larger than %d bytes: keep configuration files under that size", MaxSize)
	case bytes.IndexByte(data, 0) >= 0:
		return nil, notConfig(path, "binary data")
	}
	lf, err := parseLineFile(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err != nil {
		return nil, notConfig(path, err.Error())
	}
	c := &Config{Path: path, Format: FormatLines, Settings: lf.settings}
	return &File{Config: c, Includes: lf.includes, literal: lf.literal, env: &Env{}}, nil
}

// Loader reads a configuration file and the files it includes.
type Loader struct {
	// FS reads the files; nil is HostFS.
	FS FS
	// Env is where variable references in values expand from, after the
	// files' own variables.
	Env Env
	// MaxDepth bounds the include chain; 0 is DefaultIncludeDepth.
	MaxDepth int
}

// Load reads the configuration file at name and, depth first in the order
// of their directives, every file it includes, and returns them in that
// order, name's first. A relative include is taken from the including
// file's directory; a glob's matches are read in sorted order; a directory
// (Include.Dir) gives its *.cnf and *.conf files, sorted.
//
// A plain include of a missing file is an error, as in the applications
// that read them; a glob that matches nothing, an optional include and a
// directory that is empty or missing are not. A file included twice in one chain (a cycle) is
// an error naming the chain; a file included from two places is read once,
// at its first include. A chain longer than MaxDepth is an error.
//
// The error for name itself is ParseFile's or FS's, unwrapped, so that
// errors.Is(err, ErrNotConfig) says name is not a configuration file. An
// error about an included file names the including file and line.
func (l *Loader) Load(name string) ([]*File, error) {
	fsys := l.FS
	if fsys == nil {
		fsys = HostFS{}
	}
	depth := l.MaxDepth
	if depth <= 0 {
		depth = DefaultIncludeDepth
	}
	data, err := fsys.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := ParseFile(name, data)
	if err != nil {
		return nil, err
	}
	ld := &load{fs: fsys, env: &l.Env, maxDepth: depth, seen: map[string]bool{filepath.Clean(name): true}}
	if err := ld.walk(f, nil); err != nil {
		return nil, err
	}
	return ld.out, nil
}

// load is one run of Loader.Load.
type load struct {
	fs       FS
	env      *Env
	maxDepth int
	seen     map[string]bool // cleaned names already read
	out      []*File
}

// walk records f, whose including files are chain, and reads its includes.
func (ld *load) walk(f *File, chain []string) error {
	f.Chain = chain
	f.env = ld.env
	ld.out = append(ld.out, f)
	here := append(slices.Clip(chain), f.Path)
	for _, in := range f.Includes {
		names, err := ld.resolve(f.Path, in)
		if err != nil {
			return err
		}
		for _, name := range names {
			clean := filepath.Clean(name)
			for _, p := range here {
				if filepath.Clean(p) == clean {
					return fmt.Errorf("%s:%d: include cycle %s -> %s: remove one of the includes", f.Path, in.Line, strings.Join(here, " -> "), name)
				}
			}
			if ld.seen[clean] {
				continue
			}
			if len(here) >= ld.maxDepth {
				return fmt.Errorf("%s:%d: includes nested deeper than %d files (%s -> %s): flatten the includes", f.Path, in.Line, ld.maxDepth, strings.Join(here, " -> "), name)
			}
			ld.seen[clean] = true
			data, err := ld.fs.ReadFile(name)
			if errors.Is(err, fs.ErrNotExist) && in.Optional {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s:%d: included file %s: %w: fix the include or the file", f.Path, in.Line, name, err)
			}
			g, err := parseIncluded(name, data, in)
			if err != nil {
				return fmt.Errorf("%s:%d: included file: %w: fix the include or the file", f.Path, in.Line, err)
			}
			g.inherited = f.varsBefore(in.Line)
			if err := ld.walk(g, here); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve returns the files an include directive of the file from names.
func (ld *load) resolve(from string, in Include) ([]string, error) {
	p := in.Pattern
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("%s:%d: include %q: the name holds a control character: fix the include", from, in.Line, p)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(from), p)
	}
	if in.Dir {
		// A missing directory is as a glob that matches nothing: readers
		// such as pg_createcluster skip it, and a false error on a host's
		// every scan would teach people to ignore errors.
		var names []string
		for _, ext := range []string{"*.cnf", "*.conf"} {
			m, err := ld.fs.Glob(filepath.Join(escapeMeta(p), ext))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: included directory %s: %w", from, in.Line, p, err)
			}
			names = append(names, m...)
		}
		slices.Sort(names)
		return names, nil
	}
	if !in.Glob || in.Env {
		return []string{p}, nil
	}
	names, err := ld.fs.Glob(p)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: include %q is not a valid glob: check its [ ] brackets", from, in.Line, in.Pattern)
	}
	slices.Sort(names)
	return names, nil
}

// escapeMeta quotes the glob characters of a literal path.
func escapeMeta(p string) string {
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '*' || c == '?' || c == '[' || c == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(p[i])
	}
	return sb.String()
}
