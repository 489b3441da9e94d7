// Package completion writes bash, zsh and fish completion scripts for a
// program with subcommands, from a description of its commands, their
// flags and what their values and arguments are.
//
// The scripts are static: commands, flags and fixed values are written
// into them. Only values that depend on files named on the command line
// (the channels of the manifests given with -m) are asked of the program,
// by running `PROGRAM __complete channels WORD...` with the words typed so
// far, which prints one name per line.
package completion

import (
	"fmt"
	"io"
	"strings"
)

// Kind is what a value or argument is, for completing it.
type Kind int

const (
	// Text is anything: nothing is offered.
	Text Kind = iota
	// Words is one of Values.Words.
	Words
	// Files is a file name.
	Files
	// Dirs is a directory name.
	Dirs
	// Channels is a channel name from the manifests given earlier on the
	// line with -m or --manifest.
	Channels
)

// String names the kind as the scripts do.
func (k Kind) String() string {
	switch k {
	case Words:
		return "words"
	case Files:
		return "files"
	case Dirs:
		return "dirs"
	case Channels:
		return "channels"
	}
	return "text"
}

// Values says what a flag's value or a command's arguments are.
type Values struct {
	Kind  Kind
	Words []string
	// Assign allows WORD=FILE as well as WORD (-o json=report.json): after
	// the '=' a file name is completed.
	Assign bool
}

// Flag is one flag of a command.
type Flag struct {
	Long, Short string // without dashes; Short may be empty
	Help        string // one line
	TakesValue  bool
	Repeatable  bool
	Value       Values // when TakesValue
	ValueName   string // PROJ, FILE; for the zsh message
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	Flags   []Flag
	Args    Values
	// NoArgs is set when the command takes no positional argument.
	NoArgs bool
}

// Program is what the scripts complete.
type Program struct {
	Name     string
	Commands []Command
	// Global are the flags accepted in place of a command (--help,
	// --version).
	Global []Flag
	// Dynamic is the hidden command the scripts run for Channels values.
	Dynamic string
}

// Shells are the shells Write knows, in the order they are documented.
var Shells = []string{"bash", "zsh", "fish"}

// Write writes the completion script for shell.
func Write(w io.Writer, shell string, p *Program) error {
	var s string
	switch shell {
	case "bash":
		s = bash(p)
	case "zsh":
		s = zsh(p)
	case "fish":
		s = fish(p)
	default:
		return fmt.Errorf("no completion for shell %q: use %s", shell, strings.Join(Shells, ", "))
	}
	_, err := io.WriteString(w, s)
	return err
}

// ident makes a name usable in a shell function name.
func ident(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// squote quotes s for any of the three shells in single quotes.
func squote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// spellings are a flag's names as typed.
func spellings(f Flag) []string {
	s := []string{"--" + f.Long}
	if f.Short != "" {
		s = append([]string{"-" + f.Short}, s...)
	}
	return s
}
