// Package outfile writes the reports ipckeys is asked for to the files the
// user names, without ever replacing what a name points at.
//
// A report file is usually a regular file that other programs read while
// ipckeys runs (the node_exporter textfile collector, a CI step): it is
// written to a temporary file in the same directory and renamed over the
// old one, so readers see the old report or the new one, never half. The
// new file keeps the old one's mode, owner and group (0644 for a new file).
//
// Everything else is written where it is, because replacing it would break
// the system: a character device (/dev/null, /dev/full) or a FIFO is opened
// and written in place, so a full device is a write error and the device
// stays a device; a path through a process's descriptors (/dev/stdout,
// /proc/self/fd/N) writes to that descriptor's file; a symbolic link is
// followed and its target written, the link kept; a regular file with
// more than one hard link is rewritten in place (truncated, then written),
// because a rename would split it from its other names. A block device, a
// socket or a directory is refused: no report belongs there.
//
// Every target is opened or checked before any work is done (Prepare), so
// a bad output fails fast, and two outputs that are one file under
// different spellings are caught (Target.Same).
package outfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/inputfile"
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

	path   string // the file to write: Name, or the target of its links
	method method
	exists bool
	st     unix.Stat_t // of the existing file
	f      *os.File    // the open file of an in-place target
	id     string      // what Same compares
	// descriptor is set for a path through /proc/PID/fd or /dev/fd: it
	// is appended to, never truncated, like the shell's own redirection.
	descriptor bool
}

// maxLinks bounds the symbolic links followed to a target, as the kernel's
// own limit does (ELOOP).
const maxLinks = 40

// Prepare resolves name to the file it writes and checks that the report
// can be written there, opening devices, FIFOs and hard-linked files.
func Prepare(name string) (*Target, error) {
	t := &Target{Name: name, path: name}
	for hops := 0; ; hops++ {
		if hops == maxLinks {
			return nil, errors.New("too many levels of symbolic links")
		}
		if throughDescriptor(t.path) {
			// /dev/stdout → /proc/self/fd/1 → pipe:[…]: the link names an
			// open descriptor, which only the kernel can follow.
			t.descriptor = true
			return t, t.openInPlace(name)
		}
		var lst unix.Stat_t
		err := unix.Lstat(t.path, &lst)
		if errors.Is(err, unix.ENOENT) {
			return t, t.checkNew()
		}
		if err != nil {
			return nil, err
		}
		if lst.Mode&unix.S_IFMT != unix.S_IFLNK {
			break
		}
		link, err := os.Readlink(t.path)
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(t.path), link)
		}
		t.path = link
	}
	if err := unix.Stat(t.path, &t.st); err != nil {
		return nil, err
	}
	t.exists = true
	t.id = fmt.Sprintf("%d:%d", t.st.Dev, t.st.Ino)
	switch t.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if t.st.Nlink > 1 || !canPreserveOwner(&t.st) {
			return t, t.openInPlace(t.path)
		}
		return t, t.checkDir()
	case unix.S_IFCHR, unix.S_IFIFO:
		return t, t.openInPlace(t.path)
	}
	return nil, notForReports(t.st.Mode)
}

// throughDescriptor reports whether p names an open descriptor's link.
func throughDescriptor(p string) bool {
	p = filepath.Clean(p)
	return strings.HasPrefix(p, "/proc/") && strings.Contains(p, "/fd/") || strings.HasPrefix(p, "/dev/fd/")
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

// checkNew checks that a new file can be made at t.path.
func (t *Target) checkNew() error {
	dir := filepath.Dir(t.path)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("cannot write there: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("cannot write there: %s is not a directory", dir)
	}
	// A new file is one file whatever its spelling: the directory's
	// identity and the name in it.
	t.id = fmt.Sprintf("%d:%d/%s", st.Dev, st.Ino, filepath.Base(t.path))
	return t.checkDir()
}

// checkDir makes sure a temporary file can be created beside the target.
func (t *Target) checkDir() error {
	f, err := os.CreateTemp(filepath.Dir(t.path), ".ipckeys-check-*")
	if err != nil {
		return fmt.Errorf("cannot write there: %w", unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// openInPlace opens the target for writing without blocking: a FIFO
// without a reader is an error at once, not a hang.
func (t *Target) openInPlace(path string) error {
	t.method = inPlace
	flags := unix.O_WRONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if t.descriptor {
		flags |= unix.O_APPEND
	}
	fd, err := unix.Open(path, flags, 0)
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
	t.f = os.NewFile(uintptr(fd), path)
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

// Close releases an in-place target that was not written.
func (t *Target) Close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

func (t *Target) writeInPlace(write func(io.Writer) error) error {
	f := t.f
	t.f = nil
	if t.st.Mode&unix.S_IFMT == unix.S_IFREG && !t.descriptor {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return err
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
	f, err := os.CreateTemp(filepath.Dir(t.path), "."+filepath.Base(t.path)+".tmp-*")
	if err != nil {
		return unwrap(err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := &errWriter{w: f}
	if err := write(w); err != nil {
		return unwrap(err)
	}
	if w.err != nil {
		return unwrap(w.err)
	}
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
	if err := os.Rename(f.Name(), t.path); err != nil {
		return unwrap(err)
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
