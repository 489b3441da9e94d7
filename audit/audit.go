// Package audit decides which findings a set of key entries produces: the
// paths and manifest channels whose ftok keys collide, could collide, or are
// unusable. It does no I/O; the entries arrive with their stat results.
//
// Every finding has a stable code, a severity and a message that says what
// to do, and names the entries it concerns. The codes are the project's
// public interface (CI jobs and suppressions refer to them): never rename
// one.
package audit

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// Severity orders findings; the gate fails on findings at or above a
// threshold.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota + 1
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Never is a threshold no finding reaches.
const Never Severity = Error + 1

// ParseThreshold reads a --fail-on value.
func ParseThreshold(s string) (Severity, error) {
	switch s {
	case "error":
		return Error, nil
	case "warning":
		return Warning, nil
	case "info":
		return Info, nil
	case "never":
		return Never, nil
	}
	return 0, fmt.Errorf("--fail-on %q: use error, warning, info or never", s)
}

// Finding codes. Stable: scripts and suppressions name them.
const (
	KeyCollision         = "key-collision"
	FingerprintCollision = "fingerprint-collision"
	SameFile             = "same-file"
	KeyPrivate           = "key-private"
	KeyErrorValue        = "key-error-value"
	ProjZero             = "proj-zero"
	ProjTruncated        = "proj-truncated"
	PathUnusable         = "path-unusable"
	UnstableFilesystem   = "unstable-filesystem"
	KeyFileReplaceable   = "key-file-replaceable"
	KeyViewDiffers       = "key-view-differs"
	SuppressionExpired   = "suppression-expired"
	SuppressionUnused    = "suppression-unused"
	SettingEmpty         = "setting-empty"
	RelativeKeyPath      = "relative-key-path"
	SettingUnresolved    = "setting-unresolved"
)

// Rule describes one finding code for documentation and machine formats.
type Rule struct {
	Code     string
	Severity Severity // default severity
	Summary  string
	Fix      string
}

// Rules lists every code this package produces, in the order reports use.
var Rules = []Rule{
	{KeyCollision, Error, "two distinct channels get the same IPC key", "give one of the channels another proj id, or another key file whose inode differs in its low 16 bits; every program using that channel must change together"},
	{KeyPrivate, Error, "the key is 0, IPC_PRIVATE: every shmget/semget/msgget creates a new private object and nothing is shared", "use another proj id (proj 0 is the usual cause) or another key file"},
	{KeyErrorValue, Error, "the key is 0xffffffff, the value ftok returns on error", "use another proj id or another key file, so a real key cannot be mistaken for a failed ftok"},
	{SettingEmpty, Error, "a configuration setting that names a key file is empty or undefined: the service calls ftok with an empty path, which fails (ftok returns -1)", "set the setting to the key file's path, or remove it if the service does not use it"},
	{PathUnusable, Error, "the path cannot be stat'ed (missing, unreadable, dangling link, or a glob matching nothing): ftok returns -1", "create the key file before the programs start, fix the path, or make it readable to the programs"},
	{ProjTruncated, Warning, "the proj id is outside 0..255; ftok keeps only its low byte (an error when that makes two channels collide)", "use a proj id from 1 to 255, ideally a printable character"},
	{FingerprintCollision, Warning, "two different files have the same device byte and inode low 16 bits: any proj id they share gives both the same key", "keep the proj ids of these files apart, or use other key files"},
	{ProjZero, Warning, "proj id 0: ftok's behaviour is undefined per the man page and unspecified per POSIX", "use a proj id from 1 to 255"},
	{UnstableFilesystem, Warning, "the key file is on a filesystem where inode or device numbers change across reboot, remount, copy-up or host", "put key files on a local disk filesystem such as ext4 or xfs, outside tmpfs, overlayfs and network mounts"},
	{KeyFileReplaceable, Warning, "the key file is likely to be replaced (its directory is writable by others, it sits in a world-writable sticky directory that tmp cleaners sweep, or the manifest marks it as a config file that deploys rewrite): a replaced file has a new inode and so a new key, and processes started afterwards no longer meet the running ones", "use a dedicated key file that nothing rewrites, in a directory only its owner can write (for example /etc/app/ipc.key, mode 0644 in a 0755 directory)"},
	{KeyViewDiffers, Warning, "the key file is another file (or none) on the host than in the container: programs on the host compute another key than those in the container, as overlayfs copy-up and bind mounts can cause", "give host and container one key file on a shared, non-overlay mount, or keep each side's programs apart on purpose"},
	{SettingUnresolved, Warning, "a configuration setting that names a key file refers to a variable (or ~user, or a command substitution) that cannot be resolved: no key is computed from it, so its collisions go unchecked", "set the variable earlier in the file, give the service's environment with --env FILE (or --process-env), or write the path out"},
	{RelativeKeyPath, Warning, "a configuration names its key file by a relative path: ftok resolves it from the service's working directory, which the configuration does not fix, so the key depends on where the service is started", "write the key file's absolute path, or tell ipckeys where the service runs with --base DIR"},
	{SameFile, Info, "two paths are the same file (hard link or symbolic link) and give the same keys on purpose", "nothing, if the programs are meant to share; otherwise give them separate files"},
	{SuppressionExpired, Warning, "an ignore file entry has passed its expiry date: the finding it covered counts again", "fix the finding, or renew the entry with a new reason and date"},
	{SuppressionUnused, Warning, "an ignore file entry matches no finding: it is stale, or its code or target is mistyped", "remove the entry, or correct its code or target"},
}

