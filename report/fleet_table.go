package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/ipckeys/ipckeys/fleet"
)

// FleetTable writes the fleet for people, as wide as its content: the
// findings with the hosts they are on, each channel's majority values and
// the hosts that deviate from them (their values marked *), the hosts
// that fail, differ or could not be checked, then the summary.
func FleetTable(w io.Writer, v *fleet.View, st Style) error { return FleetTableWidth(w, v, st, 0) }

// FleetTableWidth is FleetTable fitted to a terminal of width columns (0:
// no limit): the columns share the width, host names are never broken
// across lines, a column of little use (the report's time) is left out
// when the rest does not fit otherwise, and a section that cannot fit as
// a table is written as blocks, a line per field.
func FleetTableWidth(w io.Writer, v *fleet.View, st Style, width int) error {
	ft := fleetTable{w: w, width: width, names: map[string]bool{}}
	for _, h := range v.Hosts {
		ft.names[h.Name] = true
	}
	findings := st.shownFleet(v)
	if len(findings) > 0 {
		s := section{cols: []column{{header: "SEVERITY"}, {header: "CODE"}, {header: "CONCERNS", limit: 28}, {header: "HOSTS", limit: 28}, {header: "MESSAGE", limit: 58}}}
		for _, f := range findings {
			msg := ""
			for _, on := range f.PerHost {
				if on.Suppressed == nil {
					msg = on.Host + ": " + on.Message
					break
				}
			}
			if fixes := fixLines(f); len(fixes) > 0 {
				msg += "\n" + strings.Join(fixes, "\n")
			}
			s.rows = append(s.rows, []string{st.paint(f.Rank()), f.Code, strings.Join(f.Concerns, ", "), f.HostsPhrase(len(v.Hosts), namesShown), msg})
		}
		if err := ft.render(s); err != nil {
			return err
		}
	}
	if !st.Quiet && len(v.Channels) > 0 {
		if len(findings) > 0 {
			fmt.Fprintln(w)
		}
		s, marked := channelSection(v)
		if err := ft.render(s); err != nil {
			return err
		}
		if marked {
			fmt.Fprintln(w, "* differs from the majority of the hosts")
		}
	}
	fmt.Fprintln(w)
	if err := ft.render(hostSection(v, st)); err != nil {
		return err
	}
	if st.Quiet {
		return nil
	}
	for _, n := range v.Notes {
		fmt.Fprintln(w, ft.wrapped("note: "+n, "  "))
	}
	_, err := fmt.Fprintln(w, ft.wrapped(FleetSummaryLine(v), "  "))
	return err
}

// deviatorsShown is how many hosts that deviate a channel lists.
const deviatorsShown = 20

// channelSection is a row per channel with the values most hosts have
// ("varies" where no value is held by more than half), and a row per host
// that deviates, with its values, those that differ marked *.
func channelSection(v *fleet.View) (section, bool) {
	s := section{cols: []column{{header: "CHANNEL", limit: 38}, {header: "HOSTS", limit: 38}, {header: "KEY"}, {header: "DEV"}, {header: "FS"}, {header: "LIVE", limit: 38}}}
	byName := map[string]*fleet.Host{}
	checked := 0
	for _, h := range v.Hosts {
		byName[h.Name] = h
		if h.Checked {
			checked++
		}
	}
	marked := false
	for _, c := range v.Channels {
		hosts := fmt.Sprintf("all %d", checked)
		if n := len(c.Differing); n > 0 {
			hosts = fmt.Sprintf("most: %d of %d", checked-n, checked)
		}
		row := []string{c.Name, hosts} // the header says CHANNEL (or a path)
		for _, name := range []string{"key", "dev", "fs_type", "live"} {
			val, ok := c.Majority[name]
			switch {
			case c.Majority["present"] == "false":
				val = "(absent)"
				if name != "key" {
					val = ""
				}
			case !ok:
				val = "varies"
			default:
				val = dashed(val)
			}
			row = append(row, val)
		}
		s.rows = append(s.rows, row)
		for i, host := range c.Differing {
			if i == deviatorsShown {
				s.rows = append(s.rows, []string{"", fmt.Sprintf("and %d more (-o text lists them)", len(c.Differing)-i), "", "", "", ""})
				break
			}
			cl := v.Cell(byName[host], c)
			row := []string{"", host}
			for _, name := range []string{"key", "dev", "fs_type", "live"} {
				val := dashed(fleet.Field(cl, name))
				if !cl.Present {
					val = "(absent)"
					if name != "key" {
						val = ""
					}
				}
				if name == "key" && cl.Error != "" {
					val += " (unusable: " + cl.Error + ")"
				}
				if differs(cl, name) || (name == "key" && (differs(cl, "present") || differs(cl, "error"))) {
					val += " *"
					marked = true
				}
				row = append(row, val)
			}
			s.rows = append(s.rows, row)
		}
	}
	return s, marked
}

