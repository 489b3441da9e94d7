package main

import (
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/internal/manpage"
)

var manCommand = &command{
	name:    "man",
	summary: "print the manual page, ipckeys(1), as roff",
	usage: `Usage: ipckeys man

Prints the manual page ipckeys(1) in roff, made from the same text as
ipckeys help: every command and flag, the manifest, config and ignore file
formats, the outputs, the finding codes, the exit statuses, the environment
and the files. Read it with ipckeys man | man -l -; the Debian package
installs it.
`,
	run: func(c *command, args []string, stdout, stderr io.Writer) int {
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		if done, err := parseFlags(fs, c, args, stdout); done || err != nil {
			return exitFor(stderr, err)
		}
		if fs.NArg() > 0 {
			return fail(stderr, usagef("man takes no arguments"))
		}
		if err := manPage().WriteRoff(stdout); err != nil {
			return fail(stderr, err)
		}
		return exitClean
	},
}

var helpCommand = &command{
	name:    "help",
	summary: "show help on a command or topic",
	usage: `Usage: ipckeys help [COMMAND|TOPIC]

Prints what ipckeys does and its commands; with a COMMAND, that command's
synopsis, description and flags (as COMMAND --help does); with a TOPIC,
one of: manifest, configs, ignore, outputs, findings, exit-status,
environment, files. The manual page, ipckeys(1), has all of them.
`,
	run: func(c *command, args []string, stdout, stderr io.Writer) int {
		return help(args, stdout, stderr)
	},
}

// manSummary is the NAME line of the man page.
const manSummary = "find System V IPC key collisions and sockets held by the wrong process"

// manPage is ipckeys(1): the main help, every command's help and every
// topic, read from the texts help prints.
func manPage() *manpage.Page {
	p := &manpage.Page{
		Name: "ipckeys", Section: "1", Date: manDate(),
		Source: "ipckeys " + buildVersion().Module, Manual: "User Commands",
		Summary: manSummary,
	}
	synopsis := manpage.Block{Kind: manpage.Synopsis}
	cmds := manpage.Section{Title: "COMMANDS"}
	for _, c := range commands {
		if c.hidden {
			continue
		}
		blocks := manpage.Parse(c.usage)
		for _, b := range blocks {
			if b.Kind == manpage.Synopsis {
				synopsis.Lines = append(synopsis.Lines, b.Lines...)
			}
		}
		cmds.Subsections = append(cmds.Subsections, manpage.Section{Title: "ipckeys " + c.name, Blocks: blocks})
	}
	p.Sections = append(p.Sections,
		manpage.Section{Title: "SYNOPSIS", Blocks: []manpage.Block{synopsis}},
		manpage.Section{Title: "DESCRIPTION", Blocks: description()},
		cmds)
	for _, t := range topics {
		p.Sections = append(p.Sections, manpage.Section{Title: t.title, Blocks: manpage.Parse(t.text())})
	}
	p.Sections = append(p.Sections, manpage.Section{Title: "SEE ALSO", Blocks: []manpage.Block{{
		Kind:  manpage.Paragraph,
		Lines: []string{"ftok(3), ipcs(1), lsipc(1), ipcrm(1), ss(8), lsof(8), systemd.timer(5)"},
	}}})
	return p
}

// description is the main help without its list of commands, which the
// man page has in full under SYNOPSIS and COMMANDS.
func description() []manpage.Block {
	var out []manpage.Block
	blocks := manpage.Parse(mainUsage())
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		if b.Kind == manpage.Paragraph && len(b.Lines) == 1 && b.Lines[0] == "Usage:" {
			i++ // and the list under it
			continue
		}
		out = append(out, b)
	}
	return out
}

// manDate dates the page: SOURCE_DATE_EPOCH when set (reproducible
// builds), else the time of the commit the binary was built from, else
// nothing.
func manDate() string {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC().Format(time.DateOnly)
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC().Format(time.DateOnly)
				}
			}
		}
	}
	return ""
}
