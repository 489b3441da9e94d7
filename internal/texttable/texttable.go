// Package texttable draws the tables ipckeys prints for people, in boxes
// of light box-drawing lines:
//
//	┌────────┬──────┐
//	│ HEADER │ B    │
//	├────────┼──────┤
//	│ cell   │ two  │
//	│        │ line │
//	└────────┴──────┘
//
// It draws them byte for byte as github.com/olekukonko/tablewriter v1.1.5
// did with the options ipckeys gave it (headers as written, cells
// left-aligned, a space of padding either side), for a small part of the
// time and memory. A cell is trimmed of white space at both ends, each
// tab in it becomes eight spaces, and it breaks into lines at each
// newline; a line of a row that is blank in every cell, past the row's
// first, is left out. A column is as wide as its widest line, unless
// SetWidth limits it and its cells are word-wrapped. Widths are display
// widths, as Width measures them: ANSI colour sequences take no room, East
// Asian wide characters two columns.
//
// It differs from tablewriter where tablewriter lost text or read the
// environment. tablewriter wrapped a cell with a word wider than its
// limited column at that word's width, then cut every line of it short at
// the column's edge, and cut a header line wider than the column; here
// the long word is broken over lines and the header line wrapped. It took
// a tab's width from the environment and the working directory (4 where
// it found go.mod or Go files) and East Asian ambiguous characters as two
// columns under a CJK locale in some terminals; here a tab is eight
// columns and an ambiguous character one, as in tablewriter's default.
package texttable

import (
	"io"
	"strings"
)

// Table is a table being filled: New, Append each row, then Render.
type Table struct {
	w      io.Writer
	header []string
	rows   [][]string
	limits []int // of each column, 0: none
}

// New returns a table that Render writes to w, with the given header
// cells (none: no header).
func New(w io.Writer, header ...string) *Table {
	return &Table{w: w, header: header}
}

// minLimit is the narrowest a limited column can be: room for one wide
// character.
const minLimit = 4

// SetWidth limits column col (from 0) to n columns of the terminal, its
// padding included, and so its text to n-2. The lines of its cells are
// word-wrapped to fit as tablewriter wrapped them: words joined by single
// spaces, spread over lines so that the squares of the room left on each
// line but the last add up to the least. An n below 4 is taken as 4.
func (t *Table) SetWidth(col, n int) {
	if col < 0 {
		return
	}
	for len(t.limits) <= col {
		t.limits = append(t.limits, 0)
	}
	t.limits[col] = max(n, minLimit)
}

// Append adds a row. The table keeps row, rather than a copy of it:
// build a new slice for each row. A row may have fewer cells than
// another or the header; the missing ones are empty. The error is always
// nil: Append checks nothing, and keeps tablewriter's signature.
func (t *Table) Append(row []string) error {
	t.rows = append(t.rows, row)
	return nil
}

// line is a line of a cell, with its display width.
type line struct {
	s string
	w int
}

// block is where the lines of a cell are in a layout's lines.
type block struct{ first, n int }

// layout is a table broken into lines of cells, and the column widths.
type layout struct {
	header  bool // the first row of blocks is the header
	rows    int  // rows of blocks, the header's included
	cols    int
	lines   []line
	blocks  []block // cols per row, the header's first if there is one
	width   []int   // of each column, padding included
	extra   int     // bytes of the lines past one per column
	wr      wrapper
	wrapped []string
}

// Render writes the table to the writer New was given, in one Write. A
// table without a header or rows writes nothing.
func (t *Table) Render() error {
	if len(t.header) == 0 && len(t.rows) == 0 {
		return nil
	}
	l := t.layout()
	_, err := t.w.Write(l.draw())
	return err
}

// layout breaks the cells into lines and sizes the columns.
func (t *Table) layout() *layout {
	cols := len(t.header)
	for _, r := range t.rows {
		cols = max(cols, len(r))
	}
	rows := len(t.rows)
	if len(t.header) > 0 {
		rows++
	}
	l := &layout{header: len(t.header) > 0, rows: rows, cols: cols, width: make([]int, cols)}
	breaks := 0 // newlines in cells: lines besides one a cell
	for _, c := range t.header {
		breaks += strings.Count(c, "\n")
	}
	for _, r := range t.rows {
		for _, c := range r {
			breaks += strings.Count(c, "\n")
		}
	}
	l.blocks = make([]block, 0, rows*cols)
	l.lines = make([]line, 0, rows*cols+breaks)
	if len(t.header) > 0 {
		l.addRow(t.header, t.limits, true)
	}
	for _, r := range t.rows {
		l.addRow(r, t.limits, false)
	}
	for c := range l.width {
		if c < len(t.limits) && t.limits[c] > 0 {
			l.width[c] = t.limits[c]
			continue
		}
		w := 0
		for r := 0; r < rows; r++ {
			b := l.blocks[r*cols+c]
			for _, ln := range l.lines[b.first : b.first+b.n] {
				w = max(w, ln.w)
			}
		}
		l.width[c] = w + 2
	}
	return l
}

