package report_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/report"
)

// TestFleetTableFitsTerminal: a fleet of 300 hosts in an 80-column
// terminal: no line is wider than the terminal, no host name is broken
// across lines, a channel has a row for its majority and a row per host
// that deviates, and the passing hosts are counted, not listed.
func TestFleetTableFitsTerminal(t *testing.T) {
	v := largeFleet(t, 300)
	names := map[string]bool{}
	for _, h := range v.Hosts {
		names[h.Name] = true
	}
	deviating, notable := 0, map[string]bool{}
	for _, c := range v.Channels {
		deviating += len(c.Differing)
		for _, h := range c.Differing {
			notable[h] = true
		}
	}
	for _, f := range v.Findings {
		for _, h := range f.Hosts {
			notable[h] = true
		}
	}
	quiet := fmt.Sprintf("%d other hosts", v.Summary.Checked-len(notable))
	for _, width := range []int{80, 100, 132, 200} {
		var b bytes.Buffer
		if err := report.FleetTableWidth(&b, v, report.Style{}, width); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for i, line := range lines {
			if n := displayWidth(line); n > width {
				t.Errorf("width %d: line %d is %d columns: %q", width, i+1, n, line)
			}
			for _, word := range strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(" │,:;()", r) }) {
				if strings.HasPrefix(word, "db-") && !names[word] {
					t.Errorf("width %d: line %d breaks a host name (%q): %q", width, i+1, word, line)
				}
			}
		}
		deviators := 0
		for _, line := range lines {
			if strings.Contains(line, "0x6c01") && strings.Contains(line, " *") && strings.Contains(line, "db-") {
				deviators++
			}
		}
		if deviators != deviating || deviating != 14 {
			t.Errorf("width %d: %d rows of deviating hosts, want %d (14):\n%s", width, deviators, deviating, out)
		}
		if !strings.Contains(out, quiet) || strings.Count(out, "db-0002.eu-west.example.net") != 0 {
			t.Errorf("width %d: the passing hosts are not counted apart:\n%s", width, out)
		}
		if len(lines) > 400 {
			t.Errorf("width %d: %d lines", width, len(lines))
		}
		if width == 80 {
			t.Logf("80 columns, %d lines:\n%s", len(lines), out)
		}
	}
}

// displayWidth is the columns a line takes in a terminal: East Asian wide
// characters two, the others (box drawing too) one.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x1100 && (r <= 0x115f || (r >= 0x2e80 && r <= 0xa4cf) || (r >= 0xac00 && r <= 0xd7a3) || (r >= 0xf900 && r <= 0xfaff) || (r >= 0xff00 && r <= 0xff60) || (r >= 0x20000 && r <= 0x3fffd)) {
			n++
		}
	}
	return n
}
