package rekey

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// recreate makes the new file of p and renames it over the old one.
func recreate(p *plan, files []known, snaps []*ipcscan.Snapshot) (err error) {
	dir, base := p.path.DirFD(), p.path.Base
	// O_NONBLOCK: a FIFO swapped in after the check must not hang the
	// open; the fstat that follows refuses it.
	src, err := unix.Openat(dir, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if !sameFile(&st, &p.path.Stat) || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return errors.New("changed since it was checked: run rekey again")
	}
	keys, fps := takenKeys(p.self, files, snaps)
	// Every new file made stays until the end: a taken one removed at
	// once could give its inode to the next.
	var made []string
	defer func() {
		for _, name := range made {
			if rerr := unix.Unlinkat(dir, name, 0); rerr != nil && err == nil {
				err = fmt.Errorf("remove the temporary file %s: %w", name, rerr)
			}
		}
	}()
	dst, tmp := -1, ""
	for try := 1; try <= maxTries && dst < 0; try++ {
		name := tempName(base)
		fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create a new file beside it: %w", err)
		}
		made = append(made, name)
		p.file.Tries = try
		var nst unix.Stat_t
		if err := unix.Fstat(fd, &nst); err != nil {
			unix.Close(fd)
			return err
		}
		if free(p, uint64(nst.Ino), keys, fps) {
			dst, tmp = fd, name
			p.file.NewIno = uint64(nst.Ino)
			break
		}
		unix.Close(fd)
	}
	if dst < 0 {
		return &Refusal{Path: p.file.Path, Reason: fmt.Sprintf("no new file of %d gave a key that no channel or live object holds: the filesystem's inode numbers are crowded; move the key file to another filesystem or change the proj id", maxTries)}
	}
	defer unix.Close(dst)
	if err := fill(dst, src, &st); err != nil {
		return err
	}
	if err := unix.UtimesNanoAt(dir, tmp, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set the times: %w", err)
	}
	if err := unix.Fsync(dst); err != nil {
		return fmt.Errorf("sync the new file: %w", err)
	}
	// The old file must still be the one copied, unchanged.
	var after, now unix.Stat_t
	if err := unix.Fstat(src, &after); err != nil {
		return err
	}
	if err := unix.Fstatat(dir, base, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("changed while it was copied: %w", err)
	}
	if !sameFile(&now, &st) || after.Size != st.Size || after.Mtim != st.Mtim || after.Ctim != st.Ctim {
		return errors.New("changed while it was copied: run rekey again")
	}
	if err := unix.Renameat(dir, tmp, dir, base); err != nil {
		return fmt.Errorf("rename the new file into place: %w", err)
	}
	made = removeName(made, tmp)
	p.file.Done = true
	for i := range p.file.Keys {
		p.file.Keys[i].New = ftok.Key(p.file.Dev, p.file.NewIno, p.file.Keys[i].Proj)
	}
	files[p.self].ino = p.file.NewIno // later paths hold their keys against the new one
	d, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the directory to sync it: %w", err)
	}
	defer unix.Close(d)
	if err := unix.Fsync(d); err != nil {
		return fmt.Errorf("sync the directory: %w", err)
	}
	return nil
}

// fill copies the bytes, the owner and group, the mode and the extended
// attributes of src (whose stat is st) to dst. The owner comes first:
// chown clears set-id bits and file capabilities, which the mode and the
// attributes then set again.
func fill(dst, src int, st *unix.Stat_t) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(src, buf)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			break
		}
		for w := buf[:n]; len(w) > 0; {
			m, err := unix.Write(dst, w)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("write the new file: %w", err)
			}
			w = w[m:]
		}
	}
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give the new file owner %d and group %d: %w", st.Uid, st.Gid, err)
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("give the new file mode %04o: %w", st.Mode&0o7777, err)
	}
	return copyXattrs(dst, src)
}

// copyXattrs copies every extended attribute src lets this process read;
// one it reads and cannot set is an error.
func copyXattrs(dst, src int) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		val, err := getXattr(src, name)
		switch {
		case err == unix.ENODATA, err == unix.EACCES, err == unix.EPERM, err == unix.ENOTSUP:
			continue // gone, or not readable here
		case err != nil:
			return fmt.Errorf("read the extended attribute %s: %w", name, err)
		}
		if err := unix.Fsetxattr(dst, name, val, 0); err != nil {
			return fmt.Errorf("set the extended attribute %s on the new file: %w", name, err)
		}
	}
	return nil
}

func listXattrs(fd int) ([]string, error) {
	for {
		n, err := unix.Flistxattr(fd, nil)
		if err == unix.ENOTSUP || err == unix.EACCES || err == unix.EPERM {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the extended attributes: %w", err)
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]byte, n)
		n, err = unix.Flistxattr(fd, buf)
		if err == unix.ERANGE {
			continue // one was added meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list the extended attributes: %w", err)
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}

func getXattr(fd int, name string) ([]byte, error) {
	for {
		n, err := unix.Fgetxattr(fd, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = unix.Fgetxattr(fd, name, buf)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func sameFile(a, b *unix.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }

// tempName is a new file's name: hidden, beside the old one, and unlike
// any other (O_EXCL refuses one that exists).
func tempName(base string) string {
	if len(base) > 200 {
		base = base[:200]
	}
	var b [6]byte
	rand.Read(b[:])
	return "." + base + ".rekey-" + hex.EncodeToString(b[:])
}

func removeName(list []string, name string) []string {
	out := list[:0]
	for _, n := range list {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}
