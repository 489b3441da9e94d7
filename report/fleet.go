package report

// The fleet formats render a fleet.View: many hosts' scans merged. They
// live here, beside the scan formats, because they are the same formats
// (SARIF, JUnit, GitHub annotations, tables) held to the same outside
// definitions, and share their rules, escaping and schema types. Every
// string of a View that fleet.Merge built is already quoted by the display
// rule; what the formats add is their own escaping, and the care for data
// that begins a line.

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/internal/display"
)

// namesShown is how many host names a line lists before "and N more".
const namesShown = 10

// fieldNames are the compared fields as people read them.
var fieldNames = map[string]string{"present": "present", "key": "key", "dev": "dev", "fs_type": "fs", "live": "live", "error": "error"}

// FleetSummaryLine is the last line of a human-readable fleet view.
func FleetSummaryLine(v *fleet.View) string {
	s := v.Summary
	verdict := "pass"
	if s.Failed {
		verdict = "FAIL"
	}
	var parts []string
	failing := v.HostNames(func(h *fleet.Host) bool { return h.Checked && h.Failing })
	p := fmt.Sprintf("%d failing", s.Failing)
	if s.Failing > 0 {
		p += " (" + fleet.Names(failing, namesShown) + ")"
	}
	parts = append(parts, p, fmt.Sprintf("%d passing", s.Passing))
	if s.Unchecked > 0 {
		parts = append(parts, fmt.Sprintf("%d not checked (%s)", s.Unchecked, fleet.Names(v.HostNames(func(h *fleet.Host) bool { return !h.Checked }), namesShown)))
	}
	allow := ""
	if s.AllowUnchecked {
		allow = ", --allow-unchecked"
	}
	return fmt.Sprintf("%s: %d %s: %s; %d %s, %d %s, %d info (--fail-on %s%s)",
		verdict, s.Hosts, plural(s.Hosts, "host", "hosts"), strings.Join(parts, ", "),
		s.Errors, plural(s.Errors, "error", "errors"), s.Warnings, plural(s.Warnings, "warning", "warnings"), s.Info, s.FailOn, allow)
}

// FleetHeadline says where a finding is, for people:
// "error key-collision: channel orders, channel audit: on 1 of 10 checked hosts: host07".
func FleetHeadline(v *fleet.View, f *fleet.Finding, limit int) string {
	return fmt.Sprintf("%s %s: %s: %s", f.Severity, f.Code, strings.Join(f.Concerns, ", "), f.HostsPhrase(len(v.Hosts), limit))
}

// shownFleet returns the findings the human formats print: not those
// suppressed on every host, and with Quiet only errors.
func (st Style) shownFleet(v *fleet.View) []*fleet.Finding {
	var out []*fleet.Finding
	for _, f := range v.Findings {
		if len(f.Hosts) > 0 && (!st.Quiet || f.Rank() == audit.Error) {
			out = append(out, f)
		}
	}
	return out
}

// location is where a merged finding points, as text: "app.manifest:2".
func location(f *fleet.Finding) string {
	switch {
	case f.File != "" && f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	case f.File != "":
		return f.File
	}
	return "-"
}

// FleetText writes the fleet for grep and logs: per finding a headline
// (finding: SEVERITY CODE: CONCERNS: on N of M hosts: HOSTS) and one line
// per host it is on (HOST: LOCATION: SEVERITY: CODE KEY:
// MESSAGE, as scan's text with the host in front), the hosts that differ
// from the majority per channel, the hosts not checked, notes, and the
// summary. A host name that begins a line is quoted when it begins with a
// colon, so that no line is a CI runner's command.
func FleetText(w io.Writer, v *fleet.View, st Style) error {
	bw := bufio.NewWriter(w)
	for _, f := range st.shownFleet(v) {
		fmt.Fprintf(bw, "finding: %s %s: %s: %s\n", st.paint(f.Rank()), f.Code, strings.Join(f.Concerns, ", "), f.HostsPhrase(len(v.Hosts), namesShown))
		for _, on := range f.PerHost {
			if on.Suppressed != nil {
				continue
			}
			key := ""
			if on.Key != "" {
				key = " " + on.Key
			}
			fmt.Fprintf(bw, "%s: %s: %s: %s%s: %s\n", display.LineStart(on.Host), location(f), st.paint(fleet.Severity(on.Severity)), f.Code, key, on.Message)
		}
	}
	if !st.Quiet {
		for _, c := range v.Channels {
			for _, cl := range c.Cells {
				if len(cl.Differs) > 0 {
					fmt.Fprintf(bw, "differs: %s: %s: %s\n", channelLabel(c), cl.Host, differences(v, c, cl))
				}
			}
		}
	}
	for _, h := range v.Unchecked() {
		fmt.Fprintf(bw, "not checked: %s: %s\n", h.Name, h.Reason)
	}
	if !st.Quiet {
		for _, n := range v.Notes {
			fmt.Fprintln(bw, "note: "+n)
		}
		fmt.Fprintln(bw, FleetSummaryLine(v))
	}
	return bw.Flush()
}

