package fdscan_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The outside references the tests hold fdscan against: iproute2's ss
// (sock_diag, and its own walk of /proc/*/fd for users:(…)), util-linux
// lsfd (close-on-exec from fdinfo, decoded by it), procps ps and
// util-linux prlimit (the prlimit system call).

// ssRow is one socket as ss prints it.
type ssRow struct {
	Netid, State string
	RecvQ, SendQ int
	Local, Peer  string
	Inode        uint64 // ino: for tcp and udp (-e), the "port" of a unix socket
	Users        []ssUser
}

type ssUser struct {
	Comm    string
	PID, FD int
}

var (
	ssUserRe = regexp.MustCompile(`\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)`)
	ssInoRe  = regexp.MustCompile(`\bino:(\d+)`)
	// The path (with spaces, maybe a newline), the inode, "*" and the
	// peer's inode.
	ssUnixRe = regexp.MustCompile(`(?s)^(.*?)\s+(\d+)\s+\*\s+(\d+)(?:\s|$)`)
)

// parseSS reads the output of ss -t/-u with -n, -e and maybe -p (the
// inode comes from ino:), or of ss -x with -n and maybe -p (the inode is
// the local "port"). A unix path with a newline continues on the next
// line, which does not start with a netid.
func parseSS(t *testing.T, out string) []ssRow {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		t.Fatal("ss printed nothing")
	}
	unixTable := strings.HasPrefix(lines[0], "Netid")
	// With a state filter ("ss … state close-wait") there is no State column.
	noState := strings.HasPrefix(lines[0], "Recv-Q")
	var rows []string
	for _, l := range lines[1:] {
		if unixTable && len(rows) > 0 && !strings.HasPrefix(l, "u_") {
			rows[len(rows)-1] += "\n" + l
			continue
		}
		rows = append(rows, l)
	}
	var out2 []ssRow
	for _, l := range rows {
		var r ssRow
		if m := ssInoRe.FindStringSubmatch(l); m != nil && !unixTable {
			r.Inode, _ = strconv.ParseUint(m[1], 10, 64)
		}
		users := ""
		if i := strings.Index(l, "users:("); i >= 0 {
			users, l = l[i:], l[:i]
		}
		for _, m := range ssUserRe.FindAllStringSubmatch(users, -1) {
			pid, _ := strconv.Atoi(m[2])
			fd, _ := strconv.Atoi(m[3])
			r.Users = append(r.Users, ssUser{m[1], pid, fd})
		}
		f := strings.Fields(l)
		if unixTable {
			// Netid State Recv-Q Send-Q Path Inode * PeerInode [-e extras]
			if len(f) < 7 {
				t.Fatalf("ss -x row %q", l)
			}
			r.Netid, r.State = f[0], f[1]
			r.RecvQ, _ = strconv.Atoi(f[2])
			r.SendQ, _ = strconv.Atoi(f[3])
			rest := l
			for range 4 {
				rest = strings.TrimLeft(rest, " ")
				rest = rest[strings.IndexByte(rest, ' '):] // len(f) >= 7: there is a space
			}
			m := ssUnixRe.FindStringSubmatch(rest)
			if m == nil {
				t.Fatalf("ss -x row %q: no inode", l)
			}
			r.Local = strings.TrimSpace(m[1])
			r.Inode, _ = strconv.ParseUint(m[2], 10, 64)
			r.Peer = m[3]
		} else {
			if noState {
				f = append([]string{""}, f...)
			}
			if len(f) < 5 {
				t.Fatalf("ss row %q", l)
			}
			r.State = f[0]
			r.RecvQ, _ = strconv.Atoi(f[1])
			r.SendQ, _ = strconv.Atoi(f[2])
			r.Local, r.Peer = f[3], f[4]
		}
		out2 = append(out2, r)
	}
	return out2
}

// ssState is fdscan's name for the state ss prints.
func ssState(proto, s string) string {
	if proto == "unix" {
		return map[string]string{"LISTEN": "LISTEN", "ESTAB": "CONNECTED", "UNCONN": "UNCONNECTED"}[s]
	}
	if s == "UNCONN" {
		return "CLOSE"
	}
	switch s {
	case "ESTAB":
		return "ESTABLISHED"
	case "FIN-WAIT-1":
		return "FIN_WAIT1"
	case "FIN-WAIT-2":
		return "FIN_WAIT2"
	}
	return strings.ReplaceAll(s, "-", "_")
}

// ssAddr writes an address the way fdscan does: ss prints "*" for a
// wildcard address or port.
func ssAddr(proto, a string) string {
	if proto == "unix" {
		if a == "*" {
			return ""
		}
		return a
	}
	if strings.HasPrefix(a, "*:") {
		if proto == "tcp6" || proto == "udp6" {
			a = "[::]" + a[1:]
		} else {
			a = "0.0.0.0" + a[1:]
		}
	}
	if strings.HasSuffix(a, ":*") {
		a = strings.TrimSuffix(a, "*") + "0"
	}
	return a
}

// holdersOf returns ss's users of a socket as holders without the
// close-on-exec bit, which ss does not know.
func (r ssRow) holders() map[[2]int]bool {
	m := map[[2]int]bool{}
	for _, u := range r.Users {
		m[[2]int{u.PID, u.FD}] = true
	}
	return m
}

// lsfdSocket is one socket descriptor as lsfd -J -o PID,FD,FLAGS,INODE,TYPE prints it.
type lsfdSocket struct {
	PID   int     `json:"pid"`
	FD    *int    `json:"fd"`
	Flags *string `json:"flags"`
	Inode uint64  `json:"inode"`
	Type  string  `json:"type"`
}

func parseLsfd(t *testing.T, out []byte) []lsfdSocket {
	t.Helper()
	var doc struct {
		Lsfd []lsfdSocket `json:"lsfd"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("lsfd printed %s: %v", out, err)
	}
	var socks []lsfdSocket
	for _, e := range doc.Lsfd {
		if e.Type == "SOCK" && e.FD != nil {
			socks = append(socks, e)
		}
	}
	return socks
}

func (e lsfdSocket) cloexec() bool {
	return e.Flags != nil && strings.Contains(","+*e.Flags+",", ",cloexec,")
}
