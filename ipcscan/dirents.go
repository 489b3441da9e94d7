package ipcscan

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// readDirents reads the directory open as fd with getdents64 into buf and
// calls each with every entry but . and ..: its inode number, its type
// (DT_DIR, DT_LNK, DT_UNKNOWN…) and its name, which lies in buf and is
// valid only during the call. each returns false to stop. Entries are
// read where the kernel put them: a directory of 100,000 names costs no
// allocation per name.
func readDirents(fd int, buf []byte, each func(ino uint64, typ byte, name []byte) bool) {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+19 <= n; {
			ino := binary.NativeEndian.Uint64(buf[off:])
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			typ := buf[off+18]
			if reclen <= 0 || off+reclen > n {
				break
			}
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if len(name) == 0 || name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
				continue
			}
			if !each(ino, typ, name) {
				return
			}
		}
	}
}
