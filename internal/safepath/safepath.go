// Package safepath resolves a path the way the kernel would for the caller,
// but refuses the symbolic links an attacker could have planted.
//
// A program that runs as root and writes or replaces files by name must
// not follow a link another user made: in /tmp, user nobody can make
// report.json a link to /etc/shadow, and root writing "report.json" would
// overwrite /etc/shadow. The kernel's fs.protected_symlinks rule stops
// that when the kernel follows the link, but not when a program resolves
// links itself, and the setting may be off. Resolve applies the rule
// itself, at every component of the path, not only the last: a symbolic
// link that sits in a sticky, world-writable directory (/tmp, /var/tmp,
// /dev/shm) is followed only when the link's owner is the caller (the
// effective uid) or the directory's owner. The stricter OwnLinks follows
// only links owned by the caller or by root, wherever they are, for
// commands that must never act through a link another user made.
//
// Resolve walks the path one name at a time with openat(O_PATH|O_NOFOLLOW)
// from the directory it holds open, reads a link's owner and text from
// the link it opened (not by name again), and hands back the last
// directory still open: the caller creates, opens and renames relative to
// it (openat, renameat), so a directory swapped for a link after the check
// is not followed. ".." is the directory's real parent, as for the
// kernel. At most 40 links are followed (ELOOP), as the kernel does.
//
// A process's descriptor link (/proc/PID/fd/N, reached through /dev/stdout
// or /dev/fd/N too) names an open file, not a path: Resolve stops there
// and says so (Path.Descriptor); only the kernel can follow it.
package safepath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Rule says which symbolic links Resolve follows.
type Rule int

const (
	// Protected follows a link unless it is in a sticky world-writable
	// directory and owned by neither the caller nor the directory's
	// owner: the kernel's fs.protected_symlinks rule.
	Protected Rule = iota
	// OwnLinks follows, besides what Protected refuses, no link owned by
	// anyone but the caller or root: a path through a link another user
	// made is refused wherever the link is.
	OwnLinks
)

// MaxLinks is how many symbolic links one resolution follows at most, the
// kernel's own limit (MAXSYMLINKS).
const MaxLinks = 40

// pathMax is the kernel's limit on a path name, terminating NUL included.
const pathMax = 4096

// Path is a resolved path: the directory its last name is in, held open,
// and that name.
type Path struct {
	Name string // absolute and clean, with every symbolic link resolved
	Base string // the last name, in the directory DirFD holds ("." when Name is a directory reached by ".", ".." or "/")
	// Link is the symbolic link whose target Name is, when the last name
	// was reached through one ("" when the path named the file itself).
	// A Link with Exists false is a dangling link.
	Link   string
	Exists bool
	Stat   unix.Stat_t // of the file itself, not following it, when Exists
	// Descriptor is set when Name is a process's descriptor link
	// (/proc/PID/fd/N): open it with openat(DirFD, Base) following it.
	Descriptor bool

	dir int
}

// DirFD is the descriptor (O_PATH) of the directory Base is in; it stays
// open until Close.
func (p *Path) DirFD() int { return p.dir }

// Close releases the directory descriptor. It may be called more than once.
func (p *Path) Close() error {
	if p.dir < 0 {
		return nil
	}
	err := unix.Close(p.dir)
	p.dir = -1
	return err
}

// LinkError is a symbolic link that a Rule refused to follow.
type LinkError struct {
	Link  string // the link's absolute name
	Dir   string // the directory it is in
	Owner uint32 // the link's owner
	Rule  Rule
	// Sticky is set when the link was refused for being in a sticky
	// world-writable directory (the kernel's rule); otherwise OwnLinks
	// refused it for its owner alone.
	Sticky bool
}

func (e *LinkError) Error() string {
	if e.Sticky {
		return fmt.Sprintf("%s is a symbolic link owned by %s in the sticky world-writable directory %s: not followed (the kernel's protected_symlinks rule); remove it or name another path",
			e.Link, userName(e.Owner), e.Dir)
	}
	return fmt.Sprintf("%s is a symbolic link owned by %s in %s: not followed (a link another user made is never followed here); remove it or name another path",
		e.Link, userName(e.Owner), e.Dir)
}

// Unwrap makes a refused link an fs.ErrPermission, as the kernel's EACCES.
func (e *LinkError) Unwrap() error { return fs.ErrPermission }

// userName is uid's name on this host, or the number when it has none.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// Allowed reports whether rule follows a link owned by linkUID in a
// directory with mode dirMode owned by dirUID, for a caller with effective
// uid euid, and, when it does not, whether the sticky directory is why.
func Allowed(rule Rule, euid int, linkUID, dirUID, dirMode uint32) (sticky bool, ok bool) {
	if dirMode&(unix.S_ISVTX|unix.S_IWOTH) == unix.S_ISVTX|unix.S_IWOTH &&
		linkUID != uint32(euid) && linkUID != dirUID {
		return true, false
	}
	if rule == OwnLinks && linkUID != uint32(euid) && linkUID != 0 {
		return false, false
	}
	return false, true
}

