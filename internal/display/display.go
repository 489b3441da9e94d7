// Package display decides how a string the tool did not write itself is
// shown: a path, a process's comm or exe, a host name, a label, a message
// from another host's report, a file or setting name from a config.
//
// There is one rule, Quote, and every output for people or CI logs uses
// it: a string prints as itself when every rune in it is printable (as Go's
// %q decides: letters, marks, numbers, punctuation, symbols and the ASCII
// space), and otherwise Go-quoted as a whole ("a\x1b[31mb", "x\u202ey",
// "bad\xff"). So no output carries, from such a string, a control character
// (C0, C1, DEL: terminal escape sequences, OSC 52 clipboard writes, line
// breaks that forge lines), a bidi embedding, override or isolate, a mark
// (U+200E, U+200F, U+061C), a line or paragraph separator, a zero-width or
// other format character, or invalid UTF-8: they are shown as escapes,
// whatever the string's source claims about itself. Accents, CJK and other
// printable UTF-8 stay as they are.
//
// A quoted string decodes back to the original with strconv.Unquote. A
// string that is printable and happens to look like a quoted one is
// shown as it is.
package display

import (
	"strconv"
	"unicode/utf8"
)

// Quote returns s as it can be shown: unchanged when it is printable
// UTF-8, otherwise Go-quoted.
func Quote(s string) string {
	if Printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// Printable reports whether s is shown as it is: valid UTF-8 of printable
// runes only.
func Printable(s string) bool {
	// Printable ASCII, nearly every path, is told by one table look-up
	// per byte: scans display hundreds of thousands of paths.
	i := 0
	for i < len(s) && printableASCII[s[i]] {
		i++
	}
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if !printableASCII[b] {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !strconv.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}

// LineStart is Quote for a string printed at the start of an output line:
// one that begins with a colon is quoted too, so that no line of data can
// begin with "::", which CI runners (GitHub Actions) read as a workflow
// command.
func LineStart(s string) string {
	if len(s) > 0 && s[0] == ':' {
		return strconv.Quote(s)
	}
	return Quote(s)
}

// printableASCII holds the bytes from space to tilde.
var printableASCII = func() (t [256]bool) {
	for b := ' '; b <= '~'; b++ {
		t[b] = true
	}
	return t
}()
