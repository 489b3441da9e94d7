// Package ftok computes System V IPC keys exactly as the C library's ftok(3)
// does, and takes them apart again.
//
// glibc, musl, uClibc-ng and bionic all build a key from three fields:
//
//	key = (proj & 0xff) << 24 | (st_dev & 0xff) << 16 | (st_ino & 0xffff)
//
// Only the low byte of proj, the low byte of the device number (on Linux, the
// low byte of the minor number) and the low 16 bits of the inode survive. Two
// unrelated files whose device byte and inode low bits agree therefore give
// the same key for the same proj: their Fingerprint is equal. key_t is a
// signed 32-bit integer, so any proj of 0x80 or more gives a negative key;
// that is normal, and this package keeps the sign (Key returns an int32).
//
// The package is pure arithmetic plus one stat(2) wrapper, Stat, which
// follows symbolic links as the C library does.
package ftok

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// Private is IPC_PRIVATE: shmget, semget and msgget given key 0 create a new
// private object on every call, so nothing is ever shared through it.
const Private int32 = 0

// ErrorValue is what ftok returns when stat fails. A real key with this value
// cannot be told apart from the error unless the caller checks errno.
const ErrorValue int32 = -1

// Key returns the key ftok(3) computes for a file with device number dev and
// inode number ino, and the project id proj. Only the low byte of proj is
// used, as in the C library (proj 1 and 257 give the same key).
func Key(dev, ino uint64, proj int) int32 {
	return int32(uint32(proj&0xff)<<24 | uint32(dev&0xff)<<16 | uint32(ino&0xffff))
}

// Fingerprint is the part of a key that comes from the file: the low byte of
// its device number and the low 16 bits of its inode number. Files with equal
// fingerprints collide whenever they are given the same proj.
type Fingerprint uint32

// FingerprintOf returns the fingerprint of the file with device dev and
// inode ino.
func FingerprintOf(dev, ino uint64) Fingerprint {
	return Fingerprint(uint32(dev&0xff)<<16 | uint32(ino&0xffff))
}

// Key returns the key the file with this fingerprint has for proj.
func (f Fingerprint) Key(proj int) int32 {
	return int32(uint32(proj&0xff)<<24 | uint32(f))
}

// DevByte returns the device byte of the fingerprint.
func (f Fingerprint) DevByte() uint8 { return uint8(f >> 16) }

// InoBits returns the inode low 16 bits of the fingerprint.
func (f Fingerprint) InoBits() uint16 { return uint16(f) }

// String formats the fingerprint as six hex digits, the low 24 bits of every
// key the file can produce (0x01abcd).
func (f Fingerprint) String() string { return fmt.Sprintf("0x%06x", uint32(f)) }

// Parts are the three fields a key is made of.
type Parts struct {
	Proj    uint8  // low byte of the proj id
	DevByte uint8  // low byte of st_dev: the low byte of the minor number on Linux
	InoBits uint16 // low 16 bits of st_ino
}

// Decode splits a key into its proj byte, device byte and inode bits.
func Decode(key int32) Parts {
	u := uint32(key)
	return Parts{Proj: uint8(u >> 24), DevByte: uint8(u >> 16), InoBits: uint16(u)}
}

// Fingerprint returns the file part of the decoded key.
func (p Parts) Fingerprint() Fingerprint {
	return Fingerprint(uint32(p.DevByte)<<16 | uint32(p.InoBits))
}

// Hex formats a key the way ipcs and lsipc print it: 0x followed by eight
// lower-case hex digits of its unsigned value.
func Hex(key int32) string { return string(AppendHex(nil, key)) }

// AppendHex appends the key as Hex writes it.
func AppendHex(dst []byte, key int32) []byte {
	const digits = "0123456789abcdef"
	u := uint32(key)
	return append(dst, '0', 'x',
		digits[u>>28], digits[u>>24&0xf], digits[u>>20&0xf], digits[u>>16&0xf],
		digits[u>>12&0xf], digits[u>>8&0xf], digits[u>>4&0xf], digits[u&0xf])
}

// ParseKey reads a key written as ipcs prints it (0x6c01abcd: 0x and at
// most eight hex digits, 0x00000000 to 0xffffffff) or as /proc/sysvipc
// prints it (signed decimal, -2147483648 to 2147483647: -559038737), the
// same number forms ParseProj takes.
func ParseKey(s string) (int32, error) {
	const forms = "write it as ipcs prints it, 0x6c01abcd, or as /proc/sysvipc does, -559038737"
	if s == "" {
		return 0, errors.New("empty key (" + forms + ")")
	}
	v, hex, err := parseNumber(s)
	switch {
	case errors.Is(err, errOctal):
		return 0, fmt.Errorf("key %q has a leading zero (C would read it as octal): %s", s, forms)
	case errors.Is(err, errRange), err == nil && hex && (v < 0 || v > math.MaxUint32), err == nil && !hex && !inInt32(v):
		return 0, fmt.Errorf("key %q is out of range: a key is 32 bits, 0x00000000 to 0xffffffff in hex or -2147483648 to 2147483647 in decimal as /proc/sysvipc prints it", s)
	case err != nil:
		return 0, fmt.Errorf("key %q is neither 0x hex nor a decimal number (%s)", s, forms)
	}
	return int32(uint32(v)), nil
}

// File is what ftok needs to know of a file: its device and inode numbers.
type File struct {
	Dev uint64
	Ino uint64
}

// Fingerprint returns the file's fingerprint.
func (f File) Fingerprint() Fingerprint { return FingerprintOf(f.Dev, f.Ino) }

// Key returns the file's key for proj.
func (f File) Key(proj int) int32 { return Key(f.Dev, f.Ino, proj) }

// Stat returns the device and inode numbers ftok would use for path. Like
// glibc and musl it calls stat, not lstat: a symbolic link gives the key of
// the file it points to, and a dangling link is an error.
func Stat(path string) (File, error) {
	var st unix.Stat_t
	if err := StatInto(path, &st); err != nil {
		return File{}, err
	}
	return File{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}

// StatInto is Stat for callers that want the rest of the stat result too.
func StatInto(path string, st *unix.Stat_t) error {
	for {
		err := unix.Stat(path, st)
		if err != unix.EINTR {
			return err
		}
	}
}

// FileKey is ftok(3): the key for path and proj, or ErrorValue and the
// error stat returned.
func FileKey(path string, proj int) (int32, error) {
	f, err := Stat(path)
	if err != nil {
		return ErrorValue, err
	}
	return f.Key(proj), nil
}
