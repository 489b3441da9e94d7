package fdscan_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/fdscan"
)

const parseDir = "../testdata/fdproc/parse"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parseDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// netTable parses tcp, tcp6, udp and udp6 of the captured scene.
func netTable(t *testing.T, protos ...string) []fdscan.Socket {
	t.Helper()
	var all []fdscan.Socket
	for _, proto := range protos {
		socks, err := fdscan.ParseNetTCP(bytes.NewReader(readFixture(t, "net/"+proto)), proto)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, socks...)
	}
	return all
}

// TestParseNetTCPAgainstSS holds the parsed /proc/net tables against what
// ss -tane and -uane printed for the same sockets at the same moment:
// state, receive queue, addresses and the inode of every row.
func TestParseNetTCPAgainstSS(t *testing.T) {
	for _, tc := range []struct {
		ss     string
		protos []string
	}{
		{"net/ss-tane.txt", []string{"tcp", "tcp6"}},
		{"net/ss-uane.txt", []string{"udp", "udp6"}},
	} {
		ours := netTable(t, tc.protos...)
		ref := parseSS(t, string(readFixture(t, tc.ss)))
		if len(ours) != len(ref) {
			t.Fatalf("%v: %d rows, ss shows %d", tc.protos, len(ours), len(ref))
		}
		used := make([]bool, len(ours))
		for _, r := range ref {
			// Match by inode, or for inode 0 (not yet accepted, FIN_WAIT2)
			// by the address pair.
			found := -1
			for i, s := range ours {
				if used[i] {
					continue
				}
				if r.Inode != 0 && s.Inode == r.Inode ||
					r.Inode == 0 && s.Inode == 0 && s.Local == ssAddr(s.Proto, r.Local) && s.Remote == ssAddr(s.Proto, r.Peer) {
					found = i
					break
				}
			}
			if found < 0 {
				t.Errorf("ss row %+v: no such socket parsed", r)
				continue
			}
			used[found] = true
			s := ours[found]
			want := fdscan.Socket{
				Inode: r.Inode, Proto: s.Proto, Type: s.Type,
				State: ssState(s.Proto, r.State),
				Local: ssAddr(s.Proto, r.Local), Remote: ssAddr(s.Proto, r.Peer),
				LocalPort: s.LocalPort, Queue: r.RecvQ,
			}
			if want.State == "LISTEN" {
				want.Backlog = -1 // sock_diag's, not in /proc
			}
			if s != want {
				t.Errorf("inode %d:\n got %+v\nwant %+v (ss: %+v)", r.Inode, s, want, r)
			}
		}
	}
}

// TestParseNetTCPValues pins the decoding of addresses: IPv4 and IPv6
// words in host order, a v4-mapped peer, ports, and queue lengths.
func TestParseNetTCPValues(t *testing.T) {
	byInode := map[uint64]fdscan.Socket{}
	for _, s := range netTable(t, "tcp", "tcp6", "udp", "udp6") {
		byInode[s.Inode] = s
	}
	for _, want := range []fdscan.Socket{
		// The listener with three connections waiting to be accepted.
		{Inode: 848874, Proto: "tcp", Type: "stream", State: "LISTEN", Local: "127.0.0.1:5555", Remote: "0.0.0.0:0", LocalPort: 5555, Queue: 3, Backlog: -1},
		// Five bytes the server has not read yet.
		{Inode: 848880, Proto: "tcp", Type: "stream", State: "ESTABLISHED", Local: "127.0.0.1:6000", Remote: "127.0.0.1:50122", LocalPort: 6000, Queue: 5},
		{Inode: 848882, Proto: "tcp", Type: "stream", State: "CLOSE_WAIT", Local: "127.0.0.1:6000", Remote: "127.0.0.1:50136", LocalPort: 6000, Queue: 1},
		{Inode: 848883, Proto: "tcp6", Type: "stream", State: "LISTEN", Local: "[::1]:8080", Remote: "[::]:0", LocalPort: 8080, Backlog: -1},
		{Inode: 848888, Proto: "tcp6", Type: "stream", State: "ESTABLISHED", Local: "[::ffff:127.0.0.1]:9090", Remote: "[::ffff:127.0.0.1]:33414", LocalPort: 9090},
		{Inode: 848889, Proto: "udp", Type: "dgram", State: "CLOSE", Local: "127.0.0.1:5353", Remote: "0.0.0.0:0", LocalPort: 5353},
		{Inode: 848891, Proto: "udp6", Type: "dgram", State: "CLOSE", Local: "[::1]:5354", Remote: "[::]:0", LocalPort: 5354},
	} {
		if got := byInode[want.Inode]; got != want {
			t.Errorf("inode %d:\n got %+v\nwant %+v", want.Inode, got, want)
		}
	}
}

