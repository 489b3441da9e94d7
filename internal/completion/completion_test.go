package completion

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// prog has one of each kind of value; its channels come from a stand-in
// program that says what it was asked.
var prog = &Program{
	Name:    "prog",
	Dynamic: "__complete",
	Global:  []Flag{{Long: "help", Help: "show help"}, {Long: "version", Help: "print the version"}},
	Commands: []Command{
		{Name: "run", Summary: "run: it", Args: Values{Kind: Files}, Flags: []Flag{
			{Long: "manifest", Short: "m", Help: "a manifest", TakesValue: true, Repeatable: true, Value: Values{Kind: Files}, ValueName: "FILE"},
			{Long: "channel", Help: "a channel's [name]", TakesValue: true, Value: Values{Kind: Channels}, ValueName: "NAME"},
			{Long: "output", Short: "o", Help: "format", TakesValue: true, Value: Values{Kind: Words, Words: []string{"json", "text"}, Assign: true}},
			{Long: "root", Help: "a directory", TakesValue: true, Value: Values{Kind: Dirs}},
			{Long: "label", Help: "it's free", TakesValue: true},
			{Long: "live", Help: "a switch"},
		}},
		{Name: "shell", Summary: "a shell", Args: Values{Kind: Words, Words: []string{"bash", "zsh"}}},
		{Name: "version", Summary: "version", NoArgs: true},
	},
}

// complete runs the bash script's function on the words as bash splits
// them (at '=' too) and returns COMPREPLY.
func complete(t *testing.T, dir, script string, words ...string) []string {
	t.Helper()
	drive := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_prog; printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", append([]string{"--norc", "-c", drive, "bash", script}, words...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	return got
}

func TestBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := Write(&buf, "bash", prog); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "prog.bash")
	must(t, os.WriteFile(script, buf.Bytes(), 0o644))
	// The stand-in prints a channel per manifest it is given after "--".
	must(t, os.WriteFile(filepath.Join(dir, "prog"), []byte("#!/bin/sh\n[ \"$1 $2 $3\" = '__complete channels --' ] || exit 1\nshift 3\nwhile [ $# -gt 0 ]; do [ \"$1\" = -m ] && echo \"from-$2\"; shift; done\necho other\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a.manifest"), nil, 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "adir"), 0o755))

	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"prog", "r"}, "run"},
		{[]string{"prog", ""}, "run shell version"},
		{[]string{"prog", "--v"}, "--version"},
		{[]string{"prog", "run", "--l"}, "--label --live"},
		{[]string{"prog", "run", "-o", ""}, "json text"},
		{[]string{"prog", "run", "-o", "json", "=", ""}, "a.manifest adir prog prog.bash"},
		{[]string{"prog", "run", "-o", "json", "=", "a."}, "a.manifest"},
		{[]string{"prog", "run", "--output", "=", "t"}, "text"},
		{[]string{"prog", "run", "-m", "a"}, "a.manifest adir"},
		{[]string{"prog", "run", "--root", "a"}, "adir"},
		{[]string{"prog", "run", "--label", ""}, ""},
		{[]string{"prog", "run", "-m", "a.manifest", "--channel", ""}, "from-a.manifest other"},
		{[]string{"prog", "run", "-m", "a.manifest", "--channel", "=", "f"}, "from-a.manifest"},
		{[]string{"prog", "run", "--live", "p"}, "prog prog.bash"},
		{[]string{"prog", "run", "--", "--l"}, ""},
		{[]string{"prog", "shell", ""}, "bash zsh"},
		{[]string{"prog", "version", "x"}, ""},
	} {
		// bash sorts what it shows; compgen -f lists in directory order.
		reply := complete(t, dir, script, tc.words...)
		sort.Strings(reply)
		got := strings.Join(reply, " ")
		// Directories may come with a slash, depending on bash-completion.
		got = strings.ReplaceAll(got, "adir/", "adir")
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
}

// The zsh and fish scripts are valid for their shells, and fish, which
// can say what it would complete, completes as bash does.
func TestZshFish(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(shell); err != nil {
				if os.Getenv("IPCKEYS_REQUIRE_SHELLS") != "" {
					t.Fatalf("%s is not installed and IPCKEYS_REQUIRE_SHELLS is set", shell)
				}
				t.Skipf("%s is not installed", shell)
			}
			var buf bytes.Buffer
			if err := Write(&buf, shell, prog); err != nil {
				t.Fatal(err)
			}
			script := filepath.Join(t.TempDir(), "prog."+shell)
			must(t, os.WriteFile(script, buf.Bytes(), 0o644))
			if out, err := exec.Command(shell, "-n", script).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", shell, err, out)
			}
			if shell != "fish" {
				return
			}
			out, err := exec.Command("fish", "--no-config", "-c", "source "+script+"; complete -C 'prog r'; complete -C 'prog run -o '; complete -C 'prog run --l'").CombinedOutput()
			if err != nil {
				t.Fatalf("fish: %v\n%s", err, out)
			}
			want := "run\trun: it\njson\tformat\ntext\tformat\n--label\tit's free\n--live\ta switch\n"
			if string(out) != want {
				t.Errorf("fish completes:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestWriteUnknownShell(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "tcsh", prog); err == nil || !strings.Contains(err.Error(), "bash, zsh, fish") {
		t.Errorf("Write(tcsh) = %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
