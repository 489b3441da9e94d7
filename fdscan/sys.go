package fdscan

import (
	"errors"
	"io"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The scan opens and reads tens of thousands of small procfs files. These
// wrappers take names as NUL-terminated byte slices (so the hot loop does
// not allocate a C string per call), resolve them relative to an open
// directory (so the kernel walks one path component, not four), and
// retry on EINTR.

// cname returns s as a NUL-terminated byte slice.
func cname(s string) []byte { return append([]byte(s), 0) }

// openat opens name, NUL-terminated, relative to dirfd. O_NONBLOCK: a FIFO
// planted in a procfs tree (--proc) opens at once and reads as empty,
// instead of waiting for a writer; procfs files ignore it.
func openat(dirfd int, name []byte, flags int) (int, error) {
	for {
		r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
			uintptr(flags|unix.O_CLOEXEC|unix.O_NONBLOCK), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

// readlinkat reads the symbolic link name, NUL-terminated, relative to
// dirfd into buf and returns the target's length. A target that fills buf
// may have been cut short.
func readlinkat(dirfd int, name, buf []byte) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// readProc reads the procfs file name, NUL-terminated, relative to
// dirfd into buf[:0], growing it as needed (procfs files report a size of
// 0 or 4096, so the size is never asked). It stops at EOF, at a short
// read, or as soon as enough (if not nil) says the start read so far is
// all the caller needs. A short read ends it because the files read here
// (seq_file records, cmdline, environ) hand over everything they have up
// to the size asked: that saves the read that would only find EOF.
func readProc(dirfd int, name, buf []byte, enough func([]byte) bool) ([]byte, error) {
	fd, err := openat(dirfd, name, unix.O_RDONLY)
	if err != nil {
		return buf[:0], err
	}
	defer unix.Close(fd)
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := cap(buf) - len(buf)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		buf = buf[:len(buf)+n]
		if n < want || enough != nil && enough(buf) {
			return buf, nil
		}
	}
}

// seqShort is the longest read of a multi-record seq_file (the
// /proc/net tables) that can only mean the table has ended. Such a read
// stops when the records run out, when the caller's buffer is full, or
// when the next record would overflow the kernel's buffer of at least a
// page: the last leaves less than a record's room, and no table row is
// near 512 bytes. Stopping at a short read saves the read that finds EOF,
// which for the tcp tables walks the whole connection hash again (about
// 6 ms on a host with a large one, even with no sockets in it).
const seqShort = 4096 - 512

// tableReader reads a /proc/net table with raw reads, ending it at a
// short read (see seqShort).
type tableReader struct {
	fd   int
	done bool
}

func (r *tableReader) Read(b []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	for {
		n, err := unix.Read(r.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		r.done = n < len(b) && n <= seqShort
		return n, nil
	}
}

// gone reports whether err says the process is no longer there.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}