// RuleFor returns the rule of a code.
func RuleFor(code string) Rule {
	for _, r := range Rules {
		if r.Code == code {
			return r
		}
	}
	return Rule{Code: code}
}

// Entry is one key a deployment uses: a path given on the command line with
// one proj id (or none), or a manifest channel.
type Entry struct {
	Channel *manifest.Channel // nil for a path given on the command line
	Pattern string            // the glob it came from, when it came from one
	Path    string            // the path as ftok is given it
	Proj    int
	HasProj bool // false for a path scanned without -p: fingerprint only

	File ipcscan.KeyFile
	Err  error // why stat failed: ftok returns -1
	// HostFile is the host's view of the path when ipckeys looks through
	// a process's mount namespace (--pid) and the host sees another file
	// (Dev and Ino zero: none at all) there.
	HostFile *ipcscan.KeyFile
	// Static is set when the key file was not looked at (--static): only
	// what the configuration itself says is checked.
	Static bool
	// StaticMissing is set for a path named on the command line of a
	// --static run that does not exist: --static reads the configs it is
	// given, and a missing one is a typo or a broken checkout.
	StaticMissing bool
	// ConfigKeyFile names the configuration file this entry's key file
	// is, when a service's key file is a config file (its own or
	// another's): deploys and editors rewrite those.
	ConfigKeyFile string
}

// fromConfig reports whether the entry is a channel read from an
// application's configuration file.
func (e *Entry) fromConfig() bool { return e.Channel != nil && e.Channel.FromConfig() }

// named reports whether the entry is a manifest channel: one with a name
// of its own, not a path or a config setting.
func (e *Entry) named() bool { return e.Channel != nil && !e.Channel.FromConfig() }

// Name returns the channel name, or "" for a command-line path.
func (e *Entry) Name() string {
	if e.Channel != nil {
		return e.Channel.Name
	}
	return ""
}

// OK reports whether the path could be stat'ed.
func (e *Entry) OK() bool { return e.Err == nil }

// Key returns the entry's key; ok is false without a proj or a file.
func (e *Entry) Key() (key int32, ok bool) {
	if !e.HasProj || e.Static {
		return 0, false
	}
	if e.Err != nil {
		return ftok.ErrorValue, true
	}
	return e.File.Key(e.Proj), true
}

// Finding is one problem, with the entries it concerns.
type Finding struct {
	Code     string
	Severity Severity
	Key      *int32 // the key it is about, where there is one
	Message  string
	Entries  []int      // indexes into the checked entries
	Object   *ObjectRef // the live object it is about, if any
	// Suppressed is set when an ignore file entry covers the finding: it
	// stays in machine-readable reports but does not fail the gate.
	Suppressed *Suppression
	// Where is a place that is not an entry's: the ignore file line of a
	// suppression finding.
	Where *Place
	// Suggestions are proj ids that would fix the finding (see Suggest).
	Suggestions []Suggestion
	// Socket is the socket, or the process, a descriptor finding is about.
	Socket *SocketRef
}

// Suppression is the ignore file entry that covers a finding.
type Suppression struct {
	Reason  string
	Expires string // YYYY-MM-DD, or ""
	File    string
	Line    int
}

// Place is a line in a file.
type Place struct {
	File string
	Line int
}

// ident tells channels apart: a manifest channel is its name; a
// command-line path, and a config setting (the services that name one key
// file and proj share one channel), is its file and proj; without the
// file (--static), its cleaned path and proj.
type ident struct {
	channel string
	isChan  bool
	file    ftok.File
	path    string
	proj    int
}

