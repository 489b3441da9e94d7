// Package rekey gives a key file a new ftok key without changing the
// programs that use it.
//
// ftok(3) takes the low 16 bits of the key file's inode number, so a key
// file re-created as a new file (the same bytes, owner, group, mode,
// times and extended attributes, a new inode) has a new key for every
// proj id. Run does that for each path it is given, the way a package
// manager replaces a configuration file:
//
//   - the path is resolved without following a symbolic link another
//     user made (safepath.OwnLinks), and the directory it ends in is held
//     open: every later step is relative to it (openat, renameat);
//   - only a regular file with no other hard link, in a directory no
//     other user can write (a sticky one must be the caller's), is
//     re-created; anything else is refused before any file is made;
//   - the new file is made beside the old one (O_EXCL, mode 0600 until
//     its owner and mode are set), and its key, for every proj id the
//     file is used with, is checked against every channel the run knows
//     and every live IPC object: while the key is taken, or its
//     fingerprint is another known key file's, another new file is made
//     (the taken ones stay until the end, so the filesystem cannot hand
//     their inode out again), at most MaxTries times;
//   - the chosen file is filled, synced and renamed over the old one in
//     one renameat, and the directory is synced; every temporary file is
//     removed on every path out.
//
// Run never makes an IPC call that changes anything: it reads the live
// objects the caller hands it and names those that still use an old key,
// with the ipcrm command that removes one after its service restarted.
package rekey

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/safepath"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// MaxTries is how many new files Run makes for one path, at most, looking
// for a key no channel and no live object holds. One is almost always
// enough: a filesystem's 65,536 inode slots are rarely crowded.
const MaxTries = 64

// maxTries is MaxTries, lowered by tests to make running out testable.
var maxTries = MaxTries

// Request is what to re-create and what to hold the new keys against.
type Request struct {
	Paths []string // the key files, each named as written (no pattern)
	// Root resolves the paths under this directory (--root): a path must
	// not leave it through a symbolic link.
	Root string
	// Projs are the proj ids the paths are used with, besides those of
	// the known channels on the same files.
	Projs []int
	// Entries are every channel the run knows: manifests, configs and
	// key files with their proj ids.
	Entries []audit.Entry
	// Snaps are the live IPC objects, one snapshot per namespace.
	Snaps []*ipcscan.Snapshot
	// DryRun creates nothing: it says what each path collides with and
	// that a new inode would be tried.
	DryRun bool
	// FailIfLive refuses, before any file is changed, to change a key a
	// live object still uses.
	FailIfLive bool
}

// Result is what Run did, or would do, for each path.
type Result struct {
	DryRun bool
	Files  []File
}

// File is one re-created key file.
type File struct {
	Path   string // as given
	Name   string // resolved: absolute, every link followed
	Dev    uint64
	OldIno uint64
	NewIno uint64 // 0 in a dry run, or when it was not re-created
	Keys   []KeyChange
	// Collides names the channels that hold one of the old keys: what
	// re-creating the file frees it from.
	Collides []string
	// Live are the live objects that use one of the old keys: their
	// services keep them until they restart.
	Live  []Object
	Tries int  // how many new files were made to find a free key
	Done  bool // renamed into place
}

// KeyChange is the key of one proj id before and after.
type KeyChange struct {
	Proj int
	Old  int32
	New  int32 // valid when the file was re-created
}

// Object is a live IPC object that uses an old key.
type Object struct {
	Facility    string // shm, sem or msg
	ID          int
	Key         int32
	Owner       string // user name, or uid
	CreatorPID  int    // shm only: the tables of sem and msg do not keep it
	CreatorComm string // "" when the creator is gone
	Attached    []ipcscan.Holder
	// KeptBy names the known channel that still has the key after the
	// re-creation: the object may be that channel's, and must stay.
	KeptBy string
}

// Ipcrm is the command that removes the object: ipcrm -m ID, -s ID or -q
// ID.
func (o Object) Ipcrm() string {
	flag := map[string]string{"shm": "-m", "sem": "-s", "msg": "-q"}[o.Facility]
	return "ipcrm " + flag + " " + strconv.Itoa(o.ID)
}

