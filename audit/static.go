package audit

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ipckeys/ipckeys/ftok"
)

// The static check (--static) is the CI gate: it sees the configuration
// and the manifests but not the hosts' key files, so it cannot compute a
// key. What it can prove holds on every host: two channels that name the
// same file with proj ids equal in their low byte get the same key
// wherever they run, whatever its inode; proj 0 and truncated proj ids are
// wrong everywhere; key files under directories that hosts keep in memory
// or sweep (/tmp) change inode at the next boot; a key file that is a
// configuration file is rewritten by the next deploy.

// DefaultVolatileDirs are the directories whose files do not keep their
// inode numbers by convention: tmpfs on most distributions (/dev/shm,
// /run) or swept by tmp cleaners (/tmp, /var/tmp).
var DefaultVolatileDirs = []string{"/dev/shm", "/run", "/tmp", "/var/tmp"}

// Options tunes Check.
type Options struct {
	// VolatileDirs are the directories a static check takes for
	// filesystems that do not keep inode numbers; nil means
	// DefaultVolatileDirs.
	VolatileDirs []string
}

// staticPath is the path an entry's programs pass to ftok, cleaned, so that
// ./k and k are one file without looking at it.
func staticPath(e *Entry) string { return filepath.Clean(e.Path) }

// staticCollisions finds channels that get the same key on every host:
// the same path with proj ids equal in their low byte, under two
// identities (differently named manifest channels, or proj ids written
// differently: 1 and 257).
func staticCollisions(entries []Entry) []Finding {
	type group struct {
		path string
		proj int
	}
	groups := groupBy(entries, func(e *Entry) (group, bool) {
		if !e.Static || !e.HasProj || e.Path == "" {
			return group{}, false
		}
		return group{staticPath(e), e.Proj & 0xff}, true
	})
	var out []Finding
	for _, idx := range groups {
		ids := map[ident][]int{}
		var order []ident
		for _, i := range idx {
			id := identity(&entries[i])
			if _, ok := ids[id]; !ok {
				order = append(order, id)
			}
			ids[id] = append(ids[id], i)
		}
		if len(order) < 2 {
			continue
		}
		leadWithSharedSettings(entries, idx)
		ids, order = map[ident][]int{}, nil
		for _, i := range idx {
			id := identity(&entries[i])
			if _, ok := ids[id]; !ok {
				order = append(order, id)
			}
			ids[id] = append(ids[id], i)
		}
		projs := map[int]bool{}
		var parts []string
		for _, id := range order {
			parts = append(parts, describeAll(entries, ids[id]))
			projs[entries[ids[id][0]].Proj] = true
		}
		why := "differently named channels on the same file and proj id"
		if len(projs) > 1 {
			why = "the same file with proj ids that agree in their low byte, the only part ftok keeps"
		}
		out = append(out, Finding{Code: KeyCollision, Severity: Error, Entries: idx,
			Message: fmt.Sprintf("%s get the same key on every host (%s): their programs would share one IPC object without any error; give one of them another proj id or key file",
				strings.Join(parts, ", "), why)})
	}
	return out
}

// describeAll names the entries of one identity: the first described in
// full, the other settings naming the same channel after it.
func describeAll(entries []Entry, idx []int) string {
	return string(appendAlso(appendDescription(nil, &entries[idx[0]]), entries, idx, idx[0]))
}

// appendAlso appends ", also named by B.conf:chnl_shm_path (line 2), …":
// the other config settings among idx that are the channel of entry
// first.
func appendAlso(b []byte, entries []Entry, idx []int, first int) []byte {
	id := identity(&entries[first])
	seen := map[string]bool{entries[first].Name(): true}
	n := 0
	for _, i := range idx {
		e := &entries[i]
		if i == first || !e.fromConfig() || seen[e.Name()] || identity(e) != id {
			continue
		}
		seen[e.Name()] = true
		if n == 0 {
			b = append(b, ", also named by "...)
		} else {
			b = append(b, ", "...)
		}
		n++
		b = append(b, e.Name()...)
		b = append(b, " (line "...)
		b = strconv.AppendInt(b, int64(e.Channel.Line), 10)
		b = append(b, ')')
	}
	return b
}

// sharedSettings reports config settings of different services that name
// one key file with one proj id: one channel they share on purpose (the
// incident's service A reads what B writes), never a collision.
func sharedSettings(entries []Entry) []Finding {
	type group struct {
		file string
		proj int
	}
	groups := groupBy(entries, func(e *Entry) (group, bool) {
		switch {
		case !e.fromConfig() || !e.HasProj || e.Channel.Path == "":
			return group{}, false
		case e.Static:
			return group{"path " + staticPath(e), e.Proj}, true
		case e.OK():
			return group{fmt.Sprintf("file %d:%d", e.File.Dev, e.File.Ino), e.Proj}, true
		}
		return group{}, false
	})
	var out []Finding
	for _, idx := range groups {
		names := map[string]bool{}
		var shown []int
		for _, i := range idx {
			if n := entries[i].Name(); !names[n] {
				names[n] = true
				shown = append(shown, i)
			}
		}
		if len(shown) < 2 {
			continue
		}
		var who []string
		for _, i := range shown {
			e := &entries[i]
			who = append(who, fmt.Sprintf("%s (%s:%d)", e.Name(), e.Channel.File, e.Channel.Line))
		}
		first := &entries[shown[0]]
		what := Display(first.Path)
		if first.OK() && !first.Static {
			what += fmt.Sprintf(" (dev %d:%d, ino %d)", first.File.Major(), first.File.Minor(), first.File.Ino)
		}
		f := Finding{Code: SameFile, Severity: Info, Entries: shown, Key: keyOf(first),
			Message: fmt.Sprintf("%s name the same key file %s with proj %s: these services share one IPC object on purpose; if they are meant to be separate, give them separate key files",
				strings.Join(who, " and "), what, ftok.ProjString(first.Proj))}
		out = append(out, f)
	}
	return out
}

// staticEntry finds what the configuration alone says is wrong with one
// entry's key file.
func staticEntry(e *Entry, i int, volatile []string) []Finding {
	var out []Finding
	one := []int{i}
	if e.Path == "" {
		return nil
	}
	if dir := volatileDir(staticPath(e), volatile); dir != "" {
		out = append(out, Finding{Code: UnstableFilesystem, Severity: Warning, Entries: one,
			Message: fmt.Sprintf("%s is under %s, which hosts keep in memory (tmpfs) or sweep with tmp cleaners by convention: the file gets a new inode at the next boot or cleaning, and the channel a new key; put the key file on a local disk filesystem, such as under /etc or /var/lib",
				Display(e.Path), dir)})
	}
	if why := replaceable(e); why != "" {
		out = append(out, Finding{Code: KeyFileReplaceable, Severity: Warning, Entries: one,
			Message: fmt.Sprintf("%s %s: replacing it gives it a new inode and the channel a new key, so processes started afterwards no longer meet the running ones; use a dedicated key file that nothing rewrites",
				Display(e.Path), why)})
	}
	return out
}

// volatileDir returns the volatile directory path is under, or "".
func volatileDir(path string, dirs []string) string {
	sorted := append([]string(nil), dirs...)
	sort.Strings(sorted)
	for _, d := range sorted {
		d = filepath.Clean(d)
		if path == d || strings.HasPrefix(path, strings.TrimSuffix(d, "/")+"/") {
			return d
		}
	}
	return ""
}
