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
	commands = []*command{keyCommand, scanCommand, lsCommand, explainCommand, fleetCommand, versionCommand, completionCommand, manCommand, helpCommand, completeCommand}
}

const mainUsage = `ipckeys finds System V IPC key collisions before they corrupt production.

ftok(3) builds a key from 8 bits of the proj id, 8 bits of the file's device
number and 16 bits of its inode number: unrelated key files can give the
same key, and two services then share one IPC object without any error.
ipckeys computes keys bit for bit as the C library does, checks the paths,
service configs and manifests it is given and the live IPC objects, finds
sockets held by processes that were not meant to hold them, and exits 1 on
a finding so CI jobs and deploy scripts can branch on it.

Usage:
  ipckeys key [-p PROJ]... PATH...                     show the ftok keys of paths
  ipckeys scan [-p PROJ]... [-m MANIFEST]... [PATH]... check paths and channels for collisions
                                                       (and the live objects that hold their keys)
  ipckeys ls [--shm] [--sem] [--msg] [-m MANIFEST]...  show live IPC objects and who is attached
  ipckeys explain KEY... [--search DIR]...             where a key comes from: parts, filesystems,
                                                       live objects, files
  ipckeys fleet REPORT.json|DIR|-...                   merge many hosts' scan reports into one view
  ipckeys version                                      print the version
  ipckeys completion bash|zsh|fish                     print a shell completion script
  ipckeys man                                          print the manual page (roff)
  ipckeys help [COMMAND|TOPIC]                         show help

A proj id is a character (l), a quoted character ('1'), decimal (108) or
hex (0x6c). Exit status: 0 clean, 1 findings at or above --fail-on (scan) or
a path ftok cannot use (key), 2 usage or operational error.

Topics (ipckeys help TOPIC): manifest, configs, ignore, outputs, findings,
exit-status, environment, files.
`

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
		fmt.Fprint(stderr, mainUsage)
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
	fmt.Fprintf(stderr, "ipckeys: unknown command %q: run 'ipckeys help' for the list\n", args[0])
	return exitUsage
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, mainUsage)
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
		return false, usagef("%s: %v (see 'ipckeys help %s')", c.name, err, c.name)
	}
	return false, nil
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
