package ftok

import (
	"errors"
	"fmt"
	"strconv"
)

// projHelp is the tail of every proj parse error: it says what is accepted.
const projHelp = "write a character (l), a quoted character ('1'), decimal (108) or hex (0x6c)"

// ParseProj reads a proj id the way people write the second argument of
// ftok in C: a single character (l), a quoted character ('1' is 0x31),
// decimal (108, or a negative int such as -1) or hex (0x6c). A bare digit is
// decimal: 1 is 1, not '1'. Multi-digit decimals with a leading zero are
// rejected because C reads 010 as octal 8 and a reader cannot tell which was
// meant. The range is a C int's, in both forms; values outside 0..255 are
// returned as written, and ftok uses only their low byte, which callers
// report.
func ParseProj(s string) (int, error) {
	bad := func(why string) (int, error) {
		return 0, fmt.Errorf("proj id %q %s: %s", s, why, projHelp)
	}
	switch {
	case s == "":
		return bad("is empty")
	case len(s) == 3 && s[0] == '\'' && s[2] == '\'':
		return int(s[1]), nil
	case len(s) == 1 && (s[0] < '0' || s[0] > '9'):
		if s[0] <= ' ' || s[0] >= 0x7f {
			return bad("is not a printable character")
		}
		return int(s[0]), nil
	}
	v, _, err := parseNumber(s)
	switch {
	case errors.Is(err, errOctal):
		return bad("has a leading zero (C would read it as octal)")
	case errors.Is(err, errRange), err == nil && !inInt32(v):
		return 0, fmt.Errorf("proj id %q is out of range: a proj id is a C int, -2147483648 to 2147483647 (0x7fffffff), and ftok keeps only its low byte: use 1 to 255", s)
	case err != nil:
		return bad("is not a proj id")
	}
	return int(v), nil
}

// ProjString formats a proj id for people: the number, and the character
// when its low byte is printable (108 'l').
func ProjString(proj int) string {
	return string(AppendProj(make([]byte, 0, 16), proj))
}

// AppendProj appends the proj id as ProjString writes it.
func AppendProj(dst []byte, proj int) []byte {
	dst = strconv.AppendInt(dst, int64(proj), 10)
	if b := byte(proj); b > ' ' && b < 0x7f {
		dst = append(dst, ' ', '\'', b, '\'')
	}
	return dst
}
