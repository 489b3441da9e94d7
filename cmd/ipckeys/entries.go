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
// it, and numbers the distinct paths in the order they come.
type keyFiles struct {
	view    *view
	in      *ipcscan.Inspector
	paths   []string
	files   []keyFile
	index   map[string]int // path -> its number, for paths[:indexed]
	indexed int
}

type keyFile struct {
	file ipcscan.KeyFile
	host *ipcscan.KeyFile
	err  error
}

// number returns the numbers of paths, inspecting those not seen before
// (in parallel, for the host's view). distinct says that no path repeats
// in paths: the first such batch, a glob of 100,000 files say, then needs
// no index at all.
func (k *keyFiles) number(paths []string, distinct bool) []int {
	ns := make([]int, len(paths))
	base := len(k.files)
	todo := paths
	if base == 0 && distinct {
		for i := range ns {
			ns[i] = i
		}
	} else {
		if k.index == nil {
			k.index = make(map[string]int, len(k.paths))
		}
		for n := k.indexed; n < len(k.paths); n++ {
			k.index[k.paths[n]] = n
		}
		todo = nil
		for i, p := range paths {
			n, ok := k.index[p]
			if !ok {
				n = base + len(todo)
				k.index[p] = n
				todo = append(todo, p)
			}
			ns[i] = n
		}
		k.indexed = base + len(todo)
	}
	k.paths = append(k.paths, todo...)
	k.files = slices.Grow(k.files, len(todo))[:base+len(todo)]
	if k.view == nil || k.view.fileRoot() == "" {
		k.in.InspectAll(todo, func(i int, f ipcscan.KeyFile, err error) {
			k.files[base+i] = keyFile{file: f, err: err}
		})
		return ns
	}
	for i, p := range todo {
		r := &k.files[base+i]
		r.file, r.host, r.err = k.view.inspect(p)
	}
	return ns
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
		base := len(files.files)
		ns := files.number(paths, true)
		entries = slices.Grow(entries, len(paths)*max(1, len(projs)))
		for j, path := range paths {
			n := ns[j]
			if n < base {
				continue
			}
			kf := &files.files[n]
			add := func(proj int, hasProj bool) {
				entries = append(entries, audit.Entry{Pattern: pattern, Path: path, Proj: proj, HasProj: hasProj, File: kf.file, HostFile: kf.host, Err: kf.err})
			}
			if len(projs) == 0 {
				add(0, false)
			}
			for _, p := range projs {
				add(p, true)
			}
		}
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
	ns := files.number(resolved, false)
	entries = slices.Grow(entries, len(chans))
	for i := range chans {
		c := &chans[i]
		path := resolved[i]
		kf := &files.files[ns[i]]
		entries = append(entries, audit.Entry{Channel: c, Path: path, Proj: c.Proj, HasProj: true, File: kf.file, HostFile: kf.host, Err: kf.err})
	}
	return entries, nil
}
