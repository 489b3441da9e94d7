package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	cmds := []string{"key", "scan", "ls", "explain", "fleet", "version", "completion", "man", "help"}
	for _, tc := range []struct{ word, want string }{
		{"scna", "scan"},  // swapped neighbours
		{"sacn", "scan"},  // swapped neighbours
		{"scan2", "scan"}, // one added
		{"expain", "explain"},
		{"vers", "version"}, // a prefix
		{"fleat", "fleet"},
		{"nosuch", ""},
		{"x", ""}, // one letter is near every short name
		{"lx", "ls"},
		{"sc", "scan"},
	} {
		if got := suggest(tc.word, cmds); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	if d := editDistance("fial-on", "fail-on"); d != 1 {
		t.Errorf("editDistance(fial-on, fail-on) = %d, want 1", d)
	}
}

// Mistyped commands and flags get the one they most likely meant, and a
// path given as the proj id gets the command line that was meant.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scna"}, "ipckeys: unknown command \"scna\": did you mean scan? (run 'ipckeys help' for the list)\n"},
		{[]string{"nosuch"}, "ipckeys: unknown command \"nosuch\": run 'ipckeys help' for the list\n"},
		{[]string{"help", "fleat"}, "ipckeys: no help for \"fleat\": did you mean fleet? (run 'ipckeys help' for the list of commands)\n"},
		{[]string{"help", "exit-stats"}, "ipckeys: no help for \"exit-stats\": did you mean exit-status? (run 'ipckeys help' for the list of commands)\n"},
		{[]string{"scan", "--fial-on", "never", "a"}, "ipckeys: scan: unknown flag: --fial-on: did you mean --fail-on? (see 'ipckeys help scan')\n"},
		{[]string{"scan", "--fial-on=never", "a"}, "ipckeys: scan: unknown flag: --fial-on: did you mean --fail-on? (see 'ipckeys help scan')\n"},
		{[]string{"ls", "--shn"}, "ipckeys: ls: unknown flag: --shn: did you mean --shm? (see 'ipckeys help ls')\n"},
		{[]string{"scan", "--bogus", "a"}, "ipckeys: scan: unknown flag: --bogus (see 'ipckeys help scan')\n"},
		{[]string{"scan", "-p", "/etc/hosts"}, "ipckeys: scan: -p takes a proj id; /etc/hosts looks like a path: did you mean -p l /etc/hosts?\n"},
		{[]string{"key", "-p", "./a.conf", "b"}, "ipckeys: key: -p takes a proj id; ./a.conf looks like a path: did you mean -p l ./a.conf?\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, nil, &stdout, &stderr); code != exitUsage || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("ipckeys %s: exit %d, stderr %q, stdout %q; want exit 2, %q", strings.Join(tc.args, " "), code, stderr.String(), stdout.String(), tc.want)
		}
	}
	// A proj id that is one character, even "/", is a proj id.
	if looksLikePath("/") || looksLikePath("'/'") || looksLikePath("l") || looksLikePath("0x6c") {
		t.Error("a proj id is taken for a path")
	}
}

// The main help lists every form of every command, as its usage writes it.
func TestMainHelpListsEveryForm(t *testing.T) {
	help := strings.Join(strings.Fields(mainUsage()), " ")
	for _, c := range commands {
		if c.hidden {
			continue
		}
		for _, form := range synopsis(c) {
			if !strings.Contains(help, strings.Join(strings.Fields(form), " ")) {
				t.Errorf("ipckeys help leaves out %q", form)
			}
		}
	}
	for _, want := range []string{"ipckeys ls --sockets", "ipckeys explain SOCKET"} {
		if !strings.Contains(help, want) {
			t.Errorf("ipckeys help leaves out %s", want)
		}
	}
	for _, l := range strings.Split(mainUsage(), "\n") {
		if len(l) > 80 {
			t.Errorf("help line wider than 80 columns: %q", l)
		}
	}
}
