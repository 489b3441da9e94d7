// Command ipckeys finds System V IPC key collisions before they corrupt
// production.
//
// ftok(3) keeps 8 bits of the proj id, 8 bits of the device number and 16
// bits of the inode number, so unrelated key files can give the same key and
// two services then share one IPC object without any error. ipckeys computes
// keys bit for bit as the C library does and fails a deploy when the paths
// and channels it is given collide:
//
//	ipckeys key [-p PROJ]... PATH...
//	ipckeys scan [-p PROJ]... [-m MANIFEST]... [PATH|GLOB]...
//
// Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or
// operational error. Run `ipckeys help` for the rest.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// Exit statuses: what CI jobs and deploy scripts branch on.
const (
	exitClean    = 0
	exitFindings = 1
	exitUsage    = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // the synopsis and flag help, printed by help
	run     func(c *command, args []string, stdout, stderr io.Writer) int
	hidden  bool // left out of help, the completion and the man page
}

var commands []*command

func init() {
	commands = []*command{keyCommand, scanCommand, lsCommand, explainCommand, fleetCommand, rekeyCommand, watchCommand, versionCommand, completionCommand, manCommand, helpCommand, completeCommand}
}

// mainIntro and mainOutro frame the list of commands in the main help.
const mainIntro = `ipckeys finds System V IPC key collisions before they corrupt production.

ftok(3) builds a key from 8 bits of the proj id, 8 bits of the file's device
number and 16 bits of its inode number: unrelated key files can give the
same key, and two services then share one IPC object without any error.
ipckeys computes keys bit for bit as the C library does, checks the paths,
service configs and manifests it is given and the live IPC objects, finds
sockets held by processes that were not meant to hold them, and exits 1 on
a finding so CI jobs and deploy scripts can branch on it.

Usage:
`

const mainOutro = `
A proj id is a character (l), a quoted character ('1'), decimal (108) or
hex (0x6c). Exit status: 0 clean, 1 findings at or above --fail-on (scan) or
a path ftok cannot use (key), 2 usage or operational error.

Topics (ipckeys help TOPIC): manifest, configs, ignore, outputs, findings,
exit-status, environment, files.
`

// mainUsage is the main help: every form of every command, as the
// command's own usage writes it, under what the command does. It is made
// from the commands so that it cannot leave a form out.
func mainUsage() string {
	var b strings.Builder
	b.WriteString(mainIntro)
	for _, c := range commands {
		if c.hidden {
			continue
		}
		for _, form := range synopsis(c) {
			b.WriteString(wrapForm(form))
		}
		b.WriteString(fill(c.summary, "        ", 79))
	}
	b.WriteString(mainOutro)
	return b.String()
}

// wrapForm indents a command's form for the main help and breaks it
// between arguments (never inside brackets) to fit 80 columns, the
// continuation lines under the first argument.
func wrapForm(form string) string {
	var words []string
	depth, start := 0, 0
	for i, r := range form + " " {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case r == ' ' && depth <= 0:
			if i > start {
				words = append(words, form[start:i])
			}
			start = i + 1
		}
	}
	if len(words) < 2 {
		return "  " + form + "\n"
	}
	var b strings.Builder
	line := "  " + words[0] + " " + words[1]
	hang := strings.Repeat(" ", len(line)+1)
	for _, word := range words[2:] {
		if len(line)+1+len(word) > 79 {
			b.WriteString(line + "\n")
			line = hang + word
			continue
		}
		line += " " + word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// fill breaks text between words into lines of at most width columns,
// each starting with indent.
func fill(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// synopsis returns the forms of a command its usage starts with: the
// "Usage:" line and the indented lines under it.
func synopsis(c *command) []string {
	rest, ok := strings.CutPrefix(c.usage, "Usage: ")
	if !ok {
		return []string{"ipckeys " + c.name}
	}
	lines := strings.Split(rest, "\n")
	forms := []string{strings.TrimSpace(lines[0])}
	for _, l := range lines[1:] {
		if l == "" || l[0] != ' ' {
			break
		}
		forms = append(forms, strings.TrimSpace(l))
	}
	return forms
}

// usageError is a bad command line: exit 2 with one line naming the problem
// and what to do.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// stdinFile is what "-" names where a command reads a file (-m -,
// --ignore-file -): standard input is read only when the user says so.
type stdinFile struct {
	r    io.Reader
	used string // the flag that read it
}

// take hands standard input to one flag; a second "-" is a usage error.
func (s *stdinFile) take(flag string) (io.Reader, error) {
	if s.used != "" {
		return nil, usagef("%s - and %s - both read standard input: give one of them a file", s.used, flag)
	}
	s.used = flag
	return s.r, nil
}

// stdin is this run's standard input (set by run).
var stdin = &stdinFile{r: os.Stdin}

// StdinName names standard input where a file name is shown.
const stdinName = "<stdin>"

func run(args []string, in io.Reader, stdout, stderr io.Writer) int {
	if in == nil {
		in = strings.NewReader("")
	}
	stdin = &stdinFile{r: in}
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		return help(args[1:], stdout, stderr)
	case "--version":
		return versionCommand.run(versionCommand, nil, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(c, args[1:], stdout, stderr)
		}
	}
	if guess := suggest(args[0], commandNames()); guess != "" {
		fmt.Fprintf(stderr, "ipckeys: unknown command %q: did you mean %s? (run 'ipckeys help' for the list)\n", args[0], guess)
		return exitUsage
	}
	fmt.Fprintf(stderr, "ipckeys: unknown command %q: run 'ipckeys help' for the list\n", args[0])
	return exitUsage
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, mainUsage())
		return exitClean
	}
	for _, c := range commands {
		if c.name == args[0] {
			fmt.Fprint(stdout, c.usage)
			return exitClean
		}
	}
	if t := topicNamed(args[0]); t != nil {
		fmt.Fprint(stdout, t.text())
		return exitClean
	}
	names := commandNames()
	for _, t := range topics {
		names = append(names, t.name)
	}
	if guess := suggest(args[0], names); guess != "" {
		fmt.Fprintf(stderr, "ipckeys: no help for %q: did you mean %s? (run 'ipckeys help' for the list of commands)\n", args[0], guess)
		return exitUsage
	}
	fmt.Fprintf(stderr, "ipckeys: no help for %q: run 'ipckeys help' for the list of commands\n", args[0])
	return exitUsage
}

