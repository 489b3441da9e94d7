package manpage

import (
	"regexp"
	"strings"
	"sync"
)

// Kind is what a block of help text is.
type Kind int

const (
	// Paragraph is running text: Lines, filled when typeset.
	Paragraph Kind = iota
	// Synopsis is a command's usage lines, without "Usage: ".
	Synopsis
	// Literal is text kept line for line (examples, file layouts), its
	// common indentation removed.
	Literal
	// List is a bulleted list: Items with Text only.
	List
	// Definitions is a list of terms and their descriptions: flags, codes.
	Definitions
)

// Block is one part of a help text.
type Block struct {
	Kind  Kind
	Lines []string
	Items []Item
}

// Item is one entry of a List or Definitions block.
type Item struct {
	// Term is the defined term as written ("-p, --proj PROJ",
	// "key-collision (error)"); empty in a List.
	Term string
	// Flags and Value are set when the term is a flag: its names as
	// written ("-p", "--proj") and the name of its value ("PROJ"), if any.
	Flags []string
	Value string
	// Text is the description, its lines joined by single spaces.
	Text string
}

// Parse reads help text into blocks (see the package documentation for
// the layout).
func Parse(text string) []Block {
	lines := strings.Split(strings.ReplaceAll(text, "\t", "        "), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	var blocks []Block
	for i := 0; i < len(lines); {
		line := lines[i]
		switch {
		case line == "":
			i++
		case strings.HasPrefix(line, "Usage: "):
			b := Block{Kind: Synopsis, Lines: []string{strings.TrimSpace(strings.TrimPrefix(line, "Usage: "))}}
			for i++; i < len(lines) && indent(lines[i]) > 0; i++ {
				b.Lines = append(b.Lines, strings.TrimSpace(lines[i]))
			}
			blocks = append(blocks, b)
		case indent(line) == 0:
			b := Block{Kind: Paragraph}
			for ; i < len(lines) && lines[i] != "" && indent(lines[i]) == 0; i++ {
				b.Lines = append(b.Lines, lines[i])
			}
			blocks = append(blocks, b)
		default:
			var run []string
			for ; i < len(lines) && lines[i] != "" && indent(lines[i]) > 0; i++ {
				run = append(run, lines[i])
			}
			blocks = append(blocks, parseRun(run))
		}
	}
	return blocks
}

// parseRun reads an indented run of lines: a list, definitions or
// literal text.
func parseRun(run []string) Block {
	base := indent(run[0])
	first := strings.TrimSpace(run[0])
	deeper := false
	for _, l := range run[1:] {
		if indent(l) >= base+4 {
			deeper = true
		}
	}
	switch {
	case strings.HasPrefix(first, "- "):
		b := Block{Kind: List}
		for _, l := range run {
			t := strings.TrimSpace(l)
			if indent(l) == base && strings.HasPrefix(t, "- ") {
				b.Items = append(b.Items, Item{Text: strings.TrimSpace(t[2:])})
				continue
			}
			last := &b.Items[len(b.Items)-1]
			last.Text += " " + t
		}
		return b
	case isFlag(first) || deeper:
		b := Block{Kind: Definitions}
		for _, l := range run {
			t := strings.TrimSpace(l)
			in := indent(l)
			if len(b.Items) == 0 || in < base+4 || (in == base+4 && isFlag(t)) {
				b.Items = append(b.Items, splitTerm(t))
				continue
			}
			last := &b.Items[len(b.Items)-1]
			if last.Text == "" {
				last.Text = t
			} else {
				last.Text += " " + t
			}
		}
		return b
	}
	b := Block{Kind: Literal}
	for _, l := range run {
		if indent(l) < base {
			base = indent(l)
		}
	}
	for _, l := range run {
		b.Lines = append(b.Lines, l[base:])
	}
	return b
}

// valueName is how help text names a flag's value: PROJ, N, FMT[=PATH].
var valueName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][A-Z0-9_]*(\[=[A-Z][A-Z0-9_]*\])?$`) })

// splitTerm splits a definition's first line into its term and the start
// of its description: after a flag's names and value name, or at the first
// two spaces.
func splitTerm(line string) Item {
	if isFlag(line) {
		var it Item
		fields := strings.Fields(line)
		k := 0
		for ; k < len(fields) && isFlag(fields[k]); k++ {
			it.Flags = append(it.Flags, strings.TrimSuffix(fields[k], ","))
		}
		if k < len(fields) && valueName().MatchString(fields[k]) {
			it.Value = fields[k]
			k++
		}
		it.Term = strings.Join(fields[:k], " ")
		it.Text = strings.Join(fields[k:], " ")
		return it
	}
	if term, text, ok := strings.Cut(line, "  "); ok {
		return Item{Term: term, Text: strings.Join(strings.Fields(text), " ")}
	}
	return Item{Term: line}
}

// isFlag reports whether s is written as a flag: -p, --proj, "-p,".
func isFlag(s string) bool {
	if !strings.HasPrefix(s, "-") {
		return false
	}
	s = strings.TrimPrefix(s[1:], "-")
	return s != "" && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}

func indent(s string) int {
	return len(s) - len(strings.TrimLeft(s, " "))
}
