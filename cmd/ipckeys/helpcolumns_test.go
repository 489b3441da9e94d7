package main

import (
	"strings"
	"testing"
)

// flagColumns returns, for each line of a usage's flag lists, the column
// its description starts in: after the flag's names and value on a flag
// line, the indentation of a continuation line. A flag line without a
// description (a long one, continued below) gives none.
func flagColumns(usage string) (lines []string, cols []int) {
	inList := false
	for _, l := range strings.Split(usage, "\n") {
		t := strings.TrimLeft(l, " ")
		indent := len(l) - len(t)
		switch {
		case t == "":
			inList = false
		case indent > 0 && indent <= 6 && strings.HasPrefix(t, "-"):
			inList = true
			// The description follows the first run of two spaces.
			if i := strings.Index(l[indent:], "  "); i >= 0 {
				rest := l[indent+i:]
				lines = append(lines, l)
				cols = append(cols, indent+i+len(rest)-len(strings.TrimLeft(rest, " ")))
			}
		case inList && indent > 6:
			lines = append(lines, l)
			cols = append(cols, indent)
		default:
			inList = false
		}
	}
	return lines, cols
}

// In every command's help the flag descriptions, and the lines that
// continue them, start in one column.
func TestHelpFlagColumnsAligned(t *testing.T) {
	for _, c := range commands {
		lines, cols := flagColumns(c.usage)
		if len(lines) == 0 && flagsOf(c) != nil && flagsOf(c).HasFlags() {
			t.Errorf("%s --help: no flag list found", c.name)
		}
		for i := range lines {
			if cols[i] != cols[0] {
				t.Errorf("%s --help: the description in %q starts at column %d, the first flag's at %d", c.name, lines[i], cols[i], cols[0])
			}
		}
	}
}

func TestFlagColumns(t *testing.T) {
	usage := "Flags:\n  -p, --proj PROJ    proj id\n                     more\n      --long-flag-name VALUE\n                     text\n\nNot a flag\n"
	lines, cols := flagColumns(usage)
	if len(lines) != 3 || cols[0] != 21 || cols[1] != 21 || cols[2] != 21 {
		t.Fatalf("got %q %v", lines, cols)
	}
	_, cols = flagColumns("Flags:\n  -p, --proj PROJ    proj id\n      --base DIR      shifted\n")
	if len(cols) != 2 || cols[1] != 22 {
		t.Fatalf("a shifted column is not seen: %v", cols)
	}
}
