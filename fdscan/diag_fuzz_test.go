package fdscan

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// unixDiagMsg encodes one SOCK_DIAG_BY_FAMILY answer for a unix socket in
// the kernel's layout (netlink header, struct unix_diag_msg, attributes);
// vfs, when not nil, is the bound inode and device (struct unix_diag_vfs).
func unixDiagMsg(seq, ino uint32, name []byte, rq, wq uint32, vfs ...uint32) []byte {
	ne := binary.NativeEndian
	attr := func(typ uint16, data []byte) []byte {
		a := make([]byte, (sizeofRtAttr+len(data)+3)&^3)
		ne.PutUint16(a[0:], uint16(sizeofRtAttr+len(data)))
		ne.PutUint16(a[2:], typ)
		copy(a[sizeofRtAttr:], data)
		return a
	}
	body := make([]byte, sizeofUnixDiagMsg)
	body[0], body[1], body[2] = unix.AF_UNIX, unix.SOCK_STREAM, tcpListen
	ne.PutUint32(body[4:], ino)
	if name != nil {
		body = append(body, attr(unixDiagName, name)...)
	}
	if len(vfs) == 2 {
		v := make([]byte, 8)
		ne.PutUint32(v[0:], vfs[0])
		ne.PutUint32(v[4:], vfs[1])
		body = append(body, attr(unixDiagVFS, v)...)
	}
	q := make([]byte, 8)
	ne.PutUint32(q[0:], rq)
	ne.PutUint32(q[4:], wq)
	body = append(body, attr(unixDiagRQLen, q)...)
	msg := make([]byte, sizeofNlMsghdr, sizeofNlMsghdr+len(body))
	ne.PutUint32(msg[0:], uint32(sizeofNlMsghdr+len(body)))
	ne.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint32(msg[8:], seq)
	return append(msg, body...)
}

func FuzzNetlinkDiag(f *testing.F) {
	f.Add(unixDiagMsg(1, 42, []byte("/run/a sock\x00"), 3, 16, 99, 8<<20|1), uint32(42), []byte("\x00abs\x00tract"), uint32(2), uint32(8), uint32(0))
	f.Add([]byte{}, uint32(1), []byte(nil), uint32(0), uint32(0), uint32(7))
	f.Fuzz(func(t *testing.T, raw []byte, ino uint32, name []byte, rq, wq, vfsIno uint32) {
		// Any bytes: no panic, whatever they claim.
		walkNetlink(raw, 1, func(p []byte) {
			parseUnixDiagMsg(p, map[uint64]listenerQueue{})
			parseInetDiagMsg(p, map[uint64]listenerQueue{})
		})
		// A well-formed answer reads back exactly.
		if len(name) > 108 {
			return
		}
		out := map[uint64]listenerQueue{}
		var vfs []uint32
		if vfsIno != 0 {
			vfs = []uint32{vfsIno, rq}
		}
		done, err := walkNetlink(unixDiagMsg(7, ino, name, rq, wq, vfs...), 7, func(p []byte) { parseUnixDiagMsg(p, out) })
		if err != nil || done {
			t.Fatalf("walk: %v %v", done, err)
		}
		got := out[uint64(ino)]
		if got.HasVFS != (vfsIno != 0) || got.HasVFS && (got.VFSIno != vfsIno || got.VFSDev != rq) {
			t.Fatalf("read back vfs %+v", got)
		}
		if got.Queue != int(rq) || got.Backlog != int(wq) || got.HasName != (name != nil) || got.Name != renderUnixName(name) {
			t.Fatalf("read back %+v", got)
		}
	})
}
