package inputfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FuzzOpen opens arbitrary names in a tree of every kind of file: a
// regular file, a FIFO with no writer, a directory, a socket, links to
// each and a dangling link. Open must never block, must return only
// regular files (the one the name resolves to), and must refuse the rest
// with an error.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"file", "fifo", "dir", "sock", "to-file", "to-fifo", "to-dir", "dangling", "dir/../file", "./to-fifo", "", "nope", "dir/", "file/", "to-dir/../to-file"} {
		f.Add(s)
	}
	dir := f.TempDir()
	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("k = v\n"), 0o644))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "dir"), 0o755))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	must(err)
	defer unix.Close(fd)
	must(unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(dir, "sock")}))
	for link, target := range map[string]string{"to-file": "file", "to-fifo": "fifo", "to-dir": "dir", "dangling": "missing"} {
		must(os.Symlink(target, filepath.Join(dir, link)))
	}
	var want syscall.Stat_t
	must(syscall.Stat(filepath.Join(dir, "file"), &want))
	f.Fuzz(func(t *testing.T, name string) {
		if strings.ContainsRune(name, 0) || (name != "" && !filepath.IsLocal(strings.TrimSuffix(name, "/"))) {
			return // stay inside the tree
		}
		done := make(chan struct{})
		var file *os.File
		var err error
		go func() {
			file, err = Open(filepath.Join(dir, name))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%q) blocked", name)
		}
		if err != nil {
			var nr *NotRegularError
			if file != nil || (!errors.As(err, &nr) && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, unix.ENAMETOOLONG) && !errors.Is(err, unix.ELOOP)) {
				t.Fatalf("Open(%q) = %v, %v: want a file or a not-regular/not-found error", name, file, err)
			}
			return
		}
		defer file.Close()
		var st syscall.Stat_t
		if err := syscall.Fstat(int(file.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Ino != want.Ino || st.Dev != want.Dev {
			t.Fatalf("Open(%q) opened mode %o inode %d: only the regular file %d may be opened", name, st.Mode, st.Ino, want.Ino)
		}
	})
}
