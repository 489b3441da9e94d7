package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/report"
)

var explainCommand = &command{
	name:    "explain",
	summary: "say where a key comes from: its parts, filesystems, live objects and files",
	usage: `Usage: ipckeys explain KEY... [--search DIR]... [--cross-mounts] [-m MANIFEST]... [-p PROJ -f PATH]... [-o table|json]

Takes keys apart and says where they can come from. A KEY is written as ipcs
prints it (0x6c014001) or as /proc/sysvipc does (signed decimal). For each:

  - the proj byte (and its character), the device byte, the inode low bits;
  - the mounted filesystems whose device minor ends in that byte (the
    major never counts), from /proc/self/mountinfo;
  - the live objects with that key in this IPC namespace, and who is
    attached (a removed segment counts by the key its holders still map);
  - the configured channels and paths (-m, -p with -f) that give the key;
  - with --search, every file under the given directories whose ftok with
    the key's proj gives the key. The search reads inode numbers from the
    directory entries and stats only candidates; it stays on each
    directory's filesystem unless --cross-mounts is given. Unreadable
    directories are counted, not fatal. Symbolic links are not followed:
    a link gives the key of its target, which is found under its own name.

Flags:
      --search DIR        search this tree for the key's files, repeatable
      --cross-mounts      let the search enter other filesystems
  -m, --manifest FILE     channel manifest, repeatable
  -p, --proj PROJ         proj id for the -f paths, repeatable
  -f, --file PATH         a key file, or an application config naming key
                          files, to hold against the keys, repeatable
  -o, --output FMT        table (default) or json
      --all-namespaces    look for live objects in every IPC namespace
` + configUsage + viewUsage + `
With --pid, the filesystems are those of the process's mount namespace.

Exit status: 0, or 2 for a key that cannot be read or a search root that
is not a directory.
`,
	run: runExplain,
}

// explanation is what explain says of one key.
type explanation struct {
	Key         string           `json:"key"`
	KeyDecimal  int32            `json:"key_decimal"`
	Proj        int              `json:"proj"`
	ProjChar    string           `json:"proj_char,omitempty"`
	DevByte     int              `json:"dev_byte"`
	InoBits     int              `json:"ino_bits"`
	Notes       []string         `json:"notes,omitempty"`
	Filesystems []explainFS      `json:"filesystems"`
	Live        []explainObject  `json:"live"`
	Configured  []report.KeyFile `json:"configured"`
	Files       []explainFile    `json:"files"`
	Search      *explainSearch   `json:"search,omitempty"`
}

type explainFS struct {
	Device     string   `json:"device"` // major:minor
	FSType     string   `json:"fs_type"`
	Source     string   `json:"source"`
	MountPoint []string `json:"mount_points"`
}

type explainObject struct {
	Namespace uint64              `json:"ipc_namespace,omitempty"`
	Facility  string              `json:"facility"`
	ID        int                 `json:"id"`
	Owner     string              `json:"owner"`
	Removed   bool                `json:"removed,omitempty"`
	Nattch    *int                `json:"nattch,omitempty"`
	Size      uint64              `json:"size,omitempty"`
	Attached  []report.HolderJSON `json:"attached,omitempty"`
}

type explainFile struct {
	Path string `json:"path"`
	Dev  string `json:"dev"`
	Ino  uint64 `json:"ino"`
}

type explainSearch struct {
	Roots         []string `json:"roots"`
	Dirs          int64    `json:"dirs"`
	Entries       int64    `json:"entries"`
	Candidates    int64    `json:"candidates"`
	Denied        int64    `json:"denied"`
	Vanished      int64    `json:"vanished"`
	MountsSkipped int64    `json:"mounts_skipped"`
}

