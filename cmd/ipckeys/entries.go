package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

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
	where := map[string]string{}
	for _, p := range paths {
		var chans []manifest.Channel
		var err error
		if p == "-" {
			var r io.Reader
			if r, err = stdin.take("-m"); err != nil {
				return nil, err
			}
			chans, err = manifest.Parse(r, stdinName)
		} else {
			chans, err = manifest.Load(p)
		}
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			return nil, fmt.Errorf("manifest %s: %v: check the -m path", p, pe.Err)
		case err != nil:
			return nil, err
		}
		for _, c := range chans {
			loc := fmt.Sprintf("%s:%d", c.File, c.Line)
			if prev, dup := where[c.Name]; dup {
				return nil, fmt.Errorf("%s: channel %q is already defined at %s: give each channel its own name", loc, c.Name, prev)
			}
			where[c.Name] = loc
		}
		all = append(all, chans...)
	}
	return all, nil
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

// buildEntries turns the command line's paths (each with every -p proj id,
// or none) and the manifests' channels into the entries to check. With
// globs, quoted patterns are expanded; one that matches nothing becomes an
// unusable entry so the gate reports it rather than passing in silence.
func buildEntries(args []string, projs []int, chans []manifest.Channel, globs bool, v *view) ([]audit.Entry, error) {
	var entries []audit.Entry
	files := &keyFiles{view: v, seen: map[string]keyFile{}}
	type seenKey struct {
		path string
		proj int
	}
	seen := map[seenKey]bool{}
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
			if strings.Contains(err.Error(), "**") {
				return nil, usagef("pattern %s: %v", audit.Display(arg), err)
			}
			return nil, usagef("bad pattern %s: %v (quote the path or escape [ with \\[)", audit.Display(arg), err)
		case errors.Is(err, ipcscan.ErrNoMatch):
			entries = append(entries, audit.Entry{Pattern: arg, Path: arg, Err: err})
			continue
		}
		for _, path := range paths {
			kf := files.inspect(path)
			add := func(proj int, hasProj bool) {
				if seen[seenKey{path, proj}] {
					return
				}
				seen[seenKey{path, proj}] = true
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
	for i := range chans {
		c := &chans[i]
		path := c.Resolved()
		kf := files.inspect(path)
		entries = append(entries, audit.Entry{Channel: c, Path: path, Proj: c.Proj, HasProj: true, File: kf.file, HostFile: kf.host, Err: kf.err})
	}
	return entries, nil
}
