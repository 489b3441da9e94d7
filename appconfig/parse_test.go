package appconfig

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// The settings themselves, every one, for one file of each format.
func TestParseSettings(t *testing.T) {
	tests := []struct {
		path string
		data string
		want []Setting
	}{
		{"a.conf", `# comment
; comment
// comment
top = 1
[chnl b]
shm_path : /data/path_B # trailing comment
empty =
quoted_empty = ""
spaced   "/a b/c"
[remote "origin"]
url = git@example.com:x.git
lone_word
broken = "no end
semi = 'x' ;
c_style = /data/x;
`, []Setting{
			{Name: "top", Value: "1", Line: 4, Set: true},
			{Name: "chnl.b.shm_path", Value: "/data/path_B", Line: 6, Set: true},
			{Name: "chnl.b.empty", Line: 7},
			{Name: "chnl.b.quoted_empty", Line: 8, Set: true, Quoted: true},
			{Name: "chnl.b.spaced", Value: "/a b/c", Line: 9, Set: true, Quoted: true},
			{Name: "remote.origin.url", Value: "git@example.com:x.git", Line: 11, Set: true},
			{Name: "remote.origin.broken", Value: `"no end`, Line: 13, Set: true, Malformed: "unterminated double quote: close the quote"},
			{Name: "remote.origin.semi", Value: "x", Line: 14, Set: true, Quoted: true},
			{Name: "remote.origin.c_style", Value: "/data/x", Line: 15, Set: true},
		}},
		{"a.env", "export A=\"x\\\"y\\\\z\\$\"\nB='it''s'\nexport C\n", []Setting{
			{Name: "A", Value: `x"y\z$`, Line: 1, Set: true, Quoted: true},
			{Name: "B", Value: `'it''s'`, Line: 2, Set: true, Malformed: "text after the closing quote: quote the whole value"},
		}},
		{"a.yaml", `a:
  b: ~
  c:
  d: "1"
  e: [x, {f: true}]
  g: |
    two
    lines
---
h: 1.5
`, []Setting{
			{Name: "a.b", Line: 2},
			{Name: "a.c", Line: 3},
			{Name: "a.d", Value: "1", Line: 4, Set: true, Quoted: true},
			{Name: "a.e.0", Value: "x", Line: 5, Set: true},
			{Name: "a.e.1.f", Value: "true", Line: 5, Set: true},
			{Name: "a.g", Value: "two\nlines\n", Line: 6, Set: true},
			{Name: "h", Value: "1.5", Line: 10, Set: true},
		}},
		{"a.json", `{"a": {"b": null, "c": [1, "x", false]},
 "d": 1e3,
 "a": 2}`, []Setting{
			{Name: "a.b", Line: 1},
			{Name: "a.c.0", Value: "1", Line: 1, Set: true},
			{Name: "a.c.1", Value: "x", Line: 1, Set: true, Quoted: true},
			{Name: "a.c.2", Value: "false", Line: 1, Set: true},
			{Name: "d", Value: "1e3", Line: 2, Set: true},
			{Name: "a", Value: "2", Line: 3, Set: true},
		}},
		{"a.toml", `top = 1
[t]
s = "x"
"q.k" = 'y'
[[arr]]
n = 0
[arr.sub]
m = 2024-01-02
[[arr]]
list = [1, [2, 3]]
ml = """
a"""
`, []Setting{
			{Name: "top", Value: "1", Line: 1, Set: true},
			{Name: "t.s", Value: "x", Line: 3, Set: true, Quoted: true},
			{Name: "t.q.k", Value: "y", Line: 4, Set: true, Quoted: true},
			{Name: "arr.0.n", Value: "0", Line: 6, Set: true},
			{Name: "arr.0.sub.m", Value: "2024-01-02", Line: 8, Set: true},
			{Name: "arr.1.list.0", Value: "1", Line: 10, Set: true},
			{Name: "arr.1.list.1.0", Value: "2", Line: 10, Set: true},
			{Name: "arr.1.list.1.1", Value: "3", Line: 10, Set: true},
			{Name: "arr.1.ml", Value: "a", Line: 11, Set: true, Quoted: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c, err := Parse(tt.path, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Settings) != len(tt.want) {
				t.Errorf("got %d settings, want %d", len(c.Settings), len(tt.want))
			}
			for i := range max(len(c.Settings), len(tt.want)) {
				var g, w Setting
				if i < len(c.Settings) {
					g = c.Settings[i]
				}
				if i < len(tt.want) {
					w = tt.want[i]
				}
				if g != w {
					t.Errorf("setting %d:\n got  %+v\n want %+v", i, g, w)
				}
			}
		})
	}
}

func TestSniffing(t *testing.T) {
	tests := []struct {
		path, data, format string
		settings           int
	}{
		{"a.conf", `{"chnl_shm_path": "/data/path_B"}`, FormatJSON, 1},
		{"a.conf", "[section]\nk = v\n", FormatLines, 1},
		{"a.conf", "[1, 2]", FormatJSON, 2},
		{"a", "---\nk: v\n", FormatYAML, 1},
		{"a", "---\n: : bad yaml [\nk = v\n", FormatLines, 1},
		{"a.data", `{"k": "v"}`, FormatJSON, 1},
		{"a.conf", "", FormatLines, 0},
		{"a.json", " \n", FormatJSON, 0},
		{"a.yaml", "", FormatYAML, 0},
		{"a.toml", "", FormatTOML, 0},
		{"a.conf", "\xef\xbb\xbfk = v\n", FormatLines, 1},
	}
	for _, tt := range tests {
		c, err := Parse(tt.path, []byte(tt.data))
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tt.path, tt.data, err)
			continue
		}
		if c.Format != tt.format || len(c.Settings) != tt.settings {
			t.Errorf("Parse(%q, %q) = %s with %d settings, want %s with %d", tt.path, tt.data, c.Format, len(c.Settings), tt.format, tt.settings)
		}
	}
	if c, _ := Parse("a.conf", []byte("\xef\xbb\xbfk = v\n")); c.Settings[0].Name != "k" {
		t.Errorf("a byte order mark is part of the first key: %q", c.Settings[0].Name)
	}
}

