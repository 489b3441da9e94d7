// Package ignore reads ignore files, which suppress findings with a stated
// reason, and applies them.
//
//	# CODE           TARGET          reason="…"                          [expires=YYYY-MM-DD]
//	key-in-use       orders          reason="blue/green: old instance"   expires=2026-12-31
//	stale-object     0x00abcdef      reason="kept for the crash dump"
//	unstable-filesystem /dev/shm/k   reason="tmpfs on purpose: rebuilt at boot"
//
// TARGET is a channel name, a path (as given on the command line or in the
// manifest) or a key written 0x followed by hex digits. The reason is
// required. A suppressed finding stays in the JSON and SARIF reports, marked,
// but no longer fails the gate. An entry past its expiry date suppresses
// nothing and is itself a finding (suppression-expired), as is an entry that
// matches no finding (suppression-unused): stale suppressions do not pile up
// unseen.
package ignore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/endpoint"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// DefaultName is the ignore file looked for beside each manifest.
const DefaultName = ".ipckeys-ignore"

// Rule is one ignore file entry.
type Rule struct {
	Code    string
	Target  string
	Key     *int32 // when TARGET is a key
	Reason  string
	Expires string // YYYY-MM-DD or ""
	File    string
	Line    int
}

// Error is a malformed ignore file line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// MaxSize is the largest ignore file ipckeys reads, from a file or from
// standard input: 16 MiB, some hundred thousand suppressions. A longer one
// is an error, before it is read when its size says so.
const MaxSize = 16 << 20

// tooLarge is the error for an ignore file over MaxSize.
func tooLarge(file string) inputfile.TooLargeError {
	return inputfile.TooLargeError{File: file, Limit: MaxSize, What: "an ignore file", Fix: "remove the entries that match no finding"}
}

// Load reads the ignore file at path.
func Load(path string) ([]Rule, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := inputfile.TooLarge(f, tooLarge(path)); err != nil {
		return nil, err
	}
	return Parse(f, path)
}

// Parse reads an ignore file of at most MaxSize bytes; file names it in
// errors and rules.
func Parse(r io.Reader, file string) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(inputfile.Limited(r, tooLarge(file)))
	sc.Buffer(make([]byte, 4096), 64*1024)
	n := 0
	for sc.Scan() {
		n++
		rule, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, &Error{file, n, err.Error()}
		}
		if ok {
			rule.File, rule.Line = file, n
			rules = append(rules, rule)
		}
	}
	if err := sc.Err(); err != nil {
		var tl *inputfile.TooLargeError
		switch {
		case errors.Is(err, bufio.ErrTooLong):
			return nil, &Error{file, n + 1, "line longer than 65536 bytes"}
		case errors.As(err, &tl):
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return rules, nil
}

const format = `write CODE TARGET reason="why" [expires=YYYY-MM-DD]`

func parseLine(line string) (Rule, bool, error) {
	words, err := split(line)
	if err != nil {
		return Rule{}, false, err
	}
	if len(words) == 0 {
		return Rule{}, false, nil
	}
	if len(words) < 3 {
		return Rule{}, false, fmt.Errorf("%d field(s): %s", len(words), format)
	}
	r := Rule{Code: words[0], Target: words[1]}
	if audit.RuleFor(r.Code).Summary == "" {
		return Rule{}, false, fmt.Errorf("unknown finding code %q: see the list in 'ipckeys help scan' or the README", r.Code)
	}
	if strings.HasPrefix(strings.ToLower(r.Target), "0x") {
		k, err := ftok.ParseKey(r.Target)
		if err != nil {
			return Rule{}, false, fmt.Errorf("target %v", err)
		}
		r.Key = &k
	}
	for _, kv := range words[2:] {
		name, value, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return Rule{}, false, fmt.Errorf("%q is not name=value: %s", kv, format)
		case name == "reason":
			r.Reason = strings.TrimSpace(value)
		case name == "expires":
			if _, err := time.Parse(time.DateOnly, value); err != nil {
				return Rule{}, false, fmt.Errorf("expires=%q is not a date: write YYYY-MM-DD", value)
			}
			r.Expires = value
		default:
			return Rule{}, false, fmt.Errorf("unknown field %q: %s", name, format)
		}
	}
	if r.Reason == "" {
		return Rule{}, false, fmt.Errorf(`a suppression needs a reason: %s`, format)
	}
	return r, true, nil
}