func identity(e *Entry) ident {
	switch {
	case e.named():
		return ident{channel: e.Channel.Name, isChan: true}
	case e.Static:
		return ident{path: staticPath(e), proj: e.Proj}
	}
	return ident{file: e.File.File, proj: e.Proj}
}

// Check returns the findings for entries, most severe first.
func Check(entries []Entry) []Finding { return CheckWith(entries, Options{}) }

// CheckWith is Check with options.
func CheckWith(entries []Entry, opt Options) []Finding {
	if opt.VolatileDirs == nil {
		opt.VolatileDirs = DefaultVolatileDirs
	}
	// Every finding that groups entries groups files of one fingerprint: a
	// key is a proj byte on top of one, and a file has one. So entries are
	// grouped by fingerprint once, and the groups of a single entry, most
	// of them, are not looked at again. Entries not looked at (--static)
	// have no fingerprint: the static check groups them by path.
	byFP := groupBy(entries, func(e *Entry) (ftok.Fingerprint, bool) {
		return e.File.Fingerprint(), e.OK() && !e.Static
	})
	var out []Finding
	out = append(out, keyCollisions(entries, byFP)...)
	out = append(out, staticCollisions(entries)...)
	out = append(out, fingerprintCollisions(entries, byFP, out)...)
	out = append(out, sharedSettings(entries)...)
	out = append(out, sameFiles(entries, byFP)...)
	out = append(out, perEntry(entries, out, opt)...)
	Sort(out)
	return out
}

// Sort orders findings most severe first, then by code and place.
func Sort(out []Finding) {
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return firstEntry(a) < firstEntry(b)
	})
}

// firstEntry orders findings of one code: by their first entry, live
// objects without entries last, by id.
func firstEntry(f Finding) int {
	if len(f.Entries) > 0 {
		return f.Entries[0]
	}
	if f.Object != nil {
		return 1<<30 + f.Object.ID
	}
	if f.Socket != nil {
		return 1<<30 + int(f.Socket.Inode%(1<<29)) + f.Socket.PID
	}
	return 1 << 31
}

func keyCollisions(entries []Entry, byFP [][]int) []Finding {
	return acrossCPUs(byFP, func(part [][]int) []Finding {
		return keyCollisionsIn(entries, part)
	})
}

func keyCollisionsIn(entries []Entry, byFP [][]int) []Finding {
	var out []Finding
	var scratch []byte
	var g grouper[int32]
	for _, fp := range byFP {
		twins := channelTwins(entries, fp)
		for _, idx := range g.groups(entries, fp, func(e *Entry) (int32, bool) {
			if !e.HasProj || (!e.named() && twins[identity(e)]) {
				return 0, false
			}
			k, _ := e.Key()
			// IPC_PRIVATE never shares: key-private covers it.
			return k, k != ftok.Private
		}) {
			if !distinct(entries, idx) {
				continue
			}
			leadWithSharedSettings(entries, idx)
			k, _ := entries[idx[0]].Key()
			out = append(out, Finding{
				Code:     KeyCollision,
				Severity: Error,
				Key:      &k,
				Message:  collisionMessage(entries, idx, k, &scratch),
				Entries:  idx,
			})
		}
	}
	return out
}

// acrossCPUs splits the fingerprint groups into contiguous parts, one
// per CPU when there are many, has find look at each part (with memory of
// its own), and returns the findings in the order of the groups.
func acrossCPUs(groups [][]int, find func(part [][]int) []Finding) []Finding {
	workers := min(runtime.GOMAXPROCS(0), len(groups)/512)
	if workers < 2 {
		return find(groups)
	}
	parts := make([][]Finding, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(groups)/workers, (w+1)*len(groups)/workers
		wg.Go(func() { parts[w] = find(groups[lo:hi]) })
	}
	wg.Wait()
	return slices.Concat(parts...)
}

// channelTwins returns the command-line paths among the entries idx (of
// one fingerprint) that are also a manifest channel, the same file with
// the same proj: such a path is that channel, not a second one. nil when
// there are none.
func channelTwins(entries []Entry, idx []int) map[ident]bool {
	paths, chans := 0, 0
	for _, i := range idx {
		if entries[i].named() {
			chans++
		} else {
			paths++
		}
	}
	if paths == 0 || chans == 0 {
		return nil
	}
	channel := map[ident]bool{}
	for _, i := range idx {
		if e := &entries[i]; e.named() {
			channel[ident{file: e.File.File, proj: e.Proj}] = true
		}
	}
	twins := map[ident]bool{}
	for _, i := range idx {
		if e := &entries[i]; !e.named() && channel[identity(e)] {
			twins[identity(e)] = true
		}
	}
	return twins
}