// Key files are any files: binary data is not a configuration file,
// whatever its name.
func TestNotConfig(t *testing.T) {
	big := make([]byte, MaxSize+1)
	for i := range big {
		big[i] = 'a'
	}
	tests := []struct {
		path string
		data []byte
	}{
		{"testdata/negative/binary.conf", mustRead(t, "testdata/negative/binary.conf")},
		{"x.yaml", []byte("a: \x00\n")},
		{"x.bin", big},
		{"x.conf", append([]byte("k = v\n\x00"), big...)},
		{"x.txt", []byte("chnl_shm_path = /data/path_B\n")},
		{"x.conf.bak", []byte("chnl_shm_path = /data/path_B\n")},
		{"/data/path_B.lock", []byte("")},
		{"x.txt", []byte("[not json")},
	}
	for _, tt := range tests {
		c, err := Parse(tt.path, tt.data)
		if !errors.Is(err, ErrNotConfig) || c != nil {
			t.Errorf("Parse(%q, %d bytes) = %v, %v; want ErrNotConfig", tt.path, len(tt.data), c, err)
		}
	}
	// Legacy encodings: the line format keeps the bytes as written; JSON,
	// YAML and TOML are UTF-8 by definition, and a stray byte is an error
	// at its line.
	c, err := Parse("testdata/negative/latin1.conf", mustRead(t, "testdata/negative/latin1.conf"))
	if err != nil || len(c.Settings) != 1 || c.Settings[0].Name != "chnl_shm_path" || c.Settings[0].Value != "/data/path_\xff" {
		t.Errorf("Parse(latin1.conf) = %+v, %v; want chnl_shm_path = \"/data/path_\\xff\"", c, err)
	}
	if c, err := Parse("a.conf", []byte("# r\xe9sum\xe9 from a legacy editor\nchnl_shm_path = /data/path_B\n")); err != nil || len(c.Settings) != 1 || c.Settings[0].Value != "/data/path_B" {
		t.Errorf("a Latin-1 comment: %+v, %v", c, err)
	}
	for _, path := range []string{"x.json", "x.yaml", "x.toml"} {
		_, err := Parse(path, []byte("\n\xff = 1\n"))
		if want := path + ":2: byte 0xff is not UTF-8: write the file in UTF-8"; err == nil || err.Error() != want {
			t.Errorf("Parse(%q) with a Latin-1 byte on line 2 = %v; want %q", path, err, want)
		}
	}
	// Exactly MaxSize is still read; one byte more is an error, not a skip.
	if _, err := Parse("x.conf", big[:MaxSize]); err != nil {
		t.Errorf("Parse of MaxSize bytes: %v", err)
	}
	for _, path := range []string{"x.conf", "x.json", "x.yaml", "x.toml", "x"} {
		c, err := Parse(path, big)
		var tl *inputfile.TooLargeError
		want := path + ": larger than the 64 MiB a configuration file may have; shorten it, or give it as a key file in a manifest (-m)"
		if !errors.As(err, &tl) || err.Error() != want || errors.Is(err, ErrNotConfig) || c != nil {
			t.Errorf("Parse(%q, MaxSize+1 bytes) = %v, %v; want %q", path, c, err, want)
		}
	}
}

