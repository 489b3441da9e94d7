package appconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedFiles adds the test fixtures with the given extensions to a fuzz corpus.
func seedFiles(f *testing.F, exts ...string) {
	paths, _ := filepath.Glob("testdata/negative/*")
	for _, p := range paths {
		for _, ext := range exts {
			if filepath.Ext(p) == ext {
				if data, err := os.ReadFile(p); err == nil {
					f.Add(data)
				}
			}
		}
	}
}

// checkParse holds Parse and KeyFileSettings to their contracts on any input:
// no panic, errors of the documented kinds with lines inside the file,
// settings on lines of the file and within the budget.
func checkParse(t *testing.T, path string, data []byte) *Config {
	lines := bytes.Count(data, []byte("\n")) + 1
	c, err := Parse(path, data)
	if err != nil {
		var e *Error
		switch {
		case errors.Is(err, ErrNotConfig):
		case errors.As(err, &e):
			if e.File != path || e.Line < 0 || e.Line > lines {
				t.Fatalf("error %v: line outside the file's %d lines", err, lines)
			}
			if strings.ContainsAny(e.Error(), "\n\r") {
				t.Fatalf("error spans lines: %q", e.Error())
			}
		default:
			t.Fatalf("error of type %T: %v", err, err)
		}
		if c != nil {
			t.Fatalf("Parse returned a config and an error")
		}
		return nil
	}
	size := 0
	for _, s := range c.Settings {
		if s.Line < 1 || s.Line > lines {
			t.Fatalf("setting %+v: line outside the file's %d lines", s, lines)
		}
		if !s.Set && (s.Value != "" || s.Quoted) {
			t.Fatalf("unset setting with a value: %+v", s)
		}
		size += len(s.Name) + len(s.Value)
	}
	if size > 8*len(data)+1<<20 {
		t.Fatalf("%d bytes of settings from %d of input", size, len(data))
	}
	for _, patterns := range [][]string{nil, {"*"}, {"*.shm_path", "chnl*"}} {
		ks, err := KeyFileSettings(c, patterns)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || e.Line > lines {
				t.Fatalf("KeyFileSettings: %v", err)
			}
			continue
		}
		for _, k := range ks {
			if k.Empty != (!k.Set || (k.Value == "" && k.Malformed == "")) {
				t.Fatalf("Empty is %v for %+v", k.Empty, k.Setting)
			}
			if k.Malformed != "" {
				t.Fatalf("malformed key-file setting returned: %+v", k.Setting)
			}
			if k.HasProj != (k.ProjSetting != nil) {
				t.Fatalf("HasProj %v with sibling %v", k.HasProj, k.ProjSetting)
			}
		}
	}
	return c
}

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{
		"chnl_shm_path : /data/path_B\nchnl_shm_proj : l\n",
		"[chnl_b]\nshm_path = /data/path_B ; B\nshm_proj = 0x6c\n[chnl_c]\nshm_path = \"/data/path_C\"\n",
		"export CHNL_SHM_PATH=\"/data/path_B\"\nexport CHNL_SHM_PROJ='l'\n",
		"chnl_shm_path = \"/data/path_B\n",
		"shm_path = /x\nshm_proj = 010\n",
		"[remote \"origin\"]\n\turl = x\n# c\n; c\n// c\nkey value\nk := v\n",
		"a=\"\\\"\\\\\\n\\t\\$\\`\\q\"\n",
		"\xef\xbb\xbfk = v\r\n",
	} {
		f.Add([]byte(s))
	}
	seedFiles(f, ".conf", ".cnf", "")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := checkParse(t, "f.conf", data)
		if c == nil {
			return
		}
		// Sniffing may read the file as JSON or YAML; in the line format,
		// settings come in line order.
		if c.Format == FormatLines {
			for i := 1; i < len(c.Settings); i++ {
				if c.Settings[i].Line <= c.Settings[i-1].Line {
					t.Fatalf("settings out of line order: %+v then %+v", c.Settings[i-1], c.Settings[i])
				}
			}
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	for _, s := range []string{
		"channels:\n  b:\n    shm_path: /data/path_B\n    shm_proj: l\n",
		"defaults: &d\n  shm_proj: l\nb:\n  <<: *d\n  shm_path: /x\n",
		"a: &a [*a]\n",
		"a: &a {<<: *a}\n",
		"- a\n- {b: [1, 2, {c: ~}]}\n---\nd: |\n  x\n",
		"a: [1\n",
		"? [a]\n: b\n",
		"a: !!binary aGVsbG8=\nb: !custom x\n",
	} {
		f.Add([]byte(s))
	}
	seedFiles(f, ".yaml", ".yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "f.yaml", data)
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"chnl_b": {"shm_path": "/data/path_B", "shm_proj": "l"}, "x": [1, null, true, 1e3]}`,
		`[{"a": {"b": [[]]}}, "s", -0.5]`,
		`{"a": 1} {"b": 2}`,
		`{"a": 1,}`,
		`"top"`,
		`{"\u0000": "\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	seedFiles(f, ".json")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := checkParse(t, "f.json", data)
		if len(data) > MaxSize || bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
			return // not a configuration file whatever its syntax
		}
		// The oracle: encoding/json's own validity check. Blank files are
		// configurations without settings; past the bounds valid JSON is
		// refused too.
		body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		valid := len(bytes.TrimSpace(body)) == 0 || json.Valid(body)
		if c != nil && !valid {
			t.Fatalf("invalid JSON accepted")
		}
		if c == nil && valid {
			_, err := Parse("f.json", data)
			if !strings.Contains(err.Error(), "nested deeper") && !strings.Contains(err.Error(), "expand to more") {
				t.Fatalf("valid JSON refused: %v", err)
			}
		}
	})
}

