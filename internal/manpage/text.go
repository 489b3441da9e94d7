package manpage

import (
	"strings"
	"unicode/utf8"
)

// Width is the column help text is wrapped at.
const Width = 76

// Text writes blocks as help text in the layout Parse reads, wrapped at
// Width: for help made from data (the finding codes) rather than written.
func Text(blocks []Block) string {
	var b strings.Builder
	for i, bl := range blocks {
		if i > 0 {
			b.WriteString("\n")
		}
		switch bl.Kind {
		case Paragraph:
			wrap(&b, strings.Join(bl.Lines, " "), "", "")
		case Synopsis:
			for j, l := range bl.Lines {
				if j == 0 {
					b.WriteString("Usage: " + l + "\n")
				} else {
					b.WriteString("       " + l + "\n")
				}
			}
		case Literal:
			for _, l := range bl.Lines {
				b.WriteString("  " + l + "\n")
			}
		case List:
			for _, it := range bl.Items {
				wrap(&b, it.Text, "  - ", "    ")
			}
		case Definitions:
			for _, it := range bl.Items {
				b.WriteString("  " + it.Term + "\n")
				wrap(&b, it.Text, "      ", "      ")
			}
		}
	}
	return b.String()
}

// wrap writes text in lines of at most Width columns (longer words stand
// alone), the first starting with first and the others with rest.
func wrap(b *strings.Builder, text, first, rest string) {
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > Width {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty {
		b.WriteString(line + "\n")
	}
}