// grouper groups the entries of one fingerprint by another key: usually
// a few entries, compared in place; a large group goes through a map. Its
// memory is reused from group to group, and only the groups of two or
// more entries, which findings keep, are allocated.
type grouper[K comparable] struct {
	keys   []K
	count  []int
	member []int // for each entry of the group, its key's number or -1
	at     map[K]int
}

// groups groups the entries idx for which key reports ok by the key's
// value, in the order of their first entry, and returns the groups of two
// or more.
func (g *grouper[K]) groups(entries []Entry, idx []int, key func(*Entry) (K, bool)) [][]int {
	const small = 16
	g.keys, g.count, g.member = g.keys[:0], g.count[:0], g.member[:0]
	if len(g.at) > 1024 {
		g.at = nil // clearing a large map for every group would cost more
	}
	clear(g.at)
	useMap := false
	for _, i := range idx {
		k, ok := key(&entries[i])
		if !ok {
			g.member = append(g.member, -1)
			continue
		}
		n, seen := -1, false
		if useMap {
			n, seen = g.at[k]
		} else if n = slices.Index(g.keys, k); n >= 0 {
			seen = true
		}
		if !seen {
			n = len(g.keys)
			g.keys = append(g.keys, k)
			g.count = append(g.count, 0)
			if useMap {
				g.at[k] = n
			} else if len(g.keys) > small {
				if g.at == nil {
					g.at = map[K]int{}
				}
				for m, have := range g.keys {
					g.at[have] = m
				}
				useMap = true
			}
		}
		g.member = append(g.member, n)
		g.count[n]++
	}
	members := 0
	var out [][]int
	for n, c := range g.count {
		if c >= 2 {
			members += c
			g.count[n] = len(out)
			out = append(out, nil)
		} else {
			g.count[n] = -1
		}
	}
	if len(out) == 0 {
		return nil
	}
	backing := make([]int, 0, members)
	// Lay the groups out one after another in backing, each with its own
	// capacity, so that appending to one never reaches the next.
	sizes := make([]int, len(out))
	for pos := range idx {
		if n := g.member[pos]; n >= 0 && g.count[n] >= 0 {
			sizes[g.count[n]]++
		}
	}
	for o, size := range sizes {
		out[o] = backing[len(backing) : len(backing) : len(backing)+size]
		backing = backing[:len(backing)+size]
	}
	for pos, i := range idx {
		if n := g.member[pos]; n >= 0 && g.count[n] >= 0 {
			out[g.count[n]] = append(out[g.count[n]], i)
		}
	}
	return out
}

// leadWithSharedSettings orders a collision's entries so that config
// settings whose name recurs among them come first: services running the
// same code read the same setting (chnl_shm_path in B.conf and C.conf),
// and that pair is the collision to show, not a third service that names
// both files under settings of its own.
func leadWithSharedSettings(entries []Entry, idx []int) {
	count := map[string]int{}
	for _, i := range idx {
		if e := &entries[i]; e.fromConfig() {
			count[e.Channel.Setting]++
		}
	}
	if len(count) == 0 {
		return
	}
	rank := func(i int) int {
		if e := &entries[i]; e.fromConfig() {
			return count[e.Channel.Setting]
		}
		return 0
	}
	sort.SliceStable(idx, func(a, b int) bool { return rank(idx[a]) > rank(idx[b]) })
}

func collisionMessage(entries []Entry, idx []int, key int32, scratch *[]byte) string {
	b := (*scratch)[:0]
	defer func() { *scratch = b }()
	// A symlink or hard link to a file already named adds nothing; other
	// config settings naming it are listed with it.
	for n, i := range firstOf(entries, idx, identity) {
		if n > 0 {
			b = append(b, ", "...)
		}
		b = appendDescription(b, &entries[i])
		b = appendAlso(b, entries, idx, i)
	}
	b = append(b, " get the same key "...)
	b = ftok.AppendHex(b, key)
	switch {
	case varies(entries, idx, func(e *Entry) ftok.File { return e.File.File }):
		p := ftok.Decode(key)
		b = append(b, " (different files with the same device byte 0x"...)
		b = appendHexDigits(b, uint64(p.DevByte), 2)
		b = append(b, " and inode low 16 bits 0x"...)
		b = appendHexDigits(b, uint64(p.InoBits), 4)
	case varies(entries, idx, func(e *Entry) int { return e.Proj }):
		b = append(b, " (the same file with proj ids that agree in their low byte, the only part ftok keeps"...)
	default:
		b = append(b, " (differently named channels on the same file and proj id"...)
	}
	b = append(b, "): their programs would share one IPC object without any error; give one of them another proj id or key file"...)
	return string(b)
}

