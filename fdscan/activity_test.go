package fdscan

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// The lines below are as the kernel printed them on x86_64 for a python
// server in accept, one in epoll_wait and an epoll set watching fd 3.

func TestParseSyscall(t *testing.T) {
	for _, c := range []struct {
		in   string
		call int
		arg0 uint64
		err  bool
	}{
		{"288 0x3 0x7ffecc549b30 0x7ffecc549b24 0x80000 0x0 0x0 0x7ffecc549af8 0x7f0d17d28f63\n", 288, 3, false},
		{"232 0x4 0x7f00 0x1 0xffffffff 0x0 0x0 0x7ffe 0x7f0d\n", 232, 4, false},
		{"running\n", -1, 0, false},
		{"-1 0x7ffe 0x7f0d\n", -1, 0, false},
		{"288 0x3\n", 0, 0, true},
		{"x 0x3 0 0 0 0 0\n", 0, 0, true},
		{"", 0, 0, true},
	} {
		call, args, err := ParseSyscall([]byte(c.in))
		if (err != nil) != c.err || err == nil && (call != c.call || args[0] != c.arg0) {
			t.Errorf("ParseSyscall(%q) = %d %v %v", c.in, call, args, err)
		}
	}
}

func TestParseNSpid(t *testing.T) {
	got, err := ParseNSpid([]byte("Name:\tpython3\nPid:\t9\nNSpid:\t9\t2\nNSpgid:\t9\t2\n"))
	if err != nil || !slices.Equal(got, []int{9, 2}) {
		t.Errorf("nested: %v %v", got, err)
	}
	if got, err := ParseNSpid([]byte("Name:\tx\n")); got != nil || err != nil {
		t.Errorf("without NSpid: %v %v", got, err)
	}
	if _, err := ParseNSpid([]byte("NSpid:\t0\n")); err == nil {
		t.Error("pid 0 accepted")
	}
}

func TestParseEpollWatched(t *testing.T) {
	in := "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n" +
		"tfd:        3 events:       19 data:                3  pos:0 ino:10d6bf sdev:8\n" +
		"tfd:        5 events:       19 data:                5  pos:0 ino:1a sdev:8\n"
	got, err := ParseEpollWatched([]byte(in))
	if err != nil || !slices.Equal(got, []uint64{0x10d6bf, 0x1a}) {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := ParseEpollWatched([]byte("tfd: 3 events: 19\n")); err == nil {
		t.Error("a tfd line without ino accepted")
	}
}

func FuzzParseSyscall(f *testing.F) {
	f.Add([]byte("288 0x3 0x7ffecc549b30 0x7ffecc549b24 0x80000 0x0 0x0 0x7ffecc549af8 0x7f0d17d28f63\n"))
	f.Add([]byte("running\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		call, args, err := ParseSyscall(b)
		if err != nil || call < 0 {
			return
		}
		line := fmt.Sprintf("%d 0x%x 0x%x 0x%x 0x%x 0x%x 0x%x", call, args[0], args[1], args[2], args[3], args[4], args[5])
		c2, a2, err := ParseSyscall([]byte(line))
		if err != nil || c2 != call || a2 != args {
			t.Fatalf("%q read as %d %v, its printing %q as %d %v %v", b, call, args, line, c2, a2, err)
		}
	})
}

func FuzzParseNSpid(f *testing.F) {
	f.Add([]byte("NSpid:\t9\t2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseNSpid(b)
		if err != nil {
			return
		}
		if got != nil && !bytes.Contains(b, []byte("NSpid:")) || len(got) > 32 || slices.Contains(got, 0) {
			t.Fatalf("%q read as %v", b, got)
		}
	})
}

func FuzzParseEpollWatched(f *testing.F) {
	f.Add([]byte("tfd:        3 events:       19 data:                3  pos:0 ino:10d6bf sdev:8\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseEpollWatched(b)
		if err == nil && len(got) > bytes.Count(b, []byte("tfd:")) {
			t.Fatalf("%q read as %v", b, got)
		}
	})
}
