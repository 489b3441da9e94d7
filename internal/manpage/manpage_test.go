package manpage

import (
	"bytes"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/internal/reftool"
)

const sample = `Usage: prog run [-p PROJ]... PATH...
       prog run --live

Runs things. A second
line of the paragraph.

  name  path  proj

  - first item, which goes
    on here
  - second item

Flags:
  -p, --proj PROJ        proj id, repeatable: l, '1'
      --ignore-file FILE suppressions; Lines:
                         CODE TARGET
      --live             require the live checks
  -o, --output FMT[=PATH]  output format

  term one
      its description,
      continued
  term two  on one line
`

func TestParse(t *testing.T) {
	want := []Block{
		{Kind: Synopsis, Lines: []string{"prog run [-p PROJ]... PATH...", "prog run --live"}},
		{Kind: Paragraph, Lines: []string{"Runs things. A second", "line of the paragraph."}},
		{Kind: Literal, Lines: []string{"name  path  proj"}},
		{Kind: List, Items: []Item{{Text: "first item, which goes on here"}, {Text: "second item"}}},
		{Kind: Paragraph, Lines: []string{"Flags:"}},
		{Kind: Definitions, Items: []Item{
			{Term: "-p, --proj PROJ", Flags: []string{"-p", "--proj"}, Value: "PROJ", Text: "proj id, repeatable: l, '1'"},
			{Term: "--ignore-file FILE", Flags: []string{"--ignore-file"}, Value: "FILE", Text: "suppressions; Lines: CODE TARGET"},
			{Term: "--live", Flags: []string{"--live"}, Text: "require the live checks"},
			{Term: "-o, --output FMT[=PATH]", Flags: []string{"-o", "--output"}, Value: "FMT[=PATH]", Text: "output format"},
		}},
		{Kind: Definitions, Items: []Item{
			{Term: "term one", Text: "its description, continued"},
			{Term: "term two", Text: "on one line"},
		}},
	}
	got := Parse(sample)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %#v\nwant %#v", got, want)
	}
}

// Text writes what Parse reads back.
func TestTextRoundTrip(t *testing.T) {
	blocks := []Block{
		{Kind: Paragraph, Lines: []string{strings.Repeat("word ", 40) + "end."}},
		{Kind: Definitions, Items: []Item{
			{Term: "key-collision (error)", Text: strings.Repeat("a long description ", 12) + "end."},
			{Term: "same-file (info)", Text: "short."},
		}},
		{Kind: List, Items: []Item{{Text: strings.Repeat("item ", 30)}}},
	}
	text := Text(blocks)
	for _, l := range strings.Split(text, "\n") {
		if len(l) > Width {
			t.Errorf("line longer than %d: %q", Width, l)
		}
	}
	got := Parse(text)
	if len(got) != 3 || got[0].Kind != Paragraph || strings.Join(got[0].Lines, " ") != strings.TrimSpace(blocks[0].Lines[0]) {
		t.Fatalf("paragraph: %#v", got)
	}
	if !reflect.DeepEqual(got[1], blocks[1]) {
		t.Errorf("definitions:\n got %#v\nwant %#v", got[1], blocks[1])
	}
	if got[2].Kind != List || got[2].Items[0].Text != strings.TrimSpace(blocks[2].Items[0].Text) {
		t.Errorf("list: %#v", got[2])
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		`--proj`:       `\-\-proj`,
		`a\b`:          `a\eb`,
		`a → b … c`:    `a \(-> b ... c`,
		`ä`:            `\[u00E4]`,
		`"quoted" 'x'`: `"quoted" 'x'`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func testPage() *Page {
	return &Page{
		Name: "prog", Section: "1", Date: "2026-01-02", Source: "prog v1.0.0", Manual: "User Commands",
		Summary: "do things",
		Sections: []Section{
			{Title: "SYNOPSIS", Blocks: Parse("Usage: prog run [-p PROJ]... PATH...\n")},
			{Title: "DESCRIPTION", Blocks: Parse(".starts with a dot\n'starts with a quote\nback\\slash → arrow … “quotes”\n")},
			{Title: "COMMANDS", Subsections: []Section{{Title: "prog run", Blocks: Parse(sample)}}},
		},
	}
}

func TestRoff(t *testing.T) {
	var buf bytes.Buffer
	if err := testPage().WriteRoff(&buf); err != nil {
		t.Fatal(err)
	}
	roff := buf.String()
	for _, want := range []string{
		".TH \"PROG\" \"1\" \"2026\\-01\\-02\" \"prog v1.0.0\" \"User Commands\"\n",
		".SH NAME\nprog \\- do things\n",
		"\\&.starts with a dot\n",
		"\\&'starts with a quote\n",
		".TP\n\\fB\\-p\\fR, \\fB\\-\\-proj\\fR \\fIPROJ\\fR\nproj id, repeatable: l, '1'\n",
		".SS prog run\n",
		"\\fBprog run\\fR [\\-p PROJ]... PATH...\n",
	} {
		if !strings.Contains(roff, want) {
			t.Errorf("roff lacks %q:\n%s", want, roff)
		}
	}
}

// groff, which man runs, formats the page without a warning on a UTF-8
// terminal and on an ASCII one.
func TestRoffGroffWarnings(t *testing.T) {
	reftool.Need(t, "groff", "groff-base")
	var buf bytes.Buffer
	if err := testPage().WriteRoff(&buf); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"utf8", "ascii"} {
		cmd := exec.Command("groff", "-man", "-ww", "-T"+dev, "-P-cbou")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		if err := cmd.Run(); err != nil || errs.Len() > 0 {
			t.Errorf("groff -T%s: %v\n%s", dev, err, errs.String())
		}
		if !strings.Contains(out.String(), "prog run") || !strings.Contains(out.String(), "its description, continued") {
			t.Errorf("groff -T%s output lacks the text:\n%s", dev, out.String())
		}
	}
}