// appendHexDigits appends v in lower-case hex, zero-padded to digits, as
// %0Nx does.
func appendHexDigits(b []byte, v uint64, digits int) []byte {
	for n := len(strconv.FormatUint(v, 16)); n < digits; n++ {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, v, 16)
}

// varies reports whether key differs among the entries idx.
func varies[K comparable](entries []Entry, idx []int, key func(*Entry) K) bool {
	first := key(&entries[idx[0]])
	for _, i := range idx[1:] {
		if key(&entries[i]) != first {
			return true
		}
	}
	return false
}

// firstOf returns, of the entries idx, the first of each distinct value
// of key, in order. Groups are small but can be large: it compares
// in place up to a few, and uses a map beyond.
func firstOf[K comparable](entries []Entry, idx []int, key func(*Entry) K) []int {
	const small = 16
	out := make([]int, 0, min(len(idx), small))
	var few [small]K
	keys := few[:0]
	var seen map[K]bool
	for _, i := range idx {
		k := key(&entries[i])
		switch {
		case seen != nil:
			if seen[k] {
				continue
			}
			seen[k] = true
		case slices.Contains(keys, k):
			continue
		case len(keys) == small:
			seen = make(map[K]bool, len(idx))
			for _, have := range keys {
				seen[have] = true
			}
			seen[k] = true
		default:
			keys = append(keys, k)
		}
		out = append(out, i)
	}
	return out
}

// describe names an entry for a message: its channel and path, proj, and
// the numbers that made its key.
func describe(e *Entry) string {
	return string(appendDescription(make([]byte, 0, 96), e))
}

// appendDescription appends what describe returns: written without fmt,
// since a large scan describes hundreds of thousands of entries.
func appendDescription(b []byte, e *Entry) []byte {
	if e.fromConfig() {
		b = append(b, e.Channel.Name...)
		b = append(b, " (line "...)
		b = strconv.AppendInt(b, int64(e.Channel.Line), 10)
		b = append(b, ": "...)
		b = append(b, Display(e.Path)...)
		b = append(b, ", "...)
	} else if e.Channel != nil {
		b = append(b, "channel "...)
		b = append(b, e.Channel.Name...)
		b = append(b, " ("...)
		b = append(b, Display(e.Path)...)
		b = append(b, ", "...)
	} else {
		b = append(b, Display(e.Path)...)
		b = append(b, " ("...)
	}
	if e.HasProj {
		b = append(b, "proj "...)
		b = ftok.AppendProj(b, e.Proj)
		b = append(b, ", "...)
	}
	if e.Static {
		b = append(b, "not looked at: --static"...)
	} else if e.OK() {
		b = append(b, "dev "...)
		b = strconv.AppendUint(b, uint64(e.File.Major()), 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(e.File.Minor()), 10)
		b = append(b, ", ino "...)
		b = strconv.AppendUint(b, e.File.Ino, 10)
		b = append(b, " = 0x"...)
		b = strconv.AppendUint(b, e.File.Ino, 16)
	} else {
		b = append(b, "unusable"...)
	}
	return append(b, ')')
}

// distinct reports whether the entries idx are at least two channels.
func distinct(entries []Entry, idx []int) bool {
	first := identity(&entries[idx[0]])
	for _, i := range idx[1:] {
		if identity(&entries[i]) != first {
			return true
		}
	}
	return false
}

func fingerprintCollisions(entries []Entry, groups [][]int, keyFindings []Finding) []Finding {
	// The key collisions by fingerprint: a key is a proj byte on top of a
	// fingerprint, so the files of one key collision share one, and only
	// those key collisions can already have reported a fingerprint's
	// files together.
	byFP := map[ftok.Fingerprint][]int{}
	for n, f := range keyFindings {
		fp := entries[f.Entries[0]].File.Fingerprint()
		byFP[fp] = append(byFP[fp], n)
	}
	return acrossCPUs(groups, func(part [][]int) []Finding {
		return fingerprintCollisionsIn(entries, part, keyFindings, byFP)
	})
}

