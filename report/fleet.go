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
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/internal/display"
)

// namesShown is how many host names a line lists before "and N more".
const namesShown = 10

// fixLines are a finding's fix commands as the formats with room for a
// line each show them: "fix: HOST: ipckeys rekey PATH", for the hosts it
// is on (not suppressed there), at most namesShown hosts, then how many
// more hosts have some (-o text and -o json list every one).
func fixLines(f *fleet.Finding) []string {
	var lines []string
	hosts, more := 0, 0
	for _, on := range f.PerHost {
		if on.Suppressed != nil || len(on.Fixes) == 0 {
			continue
		}
		if hosts == namesShown {
			more++
			continue
		}
		hosts++
		for _, c := range on.Fixes {
			lines = append(lines, "fix: "+on.Host+": "+c)
		}
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("and fixes for %d more %s (-o text lists them)", more, plural(more, "host", "hosts")))
	}
	return lines
}

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
// MESSAGE, as scan's text with the host in front) with, under it, the
// host's fix commands (fix: HOST: ipckeys rekey PATH), the hosts that differ
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
			for _, c := range on.Fixes {
				fmt.Fprintf(bw, "fix: %s: %s\n", on.Host, c)
			}
		}
	}
	if !st.Quiet {
		for _, c := range v.Channels {
			for _, cl := range v.Cells(c) {
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
		n, total := c.MajorityOf(name)
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
		for _, l := range fixLines(f) {
			msg += "\n" + l
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
//
// The document is written a part at a time, the cells of one channel at a
// time: what it holds in memory is one channel's cells, whatever the size
// of the fleet. The bytes are WriteJSON's of the whole view.
func FleetJSON(w io.Writer, v *fleet.View) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// value writes x as it sits at depth (1: a field of the view).
	value := func(x any, depth int) error {
		buf.Reset()
		indent := strings.Repeat("  ", depth)
		enc.SetIndent(indent, "  ")
		if err := enc.Encode(x); err != nil {
			return err
		}
		_, err := bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return err
	}
	field := func(name string, x any, first bool) error {
		if !first {
			bw.WriteString(",\n")
		}
		bw.WriteString(`  "` + name + `": `)
		return value(x, 1)
	}
	bw.WriteString("{\n")
	for _, f := range []struct {
		name string
		x    any
	}{{"schema", v.Schema}, {"time", v.Time}, {"tool", v.Tool}, {"summary", v.Summary}, {"hosts", v.Hosts}} {
		if err := field(f.name, f.x, f.name == "schema"); err != nil {
			return err
		}
	}
	switch {
	case v.Channels == nil:
		if err := field("channels", v.Channels, false); err != nil {
			return err
		}
	case len(v.Channels) == 0:
		bw.WriteString(",\n  \"channels\": []")
	default:
		bw.WriteString(",\n  \"channels\": [\n")
		for i, c := range v.Channels {
			if i > 0 {
				bw.WriteString(",\n")
			}
			bw.WriteString("    ")
			one := *c
			one.Cells = v.Cells(c)
			if err := value(&one, 2); err != nil {
				return err
			}
		}
		bw.WriteString("\n  ]")
	}
	if err := field("findings", v.Findings, false); err != nil {
		return err
	}
	if len(v.Notes) > 0 {
		if err := field("notes", v.Notes, false); err != nil {
			return err
		}
	}
	if len(v.NoteList) > 0 {
		if err := field("note_list", v.NoteList, false); err != nil {
			return err
		}
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

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
				for _, c := range on.Fixes {
					text += "\nfix: " + c
				}
				c.Failures = append(c.Failures, junitFailure{Type: f.Code, Message: on.Message, Text: text})
			} else {
				c.SystemOut += fmt.Sprintf("%s: %s: %s\n", on.Severity, f.Code, on.Message)
			}
		}
		for _, ch := range v.Channels {
			if cl := v.Cell(h, ch); cl != nil {
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