func differs(c *fleet.Cell, name string) bool {
	for _, d := range c.Differs {
		if d == name {
			return true
		}
	}
	return false
}

// hostSection lists the hosts people need to look at: failing, with
// findings, differing, not checked. The others share one row, counted.
func hostSection(v *fleet.View, st Style) section {
	s := section{cols: []column{{header: "HOST", limit: 38}, {header: "STATUS"}, {header: "FINDINGS"}, {header: "REPORT", limit: 38, optional: true}, {header: "NOTE", limit: 58}}}
	differing := map[string]bool{}
	for _, c := range v.Channels {
		for _, h := range c.Differing {
			differing[h] = true
		}
	}
	quiet := 0
	for _, h := range v.Hosts {
		if !h.Checked {
			s.rows = append(s.rows, []string{h.Name, "not checked", "-", dashed(h.Source), h.Reason})
			continue
		}
		if h.Errors+h.Warnings+h.Info == 0 && !differing[h.Name] && !h.Failing {
			quiet++
			continue
		}
		if st.Quiet && !h.Failing {
			continue
		}
		status := "pass"
		if h.Failing {
			status = "FAIL"
		}
		var note []string
		if differing[h.Name] {
			note = append(note, "differs from the majority")
		}
		if !h.LiveChecked {
			note = append(note, "live: not checked")
		}
		s.rows = append(s.rows, []string{h.Name, status, hostCounts(h), reportWhen(h), dashed(strings.Join(note, "; "))})
	}
	if quiet > 0 && !st.Quiet {
		s.rows = append(s.rows, []string{fmt.Sprintf("%d other %s", quiet, plural(quiet, "host", "hosts")), "pass", "-", "-", "no findings, no differences from the majority"})
	}
	return s
}

// section is a table before it is laid out.
type section struct {
	cols []column
	rows [][]string
}

// column is a column of a section.
type column struct {
	header string
	// limit is the most a line of it holds when the width is not limited
	// (0: as long as its longest value).
	limit    int
	optional bool // left out when the table does not fit otherwise
}

// fleetTable lays out the sections of FleetTableWidth.
type fleetTable struct {
	w     io.Writer
	width int             // of the terminal; 0: no limit
	names map[string]bool // the host names, never broken
}

// tableFrame is what the table's borders take: a column takes 3
// characters besides its text ("│ " and " "), the table one more.
func tableFrame(cols int) int { return 3*cols + 1 }

// minWidth is the least a column can be: its header, and its longest host
// name (with the punctuation around it in the text).
func (ft *fleetTable) minWidth(header string, values []string) int {
	n := textWidth(header)
	for _, v := range values {
		for _, word := range strings.Fields(v) {
			if ft.names[strings.Trim(word, ",:;()")] {
				n = max(n, textWidth(word))
			}
		}
	}
	return n
}