// parseFlags parses a subcommand's flags. It returns done when --help was
// asked for (the usage is printed, exit 0) and a usageError for bad flags.
func parseFlags(fs *pflag.FlagSet, c *command, args []string, stdout io.Writer) (done bool, err error) {
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	err = fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		if capture, ok := stdout.(*flagCapture); ok {
			capture.fs = fs
			return true, nil
		}
		fmt.Fprint(stdout, c.usage)
		return true, nil
	}
	if err != nil {
		if guess := flagSuggestion(fs, err); guess != "" {
			return false, usagef("%s: %v: did you mean %s? (see 'ipckeys help %s')", c.name, err, guess, c.name)
		}
		return false, usagef("%s: %v (see 'ipckeys help %s')", c.name, err, c.name)
	}
	if f := fs.Lookup("proj"); f != nil {
		if values, err := fs.GetStringArray("proj"); err == nil {
			for _, v := range values {
				if looksLikePath(v) {
					return false, usagef("%s: -p takes a proj id; %s looks like a path: did you mean -p l %s?", c.name, v, v)
				}
			}
		}
	}
	return false, nil
}

// commandNames are the commands a user may type.
func commandNames() []string {
	var names []string
	for _, c := range commands {
		if !c.hidden {
			names = append(names, c.name)
		}
	}
	return names
}

// flagSuggestion returns the flag of fs an unknown long flag is a typo
// of (--fial-on: --fail-on), or "".
func flagSuggestion(fs *pflag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	names = append(names, "help")
	if guess := suggest(name, names); guess != "" {
		return "--" + guess
	}
	return ""
}

// looksLikePath reports whether a -p value is a file name given where a
// proj id goes (scan -p /etc/hosts): it is no proj id, and it has a slash
// or names a file that exists.
func looksLikePath(v string) bool {
	if _, err := ftok.ParseProj(v); err == nil {
		return false
	}
	if strings.Contains(v, "/") {
		return true
	}
	_, err := os.Stat(v)
	return err == nil
}

// suggest returns the candidate a mistyped word most likely meant: the
// one nearest to it, at most two edits away (a swap of neighbours is one
// edit) or starting with it, when no other is as near; "" otherwise.
func suggest(word string, candidates []string) string {
	best, bestDist, tie := "", 3, false
	for _, c := range candidates {
		d := editDistance(word, c)
		if len(word) >= 2 && strings.HasPrefix(c, word) {
			d = min(d, 1)
		}
		switch {
		case d < bestDist:
			best, bestDist, tie = c, d, false
		case d == bestDist:
			tie = true
		}
	}
	// Short words are a couple of edits from anything.
	if tie || best == "" || bestDist >= len([]rune(word)) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}

// liveError words a failure to read the live tables.
func liveError(err error) error {
	if errors.Is(err, ipcscan.ErrNamespace) {
		return err
	}
	return fmt.Errorf("%v (is /proc mounted? use --proc for another procfs tree)", err)
}

// exitFor is exitClean for a nil error and fail's status otherwise.
func exitFor(stderr io.Writer, err error) int {
	if err == nil {
		return exitClean
	}
	return fail(stderr, err)
}

// fail reports err on stderr in the one-line form and returns its exit
// status: 2 for every error that reaches here.
func fail(stderr io.Writer, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", `\n`)
	fmt.Fprintf(stderr, "ipckeys: %s\n", msg)
	return exitUsage
}

var versionCommand = &command{
	name:    "version",
	summary: "print the version",
	usage:   "Usage: ipckeys version\n\nPrints the module version and the VCS revision the binary was built from.\n",
	run: func(c *command, args []string, stdout, stderr io.Writer) int {
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
			return exitFor(stderr, err)
		}
		if fs.NArg() > 0 {
			return fail(stderr, usagef("version takes no arguments"))
		}
		fmt.Fprintln(stdout, versionString())
		return exitClean
	},
}

// versionString is what version and --version print.
func versionString() string {
	v := buildVersion()
	out := "ipckeys " + v.Module
	if v.Revision != "" {
		out += " " + v.Revision
	}
	return out + " " + v.GoVersion
}