func runExplain(c *command, args []string, stdout, stderr io.Writer) int {
	fl := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	searchRoots := fl.StringArray("search", nil, "")
	cross := fl.Bool("cross-mounts", false, "")
	manifests := fl.StringArrayP("manifest", "m", nil, "")
	projFlags := fl.StringArrayP("proj", "p", nil, "")
	files := fl.StringArrayP("file", "f", nil, "")
	output := fl.StringP("output", "o", "table", "")
	v := addViewFlags(fl, true)
	cf := addConfigFlags(fl)
	if done, err := parseFlags(fl, c, negativeKeysLast(fl, args), stdout); done || err != nil {
		return exitFor(stderr, err)
	}
	if *output != "table" && *output != "json" {
		return fail(stderr, usagef("explain: -o %q: use table or json", *output))
	}
	if err := v.check(); err != nil {
		return fail(stderr, err)
	}
	if fl.NArg() == 0 {
		return fail(stderr, usagef("explain: no key given: write it as ipcs prints it (0x6c014001) or as /proc/sysvipc does (-559038737)"))
	}
	var keys []int32
	for _, a := range fl.Args() {
		k, err := ftok.ParseKey(a)
		if err != nil {
			return fail(stderr, usageError{"explain: " + err.Error()})
		}
		keys = append(keys, k)
	}
	if err := cf.check(); err != nil {
		return fail(stderr, err)
	}
	if len(*projFlags) > 0 && len(*files) == 0 {
		return fail(stderr, usagef("explain: -p applies to -f files: name the key files (or configs) to hold against the keys with -f PATH"))
	}
	got, err := configured(request{projFlags: *projFlags, manifests: *manifests, args: *files, configs: cf, view: v})
	if err != nil {
		return fail(stderr, err)
	}
	entries := got.entries
	if e := withoutProj(entries); e != nil {
		return fail(stderr, usagef("explain: -f needs -p PROJ for %s: a file's key depends on the proj id it is used with (ipckeys explain KEY -p l -f PATH)%s", noProjName(e), noProjHint(e)))
	}
	for _, e := range entries {
		if !e.OK() {
			if e.Pattern != "" && e.Err == ipcscan.ErrNoMatch {
				return fail(stderr, fmt.Errorf("explain: -f %s: pattern matches no file: name existing key files", e.Pattern))
			}
			if e.Channel == nil {
				return fail(stderr, fmt.Errorf("explain: -f %s: %v: name an existing key file (ftok would return -1 for it)", e.Path, e.Err))
			}
		}
	}
	kf := report.NewKeyFiles(entries)
	// The filesystems as the process sees them, with --pid.
	mountinfo := v.proc + "/self/mountinfo"
	if v.pid > 0 {
		mountinfo = fmt.Sprintf("%s/%d/mountinfo", v.proc, v.pid)
	}
	mounts, mountErr := ipcscan.ReadMountInfo(mountinfo)
	snaps, _, snapErr := v.snapshots()
	if snapErr != nil && (v.pid > 0 || v.all) {
		return fail(stderr, liveError(snapErr))
	}

	// What could not be seen is said, as ls says it.
	var liveNotes []string
	if snapErr == nil {
		for _, snap := range snaps {
			if n := report.AttachCompleteness(snap.Attach).Note; n != "" {
				liveNotes = append(liveNotes, n)
				break
			}
		}
		liveNotes = append(liveNotes, v.notes...)
	}
	out := make([]*explanation, len(keys))
	fps := map[uint32]bool{}
	byFP := map[uint32][]*explanation{}
	for i, k := range keys {
		e := explain(k, mounts, snaps, kf)
		if mountErr != nil {
			e.Notes = append(e.Notes, "filesystems unknown: "+mountErr.Error())
		}
		if snapErr != nil {
			e.Notes = append(e.Notes, "live objects unknown: "+snapErr.Error())
		}
		e.Notes = append(e.Notes, liveNotes...)
		out[i] = e
		fp := uint32(ftok.Decode(k).Fingerprint())
		fps[fp] = true
		byFP[fp] = append(byFP[fp], e)
	}
	if len(*searchRoots) > 0 {
		stats, err := ipcscan.SearchInodes(*searchRoots, fps, ipcscan.WalkOptions{CrossMounts: *cross}, func(m ipcscan.Match) {
			fp := uint32(ftok.FingerprintOf(m.Dev, m.Ino))
			for _, e := range byFP[fp] {
				e.Files = append(e.Files, explainFile{Path: m.Path, Dev: devString(m.Dev), Ino: m.Ino})
			}
		})
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			return fail(stderr, fmt.Errorf("--search %s: %v: name a directory", pe.Path, pe.Err))
		case err != nil:
			return fail(stderr, err)
		}
		for _, e := range out {
			sort.Slice(e.Files, func(i, j int) bool { return e.Files[i].Path < e.Files[j].Path })
			e.Search = &explainSearch{Roots: *searchRoots, Dirs: stats.Dirs, Entries: stats.Entries, Candidates: stats.Candidates,
				Denied: stats.Denied, Vanished: stats.Vanished, MountsSkipped: stats.MountsSkipped}
		}
	}
	if *output == "json" {
		err = report.WriteJSON(stdout, out)
	} else {
		err = explainTable(stdout, out)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitClean
}