// Resolve resolves name (relative names against the working directory)
// following only the symbolic links rule allows. The last name need not
// exist (Exists false); every directory before it must. The caller
// closes the Path.
func Resolve(name string, rule Rule) (*Path, error) {
	switch {
	case name == "":
		return nil, &fs.PathError{Op: "resolve", Path: name, Err: unix.ENOENT}
	case strings.IndexByte(name, 0) >= 0:
		return nil, &fs.PathError{Op: "resolve", Path: name, Err: unix.EINVAL}
	case len(name) >= pathMax:
		return nil, &fs.PathError{Op: "resolve", Path: name, Err: unix.ENAMETOOLONG}
	}
	r := &resolver{rule: rule, euid: os.Geteuid(), dir: -1}
	p, err := r.walk(name)
	if err != nil {
		if r.dir >= 0 {
			unix.Close(r.dir)
		}
		var le *LinkError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, &fs.PathError{Op: "resolve", Path: name, Err: err}
	}
	return p, nil
}

type resolver struct {
	rule Rule
	euid int
	dir  int    // the directory reached so far
	cur  string // its absolute name
}

// setDir makes fd, named name, the directory reached.
func (r *resolver) setDir(fd int, name string) {
	if r.dir >= 0 {
		unix.Close(r.dir)
	}
	r.dir, r.cur = fd, name
}

func (r *resolver) start(abs bool) error {
	name, open := "/", "/"
	if !abs {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		name, open = wd, "."
	}
	fd, err := unix.Open(open, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	r.setDir(fd, name)
	return nil
}

// join names child in the current directory.
func (r *resolver) join(child string) string {
	if r.cur == "/" {
		return "/" + child
	}
	return r.cur + "/" + child
}

// components splits a path into its names, and reports whether it must
// end at a directory (a trailing slash).
func components(p string) ([]string, bool) {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out, strings.HasSuffix(p, "/")
}

func (r *resolver) walk(name string) (*Path, error) {
	if err := r.start(filepath.IsAbs(name)); err != nil {
		return nil, err
	}
	todo, mustDir := components(name)
	link := "" // the link the last name came from
	hops := 0
	for {
		if len(todo) == 0 {
			// The path named a directory: "/", "dir/", or one ending in
			// "." or "..".
			return r.self(link)
		}
		c := todo[0]
		todo = todo[1:]
		last := len(todo) == 0
		if c == "." {
			continue
		}
		if c == ".." {
			fd, err := unix.Openat(r.dir, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, err
			}
			r.setDir(fd, filepath.Dir(r.cur))
			continue
		}
		fd, err := unix.Openat(r.dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT && last && !mustDir {
			return &Path{Name: r.join(c), Base: c, Link: link, dir: r.dir}, nil
		}
		if err != nil {
			return nil, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if last && !mustDir {
				unix.Close(fd)
				return &Path{Name: r.join(c), Base: c, Link: link, Exists: true, Stat: st, dir: r.dir}, nil
			}
			r.setDir(fd, r.join(c))
			continue
		case unix.S_IFLNK:
		default:
			unix.Close(fd)
			if !last || mustDir {
				return nil, unix.ENOTDIR
			}
			return &Path{Name: r.join(c), Base: c, Link: link, Exists: true, Stat: st, dir: r.dir}, nil
		}
		// A symbolic link.
		if r.descriptorDir() {
			unix.Close(fd)
			if !last || mustDir {
				return nil, fmt.Errorf("%s is a process's descriptor: name the file itself", r.join(c))
			}
			return &Path{Name: r.join(c), Base: c, Link: link, Exists: true, Stat: st, Descriptor: true, dir: r.dir}, nil
		}
		if hops++; hops > MaxLinks {
			unix.Close(fd)
			return nil, unix.ELOOP
		}
		if err := r.allow(st.Uid, c); err != nil {
			unix.Close(fd)
			return nil, err
		}
		text, err := readlink(fd)
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		if text == "" {
			return nil, unix.ENOENT
		}
		if last {
			link = r.join(c)
		}
		more, slash := components(text)
		if last {
			mustDir = mustDir || slash
		}
		todo = append(more, todo...)
		if strings.HasPrefix(text, "/") {
			if err := r.start(true); err != nil {
				return nil, err
			}
		}
	}
}

// self is the Path of the directory reached, for a path that ends at it.
func (r *resolver) self(link string) (*Path, error) {
	p := &Path{Name: r.cur, Base: ".", Link: link, Exists: true, dir: r.dir}
	if err := unix.Fstat(r.dir, &p.Stat); err != nil {
		return nil, err
	}
	r.dir = -1
	return p, nil
}

// allow applies the rule to a link named c, owned by uid, in the current
// directory.
func (r *resolver) allow(uid uint32, c string) error {
	var dst unix.Stat_t
	if err := unix.Fstat(r.dir, &dst); err != nil {
		return err
	}
	sticky, ok := Allowed(r.rule, r.euid, uid, dst.Uid, dst.Mode)
	if ok {
		return nil
	}
	return &LinkError{Link: r.join(c), Dir: r.cur, Owner: uid, Rule: r.rule, Sticky: sticky}
}

// descriptorDir reports whether the current directory is a process's
// descriptor table in procfs (/proc/PID/fd, /proc/PID/task/TID/fd), whose
// links only the kernel can follow.
func (r *resolver) descriptorDir() bool {
	var sfs unix.Statfs_t
	if unix.Fstatfs(r.dir, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	return filepath.Base(r.cur) == "fd"
}

// readlink reads the text of the link open (O_PATH) as fd.
func readlink(fd int) (string, error) {
	for size := 256; size <= pathMax*2; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}
