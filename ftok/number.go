package ftok

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Proj ids and keys are C ints, written the same way in every command:
// decimal with an optional sign, or 0x hex with at most eight digits. A
// decimal with a leading zero (010) is refused: C reads it as octal and a
// reader cannot tell which was meant. Neither form takes white space.

var (
	errSyntax = errors.New("syntax")
	errRange  = errors.New("range")
)

// parseNumber reads s as such a literal. Hex is returned as its unsigned
// 32-bit value (0xffffffff is 4294967295), decimal as written; the caller
// applies its range.
func parseNumber(s string) (v int64, hex bool, err error) {
	digits := strings.TrimPrefix(s, "-")
	neg := len(digits) < len(s)
	if h, ok := strings.CutPrefix(strings.ToLower(digits), "0x"); ok {
		if h == "" || strings.Trim(h, "0123456789abcdef") != "" {
			return 0, true, errSyntax
		}
		if len(h) > 8 {
			return 0, true, errRange
		}
		u, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			return 0, true, errSyntax
		}
		v = int64(u)
		if neg {
			v = -v
		}
		return v, true, nil
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false, errSyntax
	}
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false, errOctal
	}
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, errRange // only overflow is left
	}
	return v, false, nil
}

var errOctal = errors.New("octal")

// inInt32 reports whether v fits a C int.
func inInt32(v int64) bool { return v >= math.MinInt32 && v <= math.MaxInt32 }
