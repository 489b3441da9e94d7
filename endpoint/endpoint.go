// Package endpoint reads the way people name a socket on the command line
// and in manifests, and matches it against the sockets of a host:
//
//	tcp:5555            any local address, port 5555, tcp or tcp6
//	:5555               any protocol with a port: tcp, tcp6, udp, udp6
//	tcp:127.0.0.1:5555  one address (tcp4)
//	tcp:[::1]:5555      one address (tcp6); tcp6:5555 any IPv6 address
//	udp:53              udp or udp6
//	unix:/run/app.sock  a unix socket by path; a bare /run/app.sock too
//	unix:@name          an abstract unix socket
//	socket:[12345]      one socket by inode, as /proc/PID/fd shows it
package endpoint

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is a socket, or a set of sockets, by protocol and local
// address, or by inode.
type Endpoint struct {
	Proto string     // "tcp", "tcp6", "udp", "udp6", "unix", or "" (any with a port)
	Addr  netip.Addr // the local address; invalid for any
	Port  int        // 0 for unix sockets and inodes
	Path  string     // a unix socket's path, "@name" when abstract
	Inode uint64     // socket:[N]
	Text  string     // as written
}

// Parse reads an endpoint in one of the forms above.
func Parse(s string) (Endpoint, error) {
	e := Endpoint{Text: s}
	bad := func(why string) (Endpoint, error) {
		return Endpoint{}, fmt.Errorf("%q %s: write tcp:PORT, tcp:ADDR:PORT, :PORT, udp:PORT, unix:/path, /path or socket:[INODE]", s, why)
	}
	switch {
	case s == "":
		return bad("is empty")
	case strings.HasPrefix(s, "socket:["):
		n, ok := strings.CutSuffix(strings.TrimPrefix(s, "socket:["), "]")
		ino, err := strconv.ParseUint(n, 10, 64)
		if !ok || err != nil || ino == 0 {
			return bad("is not a socket inode")
		}
		e.Inode = ino
		return e, nil
	case strings.HasPrefix(s, "/"):
		e.Proto, e.Path = "unix", s
		return e, nil
	case strings.HasPrefix(s, "unix:"):
		e.Proto, e.Path = "unix", strings.TrimPrefix(s, "unix:")
		if e.Path == "" || (e.Path[0] != '/' && e.Path[0] != '@') {
			return bad("does not name a unix socket path (/path) or abstract name (@name)")
		}
		return e, nil
	}
	proto, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("has no protocol or port")
	}
	switch proto {
	case "", "tcp", "tcp6", "udp", "udp6":
		e.Proto = proto
	default:
		return bad("has an unknown protocol (tcp, tcp6, udp, udp6, unix)")
	}
	host, port := "", rest
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		host, port = rest[:i], rest[i+1:]
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return bad("has no port from 1 to 65535")
	}
	e.Port = p
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host != "" && host != "*" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return bad("has an address that is not an IP address")
		}
		e.Addr = a.Unmap()
	}
	return e, nil
}

// ErrNotEndpoint is returned by Parse's callers when a word is neither a
// key nor an endpoint.
var ErrNotEndpoint = errors.New("not an endpoint")

// Matches reports whether a socket with this protocol, local address
// ("127.0.0.1:5555", "[::1]:80", a unix path) and inode is one the
// endpoint names.
func (e Endpoint) Matches(proto, local string, inode uint64) bool {
	if e.Inode != 0 {
		return inode == e.Inode
	}
	if e.Proto == "unix" || proto == "unix" {
		return e.Proto == "unix" && proto == "unix" && local == e.Path
	}
	switch e.Proto {
	case "tcp", "udp":
		if strings.TrimSuffix(proto, "6") != e.Proto {
			return false
		}
	case "tcp6", "udp6":
		if proto != e.Proto {
			return false
		}
	}
	ap, err := netip.ParseAddrPort(local)
	if err != nil || int(ap.Port()) != e.Port {
		return false
	}
	if !e.Addr.IsValid() {
		return true
	}
	a := ap.Addr().Unmap()
	// A listener on the wildcard address takes connections to every
	// address of its family (:: to IPv4 ones too, unless IPV6_V6ONLY).
	return a == e.Addr || a.IsUnspecified() && (a.Is6() || e.Addr.Is4())
}

// String is the endpoint as written.
func (e Endpoint) String() string { return e.Text }
