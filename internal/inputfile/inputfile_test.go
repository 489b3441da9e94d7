package inputfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

// TestOpen: a regular file (also through a link) opens; a FIFO with no
// writer, a directory and a character device are refused at once.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	if err := os.WriteFile(reg, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(reg, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{reg, link} {
		f, err := Open(p)
		if err != nil {
			t.Fatalf("Open(%s): %v", p, err)
		}
		b := make([]byte, 8)
		if n, err := f.Read(b); err != nil || string(b[:n]) != "x\n" {
			t.Errorf("read %s: %q, %v", p, b[:n], err)
		}
		if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_ACCMODE != unix.O_RDONLY || fl&(unix.O_PATH|unix.O_NONBLOCK) != 0 {
			t.Errorf("%s: flags %#x (%v), want O_RDONLY without O_PATH or O_NONBLOCK", p, fl, err)
		}
		if fd, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || fd&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: descriptor flags %#x (%v), want FD_CLOEXEC", p, fd, err)
		}
		f.Close()
	}
	for p, kind := range map[string]string{fifo: "a FIFO (named pipe)", dir: "a directory", "/dev/null": "a character device"} {
		_, err := Open(p)
		var nr *NotRegularError
		if !errors.As(err, &nr) || nr.Kind != kind {
			t.Errorf("Open(%s): %v, want it refused as %s", p, err, kind)
		}
		if want := "open " + p + ": is " + kind + ", not a regular file"; err == nil || err.Error() != want {
			t.Errorf("Open(%s): %v, want %q", p, err, want)
		}
	}
	if _, err := Open(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing): %v, want ErrNotExist", err)
	}
	if err := os.Chmod(reg, 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if _, err := Open(reg); !errors.Is(err, os.ErrPermission) {
			t.Errorf("Open(unreadable): %v, want ErrPermission", err)
		}
	}
}

// TestOpenDoesNotOpenDevices watches a character device node and a FIFO
// with inotify, which reports every open(2) of a file for reading as
// IN_OPEN when it happens (an O_PATH descriptor is not an open of the
// file): refusing them must leave no IN_OPEN behind. Opening them for
// reading directly does, which shows the watch sees what it must.
func TestOpenDoesNotOpenDevices(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{fifo: "a FIFO (named pipe)"}
	// A device node of our own (the null device, 1:3), so that no other
	// process's opens of /dev/null reach the watch.
	dev := filepath.Join(dir, "null")
	switch err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); {
	case err == nil:
		paths[dev] = "a character device"
	case os.Getenv(nstest.RequireEnv) != "":
		t.Fatalf("mknod %s: %v (%s is set)", dev, err, nstest.RequireEnv)
	default:
		t.Logf("mknod %s: %v: only the FIFO is watched", dev, err)
	}
	for p, kind := range paths {
		in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(in)
		if _, err := unix.InotifyAddWatch(in, p, unix.IN_OPEN|unix.IN_CLOSE); err != nil {
			t.Fatal(err)
		}
		_, err = Open(p)
		var nr *NotRegularError
		if !errors.As(err, &nr) || nr.Kind != kind {
			t.Errorf("Open(%s): %v, want it refused as %s", p, err, kind)
		}
		if got := events(t, in); got != 0 {
			t.Errorf("Open(%s) opened it: inotify events %#x", p, got)
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		if got := events(t, in); got&unix.IN_OPEN == 0 {
			t.Errorf("open(%s) for reading: inotify events %#x, want IN_OPEN: the watch sees nothing", p, got)
		}
	}
}

// events reads the inotify events queued on in and returns their masks
// ORed together.
func events(t *testing.T, in int) uint32 {
	t.Helper()
	var mask uint32
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(in, buf)
		if err == unix.EAGAIN {
			return mask
		}
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			mask |= ev.Mask
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// TestLimited: a reader stops with a *TooLargeError at the first byte past
// the cap, not before, and names the input, the cap and the fix.
func TestLimited(t *testing.T) {
	limit := TooLargeError{File: "app.manifest", Limit: 4, What: "a manifest", Fix: "split it"}
	for _, tc := range []struct {
		in   string
		want string
		err  string
	}{
		{"", "", ""},
		{"abcd", "abcd", ""},
		{"abcde", "abcd", "app.manifest: larger than the 4 bytes a manifest may have; split it"},
		{"abcdefghijkl", "abcd", "app.manifest: larger than the 4 bytes a manifest may have; split it"},
	} {
		for name, r := range map[string]io.Reader{
			"whole":   strings.NewReader(tc.in),
			"onebyte": iotest.OneByteReader(strings.NewReader(tc.in)),
		} {
			got, err := io.ReadAll(Limited(r, limit))
			if string(got) != tc.want || errString(err) != tc.err {
				t.Errorf("%s %q: %q, %v; want %q, %q", name, tc.in, got, err, tc.want, tc.err)
			}
			var tl *TooLargeError
			if tc.err != "" && !errors.As(err, &tl) {
				t.Errorf("%s %q: %T, want *TooLargeError", name, tc.in, err)
			}
			got, err = ReadAll(strings.NewReader(tc.in), int64(len(tc.in)), limit)
			if string(got) != tc.want || errString(err) != tc.err {
				t.Errorf("ReadAll %q: %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
			}
		}
	}
}

// TestReadAllEndless: an endless input (/dev/zero) stops at the cap.
func TestReadAllEndless(t *testing.T) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadAll(f, 0, TooLargeError{File: "<stdin>", Limit: 3 << 20, What: "an ignore file", Fix: "split it"})
	if want := "<stdin>: larger than the 3 MiB an ignore file may have; split it"; errString(err) != want {
		t.Errorf("ReadAll(/dev/zero): %v, want %q", err, want)
	}
	if len(got) != 3<<20 || !bytes.Equal(got, make([]byte, 3<<20)) {
		t.Errorf("ReadAll(/dev/zero): %d bytes, want the 3 MiB of zeros before the cap", len(got))
	}
}

// TestReadFile: a file over the cap by its size is refused before it is
// read (a sparse file of 2 GiB costs nothing), one of exactly the cap is
// read whole.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	limit := TooLargeError{File: "a.conf", Limit: 1 << 20, What: "a configuration file", Fix: "shorten it"}
	exact := filepath.Join(dir, "exact")
	want := bytes.Repeat([]byte("k = v\n"), (1<<20)/6)
	want = append(want, bytes.Repeat([]byte("#"), 1<<20-len(want))...)
	if err := os.WriteFile(exact, want, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(exact, limit)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("ReadFile(exact): %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	if cap(got) != len(want)+1 {
		t.Errorf("ReadFile(exact): a buffer of %d bytes, want %d (the size and one byte to see the end)", cap(got), len(want)+1)
	}
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err = ReadFile(sparse, limit)
	if want := "a.conf: larger than the 1 MiB a configuration file may have; shorten it"; errString(err) != want || got != nil {
		t.Errorf("ReadFile(sparse 2 GiB): %d bytes, %v; want nothing read and %q", len(got), err, want)
	}
	if _, err := ReadFile("/dev/zero", limit); errString(err) != "open /dev/zero: is a character device, not a regular file" {
		t.Errorf("ReadFile(/dev/zero): %v, want it refused as a character device", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1000: "1000 bytes", 1024: "1 KiB", 1 << 20: "1 MiB", 256 << 20: "256 MiB", 1<<20 + 1: "1048577 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
