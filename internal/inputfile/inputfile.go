// Package inputfile opens the files ipckeys reads on a user's word —
// manifests, ignore files, application configs, the tables of a procfs tree
// — so that no input can make it hang or read something that is not a file.
//
// A FIFO opened for reading blocks until a writer appears, and a read from
// a terminal or socket waits for input: a deploy step would hang until its
// own timeout. So every input is opened with O_NONBLOCK (which opens a FIFO
// at once), checked with fstat, and refused unless it is a regular file;
// O_NONBLOCK is then cleared. Files in procfs are regular files, so the
// same rule covers a --proc tree. Standard input is read only when the user
// names it as "-", never by accident.
package inputfile

import (
	"io/fs"
	"os"

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

// Open opens path for reading without blocking and returns it only when it
// is a regular file (symbolic links are followed). Any other kind is an
// *os.PathError wrapping a *NotRegularError.
func Open(path string) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: &NotRegularError{Kind: kindOf(st.Mode)}}
	}
	// Regular files ignore O_NONBLOCK; clear it before the runtime sees
	// the descriptor so the file is read as any other.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	return f, nil
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
