package manpage

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Page is a man page: its title line and its sections.
type Page struct {
	Name    string // the program, ipckeys
	Section string // 1
	Date    string // YYYY-MM-DD, or empty
	Source  string // the footer's left part: program and version
	Manual  string // the header's centre: User Commands
	// Summary is the NAME section's text after the dash.
	Summary  string
	Sections []Section
}

// Section is a .SH section, or a .SS subsection within one.
type Section struct {
	Title       string
	Blocks      []Block
	Subsections []Section
}

// WriteRoff writes the page in the man(7) macros.
func (p *Page) WriteRoff(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, ".TH %s %s %s %s %s\n", quote(strings.ToUpper(p.Name)), quote(p.Section), quote(p.Date), quote(p.Source), quote(p.Manual))
	// Generated pages are left-aligned and not hyphenated: flags and
	// paths stay whole.
	bw.WriteString(".nh\n.ad l\n")
	fmt.Fprintf(bw, ".SH NAME\n%s \\- %s\n", escape(p.Name), escape(p.Summary))
	for _, s := range p.Sections {
		writeSection(bw, ".SH", s)
	}
	return bw.Flush()
}

func writeSection(w *bufio.Writer, macro string, s Section) {
	fmt.Fprintf(w, "%s %s\n", macro, escape(s.Title))
	for _, b := range s.Blocks {
		writeBlock(w, b)
	}
	for _, sub := range s.Subsections {
		writeSection(w, ".SS", sub)
	}
}

func writeBlock(w *bufio.Writer, b Block) {
	switch b.Kind {
	case Paragraph:
		w.WriteString(".PP\n")
		for _, l := range b.Lines {
			textLine(w, escape(strings.TrimSpace(l)))
		}
	case Synopsis:
		// Each usage line hangs: a long one continues indented.
		w.WriteString(".PP\n.in +4n\n")
		for i, l := range b.Lines {
			if i > 0 {
				w.WriteString(".br\n")
			}
			w.WriteString(".ti -4n\n")
			textLine(w, synopsis(l))
		}
		w.WriteString(".in -4n\n")
	case Literal:
		w.WriteString(".PP\n.RS 4\n.nf\n")
		for _, l := range b.Lines {
			textLine(w, escape(l))
		}
		w.WriteString(".fi\n.RE\n")
	case List:
		for _, it := range b.Items {
			w.WriteString(".IP \\(bu 2\n")
			textLine(w, escape(it.Text))
		}
	case Definitions:
		for _, it := range b.Items {
			w.WriteString(".TP\n")
			textLine(w, term(it))
			if it.Text != "" {
				textLine(w, escape(it.Text))
			}
		}
	}
}

// textLine writes one line of text; a line that would start with a
// control character is protected.
func textLine(w *bufio.Writer, s string) {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		w.WriteString(`\&`)
	}
	w.WriteString(s)
	w.WriteString("\n")
}

// term typesets a definition's term: flag names in bold, the value name
// in italics.
func term(it Item) string {
	if len(it.Flags) == 0 {
		return `\fB` + escape(it.Term) + `\fR`
	}
	names := make([]string, len(it.Flags))
	for i, f := range it.Flags {
		names[i] = `\fB` + escape(f) + `\fR`
	}
	s := strings.Join(names, ", ")
	if it.Value != "" {
		s += ` \fI` + escape(it.Value) + `\fR`
	}
	return s
}

// commandWord is a word of a synopsis that is typed as it is.
var commandWord = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]*$`) })

// synopsis typesets a usage line: the program and command words in bold.
func synopsis(l string) string {
	words := strings.Fields(l)
	n := 0
	for n < len(words) && commandWord().MatchString(words[n]) {
		n++
	}
	s := `\fB` + escape(strings.Join(words[:n], " ")) + `\fR`
	if n < len(words) {
		s += " " + escape(strings.Join(words[n:], " "))
	}
	return s
}

// escape makes text safe in roff: backslashes, minus signs (a bare - is a
// hyphen, which breaks copied flags), and characters beyond ASCII as
// groff's Unicode escapes.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case glyphs[r] != "":
			b.WriteString(glyphs[r])
		case r > 0x7e:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// glyphs are the characters beyond ASCII that help text uses, as groff
// names them: these have ASCII forms too (-> for an arrow), so the page
// renders without warnings on any terminal.
var glyphs = map[rune]string{
	'…': "...", '→': `\(->`, '←': `\(<-`, '—': `\(em`, '–': `\(en`,
	'‘': `\(oq`, '’': `\(cq`, '“': `\(lq`, '”': `\(rq`,
	'×': `\(mu`, '≥': `\(>=`, '≤': `\(<=`, '•': `\(bu`,
}

// quote makes a macro argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}