func channelLabel(c *fleet.Channel) string {
	if c.Kind == "path" {
		return c.Name
	}
	return "channel " + c.Name
}

// differences words how a cell differs from the channel's majority:
// "key 0x6c014001 (9 of 10 hosts: 0x6c014002)".
func differences(v *fleet.View, c *fleet.Channel, cl *fleet.Cell) string {
	var parts []string
	for _, name := range cl.Differs {
		major := c.Majority[name]
		n := 0
		for _, o := range c.Cells {
			if (name == "present" || o.Present) && fleet.Field(o, name) == major {
				n++
			}
		}
		total := 0
		for _, o := range c.Cells {
			if name == "present" || o.Present {
				total++
			}
		}
		if name == "present" {
			if cl.Present {
				parts = append(parts, fmt.Sprintf("has it (%d of %d hosts do not)", n, total))
			} else {
				parts = append(parts, fmt.Sprintf("does not have it (%d of %d hosts do)", n, total))
			}
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s (%d of %d hosts: %s)", fieldNames[name], dashed(fleet.Field(cl, name)), n, total, dashed(major)))
	}
	return strings.Join(parts, "; ")
}

func dashed(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// FleetTable writes the fleet for people: the findings with the hosts
// they are on, each channel's values grouped by the hosts that share
// them (values differing from the majority marked *), and the hosts that
// fail, differ or could not be checked, then the summary.
func FleetTable(w io.Writer, v *fleet.View, st Style) error {
	findings := st.shownFleet(v)
	if len(findings) > 0 {
		t := newTable(w, "SEVERITY", "CODE", "CONCERNS", "HOSTS", "MESSAGE")
		for _, f := range findings {
			msg := ""
			for _, on := range f.PerHost {
				if on.Suppressed == nil {
					msg = on.Host + ": " + on.Message
					break
				}
			}
			if err := t.Append([]string{st.paint(f.Rank()), f.Code, tableCell(strings.Join(f.Concerns, ", "), 28),
				tableCell(f.HostsPhrase(len(v.Hosts), namesShown), 28), tableCell(msg, 58)}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if !st.Quiet && len(v.Channels) > 0 {
		if len(findings) > 0 {
			fmt.Fprintln(w)
		}
		t := newTable(w, "CHANNEL", "HOSTS", "KEY", "DEV", "FS", "LIVE")
		marked := false
		for _, c := range v.Channels {
			for _, g := range groups(c) {
				row := []string{tableCell(channelLabel(c), 38), tableCell(fleet.Names(g.hosts, namesShown), 38)}
				for _, name := range []string{"key", "dev", "fs_type", "live"} {
					val := dashed(fleet.Field(g.cell, name))
					if !g.cell.Present {
						val = "(absent)"
						if name != "key" {
							val = ""
						}
					}
					if name == "key" && g.cell.Error != "" {
						val += " (unusable: " + g.cell.Error + ")"
					}
					if differs(g.cell, name) || (name == "key" && (differs(g.cell, "present") || differs(g.cell, "error"))) {
						val += " *"
						marked = true
					}
					row = append(row, clip(val))
				}
				if err := t.Append(row); err != nil {
					return err
				}
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		if marked {
			fmt.Fprintln(w, "* differs from the majority of the hosts")
		}
	}
	if err := hostTable(w, v, st); err != nil {
		return err
	}
	if st.Quiet {
		return nil
	}
	for _, n := range v.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	_, err := fmt.Fprintln(w, FleetSummaryLine(v))
	return err
}

// maxCell is how many characters of a string a fleet table cell shows:
// a host's report can carry a message of megabytes, which as a table is
// of no use to anyone and takes the table seconds to lay out.
const maxCell = 4096

// clip cuts s after maxCell characters, saying so.
func clip(s string) string {
	n, i := 0, 0
	for i < len(s) && n < maxCell {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	if i == len(s) {
		return s
	}
	return fmt.Sprintf("%s… (cut: %d more bytes; -o text or -o json has all of it)", s[:i], len(s)-i)
}

// tableCell is s clipped and wrapped for a fleet table column of width.
func tableCell(s string, width int) string { return wrap(clip(s), width) }

// wrap word-wraps s into lines of at most width characters, breaking
// words longer than that (paths, mostly): the table prints the lines as
// they are, rather than cutting off what does not fit. Its time is linear
// in the length of s: a host's report can carry a message of megabytes.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0           // characters on the current line
	started := false // the current line has a word
	newline := func() {
		b.WriteByte('\n')
		n, started = 0, false
	}
	for _, w := range strings.Fields(s) {
		wn := utf8.RuneCountInString(w)
		for wn > width {
			if started {
				newline()
			}
			cut := 0
			for range width {
				_, size := utf8.DecodeRuneInString(w[cut:])
				cut += size
			}
			b.WriteString(w[:cut])
			w, wn = w[cut:], wn-width
			n, started = width, true
		}
		switch {
		case wn == 0:
		case !started:
			b.WriteString(w)
			n, started = wn, true
		case n+1+wn <= width:
			b.WriteByte(' ')
			b.WriteString(w)
			n += 1 + wn
		default:
			newline()
			b.WriteString(w)
			n, started = wn, true
		}
	}
	return b.String()
}

func differs(c *fleet.Cell, name string) bool {
	for _, d := range c.Differs {
		if d == name {
			return true
		}
	}
	return false
}

// group is the hosts on which a channel has the same values.
type group struct {
	cell  *fleet.Cell
	hosts []string
}

// groups groups a channel's cells by their compared values, the largest
// group first.
func groups(c *fleet.Channel) []group {
	var out []group
	index := map[string]int{}
	for _, cl := range c.Cells {
		var k []string
		for _, name := range fleet.Compared {
			k = append(k, fleet.Field(cl, name))
		}
		k = append(k, strings.Join(cl.Differs, ","))
		id := strings.Join(k, "\x00")
		if i, ok := index[id]; ok {
			out[i].hosts = append(out[i].hosts, cl.Host)
			continue
		}
		index[id] = len(out)
		out = append(out, group{cell: cl, hosts: []string{cl.Host}})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].hosts) > len(out[j].hosts) })
	return out
}

// hostTable lists the hosts people need to look at: failing, with
// findings, differing, not checked. The others share one row.
func hostTable(w io.Writer, v *fleet.View, st Style) error {
	differing := map[string]bool{}
	for _, c := range v.Channels {
		for _, h := range c.Differing {
			differing[h] = true
		}
	}
	fmt.Fprintln(w)
	t := newTable(w, "HOST", "STATUS", "FINDINGS", "REPORT", "NOTE")
	var quiet []string
	for _, h := range v.Hosts {
		if !h.Checked {
			if err := t.Append([]string{tableCell(h.Name, 38), "not checked", "-", tableCell(dashed(h.Source), 38), tableCell(h.Reason, 58)}); err != nil {
				return err
			}
			continue
		}
		if h.Errors+h.Warnings+h.Info == 0 && !differing[h.Name] && !h.Failing {
			quiet = append(quiet, h.Name)
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
		if err := t.Append([]string{tableCell(h.Name, 38), status, hostCounts(h), reportWhen(h), tableCell(dashed(strings.Join(note, "; ")), 58)}); err != nil {
			return err
		}
	}
	if len(quiet) > 0 && !st.Quiet {
		if err := t.Append([]string{tableCell(fleet.Names(quiet, namesShown), 38), "pass", "-", "-", fmt.Sprintf("%d %s with no findings", len(quiet), plural(len(quiet), "host", "hosts"))}); err != nil {
			return err
		}
	}
	return t.Render()
}

func hostCounts(h *fleet.Host) string {
	var parts []string
	if h.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", h.Errors, plural(h.Errors, "error", "errors")))
	}
	if h.Warnings > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", h.Warnings, plural(h.Warnings, "warning", "warnings")))
	}
	if h.Info > 0 {
		parts = append(parts, fmt.Sprintf("%d info", h.Info))
	}
	if h.Suppressed > 0 {
		parts = append(parts, fmt.Sprintf("%d suppressed", h.Suppressed))
	}
	return dashed(strings.Join(parts, ", "))
}

func reportWhen(h *fleet.Host) string {
	s := dashed(h.ReportTime)
	if h.Hostname != "" && h.Hostname != h.Name {
		s += " (" + h.Hostname + ")"
	}
	return s
}

// FleetGitHub writes one workflow command per merged finding, at its
// manifest or config line, saying on which hosts it is and what the first
// of them reported, and one per host not checked (an error, or a warning
// with --allow-unchecked).
func FleetGitHub(w io.Writer, v *fleet.View) error {
	bw := bufio.NewWriter(w)
	for _, f := range v.Findings {
		if len(f.Hosts) == 0 {
			continue
		}
		cmd := map[audit.Severity]string{audit.Error: "error", audit.Warning: "warning", audit.Info: "notice"}[f.Rank()]
		var props []string
		if f.File != "" {
			props = append(props, "file="+ghProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
		}
		props = append(props, "title="+ghProperty(fmt.Sprintf("ipckeys %s on %d of %d hosts", f.Code, len(f.Hosts), f.Of)))
		msg := strings.Join(f.Concerns, ", ") + ": " + f.HostsPhrase(len(v.Hosts), namesShown)
		for _, on := range f.PerHost {
			if on.Suppressed == nil {
				msg += ". " + on.Host + ": " + on.Message
				break
			}
		}
		fmt.Fprintf(bw, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(msg))
	}
	cmd := "error"
	if v.Summary.AllowUnchecked {
		cmd = "warning"
	}
	for _, h := range v.Unchecked() {
		fmt.Fprintf(bw, "::%s title=%s::%s\n", cmd, ghProperty("ipckeys host not checked: "+h.Name), ghData(h.Name+": "+h.Reason))
	}
	return bw.Flush()
}

// FleetJSON writes the fleet view as the versioned JSON document
// (ipckeys/fleet/v1).
func FleetJSON(w io.Writer, v *fleet.View) error { return WriteJSON(w, v) }

// FleetJUnit writes one test suite per host: a test case per channel,
// with a failure per error finding concerning it there (warnings and info
// in its output) and skipped where the host's report lacks the channel;
// findings about live objects or ignore file lines get a test case of
// their own. A host not checked is one test case with an error.
func FleetJUnit(w io.Writer, v *fleet.View) error {
	doc := junitSuites{Name: "ipckeys fleet"}
	findings := map[string]*fleet.Finding{}
	for _, f := range v.Findings {
		findings[f.ID] = f
	}
	for _, h := range v.Hosts {
		suite := junitSuite{Name: h.Name, Timestamp: junitTime(h.ReportTime)}
		if !h.Checked {
			suite.Cases = []junitCase{{Name: "scan", ClassName: h.Name,
				Errors: []junitFailure{{Type: "not-checked", Message: h.Reason, Text: h.Name + ": " + h.Reason}}}}
			suite.Tests, suite.Errors = 1, 1
			doc.Suites = append(doc.Suites, suite)
			doc.Tests++
			doc.Errors++
			continue
		}
		var cases []*junitCase
		byName := map[string]*junitCase{}
		caseFor := func(name string) *junitCase {
			if c := byName[name]; c != nil {
				return c
			}
			c := &junitCase{Name: name, ClassName: h.Name}
			byName[name] = c
			cases = append(cases, c)
			return c
		}
		add := func(c *junitCase, f *fleet.Finding, on fleet.OnHost) {
			if on.Severity == "error" {
				text := on.Message
				if on.Key != "" {
					text = "key " + on.Key + ": " + text
				}
				c.Failures = append(c.Failures, junitFailure{Type: f.Code, Message: on.Message, Text: text})
			} else {
				c.SystemOut += fmt.Sprintf("%s: %s: %s\n", on.Severity, f.Code, on.Message)
			}
		}
		for _, ch := range v.Channels {
			for _, cl := range ch.Cells {
				if cl.Host != h.Name {
					continue
				}
				c := caseFor(channelLabel(ch))
				if !cl.Present {
					c.Skipped = &junitSkipped{Message: "not in this host's report"}
				}
				for _, id := range cl.Findings {
					f := findings[id]
					for _, on := range f.PerHost {
						if on.Host == h.Name && on.Suppressed == nil {
							add(c, f, on)
						}
					}
				}
			}
		}
		for _, f := range v.Findings {
			if len(f.Channels) > 0 {
				continue
			}
			for _, on := range f.PerHost {
				if on.Host == h.Name && on.Suppressed == nil {
					add(caseFor(strings.Join(f.Concerns, ", ")), f, on)
				}
			}
		}
		for _, c := range cases {
			c.SystemOut = strings.TrimSuffix(c.SystemOut, "\n")
			suite.Cases = append(suite.Cases, *c)
			suite.Tests++
			if len(c.Failures) > 0 {
				suite.Failures++
			}
			if c.Skipped != nil {
				suite.Skipped++
			}
		}
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Suites = append(doc.Suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitTime writes an RFC 3339 time as JUnit's timestamp (no zone).
func junitTime(rfc3339 string) string {
	if len(rfc3339) >= 19 {
		return rfc3339[:19]
	}
	return ""
}