func fingerprintCollisionsIn(entries []Entry, groups [][]int, keyFindings []Finding, byFP map[ftok.Fingerprint][]int) []Finding {
	var out []Finding
	for _, idx := range groups {
		fp := entries[idx[0]].File.Fingerprint()
		shown := firstOf(entries, idx, func(e *Entry) ftok.File { return e.File.File }) // one entry per distinct file
		if len(shown) < 2 || coveredByOne(entries, shown, keyFindings, byFP[fp]) {
			continue
		}
		var parts []string
		for _, i := range shown {
			parts = append(parts, describe(&entries[i]))
		}
		out = append(out, Finding{
			Code:     FingerprintCollision,
			Severity: Warning,
			Message: fmt.Sprintf("%s are different files with the same device byte 0x%02x and inode low 16 bits 0x%04x: given the same proj id they get the same key; keep their proj ids apart or use other key files",
				strings.Join(parts, ", "), fp.DevByte(), fp.InoBits()),
			Entries: shown,
		})
	}
	return out
}

// groupBy groups the indexes of the entries for which key reports ok by the
// key's value, leaving out the groups of one entry (nothing collides in
// them); groups come in the order their first entry does. The groups
// share one backing array: a scan of 100,000 entries makes a few
// allocations here, not one per group.
func groupBy[K comparable](entries []Entry, key func(*Entry) (K, bool)) [][]int {
	at := map[K]int32{}
	group := make([]int32, len(entries)) // each entry's group, -1 for none
	var size []int32
	for i := range entries {
		k, ok := key(&entries[i])
		if !ok {
			group[i] = -1
			continue
		}
		n, seen := at[k]
		if !seen {
			n = int32(len(size))
			at[k] = n
			size = append(size, 0)
		}
		group[i] = n
		size[n]++
	}
	clear(at)
	// Number the groups of two or more in order, and drop the others.
	var groups [][]int
	members := 0
	for _, c := range size {
		if c >= 2 {
			members += int(c)
		}
	}
	backing := make([]int, 0, members)
	for n, c := range size {
		if c < 2 {
			size[n] = -1
			continue
		}
		size[n] = int32(len(groups))
		groups = append(groups, backing[len(backing):len(backing):len(backing)+int(c)])
		backing = backing[:len(backing)+int(c)]
	}
	for i, n := range group {
		if n >= 0 && size[n] >= 0 {
			groups[size[n]] = append(groups[size[n]], i)
		}
	}
	return groups
}

// coveredByOne reports whether one of the key collisions named by
// candidates already reported the files of the entries shown together.
func coveredByOne(entries []Entry, shown []int, keyFindings []Finding, candidates []int) bool {
	for _, n := range candidates {
		if covers(entries, keyFindings[n].Entries, shown) {
			return true
		}
	}
	return false
}

// covers reports whether the files of the entries shown are all among the
// files of the entries idx: compared in place when few, through a map
// when many.
func covers(entries []Entry, idx, shown []int) bool {
	has := func(f ftok.File) bool {
		for _, i := range idx {
			if entries[i].File.File == f {
				return true
			}
		}
		return false
	}
	if len(idx)*len(shown) > 256 {
		in := make(map[ftok.File]bool, len(idx))
		for _, i := range idx {
			in[entries[i].File.File] = true
		}
		has = func(f ftok.File) bool { return in[f] }
	}
	for _, i := range shown {
		if !has(entries[i].File.File) {
			return false
		}
	}
	return true
}

func sameFiles(entries []Entry, byFP [][]int) []Finding {
	return acrossCPUs(byFP, func(part [][]int) []Finding {
		return sameFilesIn(entries, part)
	})
}

func sameFilesIn(entries []Entry, byFP [][]int) []Finding {
	var groups [][]int
	var g grouper[ftok.File]
	for _, fp := range byFP {
		groups = append(groups, g.groups(entries, fp, func(e *Entry) (ftok.File, bool) {
			return e.File.File, e.Channel == nil && !e.Static
		})...)
	}
	var out []Finding
	for _, idx := range groups {
		f := entries[idx[0]].File.File
		shown := firstOf(entries, idx, func(e *Entry) string { return e.Path })
		if len(shown) < 2 {
			continue
		}
		var names []string
		for _, i := range shown {
			names = append(names, Display(entries[i].Path))
		}
		out = append(out, Finding{
			Code:     SameFile,
			Severity: Info,
			Message: fmt.Sprintf("%s are the same file (dev %d:%d, ino %d): hard or symbolic links give the same keys on purpose; if their programs are meant to be separate, give them separate files",
				strings.Join(names, " and "), entries[shown[0]].File.Major(), entries[shown[0]].File.Minor(), f.Ino),
			Entries: shown,
		})
	}
	return out
}

