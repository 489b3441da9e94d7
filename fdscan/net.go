package fdscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Socket is one socket of a network namespace, from /proc/PID/net/* and,
// for listeners' queues, sock_diag.
type Socket struct {
	NetNS uint64 // the network namespace's inode
	Inode uint64 // the socket's inode, as in "socket:[N]"; 0 for sockets no descriptor can hold (pending, TIME_WAIT)
	Proto string // "tcp", "tcp6", "udp", "udp6" or "unix"
	Type  string // "stream", "dgram", "seqpacket"
	// State is the kernel's name for the state: for tcp and udp LISTEN,
	// ESTABLISHED, CLOSE_WAIT, CLOSE (an unconnected udp socket)…; for unix
	// LISTEN, CONNECTED, UNCONNECTED, CONNECTING (a connection still in its
	// listener's accept queue) or DISCONNECTING.
	State string
	// Local and Remote are "127.0.0.1:5555" or "[::1]:80" for tcp and udp
	// (a listener's Remote is "0.0.0.0:0" or "[::]:0"). For unix sockets
	// Local is the path, "@name" for an abstract name (NULs in it shown as
	// '@'), "" for an unnamed socket; Remote is "".
	Local, Remote string
	LocalPort     int // 0 for unix sockets
	// Queue is, for a listener, the connections waiting in its accept
	// queue; for other tcp and udp sockets the bytes waiting to be read.
	// -1 when unknown: unix listeners whose queue sock_diag could not
	// read, and every other unix socket.
	Queue int
	// Backlog is a listener's accept queue limit (listen's backlog capped
	// by net.core.somaxconn), from sock_diag; -1 when unknown, 0 for
	// sockets that do not listen.
	Backlog int
	// BoundIno and BoundDev are, for a unix socket bound to a path, the
	// inode the bind made and its device (as stat gives st_dev), from
	// sock_diag; 0 when unknown.
	BoundIno, BoundDev uint64
	// Path says, for a unix listener bound to an absolute path, whether
	// that path still names it (live scans only).
	Path PathState
}

// PathState says whether a unix listener's path still names it.
type PathState string

const (
	// PathUnknown: not bound to an absolute path, or not looked up.
	PathUnknown PathState = ""
	// PathNamesIt: connect() to the path reaches this listener.
	PathNamesIt PathState = "names-it"
	// PathReplaced: the path names another file, such as the socket of
	// a copy of the server started after it.
	PathReplaced PathState = "replaced"
	// PathMissing: nothing is at the path (it was unlinked).
	PathMissing PathState = "missing"
)

// Orphaned reports whether s is a unix listener whose path no longer
// names it: no new connection can reach it.
func (s *Socket) Orphaned() bool {
	return s.Listening() && (s.Path == PathReplaced || s.Path == PathMissing)
}

// Listening reports whether the socket is a listener.
func (s *Socket) Listening() bool { return s.State == "LISTEN" }

// tcpStates are the kernel's TCP states (include/net/tcp_states.h), which
// udp sockets use too.
var tcpStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
	11: "CLOSING", 12: "NEW_SYN_RECV", 13: "BOUND_INACTIVE",
}

const tcpListen = 10

func tcpState(st uint64) string {
	if st < uint64(len(tcpStates)) && tcpStates[st] != "" {
		return tcpStates[st]
	}
	return fmt.Sprintf("STATE_%02X", st)
}

// ParseNetTCP reads /proc/net/tcp, tcp6, udp or udp6 (proto names which;
// the layout is the same). Addresses are hex words in the byte order of
// the host that wrote the file, so a file is read right only on a host of
// the same endianness. Every row is returned, inode 0 included.
func ParseNetTCP(r io.Reader, proto string) ([]Socket, error) {
	var a socketArena
	if err := parseNetTCP(&a, r, proto); err != nil {
		return nil, err
	}
	return a.slice(), nil
}

// parseNetTCP is ParseNetTCP into an arena.
func parseNetTCP(a *socketArena, r io.Reader, proto string) error {
	typ := ""
	switch proto {
	case "tcp", "tcp6":
		typ = "stream"
	case "udp", "udp6":
		typ = "dgram"
	default:
		return fmt.Errorf("parse /proc/net/%s: not a tcp or udp table", proto)
	}
	sc := newLineScanner(r)
	header := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			if f := bytes.Fields(line); len(f) == 0 || string(f[0]) != "sl" {
				return fmt.Errorf("parse /proc/net/%s line 1: not its header: %q", proto, line)
			}
			header = true
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s, err := parseNetTCPLine(line)
		if err != nil {
			return fmt.Errorf("parse /proc/net/%s line %d: %w", proto, n, err)
		}
		s.Proto, s.Type = proto, typ
		*a.next() = s
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("parse /proc/net/%s: %w", proto, err)
	}
	if !header {
		return fmt.Errorf("parse /proc/net/%s: empty", proto)
	}
	return nil
}

// parseNetTCPLine reads "sl: local rem st tx:rx tr:when retrnsmt uid timeout inode …".
func parseNetTCPLine(line []byte) (Socket, error) {
	var s Socket
	var f [10][]byte
	if n := fields(line, f[:]); n < 10 || !bytes.HasSuffix(f[0], []byte(":")) {
		return s, fmt.Errorf("%d fields, want at least 10", n)
	}
	local, err := parseHexAddrPort(f[1])
	if err != nil {
		return s, fmt.Errorf("local address %q: %w", f[1], err)
	}
	remote, err := parseHexAddrPort(f[2])
	if err != nil {
		return s, fmt.Errorf("remote address %q: %w", f[2], err)
	}
	st, ok := parseUint(f[3], 16, 8)
	if !ok {
		return s, fmt.Errorf("state %q", f[3])
	}
	_, rx, ok := bytes.Cut(f[4], []byte(":"))
	if !ok {
		return s, fmt.Errorf("queues %q", f[4])
	}
	rxq, ok := parseUint(rx, 16, 32)
	if !ok {
		return s, fmt.Errorf("rx_queue %q", rx)
	}
	ino, ok := parseUint(f[9], 10, 64)
	if !ok {
		return s, fmt.Errorf("inode %q", f[9])
	}
	s.Inode = ino
	s.State = tcpState(st)
	s.Local, s.Remote = local.String(), remote.String()
	s.LocalPort = int(local.Port())
	// rx_queue is an int the kernel prints as unsigned hex.
	s.Queue = int(int32(uint32(rxq)))
	if st == tcpListen {
		s.Backlog = -1
	}
	return s, nil
}

// parseHexAddrPort reads "0100007F:15B3" (IPv4) or 32 hex digits and a
// port (IPv6): each 32-bit word of the address as the host stores it.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	a, p, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return netip.AddrPort{}, errors.New("no port")
	}
	port, ok := parseUint(p, 16, 16)
	if !ok {
		return netip.AddrPort{}, errors.New("bad port")
	}
	var raw [16]byte
	if len(a) != 8 && len(a) != 32 {
		return netip.AddrPort{}, errors.New("not 8 or 32 hex digits")
	}
	for i := 0; i < len(a); i += 8 {
		w, ok := parseUint(a[i:i+8], 16, 32)
		if !ok {
			return netip.AddrPort{}, errors.New("not hex")
		}
		binary.NativeEndian.PutUint32(raw[i/2:], uint32(w))
	}
	var addr netip.Addr
	if len(a) == 8 {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		addr = netip.AddrFrom16(raw)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// unixPathMax is the size of sun_path: no name /proc/net/unix writes is
// longer, which bounds how many lines can continue one.
const unixPathMax = 108

// unixAcceptCon is __SO_ACCEPTCON, the Flags bit of a listening unix socket.
const unixAcceptCon = 0x10000

var unixStates = [...]string{1: "UNCONNECTED", 2: "CONNECTING", 3: "CONNECTED", 4: "DISCONNECTING"}

func unixType(t uint64) string {
	switch t {
	case 1:
		return "stream"
	case 2:
		return "dgram"
	case 5:
		return "seqpacket"
	}
	return fmt.Sprintf("type%d", t)
}

// ParseNetUnix reads /proc/net/unix: "Num RefCount Protocol Flags Type St
// Inode Path". The path is the rest of the row after the inode and one
// space. A path cannot carry a newline faithfully: a line that is not a
// row continues the path of the row before it, as long as the path stays
// within the 108 bytes of sun_path.
func ParseNetUnix(r io.Reader) ([]Socket, error) {
	var a socketArena
	if err := parseNetUnix(&a, r); err != nil {
		return nil, err
	}
	return a.slice(), nil
}

// parseNetUnix is ParseNetUnix into an arena.
func parseNetUnix(a *socketArena, r io.Reader) error {
	var last *Socket
	sc := newLineScanner(r)
	header := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			if !bytes.HasPrefix(line, []byte("Num ")) {
				return fmt.Errorf("parse /proc/net/unix line 1: not its header: %q", line)
			}
			header = true
			continue
		}
		s, ok, err := parseNetUnixLine(line)
		switch {
		case !ok && last != nil && last.Local != "" && len(last.Local)+1+len(line) <= unixPathMax:
			last.Local += "\n" + string(line)
			continue
		case !ok && len(bytes.TrimSpace(line)) == 0:
			continue
		case err != nil:
			return fmt.Errorf("parse /proc/net/unix line %d: %w", n, err)
		}
		last = a.next()
		*last = s
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("parse /proc/net/unix: %w", err)
	}
	if !header {
		return errors.New("parse /proc/net/unix: empty")
	}
	return nil
}

// parseNetUnixLine reads one row; ok is false when the line does not
// start like a row (a pointer in hex and a colon).
func parseNetUnixLine(line []byte) (s Socket, ok bool, err error) {
	num, rest, found := bytes.Cut(line, []byte(": "))
	if !found || len(num) == 0 || !isHex(num) {
		return s, false, errors.New("not a row")
	}
	var v [6]uint64 // RefCount Protocol Flags Type St Inode
	for i := range v {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		base := uint64(16)
		if i == 5 {
			base = 10
		}
		var ok bool
		if v[i], ok = parseUint(rest[:end], base, 64); !ok {
			return s, true, fmt.Errorf("field %d: %q", i+2, rest[:end])
		}
		rest = rest[end:]
	}
	s = Socket{Proto: "unix", Type: unixType(v[3]), Inode: v[5], Queue: -1}
	switch {
	case v[2]&unixAcceptCon != 0:
		s.State, s.Backlog = "LISTEN", -1
	case v[4] < uint64(len(unixStates)) && unixStates[v[4]] != "":
		s.State = unixStates[v[4]]
	default:
		s.State = fmt.Sprintf("STATE_%02X", v[4])
	}
	if len(rest) > 1 && rest[0] == ' ' {
		s.Local = string(rest[1:])
	}
	return s, true, nil
}

// socketArena holds parsed sockets in blocks that never move: a table of
// tens of thousands of rows is not copied as it grows, and pointers into
// it stay valid.
type socketArena struct {
	blocks [][]Socket
	n      int
}

// next returns a new zero Socket in the arena.
func (a *socketArena) next() *Socket {
	k := len(a.blocks) - 1
	if k < 0 || len(a.blocks[k]) == cap(a.blocks[k]) {
		size := 64
		if k >= 0 {
			size = min(2*cap(a.blocks[k]), 4096)
		}
		a.blocks = append(a.blocks, make([]Socket, 0, size))
		k++
	}
	a.blocks[k] = append(a.blocks[k], Socket{})
	a.n++
	return &a.blocks[k][len(a.blocks[k])-1]
}

// join moves b's sockets to the end of a; b is not used after.
func (a *socketArena) join(b *socketArena) {
	a.blocks = append(a.blocks, b.blocks...)
	a.n += b.n
	*b = socketArena{}
}

// each calls fn with every socket, in the order they were added.
func (a *socketArena) each(fn func(*Socket)) {
	for _, b := range a.blocks {
		for i := range b {
			fn(&b[i])
		}
	}
}

// slice copies the sockets out.
func (a *socketArena) slice() []Socket {
	out := make([]Socket, 0, a.n)
	a.each(func(s *Socket) { out = append(out, *s) })
	return out
}
