// Package outfile writes the reports ipckeys is asked for to the files the
// user names, without ever replacing what a name points at.
//
// A report file is usually a regular file that other programs read while
// ipckeys runs (the node_exporter textfile collector, a CI step): it is
// written to a temporary file in the same directory and renamed over the
// old one, so readers see the old report or the new one, never half. The
// temporary file is created new (O_EXCL) with mode 0600; the new file then
// gets the old one's owner and group and, after that, its mode (0644 for a
// new file), never with the setuid, setgid or sticky bits.
//
// Everything else is written where it is, because replacing it would break
// the system: a character device (/dev/null, /dev/full) or a FIFO is opened
// and written in place, so a full device is a write error and the device
// stays a device; a path through a process's descriptors (/dev/stdout,
// /proc/self/fd/N) writes to that descriptor's file; a regular file with
// more than one hard link is rewritten in place (truncated, then written),
// because a rename would split it from its other names. A block device, a
// socket or a directory is refused: no report belongs there.
//
// Symbolic links are followed, at every component of the path, only where
// the kernel's fs.protected_symlinks rule would follow them for the caller
// (package safepath), whatever the system's setting: a link in a sticky
// world-writable directory (/tmp) owned by neither the caller nor the
// directory's owner is refused, so a link another user planted there
// cannot make root overwrite or create a file elsewhere. A link whose
// target does not exist is never followed to create a file. The target's
// directory is held open from the check on, and the file is created,
// opened and renamed relative to it (openat, renameat), so a directory
// swapped for a link after the check is not followed.
//
// Every target is opened or checked before any work is done (Prepare), so
// a bad output fails fast, and two outputs that are one file under
// different spellings are caught (Target.Same).
package outfile

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/inputfile"
	"github.com/ipckeys/ipckeys/internal/safepath"
)

// how a target is written.
type method int

const (
	replace method = iota // temporary file renamed over the target (or a new file)
	inPlace               // opened at Prepare, truncated if regular, written
)

// Target is an output file checked and, where it is written in place,
// opened by Prepare.
type Target struct {
	Name string // as the user wrote it

	at     *safepath.Path // the resolved file: its directory, held open, and name
	method method
	exists bool
	st     unix.Stat_t // of the existing file
	f      *os.File    // the open file of an in-place target
	id     string      // what Same compares
	// descriptor is set for a path through /proc/PID/fd or /dev/fd: it
	// is appended to, never truncated, like the shell's own redirection.
	descriptor bool
}

// Prepare resolves name to the file it writes and checks that the report
// can be written there, opening devices, FIFOs and hard-linked files.
func Prepare(name string) (*Target, error) {
	at, err := safepath.Resolve(name, safepath.Protected)
	if err != nil {
		return nil, resolveError(err)
	}
	t := &Target{Name: name, at: at}
	if err := t.prepare(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Target) prepare() error {
	at := t.at
	switch {
	case at.Descriptor:
		// /dev/stdout → /proc/self/fd/1 → pipe:[…]: the link names an
		// open descriptor, which only the kernel can follow.
		t.descriptor = true
		return t.openInPlace()
	case !at.Exists && at.Link != "":
		return fmt.Errorf("%s is a symbolic link to %s, which does not exist: a link is never followed to create a file; remove it or name another path", at.Link, at.Name)
	case !at.Exists:
		return t.checkNew()
	}
	t.st = at.Stat
	t.exists = true
	t.id = fmt.Sprintf("%d:%d", t.st.Dev, t.st.Ino)
	switch t.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if t.st.Nlink > 1 || !canPreserveOwner(&t.st) {
			return t.openInPlace()
		}
		return t.checkDir()
	case unix.S_IFCHR, unix.S_IFIFO:
		return t.openInPlace()
	}
	return notForReports(t.st.Mode)
}

// resolveError says why a path could not be resolved: a refused link
// speaks for itself; a missing or non-directory component means there is
// nowhere to write.
func resolveError(err error) error {
	var le *safepath.LinkError
	if errors.As(err, &le) {
		return le
	}
	err = unwrap(err)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("cannot write there: %w", err)
	case errors.Is(err, unix.ELOOP):
		return errors.New("too many levels of symbolic links")
	}
	return err
}

// canPreserveOwner reports whether a replacement can be given the file's
// owner and group: root can, others only for their own files and groups.
func canPreserveOwner(st *unix.Stat_t) bool {
	if os.Geteuid() == 0 {
		return true
	}
	if int(st.Uid) != os.Geteuid() {
		return false
	}
	if int(st.Gid) == os.Getegid() {
		return true
	}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		if g == int(st.Gid) {
			return true
		}
	}
	return false
}

// checkNew checks that a new file can be made where t.at names it.
func (t *Target) checkNew() error {
	var st unix.Stat_t
	if err := unix.Fstat(t.at.DirFD(), &st); err != nil {
		return fmt.Errorf("cannot write there: %w", err)
	}
	// A new file is one file whatever its spelling: the directory's
	// identity and the name in it.
	t.id = fmt.Sprintf("%d:%d/%s", st.Dev, st.Ino, t.at.Base)
	return t.checkDir()
}

// checkDir makes sure a temporary file can be created beside the target.
func (t *Target) checkDir() error {
	f, name, err := t.createTemp(".ipckeys-check-")
	if err != nil {
		return fmt.Errorf("cannot write there: %w", err)
	}
	f.Close()
	return unix.Unlinkat(t.at.DirFD(), name, 0)
}