// Strict formats named by their extension fail with the file and the line.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		path string
		data string
		line int
		msg  string // a part of the message
	}{
		{"a.json", "{\n  \"a\": 1,\n}\n", 3, "invalid JSON: invalid character '}'"},
		{"a.json", "{\"a\": 1}\n\n{\"b\": 2}\n", 3, "after top-level value"},
		{"a.json", "{\"a\":\n [1,\n", 2, "unexpected end of JSON input"},
		{"a.json", "\"a\" x", 1, "invalid character 'x'"},
		{"a.yaml", "a: 1\nb: 2\n c: 3\n", 3, "mapping values are not allowed"},
		{"a.yaml", "- a\nb: 1\n", 2, "did not find expected '-' indicator"},
		{"a.yaml", "a: 1\n\n\nb: {x: 1\n\n", 4, "did not find expected ',' or '}'"},
		{"a.yml", "a: [1\n", 1, "did not find expected ',' or ']'"},
		{"a.yaml", "a: 1\n---\nb: [\n", 3, "did not find expected node content"},
		{"a.yaml", "a: *nope\n", 1, "unknown anchor 'nope'"},
		{"a.yaml", "x:\n  a: 1\n  b: 2\n  a: 3\n", 4, `key "a" is already defined on line 2`},
		{"a.yaml", "a: {<<: 1}\n", 1, "a merge key (<<) takes a map"},
		{"a.toml", "a = 1\nb = \n", 2, "invalid TOML"},
		{"a.toml", "[t]\na = 1\n[t]\nb = 2\n", 3, "invalid TOML"},
		{"a.toml", "a = 1\na = 2\n", 2, "already defined"},
		{"a.toml", "s = \"unterminated\n", 1, "invalid TOML"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.path, []byte(tt.data))
		var e *Error
		if !errors.As(err, &e) || c != nil {
			t.Errorf("Parse(%q, %q) = %v, %v; want an *Error", tt.path, tt.data, c, err)
			continue
		}
		if e.File != tt.path || e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("Parse(%q, %q): %v\nwant line %d and %q", tt.path, tt.data, err, tt.line, tt.msg)
		}
		checkOneLine(t, err)
	}
}

// checkOneLine holds an error to "FILE:LINE: msg: what to do" on one line.
func checkOneLine(t *testing.T, err error) {
	t.Helper()
	s := err.Error()
	if strings.ContainsAny(s, "\n\r") {
		t.Errorf("error spans lines: %q", s)
	}
	if !strings.Contains(s, ": fix ") && !strings.Contains(s, ": write ") && !strings.Contains(s, ": close ") &&
		!strings.Contains(s, ": quote ") && !strings.Contains(s, ": set ") && !strings.Contains(s, ": remove ") &&
		!strings.Contains(s, ": simplify ") && !strings.Contains(s, ": flatten ") && !strings.Contains(s, ": keep ") {
		t.Errorf("error does not say what to do: %q", s)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{File: "app/B.conf", Line: 4, Msg: "chnl_shm_proj: bad: fix it"}
	if got, want := e.Error(), "app/B.conf:4: chnl_shm_proj: bad: fix it"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e.Line = 0
	if got, want := e.Error(), "app/B.conf: chnl_shm_proj: bad: fix it"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := newError("f", 1, "a\nb\r\n  c").Msg; got != "a b c" {
		t.Errorf("newError kept line breaks: %q", got)
	}
}

// Hostile input is bounded: aliases that expand a billion times, nesting
// past any configuration, long keys repeated in every name.
func TestBounds(t *testing.T) {
	bomb := `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	emptyBomb := strings.ReplaceAll(bomb, `"x"`, "[]")
	longKey := strings.Repeat("k", 100000)
	tests := []struct {
		name, path, data string
		line             int
		msg              string
	}{
		{"alias bomb", "a.yaml", bomb, 0, "expand to more than 8 times"},
		{"alias bomb of empty lists", "a.yaml", emptyBomb, 0, "expand to more than 8 times"},
		{"alias that contains itself", "a.yaml", "a: &a [*a]\n", 1, "nested deeper than 100 levels"},
		{"merge that contains itself", "a.yaml", "a: &a {<<: *a}\n", 1, "merge keys nested deeper"},
		{"deep json", "a.json", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), 1, "nested deeper than 100 levels"},
		{"deep yaml", "a.yaml", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), 1, "nested deeper than 100 levels"},
		{"deep toml", "a.toml", "a = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000), 1, "nested deeper than 100 levels"},
		{"deep toml table", "a.toml", "[" + strings.Repeat("a.", 200) + "a]\n", 1, "nested deeper than 100 levels"},
		{"long key repeated", "a.json", `{"` + longKey + `": [` + strings.Repeat("1,", 200) + `1]}`, 1, "expand to more than 8 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(tt.path, []byte(tt.data))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.msg) || (tt.line != 0 && e.Line != tt.line) {
				t.Errorf("got %v, want line %d and %q", err, tt.line, tt.msg)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// The keys under a section name too long to be one are skipped, rather
	// than each repeating it.
	data := "a = 1\n[" + longKey + "]\n" + strings.Repeat("shm_path = /x\n", 10000) + "[b]\nc = 2\n"
	c, err := Parse("a.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{{Name: "a", Value: "1", Line: 1, Set: true}, {Name: "b.c", Value: "2", Line: 10004, Set: true}}
	if !reflect.DeepEqual(c.Settings, want) {
		t.Errorf("got %+v, want %+v", c.Settings, want)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
