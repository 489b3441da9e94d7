package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/internal/completion"
	"github.com/ipckeys/ipckeys/internal/manpage"
	"github.com/ipckeys/ipckeys/manifest"
)

var completionCommand = &command{
	name:    "completion",
	summary: "print a shell completion script",
	usage: `Usage: ipckeys completion bash|zsh|fish

Prints the completion script for the shell: commands, flags, the values of
-o, --fail-on and --color, file and directory names where a flag takes
one, and channel names from the manifests given with -m where a flag takes
a channel. The Debian package installs the three scripts; otherwise:

  bash:  ipckeys completion bash > ~/.local/share/bash-completion/completions/ipckeys
         (or: source <(ipckeys completion bash) in ~/.bashrc)
  zsh:   ipckeys completion zsh > "${fpath[1]}/_ipckeys"
  fish:  ipckeys completion fish > ~/.config/fish/completions/ipckeys.fish
`,
	run: func(c *command, args []string, stdout, stderr io.Writer) int {
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
			return exitFor(stderr, err)
		}
		if fs.NArg() != 1 || !slices.Contains(completion.Shells, fs.Arg(0)) {
			return fail(stderr, usagef("completion: name one shell: bash, zsh or fish (ipckeys completion bash)"))
		}
		if err := completion.Write(stdout, fs.Arg(0), completionProgram()); err != nil {
			return fail(stderr, err)
		}
		return exitClean
	},
}

// completeCommand answers the completion scripts where what to offer
// depends on the line typed: `ipckeys __complete channels -- WORD...`
// prints the channel names of the manifests the words give with -m. It
// only reads those manifests (regular files, without blocking), and a
// manifest that cannot be read gives no names, never an error.
var completeCommand = &command{
	name:    "__complete",
	summary: "complete a value for the shell completion scripts",
	usage:   "Usage: ipckeys __complete channels -- WORD...\n",
	hidden:  true,
	run: func(c *command, args []string, stdout, stderr io.Writer) int {
		if len(args) == 0 || args[0] != "channels" {
			return fail(stderr, usagef("__complete: only channels can be completed"))
		}
		names := map[string]bool{}
		for _, path := range manifestArgs(args[1:]) {
			m, err := manifest.LoadManifest(path)
			if err != nil {
				continue
			}
			for _, ch := range m.Channels {
				names[ch.Name] = true
			}
			for _, l := range m.Listeners {
				names[l.Name] = true
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			fmt.Fprintln(stdout, n)
		}
		return exitClean
	},
}

// manifestArgs picks the manifests out of a command line's words: -m F,
// -mF, --manifest F, --manifest=F. Standard input (-) is never read.
func manifestArgs(words []string) []string {
	var paths []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		var p string
		switch {
		case (w == "-m" || w == "--manifest") && i+1 < len(words):
			i++
			p = words[i]
		case strings.HasPrefix(w, "--manifest="):
			p = strings.TrimPrefix(w, "--manifest=")
		case strings.HasPrefix(w, "-m") && len(w) > 2 && !strings.HasPrefix(w, "--"):
			p = w[2:]
		}
		if p != "" && p != "-" {
			paths = append(paths, p)
		}
	}
	return paths
}

// flagCapture stands in for standard output when the completion and the
// manual ask a command for its flags: the command runs with --help, and
// parseFlags hands the FlagSet it built to the capture instead of
// printing the usage. So every command in the table is completed and
// documented from the flags it really parses, with no list to keep.
type flagCapture struct{ fs *pflag.FlagSet }

func (*flagCapture) Write(p []byte) (int, error) { return len(p), nil }

// flagsOf returns the flags c parses, or nil for a command that parses
// none through parseFlags.
func flagsOf(c *command) *pflag.FlagSet {
	capture := &flagCapture{}
	c.run(c, []string{"--help"}, capture, io.Discard)
	return capture.fs
}

// Annotations a command may set on a flag (fs.SetAnnotation) to say what
// its value is, where flagValues does not.
const (
	// annotationWords lists the values the flag takes.
	annotationWords = "ipckeys_words"
	// annotationKind is "file", "dir", "channel" or "text".
	annotationKind = "ipckeys_kind"
)

var (
	files = completion.Values{Kind: completion.Files}
	dirs  = completion.Values{Kind: completion.Dirs}
)

// flagValues says what the value of a flag is, by its long name: a flag
// name means the same in every command. "COMMAND --NAME" is for one
// command. A flag named in neither (nor annotated) takes free text.
var flagValues = map[string]completion.Values{
	"manifest":    files,
	"ignore-file": files,
	"file":        files,
	"root":        dirs,
	"base":        dirs,
	"proc":        dirs,
	"search":      dirs,
	"volatile":    dirs,
	"fail-on":     {Kind: completion.Words, Words: []string{"error", "warning", "info", "never"}},
	"color":       {Kind: completion.Words, Words: []string{"auto", "always", "never"}},
	"output":      {Kind: completion.Words, Words: []string{"table", "json"}},
	"channel":     {Kind: completion.Channels},
	"hooks":       {Kind: completion.Words, Words: []string{"libc", "syscalls"}},
	"libc":        files,
	// scan writes several formats, each to stdout or to FORMAT=FILE.
	"scan --output": {Kind: completion.Words, Words: formatNames(), Assign: true},
}