// TestParseNetUnixAgainstSS holds /proc/net/unix against ss -xae: every
// socket with an inode, its type, state and name, including a path with
// spaces, one with a newline, an abstract name with a NUL in it, and
// unnamed sockets.
func TestParseNetUnixAgainstSS(t *testing.T) {
	ours, err := fdscan.ParseNetUnix(bytes.NewReader(readFixture(t, "net/unix")))
	if err != nil {
		t.Fatal(err)
	}
	ref := parseSS(t, string(readFixture(t, "net/ss-xae.txt")))
	byInode := map[uint64]fdscan.Socket{}
	pending := 0
	for _, s := range ours {
		if s.Inode == 0 {
			// Connections in the accept queue: no inode, the listener's name.
			if s.State != "CONNECTING" || s.Local != "/tmp/cap/run dir/app sock" || s.Type != "stream" {
				t.Errorf("pending connection %+v", s)
			}
			pending++
			continue
		}
		byInode[s.Inode] = s
	}
	if pending != 2 {
		t.Errorf("%d pending connections, want 2 (ss: Recv-Q 2 on the listener)", pending)
	}
	if len(byInode) != len(ref) {
		t.Errorf("%d sockets with an inode, ss shows %d", len(byInode), len(ref))
	}
	types := map[string]string{"u_str": "stream", "u_dgr": "dgram", "u_seq": "seqpacket"}
	for _, r := range ref {
		s, ok := byInode[r.Inode]
		if !ok {
			t.Errorf("ss row %+v: not parsed", r)
			continue
		}
		want := fdscan.Socket{Inode: r.Inode, Proto: "unix", Type: types[r.Netid], State: ssState("unix", r.State),
			Local: ssAddr("unix", r.Local), Queue: -1}
		if want.State == "LISTEN" {
			want.Backlog = -1
		}
		if s != want {
			t.Errorf("inode %d:\n got %+v\nwant %+v", r.Inode, s, want)
		}
	}
	if s := byInode[848900]; s.Local != "/tmp/cap/run dir/new\nline" {
		t.Errorf("path with a newline read as %q", s.Local)
	}
	if s := byInode[848895]; s.Local != "@ipckeys-test@x" || s.State != "LISTEN" {
		t.Errorf("abstract listener %+v", s)
	}
}

