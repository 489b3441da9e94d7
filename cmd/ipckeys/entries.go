package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// configured reads what a command was told to check: the -p proj ids, the
// -m manifests and the path arguments (globs expanded), as entries.
func configured(projFlags, manifests, args []string, v *view) ([]audit.Entry, []manifest.Channel, error) {
	projs, err := parseProjs(projFlags)
	if err != nil {
		return nil, nil, err
	}
	chans, err := loadManifests(manifests)
	if err != nil {
		return nil, nil, err
	}
	entries, err := buildEntries(args, projs, chans, true, v)
	return entries, chans, err
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
func loadManifests(paths []string) ([]manifest.Channel, error) {
	var all []manifest.Channel
	where := map[string]int{} // channel name -> its place in all
	for n, p := range paths {
		chans, err := manifest.Load(p)
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			return nil, fmt.Errorf("manifest %s: %v: check the -m path", p, pe.Err)
		case err != nil:
			return nil, err
		}
		if len(paths) == 1 {
			return chans, nil // Parse refused names given twice in it
		}
		for _, c := range chans {
			if prev, dup := where[c.Name]; dup {
				return nil, fmt.Errorf("%s:%d: channel %q is already defined at %s:%d: give each channel its own name", c.File, c.Line, c.Name, all[prev].File, all[prev].Line)
			}
			if n < len(paths)-1 {
				where[c.Name] = len(all)
			}
			all = append(all, c)
		}
	}
	return all, nil
}

// keyFiles stats each path once, however many proj ids and channels use
// it. It numbers the distinct paths in the order they come and remembers,
// for each, the entry that holds what stat said of it.
type keyFiles struct {
	view    *view
	in      *ipcscan.Inspector
	paths   []string
	first   []int          // path number -> its first entry
	index   map[string]int // path -> its number, for paths[:indexed]
	indexed int
}

// number returns the numbers of paths. Those not seen before get the next
// numbers, in order; inspect then stats them. distinct says that no path
// repeats in paths: the first such batch, a glob of 100,000 files say,
// then needs no index at all.
func (k *keyFiles) number(paths []string, distinct bool) []int {
	ns := make([]int, len(paths))
	base := len(k.paths)
	if base == 0 && distinct {
		for i := range ns {
			ns[i] = i
		}
		k.paths = append(k.paths, paths...)
		return ns
	}
	if k.index == nil {
		k.index = make(map[string]int, len(k.paths))
	}
	for n := k.indexed; n < len(k.paths); n++ {
		k.index[k.paths[n]] = n
	}
	for i, p := range paths {
		n, ok := k.index[p]
		if !ok {
			n = len(k.paths)
			k.index[p] = n
			k.paths = append(k.paths, p)
		}
		ns[i] = n
	}
	k.indexed = len(k.paths)
	return ns
}

// inspect stats the paths numbered from base on (in parallel, for the
// host's view) and hands each result to put, with its number minus base;
// put is called from several goroutines, never twice for one path.
func (k *keyFiles) inspect(base int, put func(t int, file ipcscan.KeyFile, host *ipcscan.KeyFile, err error)) {
	todo := k.paths[base:]
	if k.view == nil || k.view.fileRoot() == "" {
		k.in.InspectAll(todo, func(t int, f ipcscan.KeyFile, err error) { put(t, f, nil, err) })
		return
	}
	for t, p := range todo {
		f, host, err := k.view.inspect(p)
		put(t, f, host, err)
	}
}

// buildEntries turns the command line's paths (each with every -p proj id,
// or none) and the manifests' channels into the entries to check. With
// globs, quoted patterns are expanded; one that matches nothing becomes an
// unusable entry so the gate reports it rather than passing in silence.
func buildEntries(args []string, projs []int, chans []manifest.Channel, globs bool, v *view) ([]audit.Entry, error) {
	var entries []audit.Entry
	files := &keyFiles{view: v, in: ipcscan.NewInspector()}
	// Each path gets every proj id once. A path an earlier argument named
	// already has them all: numbered before this argument's, it is
	// skipped; one glob never names a path twice.
	var unique []int
	for _, p := range projs {
		if !slices.Contains(unique, p) {
			unique = append(unique, p)
		}
	}
	projs = unique
	per := max(1, len(projs)) // entries per path
	for _, arg := range args {
		if arg == "" {
			return nil, usagef("empty path argument: ftok needs a file name")
		}
		paths, err := []string{arg}, error(nil)
		if globs {
			paths, err = ipcscan.Expand(arg)
		}
		pattern := ""
		if len(paths) != 1 || paths[0] != arg {
			pattern = arg
		}
		switch {
		case errors.Is(err, filepath.ErrBadPattern):
			return nil, usagef("bad pattern %s: %v (quote the path or escape [ with \\[)", audit.Display(arg), err)
		case errors.Is(err, ipcscan.ErrNoMatch):
			entries = append(entries, audit.Entry{Pattern: arg, Path: arg, Err: err})
			continue
		}
		base := len(files.paths)
		files.number(paths, true)
		// The new paths' entries are made where stat's answers arrive.
		start := len(entries)
		fresh := len(files.paths) - base
		entries = slices.Grow(entries, fresh*per)[:start+fresh*per]
		for t := range fresh {
			files.first = append(files.first, start+t*per)
		}
		files.inspect(base, func(t int, f ipcscan.KeyFile, host *ipcscan.KeyFile, err error) {
			path := files.paths[base+t]
			for p := range per {
				e := &entries[start+t*per+p]
				*e = audit.Entry{Pattern: pattern, Path: path, File: f, HostFile: host, Err: err}
				if len(projs) > 0 {
					e.Proj, e.HasProj = projs[p], true
				}
			}
		})
	}
	// Channels share key files: each distinct path is made once.
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
	base := len(files.paths)
	ns := files.number(resolved, false)
	start := len(entries)
	entries = slices.Grow(entries, len(chans))[:start+len(chans)]
	for i := range chans {
		c := &chans[i]
		entries[start+i] = audit.Entry{Channel: c, Path: resolved[i], Proj: c.Proj, HasProj: true}
		if ns[i] == len(files.first) { // the first channel on a new path
			files.first = append(files.first, start+i)
		}
	}
	files.inspect(base, func(t int, f ipcscan.KeyFile, host *ipcscan.KeyFile, err error) {
		e := &entries[files.first[base+t]]
		e.File, e.HostFile, e.Err = f, host, err
	})
	for i := range chans {
		if e, from := &entries[start+i], &entries[files.first[ns[i]]]; e != from {
			e.File, e.HostFile, e.Err = from.File, from.HostFile, from.Err
		}
	}
	return entries, nil
}