// split cuts a line into words at white space, keeping double-quoted text
// (with \" and \\ escapes) together, and drops a # comment.
func split(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, inWord := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case in && c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
		case c == '"':
			in, inWord = !in, true
		case in:
			w.WriteByte(c)
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if in {
		return nil, errors.New(`unterminated quote: close the reason with "`)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// matches reports whether the rule covers finding f about entries.
func (r *Rule) matches(f *audit.Finding, entries []audit.Entry) bool {
	if r.Code != f.Code {
		return false
	}
	if r.Key != nil {
		if f.Key != nil && *f.Key == *r.Key {
			return true
		}
		if f.Object != nil && f.Object.Key == *r.Key {
			return true
		}
		for _, i := range f.Entries {
			if k, ok := entries[i].Key(); ok && k == *r.Key {
				return true
			}
		}
		return false
	}
	for _, i := range f.Entries {
		e := &entries[i]
		if e.Name() == r.Target || e.Path == r.Target || e.Pattern == r.Target ||
			filepath.Clean(e.Path) == filepath.Clean(r.Target) {
			return true
		}
	}
	if sk := f.Socket; sk != nil {
		// A descriptor finding is named by its socket (tcp:5555,
		// /run/app.sock) or by a program involved (/usr/sbin/b): pids and
		// inodes change with every restart.
		if ep, err := endpoint.Parse(r.Target); err == nil && sk.Proto != "" && ep.Inode == 0 && ep.Matches(sk.Proto, sk.Local, sk.Inode) {
			return true
		}
		if sk.Exe != "" && strings.TrimSuffix(sk.Exe, " (deleted)") == r.Target {
			return true
		}
		for _, h := range sk.Holders {
			if strings.TrimSuffix(h.Exe, " (deleted)") == r.Target {
				return true
			}
		}
	}
	return false
}

// Apply marks the findings the rules suppress (as of today, YYYY-MM-DD) and
// returns them with a finding for every expired or unused rule.
func Apply(findings []audit.Finding, entries []audit.Entry, rules []Rule, today string) []audit.Finding {
	used := make([]bool, len(rules))
	for fi := range findings {
		f := &findings[fi]
		for ri := range rules {
			r := &rules[ri]
			if !r.matches(f, entries) {
				continue
			}
			used[ri] = true
			if r.Expires != "" && r.Expires < today {
				continue // counts again; the rule is reported below
			}
			if f.Suppressed == nil {
				f.Suppressed = &audit.Suppression{Reason: r.Reason, Expires: r.Expires, File: r.File, Line: r.Line}
			}
		}
	}
	for ri := range rules {
		r := &rules[ri]
		where := &audit.Place{File: r.File, Line: r.Line}
		switch {
		case r.Expires != "" && r.Expires < today:
			findings = append(findings, audit.Finding{Code: audit.SuppressionExpired, Severity: audit.Warning, Where: where,
				Message: fmt.Sprintf("%s:%d: the suppression of %s for %s expired on %s (reason was %q): the findings it covered count again; fix them, or renew the entry with a new date",
					r.File, r.Line, r.Code, r.Target, r.Expires, r.Reason)})
		case !used[ri]:
			findings = append(findings, audit.Finding{Code: audit.SuppressionUnused, Severity: audit.Warning, Where: where,
				Message: fmt.Sprintf("%s:%d: the suppression of %s for %s matches no finding: remove it, or correct its code or target",
					r.File, r.Line, r.Code, r.Target)})
		}
	}
	return findings
}