func TestParseFDInfo(t *testing.T) {
	for _, tc := range []struct {
		file    string
		flags   uint64
		cloexec bool
	}{
		{"fdinfo-socket-cloexec", 0o2000002, true},
		{"fdinfo-socket-nocloexec", 0o2, false},
		{"fdinfo-eventfd", 0o2000002, true},
	} {
		flags, err := fdscan.ParseFDInfo(readFixture(t, tc.file))
		if err != nil || flags != tc.flags || (flags&fdscan.OCloexec != 0) != tc.cloexec {
			t.Errorf("%s: flags %#o, %v; want %#o (cloexec %v)", tc.file, flags, err, tc.flags, tc.cloexec)
		}
	}
	for _, bad := range []string{"", "pos:\t0\n", "flags:\t09\n", "flags:\t\n", "flags: 1 2\n"} {
		if _, err := fdscan.ParseFDInfo([]byte(bad)); err == nil {
			t.Errorf("ParseFDInfo(%q) did not fail", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	ppid, start, comm, err := fdscan.ParseStat(readFixture(t, "stat-comm-paren"))
	if err != nil || ppid != 11575 || start != 26347 || comm != "a) (b c" {
		t.Errorf("stat-comm-paren: %d %d %q %v; want 11575 26347 \"a) (b c\"", ppid, start, comm, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S", "1 (x) S -1 " + strings.Repeat("0 ", 20), "1 (x) S 1 " + strings.Repeat("x ", 20)} {
		if _, _, _, err := fdscan.ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) did not fail", bad)
		}
	}
}

func TestParseLimits(t *testing.T) {
	n, err := fdscan.ParseLimits(readFixture(t, "limits"))
	if err != nil || n != 20000 {
		t.Errorf("limits: %d, %v; want 20000", n, err)
	}
	n, err = fdscan.ParseLimits([]byte("Limit   Soft Limit  Hard Limit  Units\nMax open files  unlimited  unlimited  files\n"))
	if err != nil || n != math.MaxUint64 {
		t.Errorf("unlimited: %d, %v", n, err)
	}
	if _, err := fdscan.ParseLimits([]byte("Max processes 10 10 processes\n")); err == nil {
		t.Error("no Max open files line: no error")
	}
}

func TestParseCgroupUnit(t *testing.T) {
	for file, want := range map[string]string{
		"cgroup-hybrid-nginx":      "nginx.service",
		"cgroup-v1-nginx":          "nginx.service", // only systemd's named v1 hierarchy has it
		"cgroup-foo.service":       "foo.service",   // a user service, not user@1000.service
		"cgroup-docker-4f2a.scope": "docker-4f2a.scope",
		"cgroup-payload":           "postgresql@15-main.service",
		"cgroup-init.scope":        "init.scope",
		"cgroup-none":              "",
	} {
		if got := fdscan.ParseCgroupUnit(readFixture(t, file)); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	// A host with only the unified hierarchy has the one line.
	for in, want := range map[string]string{
		"0::/system.slice/nginx.service\n":       "nginx.service",
		"0::/machine.slice/machine-web1.scope\n": "machine-web1.scope",
		"0::/system.slice\n":                     "",
		"0::/.service\n":                         "",
		"1:name=systemd:/a:b.service":            "a:b.service",
	} {
		if got := fdscan.ParseCgroupUnit([]byte(in)); got != want {
			t.Errorf("ParseCgroupUnit(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"  sl  local_address\n   0: 0100007F:15B3 00000000:0000 0A\n",
		"  sl  local_address\n   0: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x\n",
		"  sl  local_address\n   0: 01007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
	} {
		if _, err := fdscan.ParseNetTCP(strings.NewReader(in), "tcp"); err == nil {
			t.Errorf("ParseNetTCP(%q) did not fail", in)
		}
	}
	if _, err := fdscan.ParseNetTCP(strings.NewReader(""), "raw"); err == nil {
		t.Error("ParseNetTCP for raw did not fail")
	}
	for _, in := range []string{"", "Num RefCount\nnot a row\n", "Num RefCount\n0000: 00000002 00000000 00010000 0001 01 x\n"} {
		if _, err := fdscan.ParseNetUnix(strings.NewReader(in)); err == nil {
			t.Errorf("ParseNetUnix(%q) did not fail", in)
		}
	}
	got, err := fdscan.ParseNetUnix(strings.NewReader("Num RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 42 /run/a b\r\n"))
	want := []fdscan.Socket{{Inode: 42, Proto: "unix", Type: "stream", State: "LISTEN", Local: "/run/a b\r", Queue: -1, Backlog: -1}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("path ending in CR: %+v, %v", got, err)
	}
}
