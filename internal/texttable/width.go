package texttable

import (
	"strings"
	"unicode/utf8"
)

//go:generate go run mkwidth.go

// tabWidth is how many columns a tab takes, and how many spaces a tab in
// a cell becomes.
const tabWidth = 8

// Width returns how many terminal columns s takes: two for an East Asian
// wide or fullwidth character or an emoji, none for a combining mark, a
// control or format character or an ANSI CSI or OSC escape sequence
// (colours), eight for a tab, one for any other character (East Asian
// ambiguous ones included). Each rune is measured alone, the way the
// tables were measured before.
func Width(s string) int {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b > '~' {
			return len(s[:i]) + width(s[i:])
		}
	}
	return len(s)
}

// width is Width past the printable ASCII prefix.
func width(s string) int {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = stripEscapes(s)
	}
	n := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			n += asciiWidth(b)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n += runeWidth(r)
		i += size
	}
	return n
}

func asciiWidth(b byte) int {
	switch {
	case b == '\t':
		return tabWidth
	case b < ' ' || b == 0x7f:
		return 0
	}
	return 1
}

// runeWidth returns the width of a rune from U+0080 on; an invalid byte
// is measured as U+FFFD, the rune it decodes as.
func runeWidth(r rune) int {
	lo, hi := 0, len(runStart)
	for lo+1 < hi {
		mid := int(uint(lo+hi) >> 1)
		if uint32(r) < runStart[mid] {
			hi = mid
		} else {
			lo = mid
		}
	}
	return int(runWidth[lo])
}

// stripEscapes returns s without its ANSI escape sequences: CSI (ESC [,
// parameter bytes 0x30-0x3f, intermediate bytes 0x20-0x2f, a final byte
// 0x40-0x7e) and OSC (ESC ], anything but a newline, up to the first BEL
// or ESC \). An ESC that starts neither stays (and takes no column).
func stripEscapes(s string) string {
	var b []byte
	done := 0 // s[:done] is in b, or b is nil and nothing was cut
	for i := 0; i < len(s); {
		if s[i] != 0x1b {
			i++
			continue
		}
		n := escapeLen(s[i:])
		if n == 0 {
			i++
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[done:i]...)
		i += n
		done = i
	}
	if b == nil {
		return s
	}
	return string(append(b, s[done:]...))
}

// escapeLen returns the length of the CSI or OSC sequence s begins with,
// or 0.
func escapeLen(s string) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '[':
		i := 2
		for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
			i++
		}
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
			return i + 1
		}
	case ']':
		for i := 2; i < len(s); i++ {
			switch {
			case s[i] == '\n':
				return 0
			case s[i] == 0x07:
				return i + 1
			case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
				return i + 2
			}
		}
	}
	return 0
}
