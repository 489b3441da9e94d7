package ipcscan

import (
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Inspected is one file an argument names, with what stat said of it (the
// error ftok would meet, or nil).
type Inspected struct {
	KeyFile
	Err error
}

// ExpandInspect is Expand followed by InspectAll: the files arg names, in
// Expand's order, each inspected. A pattern whose metacharacters are all
// in its last element (the usual '/srv/keys/*') is matched and stat'ed at
// once: the directory is still being read while the first runs of its
// matches are stat'ed on every CPU, and the matches are sorted while the
// last are, so a directory of 100,000 key files costs little more than
// its stat calls.
func (in *Inspector) ExpandInspect(arg string) ([]Inspected, error) {
	literal, err := expandLiteral(arg)
	if err != nil || literal {
		return in.inspectExpanded(arg)
	}
	if _, err := filepath.Match(arg, ""); err != nil {
		return nil, err
	}
	dir, pattern, ok := oneDirectory(arg)
	if !ok {
		return in.inspectExpanded(arg)
	}
	type run struct {
		paths []string
		found []Inspected
	}
	// The runs wait in a channel that holds them all, so that reading the
	// directory never waits for the stat calls. While it is read, the
	// other CPUs stat the runs read so far; then this goroutine sorts the
	// matches and joins them.
	runs := make(chan *run, 1<<14)
	inspectRuns := func() {
		c := inspectCache{batch: true, dirFD: -1}
		defer c.close()
		for r := range runs {
			for i, p := range r.paths {
				r.found[i].KeyFile, r.found[i].Err = in.inspect(p, &c)
			}
		}
	}
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)-1) {
		wg.Go(inspectRuns)
	}
	var all []*run
	n := 0
	matchErr := matchDir(dir, pattern, func(paths []string) {
		r := &run{paths: paths, found: make([]Inspected, len(paths))}
		all, n = append(all, r), n+len(paths)
		runs <- r
	})
	close(runs)
	// Each match is numbered by its run and its place in the run.
	type match struct {
		path string
		at   int32
	}
	order := make([]match, 0, n)
	for ri, r := range all {
		for i, p := range r.paths {
			order = append(order, match{p, int32(ri*runLength + i)})
		}
	}
	slices.SortFunc(order, func(a, b match) int { return strings.Compare(a.path, b.path) })
	inspectRuns()
	wg.Wait()
	if matchErr != nil {
		return nil, matchErr
	}
	if len(order) == 0 {
		return nil, ErrNoMatch
	}
	out := make([]Inspected, len(order))
	for i, m := range order {
		out[i] = all[m.at/runLength].found[m.at%runLength]
	}
	return out, nil
}

// inspectExpanded is ExpandInspect one step after the other.
func (in *Inspector) inspectExpanded(arg string) ([]Inspected, error) {
	paths, err := Expand(arg)
	if err != nil {
		return nil, err
	}
	out := make([]Inspected, len(paths))
	in.InspectAll(paths, func(i int, k KeyFile, err error) { out[i] = Inspected{k, err} })
	return out, nil
}