// Refusal is a path Run will not re-create: the caller exits 2 naming it.
type Refusal struct {
	Path   string
	Reason string
}

func (e *Refusal) Error() string { return e.Path + ": " + e.Reason }

// LiveError is FailIfLive finding live objects under old keys: nothing
// was changed.
type LiveError struct {
	Files []File // the paths with live objects
}

func (e *LiveError) Error() string {
	var parts []string
	for _, f := range e.Files {
		for _, o := range f.Live {
			parts = append(parts, fmt.Sprintf("%s: %s id %d (key %s) still uses its key", f.Path, facilityName(o.Facility), o.ID, ftok.Hex(o.Key)))
		}
	}
	return strings.Join(parts, "; ") + ": nothing was changed (--fail-if-live); stop the services first, or drop --fail-if-live"
}

// known is one file the run knows as a key file, with its proj ids.
type known struct {
	dev, ino uint64
	projs    []int
	names    []string // who uses it: channel names or paths
}

// plan is what is known of one path before it is changed.
type plan struct {
	file  File
	path  *safepath.Path
	projs []int
	self  int // index of the path's own file in Run's known files
}

// Run re-creates the key files of r (nothing in a dry run). Every path
// is checked before any is changed: a Refusal, or with FailIfLive a
// LiveError, leaves every file as it was. An error after that returns
// the files done so far with it.
func Run(r Request) (*Result, error) {
	files := knownFiles(r.Entries)
	var plans []*plan
	defer func() {
		for _, p := range plans {
			p.path.Close()
		}
	}()
	for _, name := range r.Paths {
		p, err := prepare(name, r.Root)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
		st := &p.path.Stat
		dev, ino := uint64(st.Dev), uint64(st.Ino)
		p.self = -1
		for i, k := range files {
			if k.dev == dev && k.ino == ino {
				p.self = i
			}
		}
		p.projs = slices.Clone(r.Projs)
		if p.self >= 0 {
			p.projs = append(p.projs, files[p.self].projs...)
		}
		slices.Sort(p.projs)
		p.projs = slices.Compact(p.projs)
		if len(p.projs) == 0 {
			return nil, &Refusal{Path: name, Reason: "no proj id: give it with -p, or the manifest or config that uses this file, so its keys can be checked"}
		}
		if p.self < 0 {
			files = append(files, known{dev: dev, ino: ino, projs: p.projs, names: []string{audit.Display(name)}})
			p.self = len(files) - 1
		}
		p.file = File{Path: name, Name: p.path.Name, Dev: dev, OldIno: ino}
		for _, proj := range p.projs {
			p.file.Keys = append(p.file.Keys, KeyChange{Proj: proj, Old: ftok.Key(dev, ino, proj)})
		}
	}
	// What each old key collides with and which live objects use it is
	// read before anything changes.
	var live []File
	for _, p := range plans {
		p.file.Collides = collisions(p, files)
		p.file.Live = liveObjects(p, files, r.Snaps)
		if len(p.file.Live) > 0 {
			live = append(live, p.file)
		}
	}
	res := &Result{DryRun: r.DryRun}
	if r.FailIfLive && len(live) > 0 {
		for _, p := range plans {
			res.Files = append(res.Files, p.file)
		}
		return res, &LiveError{Files: live}
	}
	for _, p := range plans {
		if !r.DryRun {
			if err := recreate(p, files, r.Snaps); err != nil {
				res.Files = append(res.Files, p.file)
				var refused *Refusal
				if errors.As(err, &refused) {
					return res, err
				}
				return res, fmt.Errorf("%s: %w", p.file.Path, err)
			}
		}
		res.Files = append(res.Files, p.file)
	}
	return res, nil
}

