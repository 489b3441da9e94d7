package fdscan

import (
	"bytes"
	"encoding/binary"
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

// pollfds encodes struct pollfd entries {fd, events} as poll takes them.
func pollfds(entries ...[2]int) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.NativeEndian.AppendUint32(b, uint32(int32(e[0])))
		b = binary.NativeEndian.AppendUint16(b, uint16(e[1]))
		b = binary.NativeEndian.AppendUint16(b, 0)
	}
	return b
}

func TestParsePollFDs(t *testing.T) {
	// POLLIN 0x1, POLLPRI 0x2, POLLOUT 0x4, POLLRDNORM 0x40.
	got := ParsePollFDs(pollfds([2]int{7, 0x1 | 0x2}, [2]int{3, 0x4}, [2]int{-1, 0x1}, [2]int{5, 0x40}, [2]int{7, 0x1}))
	if !slices.Equal(got, []int{5, 7}) {
		t.Errorf("got %v, want [5 7]: fd 3 is polled for output only, -1 is ignored", got)
	}
	if got := ParsePollFDs([]byte{1, 2, 3}); got != nil {
		t.Errorf("a short entry: %v", got)
	}
}

func TestParseFDSet(t *testing.T) {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint64(b[0:], 1<<0|1<<4|1<<63)
	binary.NativeEndian.PutUint64(b[8:], 1<<1|1<<9)
	if got := ParseFDSet(b, 73); !slices.Equal(got, []int{0, 4, 63, 65}) {
		t.Errorf("nfds 73: %v, want [0 4 63 65] (73 is beyond nfds)", got)
	}
	if got := ParseFDSet(b, 1000); !slices.Equal(got, []int{0, 4, 63, 65, 73}) {
		t.Errorf("nfds beyond the bytes: %v", got)
	}
}

func FuzzParsePollSets(f *testing.F) {
	f.Add(pollfds([2]int{3, 1}, [2]int{-4, 1}), 70)
	f.Fuzz(func(t *testing.T, b []byte, nfds int) {
		got := ParsePollFDs(b)
		if len(got) > len(b)/8 || !slices.IsSorted(got) || len(got) > 0 && got[0] < 0 {
			t.Fatalf("%x: %v", b, got)
		}
		set := ParseFDSet(b, nfds)
		if len(set) > len(b)*8 || !slices.IsSorted(set) || len(set) > 0 && (set[0] < 0 || set[len(set)-1] >= nfds) {
			t.Fatalf("%x %d: %v", b, nfds, set)
		}
	})
}
