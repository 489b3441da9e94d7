//go:build linux && !amd64

package ipcscan

import "golang.org/x/sys/unix"

// semid64_ds on 64-bit architectures using asm-generic/sembuf.h (arm64,
// riscv64, …). statAll refuses 32-bit ones.
type semidDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	Ctime int64
	NSems uint64
	_     [2]uint64
}
