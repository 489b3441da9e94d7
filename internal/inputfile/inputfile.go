// Package inputfile opens the files ipckeys reads on a user's word —
// manifests, ignore files, application configs, fleet reports, the tables
// of a procfs tree — so that no input can make it hang, touch a device or
// read without bound.
//
// Opening a file for reading is not harmless when it is not a regular
// file: a FIFO blocks until a writer appears, a watchdog device arms when
// opened, a tape rewinds when closed. So Open first opens the path with
// O_PATH, which gives a descriptor that names the file without opening it
// for reading (no device driver's open runs, no FIFO waits), and checks its
// type with fstat. Only a regular file is then opened for reading, through
// /proc/self/fd of that descriptor, so that what is read is the file that
// was checked, and the two are compared by device and inode. Files in
// procfs are regular files, so the same rule covers a --proc tree.
// Standard input is read only when the user names it as "-", never by
// accident.
//
// Every input also has a size cap, a constant of the package that reads it
// (manifest.MaxSize, ignore.MaxSize, appconfig.MaxSize, …): Limited and
// ReadAll stop at it with a *TooLargeError, so memory stays bounded
// whatever the input, /dev/zero on standard input included.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// NotRegularError says what an input was instead of a regular file.
type NotRegularError struct {
	Kind string // "a directory", "a FIFO (named pipe)", …
}

func (e *NotRegularError) Error() string {
	return "is " + e.Kind + ", not a regular file"
}

// Kind names a file type for people.
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// errChanged is the error when the file opened for reading is not the one
// whose type was checked: the path was replaced in between.
var errChanged = errors.New("was replaced while it was being opened: try again")

// Open opens path for reading and returns it only when it is a regular
// file (symbolic links are followed). Any other kind is an *os.PathError
// wrapping a *NotRegularError, and is never opened for reading.
func Open(path string) (*os.File, error) {
	pfd, err := retry(func() (int, error) {
		return unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)
	return reopen(pfd, path, path)
}

// OpenPath opens for reading the file that pfd, an O_PATH descriptor,
// holds, when it is a regular file, as Open does; name is how errors name
// it. It is for files resolved by other means than a plain open: under a
// container's root (openat2 RESOLVE_IN_ROOT). pfd stays the caller's.
func OpenPath(pfd int, name string) (*os.File, error) {
	return reopen(pfd, "", name)
}

// reopen opens the regular file pfd holds for reading; path, when not
// "", opens it again where /proc is not mounted.
func reopen(pfd int, path, name string) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "open", Path: name, Err: &NotRegularError{Kind: kindOf(st.Mode)}}
	}
	const flags = unix.O_RDONLY | unix.O_NOCTTY | unix.O_CLOEXEC
	// The magic link reopens the very inode the O_PATH descriptor holds.
	// Without /proc mounted the path is opened again; the inode check
	// below then catches a file swapped in between.
	fd, err := retry(func() (int, error) {
		return unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), flags, 0)
	})
	if errors.Is(err, unix.ENOENT) && path != "" {
		fd, err = retry(func() (int, error) {
			return unix.Open(path, flags|unix.O_NONBLOCK, 0)
		})
		if err == nil {
			// The path's file was replaced by a FIFO at worst, which
			// O_NONBLOCK opened at once; the check below refuses it.
			err = unix.SetNonblock(fd, false)
			if err != nil {
				unix.Close(fd)
			}
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if got.Dev != st.Dev || got.Ino != st.Ino || got.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: name, Err: errChanged}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// retry runs open until it is not interrupted by a signal.
func retry(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// kindOf names a raw st_mode's file type.
func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return Kind(fs.ModeDir)
	case unix.S_IFIFO:
		return Kind(fs.ModeNamedPipe)
	case unix.S_IFSOCK:
		return Kind(fs.ModeSocket)
	case unix.S_IFCHR:
		return Kind(fs.ModeDevice | fs.ModeCharDevice)
	case unix.S_IFBLK:
		return Kind(fs.ModeDevice)
	}
	return Kind(fs.ModeIrregular)
}

// TooLargeError is the error for an input longer than its cap.
type TooLargeError struct {
	File  string // the input's name as the user gave it, or "<stdin>"
	Limit int64  // the cap, in bytes
	What  string // "a manifest", "an ignore file", …
	Fix   string // what to do: "split it"
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than the %s %s may have; %s", e.File, Size(e.Limit), e.What, e.Fix)
}

// Size writes a byte count for people: whole MiB, KiB or bytes.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// Limited returns a reader of r that gives at most limit.Limit bytes;
// reading past them is a *TooLargeError (at the first byte past the cap,
// never later), so memory stays bounded whatever r holds.
func Limited(r io.Reader, limit TooLargeError) io.Reader {
	return &limited{r: r, left: limit.Limit, limit: limit}
}

type limited struct {
	r     io.Reader
	left  int64
	limit TooLargeError
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left < 0 {
		e := l.limit
		return 0, &e
	}
	// Read one byte more than is left, to tell a file of exactly the cap
	// from a longer one.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		n = int(l.left)
		l.left = -1
		e := l.limit
		return n, &e
	}
	l.left -= int64(n)
	return n, err
}

// TooLarge reports whether f, a regular file, is longer than limit.Limit
// bytes by its size, before anything is read: a sparse file of gigabytes
// is refused at once. A size that cannot be read says nothing; Limited
// still stops a longer read.
func TooLarge(f *os.File, limit TooLargeError) error {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size > limit.Limit {
		return &limit
	}
	return nil
}

// ReadAll reads r to its end, or fails with a *TooLargeError past limit.Limit
// bytes. sizeHint, the size the input is expected to have (0 when not
// known), sizes the buffer, so that a small file costs a small buffer.
func ReadAll(r io.Reader, sizeHint int64, limit TooLargeError) ([]byte, error) {
	n := int64(512)
	if sizeHint > 0 {
		n = min(sizeHint, limit.Limit) + 1
	}
	buf := make([]byte, 0, n)
	lr := Limited(r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ReadFile opens path with Open and reads it with ReadAll, refusing a file
// whose size is over the cap before reading it.
func ReadFile(path string, limit TooLargeError) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := TooLarge(f, limit); err != nil {
		return nil, err
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return ReadAll(f, size, limit)
}
