package fdscan

import (
	"bufio"
	"bytes"
	"io"
)

// Small helpers the parsers share. They avoid strconv and bytes.Fields on
// paths that run once per socket or descriptor: both allocate.

// parseUint reads b as an unsigned number in base (8, 10 or 16) that fits
// in bits, without the allocation strconv's error path costs on hot paths.
func parseUint(b []byte, base uint64, bits int) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	limit := uint64(1)<<bits - 1
	if bits == 64 {
		limit = ^uint64(0)
	}
	var v uint64
	for _, c := range b {
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base || v > (limit-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}

// fields splits line at runs of spaces into f, without allocating, and
// returns how many it found (at most len(f)).
func fields(line []byte, f [][]byte) int {
	n := 0
	for n < len(f) {
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		line = line[i:]
		if len(line) == 0 {
			break
		}
		j := 0
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		f[n], line = line[:j], line[j:]
		n++
	}
	return n
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// newLineScanner splits at '\n' only: bufio.ScanLines would also drop a
// '\r' that ends a unix socket's path.
func newLineScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	return sc
}