// negativeKeysLast moves keys written as negative decimals (-559038737,
// what /proc/sysvipc prints) behind "--", so the flag parser does not take
// them for flags. A value of a flag that takes one stays where it is.
func negativeKeysLast(fl *pflag.FlagSet, args []string) []string {
	var rest, keys []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "0123456789") == "" {
			keys = append(keys, a)
			continue
		}
		rest = append(rest, a)
		if takesValue(fl, a) && i+1 < len(args) {
			i++
			rest = append(rest, args[i])
		}
	}
	if len(keys) == 0 {
		return args
	}
	if !slices.Contains(rest, "--") {
		rest = append(rest, "--")
	}
	return append(rest, keys...)
}

// takesValue reports whether arg is a flag whose value is the next argument.
func takesValue(fl *pflag.FlagSet, arg string) bool {
	var f *pflag.Flag
	switch {
	case strings.HasPrefix(arg, "--") && !strings.Contains(arg, "="):
		f = fl.Lookup(arg[2:])
	case len(arg) == 2 && arg[0] == '-':
		f = fl.ShorthandLookup(arg[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

func devString(dev uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
}

// explain gathers what is known of key k without searching files.
func explain(k int32, mounts []ipcscan.Mount, snaps []*ipcscan.Snapshot, kf report.KeyFiles) *explanation {
	p := ftok.Decode(k)
	e := &explanation{
		Key: ftok.Hex(k), KeyDecimal: k, Proj: int(p.Proj), DevByte: int(p.DevByte), InoBits: int(p.InoBits),
		Filesystems: []explainFS{}, Live: []explainObject{}, Configured: kf[k], Files: []explainFile{},
	}
	if e.Configured == nil {
		e.Configured = []report.KeyFile{}
	}
	if p.Proj > ' ' && p.Proj < 0x7f {
		e.ProjChar = string(rune(p.Proj))
	}
	switch k {
	case ftok.Private:
		e.Notes = append(e.Notes, "key 0 is IPC_PRIVATE: every get call with it makes a new private object; objects listed with key 0 are private or removed, not made from a file")
	case ftok.ErrorValue:
		e.Notes = append(e.Notes, "key 0xffffffff is what ftok returns on error: a program that does not check errno uses it when its key file is missing")
	}
	if p.Proj == 0 {
		e.Notes = append(e.Notes, "proj byte 0: ftok's behaviour with proj 0 is undefined per the man page")
	}
	index := map[string]int{}
	for _, m := range mounts {
		if m.Minor&0xff != uint32(p.DevByte) {
			continue
		}
		dev := fmt.Sprintf("%d:%d", m.Major, m.Minor)
		i, ok := index[dev]
		if !ok {
			i = len(e.Filesystems)
			index[dev] = i
			e.Filesystems = append(e.Filesystems, explainFS{Device: dev, FSType: m.FSType, Source: m.Source})
		}
		e.Filesystems[i].MountPoint = append(e.Filesystems[i].MountPoint, m.MountPoint)
	}
	for _, snap := range snaps {
		e.Live = append(e.Live, liveWithKey(k, snap, len(snaps) > 1)...)
	}
	return e
}

// liveWithKey lists the objects of one snapshot that hold key k (a removed
// segment by the key its holders still map).
func liveWithKey(k int32, snap *ipcscan.Snapshot, label bool) []explainObject {
	var out []explainObject
	ns := uint64(0)
	if label {
		ns = snap.NS
	}
	for _, sg := range snap.Shm {
		orig, known := snap.OriginalKey(sg)
		if !known || orig != k || (k == 0 && !sg.Removed() && sg.Key != 0) {
			continue
		}
		n := sg.Nattch
		o := explainObject{Namespace: ns, Facility: "shm", ID: sg.ID, Owner: ipcscan.UserName(sg.UID), Removed: sg.Removed(), Nattch: &n, Size: sg.Size}
		for _, h := range snap.Holders(sg.ID) {
			o.Attached = append(o.Attached, report.HolderJSON(h))
		}
		out = append(out, o)
	}
	for _, st := range snap.Sem {
		if st.Key == k {
			out = append(out, explainObject{Namespace: ns, Facility: "sem", ID: st.ID, Owner: ipcscan.UserName(st.UID)})
		}
	}
	for _, q := range snap.Msg {
		if q.Key == k {
			out = append(out, explainObject{Namespace: ns, Facility: "msg", ID: q.ID, Owner: ipcscan.UserName(q.UID)})
		}
	}
	return out
}

// explainTable writes one block per key for people.
func explainTable(w io.Writer, out []*explanation) error {
	for n, e := range out {
		if n > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "key %s (%d)\n", e.Key, e.KeyDecimal)
		proj := fmt.Sprintf("0x%02x (%d)", e.Proj, e.Proj)
		if e.ProjChar != "" {
			proj = fmt.Sprintf("0x%02x '%s' (%d)", e.Proj, e.ProjChar, e.Proj)
		}
		fmt.Fprintf(w, "  proj byte:    %s\n", proj)
		fmt.Fprintf(w, "  device byte:  0x%02x: the file's device minor ends in 0x%02x\n", e.DevByte, e.DevByte)
		fmt.Fprintf(w, "  inode bits:   0x%04x: the file's inode number is %d modulo 65536\n", e.InoBits, e.InoBits)
		for _, note := range e.Notes {
			fmt.Fprintf(w, "  note:         %s\n", note)
		}
		if len(e.Filesystems) == 0 {
			fmt.Fprintf(w, "  filesystems:  none mounted here has a minor ending in 0x%02x\n", e.DevByte)
		}
		for _, f := range e.Filesystems {
			fmt.Fprintf(w, "  filesystem:   %s %s (%s) at %s\n", f.Device, f.FSType, f.Source, strings.Join(f.MountPoint, ", "))
		}
		if len(e.Live) == 0 {
			fmt.Fprintln(w, "  live:         no object with this key in this IPC namespace")
		}
		for _, o := range e.Live {
			line := fmt.Sprintf("%s id %d, owner %s", o.Facility, o.ID, o.Owner)
			if o.Namespace != 0 {
				line = fmt.Sprintf("ipc:[%d] %s", o.Namespace, line)
			}
			if o.Facility == "shm" {
				line += fmt.Sprintf(", %d bytes, nattch %d", o.Size, *o.Nattch)
				if o.Removed {
					line += ", removed while attached"
				}
				var hs []string
				for _, h := range o.Attached {
					hs = append(hs, fmt.Sprintf("%d (%s)", h.PID, h.Comm))
				}
				if len(hs) > 0 {
					line += ", attached: " + strings.Join(hs, ", ")
				}
			}
			fmt.Fprintf(w, "  live:         %s\n", line)
		}
		for _, f := range e.Configured {
			name := f.Path
			if f.Channel != "" {
				name = "channel " + f.Channel + " (" + f.Path + ")"
			}
			fmt.Fprintf(w, "  configured:   %s, proj %s\n", name, ftok.ProjString(f.Proj))
		}
		if e.Search != nil {
			for _, f := range e.Files {
				fmt.Fprintf(w, "  file:         %s (dev %s, ino %d)\n", f.Path, f.Dev, f.Ino)
			}
			s := e.Search
			fmt.Fprintf(w, "  searched:     %s: %d files found; %d directories, %d entries, %d stat'ed",
				strings.Join(s.Roots, ", "), len(e.Files), s.Dirs, s.Entries, s.Candidates)
			if s.Denied > 0 {
				fmt.Fprintf(w, ", %d directories unreadable", s.Denied)
			}
			if s.MountsSkipped > 0 {
				fmt.Fprintf(w, ", %d mounted filesystems not entered (--cross-mounts)", s.MountsSkipped)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
