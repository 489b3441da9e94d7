package fdscan

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seedFiles(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("../testdata/fdproc/parse", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseNetTCP(f *testing.F) {
	seedFiles(f, "net/tcp", "net/tcp6", "net/udp", "net/udp6")
	f.Add([]byte("  sl  local_address\n   0: 0100007F:FFFF 00000000000000000000000000000000:0000 0A FFFFFFFF:FFFFFFFF 00:0 0 0 0 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, proto := range []string{"tcp", "udp6"} {
			socks, err := ParseNetTCP(bytes.NewReader(b), proto)
			if err != nil {
				continue
			}
			for _, s := range socks {
				ap, err := netip.ParseAddrPort(s.Local)
				if err != nil || int(ap.Port()) != s.LocalPort {
					t.Fatalf("local %q does not read back (port %d): %v", s.Local, s.LocalPort, err)
				}
				if _, err := netip.ParseAddrPort(s.Remote); err != nil {
					t.Fatalf("remote %q: %v", s.Remote, err)
				}
				if s.Proto != proto || s.State == "" || (s.Listening() != (s.Backlog == -1)) {
					t.Fatalf("socket %+v", s)
				}
			}
		}
	})
}

func FuzzParseNetUnix(f *testing.F) {
	seedFiles(f, "net/unix")
	f.Add([]byte("Num RefCount\n0: 0 0 10000 5 4 1 @\x00x\nmore\n\n"))
	// Continuation lines without end once cost quadratic time.
	f.Add([]byte("Num RefCount\n0: 0 0 10000 1 1 7 /p\n" + strings.Repeat("x\n", 5000)))
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, err := ParseNetUnix(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, s := range socks {
			if s.Proto != "unix" || s.State == "" || s.Type == "" || s.Queue != -1 {
				t.Fatalf("socket %+v", s)
			}
			// The name is the rest of the row: never longer than the input.
			if len(s.Local) > len(b) {
				t.Fatalf("name %q longer than the input", s.Local)
			}
			if strings.Contains(s.Local, "\n") && len(s.Local) > unixPathMax {
				t.Fatalf("continued name of %d bytes", len(s.Local))
			}
		}
	})
}

func FuzzParseFDInfo(f *testing.F) {
	seedFiles(f, "fdinfo-socket-cloexec", "fdinfo-socket-nocloexec", "fdinfo-eventfd")
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, err := ParseFDInfo(b)
		if err != nil {
			return
		}
		again, err := ParseFDInfo(fmt.Appendf(nil, "pos:\t0\nflags:\t0%o\n", flags))
		if err != nil || again != flags {
			t.Fatalf("flags %#o read back as %#o, %v", flags, again, err)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add("a) (b c", 11575, uint64(26347), []byte("11579 (a) (b c) S 11575 11575 6390 0 -1 4194304 134 0 0 0 0 0 0 0 20 0 1 0 26347 2990080 410"))
	f.Add("", 0, uint64(0), []byte("1 () R 0"))
	f.Fuzz(func(t *testing.T, comm string, ppid int, start uint64, raw []byte) {
		ParseStat(raw) // must not panic
		if ppid < 0 || ppid > 1<<30 {
			return
		}
		line := fmt.Sprintf("42 (%s) S %d 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 %d 5 6 7\n", comm, ppid, start)
		gp, gs, gc, err := ParseStat([]byte(line))
		if err != nil || gp != ppid || gs != start || gc != comm {
			t.Fatalf("%q: %d %d %q %v", line, gp, gs, gc, err)
		}
	})
}

func FuzzParseLimits(f *testing.F) {
	seedFiles(f, "limits")
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseLimits(b)
		if err != nil {
			return
		}
		soft := fmt.Sprint(n)
		if n == 1<<64-1 {
			soft = "unlimited"
		}
		again, err := ParseLimits(fmt.Appendf(nil, "Max open files            %-20s 4096                 files     \n", soft))
		if err != nil || again != n {
			t.Fatalf("%d read back as %d, %v", n, again, err)
		}
	})
}

func FuzzParseCgroupUnit(f *testing.F) {
	seedFiles(f, "cgroup-hybrid-nginx", "cgroup-v1-nginx", "cgroup-foo.service", "cgroup-payload", "cgroup-none")
	f.Fuzz(func(t *testing.T, b []byte) {
		u := ParseCgroupUnit(b)
		if u == "" {
			return
		}
		if strings.Contains(u, "/") || !bytes.Contains(b, []byte(u)) {
			t.Fatalf("unit %q from %q", u, b)
		}
		ok := false
		for _, s := range unitSuffixes {
			ok = ok || strings.HasSuffix(u, s) && len(u) > len(s)
		}
		if !ok {
			t.Fatalf("unit %q has no unit suffix", u)
		}
	})
}

func FuzzParseListenFDs(f *testing.F) {
	f.Add([]byte("PATH=/bin\x00LISTEN_PID=7\x00LISTEN_FDS=2\x00"), 7)
	f.Add([]byte("LISTEN_FDS=0\x00LISTEN_PID=7"), 7)
	f.Fuzz(func(t *testing.T, env []byte, pid int) {
		got := parseListenFDs(env, pid)
		if got && !bytes.Contains(env, []byte("LISTEN_FDS=")) {
			t.Fatalf("activated without LISTEN_FDS: %q", env)
		}
		if pid > 0 {
			with := fmt.Appendf(bytes.Clone(env), "\x00LISTEN_FDS=1\x00LISTEN_PID=%d\x00", pid)
			if !parseListenFDs(with, pid) {
				t.Fatalf("not activated: %q", with)
			}
		}
	})
}

func FuzzParseLinkInode(f *testing.F) {
	f.Add([]byte("socket:[12345]"))
	f.Add([]byte("socket:[18446744073709551615]"))
	f.Add([]byte("socket:[]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ino, ok := parseLinkInode(b, "socket:")
		if !ok {
			return
		}
		digits := string(b[len("socket:[") : len(b)-1])
		if strings.TrimLeft(digits, "0") != strings.TrimLeft(fmt.Sprint(ino), "0") || b[len(b)-1] != ']' {
			t.Fatalf("%q read as %d", b, ino)
		}
	})
}
