package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/completion"
	"github.com/ipckeys/ipckeys/internal/manpage"
	"github.com/ipckeys/ipckeys/watch"
)

// requireDocTools makes a missing groff or man a failure where the
// tools are meant to be installed (CI), and a skip elsewhere.
func requireDocTools(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("IPCKEYS_REQUIRE_SHELLS") != "" {
			t.Fatalf("%s is not installed and IPCKEYS_REQUIRE_SHELLS is set", tool)
		}
		t.Skipf("%s is not installed (apt-get install man-db)", tool)
	}
}

// Every flag a command parses is in its help, and so in the man page and
// the completions, with its short name and whether it takes a value; and
// the help names no flag the command does not parse.
func TestEveryFlagDocumented(t *testing.T) {
	for _, c := range commands {
		if c.hidden {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			docs := flagHelp(c)
			fs := flagsOf(c)
			if fs == nil && c.name != "help" {
				t.Fatalf("%s does not parse its flags with parseFlags: its flags cannot be completed or documented", c.name)
			}
			if fs == nil {
				fs = pflag.NewFlagSet(c.name, pflag.ContinueOnError)
			}
			fs.VisitAll(func(f *pflag.Flag) {
				d, ok := docs[f.Name]
				if !ok {
					t.Errorf("--%s is not in the usage's flag list", f.Name)
					return
				}
				want := []string{"--" + f.Name}
				if f.Shorthand != "" {
					want = []string{"-" + f.Shorthand, "--" + f.Name}
				}
				if !slices.Equal(d.spelled, want) {
					t.Errorf("--%s is written %v in the usage, want %v", f.Name, d.spelled, want)
				}
				if takes := f.NoOptDefVal == ""; takes != (d.value != "") {
					t.Errorf("--%s: takes a value: %v; the usage names one: %q", f.Name, takes, d.value)
				}
				if d.summary == "" {
					t.Errorf("--%s has no description", f.Name)
				}
			})
			for name := range docs {
				if fs.Lookup(name) == nil {
					t.Errorf("the usage documents --%s, which %s does not parse", name, c.name)
				}
			}
			synopsis := 0
			for _, b := range manpage.Parse(c.usage) {
				if b.Kind == manpage.Synopsis {
					synopsis++
					if !strings.HasPrefix(b.Lines[0], "ipckeys "+c.name) {
						t.Errorf("synopsis %q does not start with ipckeys %s", b.Lines[0], c.name)
					}
				}
			}
			if synopsis != 1 || !strings.HasPrefix(c.usage, "Usage: ") {
				t.Errorf("the usage must start with one Usage: synopsis")
			}
			if !strings.Contains(mainUsage(), "ipckeys "+c.name) {
				t.Errorf("ipckeys help does not list %s", c.name)
			}
		})
	}
}

// The values the completions offer are the ones the commands accept.
func TestCompletedValuesAreAccepted(t *testing.T) {
	p := completionProgram()
	checked := 0
	for _, c := range p.Commands {
		for _, f := range c.Flags {
			if f.Value.Kind != completion.Words {
				continue
			}
			for _, w := range f.Value.Words {
				var err error
				switch {
				case c.Name == "scan" && f.Long == "output":
					_, err = parseOutputs([]string{w}, &bytes.Buffer{})
				case f.Long == "fail-on":
					_, err = audit.ParseThreshold(w)
				case f.Long == "color":
					_, err = useColor(w, &bytes.Buffer{})
				case f.Long == "hooks":
					_, err = watch.ParseHookMode(w)
				case f.Long == "output":
					var stderr bytes.Buffer
					if code := run([]string{c.Name, "-o", w, "--bogus-flag"}, nil, &bytes.Buffer{}, &stderr); code != exitUsage || strings.Contains(stderr.String(), "-o") {
						t.Errorf("%s -o %s: %s", c.Name, w, stderr.String())
					}
				default:
					t.Errorf("%s --%s: no check for its values %v", c.Name, f.Long, f.Value.Words)
				}
				if err != nil {
					t.Errorf("%s --%s %s: %v", c.Name, f.Long, w, err)
				}
				checked++
			}
		}
	}
	// scan's seven formats, and every value of --fail-on and --color.
	if checked < 7+4+3 {
		t.Errorf("checked %d values", checked)
	}
	// Every format scan writes is offered.
	for name := range renderers {
		if !strings.Contains(formatList, name) || !slices.Contains(formatNames(), name) {
			t.Errorf("format %s is not offered", name)
		}
	}
}