// knownFiles groups the usable, looked-at entries by file.
func knownFiles(entries []audit.Entry) []known {
	var files []known
	at := map[ftok.File]int{}
	for i := range entries {
		e := &entries[i]
		if !e.OK() || e.Static {
			continue
		}
		n, ok := at[e.File.File]
		if !ok {
			n = len(files)
			at[e.File.File] = n
			files = append(files, known{dev: e.File.Dev, ino: e.File.Ino})
		}
		k := &files[n]
		if e.HasProj && !slices.Contains(k.projs, e.Proj) {
			k.projs = append(k.projs, e.Proj)
		}
		who := audit.Display(e.Path)
		if e.Channel != nil {
			who = "channel " + e.Channel.Name
		}
		if !slices.Contains(k.names, who) {
			k.names = append(k.names, who)
		}
	}
	return files
}

// prepare resolves a path and refuses what must not be re-created.
func prepare(name, root string) (*plan, error) {
	if name == "" {
		return nil, &Refusal{Path: `""`, Reason: "empty path: name the key file"}
	}
	full := name
	if root != "" {
		full = strings.TrimSuffix(root, "/") + "/" + strings.TrimPrefix(name, "/")
	}
	p, err := safepath.Resolve(full, safepath.OwnLinks)
	var le *safepath.LinkError
	switch {
	case errors.As(err, &le):
		return nil, &Refusal{Path: name, Reason: le.Error()}
	case err != nil:
		return nil, &Refusal{Path: name, Reason: fmt.Sprintf("cannot be resolved: %v", unwrapPath(err))}
	}
	refuse := func(reason string) (*plan, error) {
		p.Close()
		return nil, &Refusal{Path: name, Reason: reason}
	}
	if root != "" {
		clean := strings.TrimSuffix(rootName(root), "/")
		if p.Name != clean && !strings.HasPrefix(p.Name, clean+"/") {
			return refuse(fmt.Sprintf("leads to %s, outside --root %s, through a symbolic link: name the file inside the root", p.Name, root))
		}
	}
	st := &p.Stat
	switch {
	case !p.Exists:
		return refuse("no such file: only an existing key file can be re-created")
	case p.Descriptor:
		return refuse("is a process's descriptor, not a file: name the key file itself")
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return refuse(fmt.Sprintf("is a %s, not a regular file: only regular key files are re-created", fileType(st.Mode)))
	case st.Nlink > 1:
		return refuse(fmt.Sprintf("has %d hard links: re-creating it would split them (the other names keep the old inode and key); remove the other links first (find / -xdev -samefile %s)", st.Nlink, p.Name))
	}
	var dst unix.Stat_t
	if err := unix.Fstat(p.DirFD(), &dst); err != nil {
		return refuse(fmt.Sprintf("its directory cannot be read: %v", err))
	}
	if reason := unsafeDir(&dst, os.Geteuid()); reason != "" {
		dir := p.Name[:max(1, strings.LastIndexByte(p.Name, '/'))]
		return refuse(fmt.Sprintf("its directory %s %s: another user could swap the file while it is re-created; fix the directory's permissions first", dir, reason))
	}
	return &plan{path: p}, nil
}

// unsafeDir says why another user than the caller (or root) can change the
// directory's entries, or "" when none can. A sticky directory keeps
// others from renaming or removing the caller's files, so a sticky one is
// safe when the caller owns it.
func unsafeDir(st *unix.Stat_t, euid int) string {
	trusted := st.Uid == uint32(euid) || st.Uid == 0
	sticky := st.Mode&unix.S_ISVTX != 0
	switch {
	case sticky && st.Uid != uint32(euid) && st.Mode&(unix.S_IWGRP|unix.S_IWOTH) != 0:
		return fmt.Sprintf("is sticky and writable by others, and owned by %s, not by the caller", userName(st.Uid))
	case !trusted && st.Mode&unix.S_IWUSR != 0:
		return fmt.Sprintf("is owned by %s, who can write it", userName(st.Uid))
	case sticky:
		return ""
	case st.Mode&unix.S_IWOTH != 0:
		return fmt.Sprintf("is world-writable (mode %04o)", st.Mode&0o7777)
	case st.Mode&unix.S_IWGRP != 0:
		return fmt.Sprintf("is group-writable (mode %04o, group %s)", st.Mode&0o7777, groupName(st.Gid))
	}
	return ""
}

