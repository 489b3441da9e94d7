package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostile is every kind of string an attacker puts where a host, path or
// message goes: terminal escapes (colour, OSC 52 clipboard write, BEL), CR
// and LF with a forged workflow command after them, bidi overrides and
// isolates, line separators, zero-width characters, markup and invalid
// UTF-8.
var hostile = []string{
	"a\x1b[31mred\x1b[0m",
	"clip\x1b]52;c;aGFja2Vk\a",
	"bell\a",
	"cr\rover",
	"x\n::stop-commands::x",
	"::stop-commands::y",
	"rev\u202eexe.sh",
	"iso\u2066x\u2069 lrm\u200e alm\u061c",
	"ls\u2028ps\u2029",
	"zw\u200bj\u200d\ufeff",
	"<script>alert(1)</script>",
	"bad\xff\xfe",
	"c1\u009b31m",
}

// forbidden reports the runes no output may carry from data.
func forbidden(r rune) bool {
	switch {
	case r < 0x20 && r != '\n', r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c, r == 0x2028, r == 0x2029:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// checkOutput fails on a byte or rune no output may carry from data, a
// line that starts a workflow command the tool did not write (in github
// format every line is one of its own, and checked by its form), and
// unescaped markup in HTML.
func checkOutput(t *testing.T, what, format string, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Errorf("%s -o %s: invalid UTF-8", what, format)
	}
	for i, r := range string(out) {
		if forbidden(r) {
			t.Errorf("%s -o %s: %U at byte %d: %q", what, format, r, i, out[max(0, i-40):min(len(out), i+40)])
			return
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case format == "github":
			cmd, _, ok := strings.Cut(strings.TrimPrefix(line, "::"), "::")
			name, _, _ := strings.Cut(cmd, " ")
			if line != "" && (!strings.HasPrefix(line, "::") || !ok || (name != "error" && name != "warning" && name != "notice")) {
				t.Errorf("%s -o github: a line that is not an annotation: %q", what, line)
			}
		case strings.HasPrefix(line, "::"):
			t.Errorf("%s -o %s: a line starts a workflow command: %q", what, format, line)
		}
	}
	if format == "html" && (strings.Contains(string(out), "<script>alert") || strings.Contains(html.UnescapeString(string(out)), "\u202e")) {
		t.Errorf("%s -o html: unescaped markup or a bidi override", what)
	}
}

// TestHostileFleet: reports whose every string is hostile, a failure
// marker with a hostile name and contents, and a report that claims its
// raw path is already quoted, through every fleet format.
func TestHostileFleet(t *testing.T) {
	dir := t.TempDir()
	for i, s := range hostile {
		// JSON carries invalid UTF-8 as U+FFFD; a Go-quoted path
		// (path_quoted) carries it as it is.
		q, _ := json.Marshal(s)
		gq, _ := json.Marshal(strconv.Quote(s))
		str := string(q)
		rep := fmt.Sprintf(`{"schema":"ipckeys/scan/v1","host":{"label":%[1]s,"hostname":%[1]s,"machine_id":%[1]s,"time":"2026-11-21T20:00:00Z"},
"entries":[{"name":%[1]s,"manifest":%[1]s,"line":2,"path":%[2]s,"path_quoted":true,"proj":108,"key":%[1]s,"dev":%[1]s,"fs_type":%[1]s,"error":%[1]s,
  "live":{"held":[{"facility":%[1]s,"id":1,"owner":%[1]s,"nattch":1}]}},
 {"config":%[1]s,"setting":%[1]s,"line":3,"path":%[1]s,"proj":1,"key":"0x1","dev":"8:1","fs_type":"ext4"}],
"findings":[{"code":%[1]s,"severity":"error","key":%[1]s,"message":%[1]s,"entries":[{"name":%[1]s,"manifest":%[1]s,"line":2,"path":%[1]s}]},
 {"code":"key-collision","severity":"error","key":"0x1","message":%[1]s,"entries":[{"path":%[1]s,"path_quoted":true}]},
 {"code":"stale-segment","severity":"warning","message":%[1]s,"entries":[],"object":{"facility":%[1]s,"id":1,"key":%[1]s}},
 {"code":"suppression-unused","severity":"warning","message":%[1]s,"entries":[],"file":%[1]s,"line":1,"suppressed":{"reason":%[1]s,"file":%[1]s,"line":1}}],
"live":{"checked":false,"reason":%[1]s}}`, str, gq)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("h%02d.json", i)), []byte(rep), 0o644); err != nil {
			t.Fatal(err)
		}
		name := strings.NewReplacer("/", "_", "\x00", "_").Replace(s)
		if err := os.WriteFile(filepath.Join(dir, "m"+name+".failed"), []byte("\n"+s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A report whose path_quoted path is not Go-quoted at all, but raw.
	raw := `{"schema":"ipckeys/scan/v1","host":{"label":"rawpath","time":"2026-11-21T20:00:00Z"},"entries":[{"path":"/k\u001b]52;c;eA==\u0007\n::stop-commands::z","path_quoted":true,"proj":108,"key":"0x1"}],
"findings":[{"code":"path-unusable","severity":"error","message":"m","entries":[{"path":"/k\u001b]52;c;eA==\u0007\n::stop-commands::z","path_quoted":true}]}],"live":{"checked":false}}`
	if err := os.WriteFile(filepath.Join(dir, "rawpath.json"), []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "table", "json", "github", "junit", "html", "sarif"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"fleet", "-o", format, "--hosts", "x\x1b[2J,::stop-commands::e", dir}, nil, &stdout, &stderr)
		if code != 2 {
			t.Errorf("fleet -o %s: exit %d, want 2 (hosts not checked); stderr %s", format, code, stderr.String())
		}
		if stdout.Len() == 0 {
			t.Fatalf("fleet -o %s: no output; stderr %s", format, stderr.String())
		}
		checkOutput(t, "fleet", format, stdout.Bytes())
		checkOutput(t, "fleet (stderr)", format, stderr.Bytes())
	}
}

// TestHostileScanPaths: key files whose names are hostile, through every
// scan format.
func TestHostileScanPaths(t *testing.T) {
	// Relative names: a finding's location, the path, begins its line.
	t.Chdir(t.TempDir())
	var args []string
	for _, s := range hostile {
		name := strings.NewReplacer("/", "_").Replace(s)
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	args = append(args, "::stop-commands::gone", "::stop-commands::gone\u202e")
	for _, format := range []string{"text", "table", "json", "github", "junit", "sarif"} {
		var stdout, stderr bytes.Buffer
		run(append([]string{"scan", "--no-live", "--fail-on", "never", "-p", "l", "-o", format}, args...), nil, &stdout, &stderr)
		if stdout.Len() == 0 {
			t.Fatalf("scan -o %s: no output; stderr %s", format, stderr.String())
		}
		if format != "json" { // a program's input: the paths as they are, JSON-escaped
			checkOutput(t, "scan", format, stdout.Bytes())
		}
		checkOutput(t, "scan (stderr)", format, stderr.Bytes())
	}
}
