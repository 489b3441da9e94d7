package fdscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The accept queue of a unix listener is not in /proc: it comes from
// NETLINK_SOCK_DIAG (UNIX_DIAG_RQLEN), the interface iproute2's ss uses.
// inet_diag gives tcp listeners' backlog limits the same way. A sock_diag
// socket answers for the network namespace it was created in, so for
// another namespace it is created on a locked thread that has entered that
// namespace and then returned. golang.org/x/sys/unix has the netlink
// constants but not these message layouts (linux/unix_diag.h,
// linux/inet_diag.h), so they are written out here.

const (
	udiagShowName  = 0x01
	udiagShowVFS   = 0x02
	udiagShowRQLen = 0x10
	unixDiagName   = 0
	unixDiagVFS    = 1
	unixDiagRQLen  = 4

	sizeofUnixDiagReq   = 24
	sizeofUnixDiagMsg   = 16
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	sizeofNlMsghdr      = 16
	sizeofRtAttr        = 4
)

// listenerQueue is what sock_diag says of one listener.
type listenerQueue struct {
	Queue, Backlog int
	Name           string // unix only: the bound name rendered as /proc/net/unix does
	HasName        bool
	// VFSIno and VFSDev are, for a unix socket bound to a path, the
	// inode the bind made and its filesystem's device in the kernel's
	// encoding (major<<20 | minor); HasVFS says they were given.
	VFSIno, VFSDev uint32
	HasVFS         bool
}

// diagRequest builds a SOCK_DIAG_BY_FAMILY dump request around body.
func diagRequest(seq uint32, body []byte) []byte {
	b := make([]byte, sizeofNlMsghdr+len(body))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], seq)
	copy(b[sizeofNlMsghdr:], body)
	return b
}

// unixListenersRequest asks for every listening unix socket with its name,
// the inode its path was bound to, and queue lengths (struct
// unix_diag_req).
func unixListenersRequest(seq uint32) []byte {
	r := make([]byte, sizeofUnixDiagReq)
	r[0] = unix.AF_UNIX
	binary.NativeEndian.PutUint32(r[4:], 1<<tcpListen) // udiag_states
	binary.NativeEndian.PutUint32(r[12:], udiagShowName|udiagShowVFS|udiagShowRQLen)
	return diagRequest(seq, r)
}

// tcpListenersRequest asks for every listening tcp socket of one address
// family (struct inet_diag_req_v2, no extensions).
func tcpListenersRequest(seq uint32, family uint8) []byte {
	r := make([]byte, sizeofInetDiagReqV2)
	r[0], r[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(r[4:], 1<<tcpListen)
	return diagRequest(seq, r)
}

var errDumpInterrupted = errors.New("sock_diag dump interrupted: sockets changed while it ran")

// walkNetlink calls fn with the payload of each message in b that answers
// seq. It reports done at NLMSG_DONE and turns NLMSG_ERROR into an error.
func walkNetlink(b []byte, seq uint32, fn func(payload []byte)) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= sizeofNlMsghdr {
		n := int(ne.Uint32(b[0:]))
		if n < sizeofNlMsghdr || n > len(b) {
			return false, fmt.Errorf("netlink message of %d bytes in %d", n, len(b))
		}
		typ, flags, mseq := ne.Uint16(b[4:]), ne.Uint16(b[6:]), ne.Uint32(b[8:])
		payload := b[sizeofNlMsghdr:n]
		if adv := (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1); adv < len(b) {
			b = b[adv:]
		} else {
			b = nil
		}
		if mseq != seq {
			continue
		}
		if flags&unix.NLM_F_DUMP_INTR != 0 {
			return false, errDumpInterrupted
		}
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return false, errors.New("short netlink error")
			}
			if e := int32(ne.Uint32(payload)); e != 0 {
				return false, unix.Errno(-e)
			}
			return true, nil
		case unix.SOCK_DIAG_BY_FAMILY:
			fn(payload)
		}
	}
	if len(b) != 0 {
		return false, fmt.Errorf("netlink: %d stray bytes", len(b))
	}
	return false, nil
}

// parseUnixDiagMsg reads one struct unix_diag_msg and its attributes into
// out, by inode.
func parseUnixDiagMsg(p []byte, out map[uint64]listenerQueue) {
	if len(p) < sizeofUnixDiagMsg {
		return
	}
	ne := binary.NativeEndian
	ino := uint64(ne.Uint32(p[4:]))
	q := listenerQueue{Queue: -1, Backlog: -1}
	for a := p[sizeofUnixDiagMsg:]; len(a) >= sizeofRtAttr; {
		n := int(ne.Uint16(a[0:]))
		if n < sizeofRtAttr || n > len(a) {
			break
		}
		data := a[sizeofRtAttr:n]
		switch ne.Uint16(a[2:]) {
		case unixDiagRQLen:
			if len(data) >= 8 {
				// For a listener: pending connections and the backlog limit.
				q.Queue = int(ne.Uint32(data[0:]))
				q.Backlog = int(ne.Uint32(data[4:]))
			}
		case unixDiagName:
			q.Name, q.HasName = renderUnixName(data), true
		case unixDiagVFS:
			if len(data) >= 8 { // struct unix_diag_vfs
				q.VFSIno, q.VFSDev, q.HasVFS = ne.Uint32(data[0:]), ne.Uint32(data[4:]), true
			}
		}
		adv := (n + 3) &^ 3
		if adv >= len(a) {
			break
		}
		a = a[adv:]
	}
	out[ino] = q
}