// perEntry finds what is wrong with single entries: unusable paths,
// dangerous keys and proj ids, unstable filesystems.
func perEntry(entries []Entry, collisions []Finding, opt Options) []Finding {
	// Entries whose truncated proj made them collide with a differently
	// written proj on the same key.
	truncCollides := map[int]bool{}
	for _, f := range collisions {
		if f.Code != KeyCollision {
			continue
		}
		projs := map[int]bool{}
		for _, i := range f.Entries {
			projs[entries[i].Proj] = true
		}
		if len(projs) > 1 {
			for _, i := range f.Entries {
				truncCollides[i] = true
			}
		}
	}
	var out []Finding
	reportedPath := map[string]bool{}
	reportedReplace := map[string]bool{}
	reportedView := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if e.fromConfig() && e.Channel.Path == "" {
			out = append(out, Finding{Code: SettingEmpty, Severity: Error, Entries: []int{i},
				Message: fmt.Sprintf("%s (%s:%d) names a key file but is empty or undefined: the service calls ftok with an empty path, which fails with ENOENT and returns -1; set it to the key file's path",
					e.Channel.Setting, e.Channel.File, e.Channel.Line)})
			continue
		}
		if e.fromConfig() && !filepath.IsAbs(e.Channel.Path) && e.Channel.Base == "" {
			out = append(out, Finding{Code: RelativeKeyPath, Severity: Warning, Entries: []int{i},
				Message: fmt.Sprintf("%s (%s:%d) names its key file by the relative path %s: ftok resolves it from the service's working directory, which the configuration does not fix (ipckeys took it from the config's directory: %s); write an absolute path, or give --base DIR",
					e.Channel.Setting, e.Channel.File, e.Channel.Line, Display(e.Channel.Path), Display(e.Path))})
		}
		if e.Static {
			out = append(out, staticEntry(e, i, opt.VolatileDirs)...)
			if e.HasProj {
				out = append(out, projFindings(e, i, truncCollides[i])...)
			}
			continue
		}
		if !e.OK() {
			if !reportedPath[e.Path] {
				reportedPath[e.Path] = true
				out = append(out, Finding{Code: PathUnusable, Severity: Error, Key: keyOf(e), Message: unusableMessage(e), Entries: []int{i}})
			}
			continue
		}
		if why := replaceable(e); why != "" && !reportedReplace[e.Path] {
			reportedReplace[e.Path] = true
			out = append(out, Finding{Code: KeyFileReplaceable, Severity: Warning, Entries: []int{i},
				Message: fmt.Sprintf("%s %s: replacing it gives it a new inode and the channel a new key, so processes started afterwards no longer meet the running ones; use a dedicated key file that nothing rewrites, in a directory only its owner can write", Display(e.Path), why)})
		}
		if h := e.HostFile; h != nil && !reportedView[e.Path] {
			reportedView[e.Path] = true
			host := "the host has no such file"
			if h.Ino != 0 {
				host = fmt.Sprintf("on the host it is dev %d:%d, ino %d (fingerprint %s)", h.Major(), h.Minor(), h.Ino, h.Fingerprint())
			}
			out = append(out, Finding{Code: KeyViewDiffers, Severity: Warning, Entries: []int{i},
				Message: fmt.Sprintf("%s is dev %d:%d, ino %d (fingerprint %s) in the process's view, but %s: programs on the host and in the container compute different keys from it; share one key file on a non-overlay mount, or keep the two sides apart on purpose",
					Display(e.Path), e.File.Major(), e.File.Minor(), e.File.Ino, e.File.Fingerprint(), host)})
		}
		if e.File.Unstable != "" && !reportedPath[e.Path] {
			reportedPath[e.Path] = true
			out = append(out, Finding{
				Code:     UnstableFilesystem,
				Severity: Warning,
				Message: fmt.Sprintf("%s is on %s: %s; put the key file on a local disk filesystem such as ext4 or xfs",
					Display(e.Path), e.File.FSType, e.File.Unstable),
				Entries: []int{i},
			})
		}
		if !e.HasProj {
			continue
		}
		k, _ := e.Key()
		switch k {
		case ftok.Private:
			out = append(out, Finding{Code: KeyPrivate, Severity: Error, Key: keyOf(e),
				Message: fmt.Sprintf("%s gets key 0x00000000, which is IPC_PRIVATE: every shmget/semget/msgget with it creates a new private object, so its programs never share anything; use another proj id or key file", describe(e)),
				Entries: []int{i}})
		case ftok.ErrorValue:
			out = append(out, Finding{Code: KeyErrorValue, Severity: Error, Key: keyOf(e),
				Message: fmt.Sprintf("%s gets key 0xffffffff, the value ftok returns on error: a program cannot tell this key from a failed ftok; use another proj id or key file", describe(e)),
				Entries: []int{i}})
		}
		out = append(out, projFindings(e, i, truncCollides[i])...)
	}
	return out
}