// collisions names the other known files' channels that hold one of the
// path's old keys.
func collisions(p *plan, files []known) []string {
	var out []string
	for _, kc := range p.file.Keys {
		for i, k := range files {
			if i == p.self {
				continue
			}
			for _, proj := range k.projs {
				if ftok.Key(k.dev, k.ino, proj) != kc.Old {
					continue
				}
				for _, n := range k.names {
					if s := fmt.Sprintf("%s (key %s)", n, ftok.Hex(kc.Old)); !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// liveObjects returns the live objects under one of the path's old keys.
func liveObjects(p *plan, files []known, snaps []*ipcscan.Snapshot) []Object {
	var out []Object
	for _, kc := range p.file.Keys {
		if kc.Old == ftok.Private {
			continue
		}
		kept := ""
		for i, k := range files {
			if i == p.self {
				continue
			}
			for _, proj := range k.projs {
				if kept == "" && ftok.Key(k.dev, k.ino, proj) == kc.Old {
					kept = k.names[0]
				}
			}
		}
		for _, s := range snaps {
			add := func(fac string, perm ipcscan.Perm, cpid int, attached []ipcscan.Holder) {
				o := Object{Facility: fac, ID: perm.ID, Key: perm.Key, Owner: userName(perm.UID), CreatorPID: cpid, Attached: attached, KeptBy: kept}
				if pr, ok := s.Procs[cpid]; ok && pr.Alive {
					o.CreatorComm = pr.Comm
				}
				out = append(out, o)
			}
			for _, sg := range s.Shm {
				if sg.Key == kc.Old {
					add("shm", sg.Perm, sg.CPID, s.Holders(sg.ID))
				}
			}
			for _, ss := range s.Sem {
				if ss.Key == kc.Old {
					add("sem", ss.Perm, 0, nil)
				}
			}
			for _, q := range s.Msg {
				if q.Key == kc.Old {
					add("msg", q.Perm, 0, nil)
				}
			}
		}
	}
	return out
}

// takenKeys is every key a new file must not get: every known file's keys
// but the path's own, every live object's, IPC_PRIVATE and ftok's error
// value; and the fingerprints of the other known files.
func takenKeys(self int, files []known, snaps []*ipcscan.Snapshot) (keys map[int32]bool, fps map[ftok.Fingerprint]bool) {
	keys = map[int32]bool{ftok.Private: true, ftok.ErrorValue: true}
	fps = map[ftok.Fingerprint]bool{}
	for i, k := range files {
		if i == self {
			continue
		}
		fps[ftok.FingerprintOf(k.dev, k.ino)] = true
		for _, proj := range k.projs {
			keys[ftok.Key(k.dev, k.ino, proj)] = true
		}
	}
	for _, s := range snaps {
		for _, sg := range s.Shm {
			keys[sg.Key] = true
		}
		for _, ss := range s.Sem {
			keys[ss.Key] = true
		}
		for _, q := range s.Msg {
			keys[q.Key] = true
		}
	}
	return keys, fps
}

// free reports whether a new file of inode ino gives the path keys that
// nothing else holds and that differ from its old ones.
func free(p *plan, ino uint64, keys map[int32]bool, fps map[ftok.Fingerprint]bool) bool {
	if fps[ftok.FingerprintOf(p.file.Dev, ino)] {
		return false
	}
	for _, kc := range p.file.Keys {
		k := ftok.Key(p.file.Dev, ino, kc.Proj)
		if keys[k] || k == kc.Old {
			return false
		}
	}
	return true
}

func facilityName(f string) string {
	return map[string]string{"shm": "shared-memory segment", "sem": "semaphore set", "msg": "message queue"}[f]
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return "special file"
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}

// rootName is the root as safepath names what it resolves: absolute,
// every link followed.
func rootName(root string) string {
	p, err := safepath.Resolve(root, safepath.Protected)
	if err != nil {
		return root
	}
	defer p.Close()
	return p.Name
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