func FuzzParseTOML(f *testing.F) {
	for _, s := range []string{
		"[chnl.b]\nshm_path = \"/data/path_B\"\nshm_proj = \"l\"\n",
		"[[channel]]\nipc.shm_key_file = \"/x\"\n[[channel]]\nipc = { shm_key_file = '/y', shm_proj = 108 }\n[channel.sub]\nz = 1\n",
		"a = [1, [2, {b = 3}]]\nml = \"\"\"\nx\"\"\"\nd = 2024-01-02T03:04:05Z\n",
		"a = 1\na = 2\n",
		"[a]\n[a]\n",
		"[[a.b]]\n[a]\n",
	} {
		f.Add([]byte(s))
	}
	seedFiles(f, ".toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "f.toml", data)
	})
}

func FuzzKeyFileSettings(f *testing.F) {
	f.Add("chnl_shm_path", "/data/path_B", "chnl_shm_proj", "l", true)
	f.Add("ipc.shm.keyfile", "", "ipc.shm.proj", "'1'", false)
	f.Add("HostKey", "/etc/ssh/k", "x", "0x6c", true)
	f.Add("aShmKeyPath", "path_B", "aShmProj", "010", true)
	f.Fuzz(func(t *testing.T, name, value, projName, proj string, quoted bool) {
		c := &Config{Path: "f.conf", Settings: []Setting{
			{Name: name, Value: value, Line: 1, Set: value != "", Quoted: quoted},
			{Name: projName, Value: proj, Line: 2, Set: true, Quoted: quoted},
		}}
		ks, err := KeyFileSettings(c, nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line != 2 {
				t.Fatalf("error %v, not at the sibling's line", err)
			}
			return
		}
		for _, k := range ks {
			if k.Empty != (k.Value == "") {
				t.Fatalf("Empty %v for value %q", k.Empty, k.Value)
			}
			if !k.Empty && !isPathValue(k.Value, true) {
				t.Fatalf("value %q is not a path", k.Value)
			}
		}
	})
}