// projFindings are what is wrong with an entry's proj id alone.
func projFindings(e *Entry, i int, truncCollides bool) []Finding {
	var out []Finding
	one := []int{i}
	if e.Proj&0xff == 0 {
		out = append(out, Finding{Code: ProjZero, Severity: Warning, Key: keyOf(e),
			Message: fmt.Sprintf("%s uses proj id %d, whose low byte is 0: ftok's behaviour with it is undefined per the man page and unspecified per POSIX; use a proj id from 1 to 255", describe(e), e.Proj),
			Entries: one})
	}
	if e.Proj < 0 || e.Proj > 255 {
		sev, tail := Warning, "use a proj id from 1 to 255"
		if truncCollides {
			sev, tail = Error, "and here that makes it collide with another channel; use a proj id from 1 to 255"
		}
		out = append(out, Finding{Code: ProjTruncated, Severity: sev, Key: keyOf(e),
			Message: fmt.Sprintf("%s: ftok keeps only the low byte of proj id %d (0x%02x), so it is the same as proj %d; %s",
				describe(e), e.Proj, e.Proj&0xff, e.Proj&0xff, tail),
			Entries: one})
	}
	return out
}

// replaceable says why an entry's key file is likely to be replaced, or "".
// The rule is narrow on purpose: a directory others may write to, a
// world-writable sticky directory (/tmp: cleaners delete, the service
// recreates), or a file the manifest marks as a config file.
func replaceable(e *Entry) string {
	const otherWrite, sticky = 0o002, 0o1000
	m := e.File.DirMode
	switch {
	case m != 0 && m&otherWrite != 0 && m&sticky != 0:
		return fmt.Sprintf("is in %s, a world-writable sticky directory: tmp cleaners delete files there and the service recreates them", Display(e.File.Dir))
	case m != 0 && m&otherWrite != 0:
		return fmt.Sprintf("is in %s, which any user can write to: anyone can replace it", Display(e.File.Dir))
	case e.Channel != nil && e.Channel.Config:
		return "is marked as a config file in the manifest: editors and configuration management save such files by writing a new file and renaming it over the old one"
	case e.ConfigKeyFile != "":
		return fmt.Sprintf("is a service's configuration file (%s): deploys, editors and configuration management save such files by writing a new file and renaming it over the old one", Display(e.ConfigKeyFile))
	}
	return ""
}

func unusableMessage(e *Entry) string {
	if e.StaticMissing && e.Err == ipcscan.ErrNoMatch {
		return fmt.Sprintf("pattern %s matches no file: --static reads the configs it is named, and none is there; fix the pattern, or check out the files", Display(e.Pattern))
	}
	if e.StaticMissing {
		return fmt.Sprintf("%s: %v: --static reads the configs it is named, and this one is not there; fix the path, or check out the file", Display(e.Path), e.Err)
	}
	if e.Pattern != "" && e.Err == ipcscan.ErrNoMatch {
		return fmt.Sprintf("pattern %s matches no file: the programs' key files are missing or the pattern is wrong; create the files or fix the pattern", Display(e.Pattern))
	}
	return fmt.Sprintf("%s: %v: ftok returns -1 for it, so its programs fail or all share key 0xffffffff; create the key file before the programs start, or fix the path", Display(e.Path), e.Err)
}

func keyOf(e *Entry) *int32 {
	k, ok := e.Key()
	if !ok {
		return nil
	}
	return &k
}

// Display returns a path (or another string the tool did not write) as it
// can be shown on one line: by the rule of package display, unchanged when
// it is printable UTF-8, otherwise Go-quoted ("\n", "\xff", "\u202e").
func Display(p string) string { return display.Quote(p) }