// addRow adds the lines of the cells of a row.
func (l *layout) addRow(row []string, limits []int, header bool) {
	for c := range l.cols {
		if c >= len(row) {
			l.blocks = append(l.blocks, block{len(l.lines), 0})
			continue
		}
		limit := 0
		if c < len(limits) {
			limit = limits[c]
		}
		l.addCell(row[c], limit, header)
	}
}

// addCell adds the lines of a cell: trimmed, tabs expanded, broken at
// newlines and, in a limited column, wrapped. A header line that fits is
// kept as it is (tablewriter did not wrap headers).
func (l *layout) addCell(s string, limit int, header bool) {
	first := len(l.lines)
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '\t') >= 0 {
		s = strings.ReplaceAll(s, "\t", strings.Repeat(" ", tabWidth))
	}
	for {
		ln, rest, more := strings.Cut(s, "\n")
		if limit == 0 || header && Width(ln) <= limit-2 {
			l.add(ln)
		} else {
			l.wrapped = l.wr.wrap(l.wrapped[:0], ln, limit-2)
			for _, w := range l.wrapped {
				l.add(w)
			}
		}
		if !more {
			break
		}
		s = rest
	}
	l.blocks = append(l.blocks, block{first, len(l.lines) - first})
}

func (l *layout) add(s string) {
	w := Width(s)
	l.lines = append(l.lines, line{s, w})
	l.extra += max(len(s)-w, 0)
}

// vertical is the line between columns and at both ends.
const vertical = "│"

// draw returns the table as text: the top border, the header lines, the
// line under the header (when there are rows too), the rows' lines, the
// bottom border.
func (l *layout) draw() []byte {
	sum := 0
	for _, w := range l.width {
		sum += w
	}
	lines := 0
	for r := range l.rows {
		lines += l.height(r)
	}
	perLine := len(vertical)*(l.cols+1) + 1
	out := make([]byte, 0, 3*(perLine+len(rule)/16*sum)+lines*(perLine+sum)+l.extra)
	out = l.border(out, "┌", "┬", "┐")
	r := 0
	if l.header {
		for j := range l.height(0) {
			out = l.line(out, 0, j)
		}
		r = 1
		if l.rows > 1 {
			out = l.border(out, "├", "┼", "┤")
		}
	}
	for ; r < l.rows; r++ {
		for j := range l.height(r) {
			if j == 0 || !l.blank(r, j) {
				out = l.line(out, r, j)
			}
		}
	}
	return l.border(out, "└", "┴", "┘")
}

// height returns how many lines row r takes, blank ones included.
func (l *layout) height(r int) int {
	h := 0
	for _, b := range l.blocks[r*l.cols : (r+1)*l.cols] {
		h = max(h, b.n)
	}
	return h
}

// text returns line j of the cell of row r in column c, "" past its end.
func (l *layout) text(r, c, j int) line {
	b := l.blocks[r*l.cols+c]
	if j >= b.n {
		return line{}
	}
	return l.lines[b.first+j]
}

// blank reports whether line j of row r is white space in every cell.
func (l *layout) blank(r, j int) bool {
	for c := range l.cols {
		if strings.TrimSpace(l.text(r, c, j).s) != "" {
			return false
		}
	}
	return true
}

// line appends line j of row r.
func (l *layout) line(out []byte, r, j int) []byte {
	out = append(out, vertical...)
	for c, w := range l.width {
		t := l.text(r, c, j)
		out = append(out, ' ')
		out = append(out, t.s...)
		out = repeat(out, spaces, w-1-t.w)
		out = append(out, vertical...)
	}
	return append(out, '\n')
}

// border appends a horizontal line with the given corners and joints.
func (l *layout) border(out []byte, left, joint, right string) []byte {
	out = append(out, left...)
	for c, w := range l.width {
		if c > 0 {
			out = append(out, joint...)
		}
		out = repeat(out, rule, w)
	}
	out = append(out, right...)
	return append(out, '\n')
}

// Runs of 16 spaces and 16 horizontal lines, for repeat.
const (
	spaces = "                "
	rule   = "────────────────"
)

// repeat appends n of the 16 equal characters of run (spaces or rule).
func repeat(out []byte, run string, n int) []byte {
	size := len(run) / 16
	for ; n > 0; n -= 16 {
		out = append(out, run[:min(n, 16)*size]...)
	}
	return out
}
