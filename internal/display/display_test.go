package display_test

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/internal/display"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/etc/a b", "/etc/a b"},
		{"/etc/é", "/etc/é"},
		{"主机-01", "主机-01"},
		{"/~x", "/~x"},
		{"/new\nl", `"/new\nl"`},
		{"/cr\rx", `"/cr\rx"`},
		{"/bad\xff", `"/bad\xff"`},
		{"/tab\there", `"/tab\there"`},
		{"/del\x7f", `"/del\x7f"`},
		{"/é\nl", `"/é\nl"`},
		{"/é\xff", `"/é\xff"`},
		{"a\x1b[31mb", `"a\x1b[31mb"`},
		{"\x1b]52;c;aGk=\a", `"\x1b]52;c;aGk=\a"`},
		{"c1\u009bx", `"c1\u009bx"`},
		{"host\u202eexe.10", `"host\u202eexe.10"`},
		{"a\u2066b\u2069", `"a\u2066b\u2069"`},
		{"lrm\u200e rlm\u200f alm\u061c", `"lrm\u200e rlm\u200f alm\u061c"`},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
		{"zw\u200bj\u200dnj\u200c bom\ufeff", `"zw\u200bj\u200dnj\u200c bom\ufeff"`},
		{"soft\u00adhyphen", `"soft\u00adhyphen"`},
		{"x\n::stop-commands::y", `"x\n::stop-commands::y"`},
		{"<script>", "<script>"}, // printable: escaping markup is HTML's job
		{`"\x1b"`, `"\x1b"`},     // printable as it is
	} {
		if got := display.Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestLineStart(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"host01", "host01"},
		{"::stop-commands::x", `"::stop-commands::x"`},
		{":", `":"`},
		{"a::b", "a::b"},
		{"x\x1b", `"x\x1b"`},
		{"", ""},
	} {
		if got := display.LineStart(tc.in); got != tc.want {
			t.Errorf("LineStart(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Forbidden reports whether r may never reach an output from data: the
// list the rule is held to, written out rather than taken from the rule's
// own test.
func Forbidden(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0: // C0, DEL, C1
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c: // bidi
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case unicode.Is(unicode.Cf, r): // zero-width and other format characters
		return true
	}
	return false
}

// FuzzQuote: what Quote returns is valid UTF-8 with no forbidden rune, and
// is either the input itself or its Go quoting.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "/etc/a", "a\x1b[31mb", "\xff", "host\u202e", "x\u2028y", "é主", "\u200b", "\"\\x41\"", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := display.Quote(in)
		if !utf8.ValidString(out) {
			t.Fatalf("Quote(%q) = %q: invalid UTF-8", in, out)
		}
		for _, r := range out {
			if Forbidden(r) {
				t.Fatalf("Quote(%q) = %q: has %U", in, out, r)
			}
		}
		if ls := display.LineStart(in); strings.HasPrefix(ls, ":") {
			t.Fatalf("LineStart(%q) = %q starts with a colon", in, ls)
		}
		if out == in {
			return
		}
		back, err := strconv.Unquote(out)
		if err != nil || back != in {
			t.Fatalf("Quote(%q) = %q, which decodes to %q (%v)", in, out, back, err)
		}
	})
}

func BenchmarkQuotePath(b *testing.B) {
	p := "/srv/app/instances/orders-eu-west-1/run/orders.key"
	for b.Loop() {
		display.Quote(p)
	}
}