// argValues says what a command's positional arguments are; files when
// the command is not named here.
var argValues = map[string]completion.Values{
	"explain":    {},
	"completion": {Kind: completion.Words, Words: completion.Shells},
}

// noArgs are the commands that take no positional argument.
var noArgs = map[string]bool{"version": true, "man": true}

// valuesOf says what flag f of command c takes; valueName is what c's
// usage calls it.
func valuesOf(c *command, f *pflag.Flag, valueName string) completion.Values {
	if words := f.Annotations[annotationWords]; len(words) > 0 {
		return completion.Values{Kind: completion.Words, Words: words}
	}
	if kind := f.Annotations[annotationKind]; len(kind) > 0 {
		return map[string]completion.Values{"file": files, "dir": dirs, "channel": {Kind: completion.Channels}}[kind[0]]
	}
	if v, ok := flagValues[c.name+" --"+f.Name]; ok {
		return v
	}
	if v, ok := flagValues[f.Name]; ok {
		return v
	}
	// Otherwise the usage's name for the value says what it is.
	return valueNames[valueName]
}

// valueNames say what a value is by the name a usage gives it
// (--inventory FILE, --reports DIR).
var valueNames = map[string]completion.Values{
	"FILE": files, "PATH": files, "MANIFEST": files,
	"DIR":     dirs,
	"CHANNEL": {Kind: completion.Channels},
}

// formatNames are scan's output formats.
func formatNames() []string {
	names := make([]string, 0, len(renderers))
	for n := range renderers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// completionProgram describes every visible command for the completion
// scripts: its flags from its FlagSet, their help from its usage text.
func completionProgram() *completion.Program {
	p := &completion.Program{
		Name:    "ipckeys",
		Dynamic: completeCommand.name,
		Global: []completion.Flag{
			{Long: "help", Help: "show help"},
			{Long: "version", Help: "print the version"},
		},
	}
	for _, c := range commands {
		if c.hidden {
			continue
		}
		cc := completion.Command{Name: c.name, Summary: c.summary, Args: files, NoArgs: noArgs[c.name]}
		if v, ok := argValues[c.name]; ok {
			cc.Args = v
		}
		if c.name == "help" {
			cc.Args = completion.Values{Kind: completion.Words, Words: helpNames()}
		}
		help := flagHelp(c)
		if fs := flagsOf(c); fs != nil {
			fs.VisitAll(func(f *pflag.Flag) {
				if f.Hidden {
					return
				}
				doc := help[f.Name]
				cc.Flags = append(cc.Flags, completion.Flag{
					Long:       f.Name,
					Short:      f.Shorthand,
					Help:       doc.summary,
					TakesValue: f.NoOptDefVal == "",
					Repeatable: strings.HasSuffix(f.Value.Type(), "Array") || strings.HasSuffix(f.Value.Type(), "Slice"),
					Value:      valuesOf(c, f, doc.value),
					ValueName:  doc.value,
				})
			})
		}
		cc.Flags = append(cc.Flags, completion.Flag{Long: "help", Short: "h", Help: "show this command's help"})
		p.Commands = append(p.Commands, cc)
	}
	return p
}

// helpNames are what help takes: the commands and the topics.
func helpNames() []string {
	var names []string
	for _, c := range commands {
		if !c.hidden && c.name != "help" {
			names = append(names, c.name)
		}
	}
	for _, t := range topics {
		names = append(names, t.name)
	}
	return names
}

// flagDoc is what a command's usage says of one of its flags.
type flagDoc struct {
	spelled []string // as written: -p, --proj
	value   string   // the value's name: PROJ
	summary string   // the description's first clause, shortened
}

// flagHelp reads what c's usage says of each flag, by long name.
func flagHelp(c *command) map[string]flagDoc {
	docs := map[string]flagDoc{}
	for _, b := range manpage.Parse(c.usage) {
		for _, it := range b.Items {
			for _, f := range it.Flags {
				if name, ok := strings.CutPrefix(f, "--"); ok {
					docs[name] = flagDoc{spelled: it.Flags, value: it.Value, summary: shorten(it.Text)}
				}
			}
		}
	}
	return docs
}

// shorten keeps a description's first clause, at most 60 characters.
func shorten(s string) string {
	s, _, _ = strings.Cut(s, "; ")
	if r := []rune(s); len(r) > 60 {
		cut := string(r[:60])
		if i := strings.LastIndex(cut, " "); i > 0 {
			cut = cut[:i]
		}
		s = strings.TrimRight(cut, ",:(") + "…"
	}
	return s
}