// renderUnixName writes a sun_path the way /proc/net/unix does: a path
// without its terminating NUL, an abstract name with its leading NUL as
// '@', and any other NUL as '@'.
func renderUnixName(b []byte) string {
	if len(b) > 0 && b[0] != 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	s := []byte(string(b))
	for i, c := range s {
		if c == 0 {
			s[i] = '@'
		}
	}
	return string(s)
}

// parseInetDiagMsg reads one struct inet_diag_msg: for a listener, rqueue
// is the accept queue and wqueue the backlog limit.
func parseInetDiagMsg(p []byte, out map[uint64]listenerQueue) {
	if len(p) < sizeofInetDiagMsg {
		return
	}
	ne := binary.NativeEndian
	out[uint64(ne.Uint32(p[68:]))] = listenerQueue{Queue: int(ne.Uint32(p[56:])), Backlog: int(ne.Uint32(p[60:]))}
}

// diagConn is a NETLINK_SOCK_DIAG socket of one network namespace.
type diagConn struct {
	fd  int
	seq uint32
	buf []byte
}

// diagTimeout bounds every wait for the kernel's answer.
const diagTimeout = 5 * time.Second

func newDiagConn(fd int) (*diagConn, error) {
	tv := unix.NsecToTimeval(diagTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &diagConn{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func diagSocket() (int, error) {
	return unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
}

// dialDiag opens a sock_diag socket in the current network namespace, or,
// when nsPath is not "", in the namespace at nsPath (needs CAP_SYS_ADMIN).
func dialDiag(nsPath string) (*diagConn, error) {
	if nsPath == "" {
		fd, err := diagSocket()
		if err != nil {
			return nil, err
		}
		return newDiagConn(fd)
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	// A goroutine of its own: if it cannot return to the home namespace it
	// ends still locked, and the runtime ends its thread with it.
	go func() {
		fd, err := socketIn(nsPath)
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	return newDiagConn(r.fd)
}

// socketIn creates a sock_diag socket inside the network namespace at
// nsPath on a locked thread, then returns the thread home. On failure to
// return it leaves the thread locked.
func socketIn(nsPath string) (int, error) {
	target, err := os.Open(nsPath)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer home.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("enter network namespace %s: %w (needs CAP_SYS_ADMIN)", nsPath, err)
	}
	fd, sockErr := diagSocket()
	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
		if sockErr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("return from network namespace %s: %w", nsPath, err)
	}
	runtime.UnlockOSThread()
	return fd, sockErr
}

func (c *diagConn) Close() error { return unix.Close(c.fd) }

// dump sends req (made for the next sequence number) and hands every
// answer's payload to fn until the kernel says it is done.
func (c *diagConn) dump(req func(seq uint32) []byte, fn func(payload []byte)) error {
	c.seq++
	if err := unix.Sendto(c.fd, req(c.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	deadline := time.Now().Add(diagTimeout)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		done, err := walkNetlink(c.buf[:n], c.seq, fn)
		if err != nil || done {
			return err
		}
	}
	return errors.New("sock_diag: no end of dump in time")
}

// dumpRetry runs a dump into a fresh map, once more if the kernel says the
// dump was interrupted by changes.
func (c *diagConn) dumpRetry(req func(seq uint32) []byte, parse func([]byte, map[uint64]listenerQueue)) (map[uint64]listenerQueue, error) {
	var err error
	for range 3 {
		out := map[uint64]listenerQueue{}
		err = c.dump(req, func(p []byte) { parse(p, out) })
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, errDumpInterrupted) {
			break
		}
	}
	return nil, err
}

// listenerQueues asks sock_diag for every unix and tcp listener of the
// connection's namespace.
func (c *diagConn) listenerQueues() (unixQ, tcpQ map[uint64]listenerQueue, err error) {
	unixQ, err = c.dumpRetry(unixListenersRequest, parseUnixDiagMsg)
	if err != nil {
		return nil, nil, fmt.Errorf("unix listeners: %w", err)
	}
	tcpQ = map[uint64]listenerQueue{}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		q, err := c.dumpRetry(func(seq uint32) []byte { return tcpListenersRequest(seq, fam) }, parseInetDiagMsg)
		if fam == unix.AF_INET6 && errors.Is(err, unix.ENOENT) {
			continue // a kernel without IPv6
		}
		if err != nil {
			return unixQ, nil, fmt.Errorf("tcp listeners: %w", err)
		}
		for ino, v := range q {
			tcpQ[ino] = v
		}
	}
	return unixQ, tcpQ, nil
}