// createTemp creates a new file (O_EXCL, mode 0600, never through a link)
// in the target's directory, named prefix and a random number.
func (t *Target) createTemp(prefix string) (*os.File, string, error) {
	for range 10000 {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		fd, err := unix.Openat(t.at.DirFD(), name,
			unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return os.NewFile(uintptr(fd), name), name, nil
	}
	return nil, "", unix.EEXIST
}

// openInPlace opens the target for writing without blocking: a FIFO
// without a reader is an error at once, not a hang. Only a descriptor's
// link is followed (by the kernel, which alone can); anything else at the
// name is opened itself.
func (t *Target) openInPlace() error {
	t.method = inPlace
	flags := unix.O_WRONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if t.descriptor {
		flags |= unix.O_APPEND
	} else {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Openat(t.at.DirFD(), t.at.Base, flags, 0)
	if err == unix.ENXIO {
		return errors.New("is a FIFO with no reader: start the program that reads it first")
	}
	if err != nil {
		return err
	}
	if err := unix.Fstat(fd, &t.st); err != nil {
		unix.Close(fd)
		return err
	}
	switch t.st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFIFO:
	default:
		unix.Close(fd)
		return notForReports(t.st.Mode)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return err
	}
	t.exists = true
	t.id = fmt.Sprintf("%d:%d", t.st.Dev, t.st.Ino)
	t.f = os.NewFile(uintptr(fd), t.at.Name)
	return nil
}

// Same reports whether t and u write one file. Character devices are never
// the same: /dev/null twice harms nothing.
func (t *Target) Same(u *Target) bool {
	if t.isCharDevice() || u.isCharDevice() {
		return false
	}
	return t.id == u.id
}

// SameAsFile reports whether t writes the file open as f (standard output,
// when another report goes there).
func (t *Target) SameAsFile(f *os.File) bool {
	if f == nil || t.isCharDevice() || !t.exists {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	return st.Dev == t.st.Dev && st.Ino == t.st.Ino
}

func (t *Target) isCharDevice() bool {
	return t.exists && t.st.Mode&unix.S_IFMT == unix.S_IFCHR
}

// Write writes the report that write produces to the target, and closes it.
func (t *Target) Write(write func(io.Writer) error) error {
	if t.method == inPlace {
		return t.writeInPlace(write)
	}
	return t.writeReplace(write)
}

// Close releases a target that was not written. It may be called more
// than once.
func (t *Target) Close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	if t.at != nil {
		t.at.Close()
	}
}

func (t *Target) writeInPlace(write func(io.Writer) error) error {
	defer t.Close()
	f := t.f
	t.f = nil
	if t.st.Mode&unix.S_IFMT == unix.S_IFREG && !t.descriptor {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return err
		}
		// A report is not a program: a set-id or sticky bit goes, as
		// the kernel drops set-id bits when anyone but root writes.
		if t.st.Mode&0o7000 != 0 {
			if err := f.Chmod(os.FileMode(t.st.Mode & 0o777)); err != nil {
				f.Close()
				return unwrap(err)
			}
		}
	}
	w := &errWriter{w: f}
	err := write(w)
	if err == nil {
		err = w.err
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return unwrap(err)
}

func (t *Target) writeReplace(write func(io.Writer) error) error {
	defer t.Close()
	dir := t.at.DirFD()
	f, name, err := t.createTemp("." + t.at.Base + ".tmp-")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			unix.Unlinkat(dir, name, 0)
		}
	}()
	w := &errWriter{w: f}
	if err := write(w); err != nil {
		return unwrap(err)
	}
	if w.err != nil {
		return unwrap(w.err)
	}
	// Never a set-id or sticky bit, even where the old file had one.
	mode := os.FileMode(0o644)
	if t.exists {
		mode = os.FileMode(t.st.Mode & 0o777)
		if err := f.Chown(int(t.st.Uid), int(t.st.Gid)); err != nil {
			return unwrap(err)
		}
	}
	// Chmod after chown: chown clears the set-id bits, and the mode is
	// applied exactly, whatever the umask.
	if err := f.Chmod(mode); err != nil {
		return unwrap(err)
	}
	if err := f.Close(); err != nil {
		return unwrap(err)
	}
	// Renamed within the directory held open since the check: the name
	// itself is replaced, never what a link there points at.
	if err := unix.Renameat(dir, name, dir, t.at.Base); err != nil {
		return err
	}
	done = true
	return nil
}

// errWriter keeps the first write error, so a renderer that ignores one
// still fails the output.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// Checked wraps w so that the first write error is kept; Err returns it.
func Checked(w io.Writer) *CheckedWriter { return &CheckedWriter{errWriter{w: w}} }

// CheckedWriter is a writer that remembers its first error.
type CheckedWriter struct{ errWriter }

// Err is the first write error, or nil.
func (c *CheckedWriter) Err() error { return unwrap(c.err) }

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// notForReports refuses a file that no report may be written to.
func notForReports(mode uint32) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return errors.New("is a directory: name a file")
	case unix.S_IFBLK:
		return errors.New("is a block device: a report written there would overwrite the device's data; name a file")
	case unix.S_IFSOCK:
		return errors.New("is a socket: name a file, or a FIFO its reader listens on")
	}
	return errors.New("is " + inputfile.Kind(os.ModeIrregular) + ": name a file")
}