// render writes a section as a table fitted to the width, or as blocks.
// Optional columns are left out when the table is not whole at its
// widest.
func (ft *fleetTable) render(s section) error {
	keep := make([]bool, len(s.cols))
	for i := range keep {
		keep[i] = true
	}
	widths, whole := ft.fit(s, keep)
	if !whole {
		for i, c := range s.cols {
			keep[i] = !c.optional
		}
		widths, _ = ft.fit(s, keep)
	}
	if widths == nil {
		return ft.blocks(s)
	}
	var header []string
	for i, c := range s.cols {
		if keep[i] {
			header = append(header, c.header)
		}
	}
	t := newTable(ft.w, header...)
	for _, r := range s.rows {
		var row []string
		for i, cell := range r {
			if keep[i] {
				row = append(row, wrap(clip(cell), widths[i]))
			}
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	return t.Render()
}

// fit returns the width of each kept column, or nil when they cannot fit,
// and whether each column has the width it wants. Each column gets what
// it needs (its header, its longest host name, up to 8), and the room
// left is shared as water fills: a column that wants less than an even
// share more gets it, the others share the rest evenly.
func (ft *fleetTable) fit(s section, keep []bool) ([]int, bool) {
	want := make([]int, len(s.cols))
	least := make([]int, len(s.cols))
	var open []int
	total, need := 0, 0
	for i, c := range s.cols {
		if !keep[i] {
			continue
		}
		open = append(open, i)
		var values []string
		want[i] = textWidth(c.header)
		for _, r := range s.rows {
			values = append(values, r[i])
			want[i] = max(want[i], textWidth(clip(r[i])))
		}
		if c.limit > 0 && ft.width == 0 {
			want[i] = min(want[i], max(c.limit, ft.minWidth(c.header, values)))
		}
		least[i] = min(want[i], max(ft.minWidth(c.header, values), 8))
		total += want[i]
		need += least[i]
	}
	room := ft.width - tableFrame(len(open))
	switch {
	case ft.width == 0 || total <= room:
		return want, true
	case need > room:
		return nil, false
	}
	// Each column gets what it needs, and the room left fills what they
	// want more, the least wanting first.
	out := append([]int(nil), least...)
	left := room - need
	for len(open) > 0 {
		share := left / len(open)
		var rest []int
		for _, i := range open {
			if more := want[i] - least[i]; more <= share {
				out[i] += more
				left -= more
			} else {
				rest = append(rest, i)
			}
		}
		if len(rest) == len(open) {
			for k, i := range open {
				out[i] += share
				if k < left%len(open) {
					out[i]++
				}
			}
			break
		}
		open = rest
	}
	return out, false
}

// blocks writes a section a row at a time: its first cell, then a line
// per other field, wrapped to the width.
func (ft *fleetTable) blocks(s section) error {
	for _, r := range s.rows {
		var b strings.Builder
		b.WriteString(ft.wrapped(strings.Join(strings.Fields(r[0]+" "+strings.Join(r[1:min(2, len(r))], " ")), " "), "  "))
		b.WriteByte('\n')
		for i := 2; i < len(r); i++ {
			if r[i] == "" || r[i] == "-" {
				continue
			}
			b.WriteString(ft.wrapped("  "+strings.ToLower(s.cols[i].header)+": "+clip(r[i]), "      "))
			b.WriteByte('\n')
		}
		if _, err := io.WriteString(ft.w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// wrapped is a line of text wrapped to the width, continuation lines
// indented (indent is at least as long as the line's own leading spaces);
// as it is without a width.
func (ft *fleetTable) wrapped(s, indent string) string {
	if ft.width == 0 {
		return s
	}
	text := strings.TrimLeft(s, " ")
	lines := strings.Split(wrap(text, max(ft.width-len(indent), 20)), "\n")
	lines[0] = s[:len(s)-len(text)] + lines[0]
	for i := 1; i < len(lines); i++ {
		lines[i] = indent + lines[i]
	}
	return strings.Join(lines, "\n")
}

// textWidth is the columns a string without control characters takes:
// its characters, East Asian wide ones counting two.
func textWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if wide(r) {
			n++
		}
	}
	return n
}

// wide tells the East Asian wide and full-width characters (the ranges
// of Unicode's EastAsianWidth W and F that terminals draw two columns
// wide).
func wide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
		(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) || (r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe6f) || (r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) || (r >= 0x1f300 && r <= 0x1f64f) || (r >= 0x1f900 && r <= 0x1f9ff) ||
		(r >= 0x20000 && r <= 0x3fffd))
}
