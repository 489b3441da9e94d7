package texttable

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// wrapper breaks the lines of a column of limited width. It keeps its
// buffers from one line to the next.
type wrapper struct {
	words []span // of the line being wrapped
	cost  []int
	next  []int
	b     strings.Builder
}

// span is a word of a line: where it is, and its width.
type span struct{ start, end, width int }

// wrap appends to dst the lines that line, one line of a cell, breaks
// into to fit in width columns: its words joined by single spaces, spread
// over the lines so that the squares of the room left on each line but the
// last add up to the least (Knuth's minimum raggedness, the way tablewriter
// wrapped). A word wider than the width is broken into pieces that fit,
// each piece then taken as a word. A line of one space stays one space; a
// line of other spaces only becomes empty. The time is linear in the
// length of line: a line holds at most width+1 words.
func (wr *wrapper) wrap(dst []string, line string, width int) []string {
	if line == " " {
		return append(dst, line)
	}
	if plain(line) && Width(line) <= width {
		return append(dst, line)
	}
	wr.split(line, width)
	n := len(wr.words)
	if n == 0 {
		return append(dst, "")
	}
	wr.breaks(width)
	for i := 0; i < n; i = wr.next[i] {
		dst = append(dst, wr.join(line, wr.words[i:wr.next[i]]))
	}
	return dst
}

// join returns words of line joined by single spaces: a piece of line
// when they are one space apart there.
func (wr *wrapper) join(line string, words []span) string {
	apart := true
	for k := 1; k < len(words) && apart; k++ {
		apart = words[k].start == words[k-1].end+1 && line[words[k-1].end] == ' '
	}
	if apart {
		return line[words[0].start:words[len(words)-1].end]
	}
	wr.b.Reset()
	for k, w := range words {
		if k > 0 {
			wr.b.WriteByte(' ')
		}
		wr.b.WriteString(line[w.start:w.end])
	}
	return wr.b.String()
}

// plain reports whether line is its words joined by single spaces (no
// other white space, none at the ends) with no control character or
// escape sequence, so that it is what wrapping it onto one line gives.
func plain(line string) bool {
	if line == "" || line[0] == ' ' || line[len(line)-1] == ' ' || strings.Contains(line, "  ") {
		return false
	}
	for _, r := range line {
		if r < ' ' || r == 0x7f || r != ' ' && unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// split sets wr.words to the words of line (separated by Unicode white
// space), those wider than width broken into pieces.
func (wr *wrapper) split(line string, width int) {
	wr.words = wr.words[:0]
	start := -1
	for i, r := range line {
		switch {
		case !unicode.IsSpace(r):
			if start < 0 {
				start = i
			}
		case start >= 0:
			wr.word(line, start, i, width)
			start = -1
		}
	}
	if start >= 0 {
		wr.word(line, start, len(line), width)
	}
}

// word adds the word line[start:end], in pieces of at most width columns
// if it is wider: each piece as many characters as fit, an escape
// sequence never split.
func (wr *wrapper) word(line string, start, end, width int) {
	if n := Width(line[start:end]); n <= width {
		wr.words = append(wr.words, span{start, end, n})
		return
	}
	cols := 0
	for i := start; i < end; {
		size, rw := 1, 0
		switch b := line[i]; {
		case b == 0x1b:
			size = max(escapeLen(line[i:end]), 1)
		case b < utf8.RuneSelf:
			rw = asciiWidth(b)
		default:
			var r rune
			r, size = utf8.DecodeRuneInString(line[i:end])
			rw = runeWidth(r)
		}
		if cols+rw > width && cols > 0 {
			wr.words = append(wr.words, span{start, i, Width(line[start:i])})
			start, cols = i, 0
		}
		cols += rw
		i += size
	}
	wr.words = append(wr.words, span{start, end, Width(line[start:end])})
}

// breaks sets wr.next[i] to where the line that starts with word i ends.
// This is tablewriter's twwarp.WrapWords, less its choice of lines wider
// than the width (which it then cut short): working back from the last
// word, the words from i on either all fit on one line (at no cost) or
// the line starting at i ends before the word j that gives the least
// square of the room left on it plus the cost from j on, the first such j
// when several give the same.
func (wr *wrapper) breaks(width int) {
	n := len(wr.words)
	wr.cost, wr.next = grow(wr.cost, n), grow(wr.next, n)
	rest := -1 // the width of the words from i on, on one line
	for i := n - 1; i >= 0; i-- {
		rest += 1 + wr.words[i].width
		if rest <= width || i == n-1 {
			wr.cost[i], wr.next[i] = 0, n
			continue
		}
		best, bestJ := -1, i+1
		line := wr.words[i].width
		for j := i + 1; j < n && (line <= width || j == i+1); j++ {
			room := width - line
			if c := room*room + wr.cost[j]; best < 0 || c < best {
				best, bestJ = c, j
			}
			line += 1 + wr.words[j].width
		}
		wr.cost[i], wr.next[i] = best, bestJ
	}
}

func grow(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
