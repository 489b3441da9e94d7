package ipcscan

import "golang.org/x/sys/unix"

// semid64_ds on x86_64 (arch/x86/include/uapi/asm/sembuf.h): each time is
// followed by an unused word.
type semidDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	NSems uint64
	_     [2]uint64
}