// The man page has every command, flag, finding code and topic, and man
// renders it without a warning.
func TestManPage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"man"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("ipckeys man: exit %d: %s", code, stderr.String())
	}
	roff := stdout.String()
	want := []string{".SH NAME\nipckeys \\- ", ".SH SYNOPSIS\n", ".SH EXIT STATUS\n", ".SH ENVIRONMENT\n", ".SH FILES\n", "NO_COLOR"}
	for _, c := range commands {
		if c.hidden {
			if strings.Contains(roff, c.name) {
				t.Errorf("the hidden %s is in the man page", c.name)
			}
			continue
		}
		want = append(want, ".SS ipckeys "+c.name+"\n")
		if fs := flagsOf(c); fs != nil {
			fs.VisitAll(func(f *pflag.Flag) { want = append(want, `\fB\-\-`+strings.ReplaceAll(f.Name, "-", `\-`)+`\fR`) })
		}
	}
	for _, r := range audit.Rules {
		want = append(want, `\fB`+strings.ReplaceAll(r.Code, "-", `\-`)+" ("+r.Severity.String()+`)\fR`)
	}
	for _, tp := range topics {
		want = append(want, ".SH "+tp.title+"\n")
	}
	for _, w := range want {
		if !strings.Contains(roff, w) {
			t.Errorf("the man page lacks %q", w)
		}
	}

	requireDocTools(t, "man")
	file := t.TempDir() + "/ipckeys.1"
	if err := os.WriteFile(file, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"C.UTF-8", "C"} {
		cmd := exec.Command("man", "--warnings", "-l", file)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "LANG="+lang, "LC_ALL="+lang, "MANPAGER=cat", "PAGER=cat")
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		if err := cmd.Run(); err != nil || errs.Len() > 0 {
			t.Errorf("LANG=%s man --warnings -l: %v\n%s", lang, err, errs.String())
		}
		if !strings.Contains(out.String(), "ipckeys scan") || !strings.Contains(out.String(), "key-collision (error)") {
			t.Errorf("LANG=%s man renders no commands or codes:\n%s", lang, out.String())
		}
	}
}

// help takes every topic, and the main help lists them.
func TestHelpTopics(t *testing.T) {
	for _, tp := range topics {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"help", tp.name}, nil, &stdout, &stderr); code != 0 || stdout.Len() == 0 {
			t.Errorf("help %s: exit %d, %d bytes: %s", tp.name, code, stdout.Len(), stderr.String())
		}
		if !strings.Contains(strings.ReplaceAll(mainUsage(), "\n", " "), " "+tp.name) {
			t.Errorf("ipckeys help does not list the topic %s", tp.name)
		}
	}
	var stdout bytes.Buffer
	run([]string{"help", "findings"}, nil, &stdout, &bytes.Buffer{})
	for _, r := range audit.Rules {
		if !strings.Contains(stdout.String(), "\n  "+r.Code+" ("+r.Severity.String()+")\n") {
			t.Errorf("help findings lacks %s", r.Code)
		}
	}
	stdout.Reset()
	run([]string{"help", "outputs"}, nil, &stdout, &bytes.Buffer{})
	for _, m := range []string{"ipckeys_findings", "ipckeys_last_run_success", "ipckeys_stale_segment_bytes"} {
		if !strings.Contains(stdout.String(), "\n  "+m+"\n") {
			t.Errorf("help outputs lacks the metric %s", m)
		}
	}
}

func TestManifestArgs(t *testing.T) {
	got := manifestArgs([]string{"scan", "-m", "a", "--manifest", "b", "--manifest=c", "-md", "-m", "-", "-p", "l", "-m"})
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("manifestArgs = %q, want %q", got, want)
	}
}

// A command added to the table gets its values completed from what its
// flags are called, what its usage names their values, or annotations.
func TestValuesOfNewCommand(t *testing.T) {
	fs := pflag.NewFlagSet("fleet", pflag.ContinueOnError)
	fs.String("inventory", "", "")
	fs.String("reports", "", "")
	fs.String("mode", "", "")
	fs.String("fail-on", "", "")
	fs.String("only", "", "")
	if err := fs.SetAnnotation("mode", annotationWords, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	c := &command{name: "fleet"}
	for _, tc := range []struct {
		flag, valueName string
		want            completion.Values
	}{
		{"inventory", "FILE", files},
		{"reports", "DIR", dirs},
		{"mode", "MODE", completion.Values{Kind: completion.Words, Words: []string{"a", "b"}}},
		{"fail-on", "LEVEL", flagValues["fail-on"]},
		{"only", "CHANNEL", completion.Values{Kind: completion.Channels}},
		{"only", "NAME", completion.Values{}},
	} {
		got := valuesOf(c, fs.Lookup(tc.flag), tc.valueName)
		if got.Kind != tc.want.Kind || !slices.Equal(got.Words, tc.want.Words) {
			t.Errorf("--%s %s: %+v, want %+v", tc.flag, tc.valueName, got, tc.want)
		}
	}
}
