package appconfig

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func FuzzParseUnit(f *testing.F) {
	for _, s := range []string{
		"[Service]\nEnvironment=SHM_KEY_FILE=/var/lib/app/ipc.key\nEnvironmentFile=-/etc/default/app\n",
		"[Service]\nEnvironment=\"A=1 2\" 'B=x' C=\\\"y \\\n  D=4\nEnvironment=\nExecStart=/bin/true\n",
		"[Unit]\nDescription=x\n# c\n; c\n[Install]\nWantedBy=multi-user.target\n",
		"[Service]\nEnvironment=\"A=\n",
		"[Service]\nEnvironment=A=1 \\\n# comment\n B=2\\",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		file, err := ParseFile("f.service", data)
		if err != nil {
			if !errors.Is(err, ErrNotConfig) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if file.Format != FormatSystemd || len(file.literal) != len(file.Settings) {
			t.Fatalf("format %s, %d literal flags for %d settings", file.Format, len(file.literal), len(file.Settings))
		}
		for _, s := range file.Settings {
			if s.Line < 1 || s.Line > lines || s.Name == "" {
				t.Fatalf("setting %+v outside the file's %d lines", s, lines)
			}
		}
		for _, in := range file.Includes {
			if in.Line < 1 || in.Line > lines || in.Pattern == "" || !in.Env {
				t.Fatalf("include %+v", in)
			}
		}
		ks, err := file.KeyFileSettings(nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || e.Line > lines {
				t.Fatalf("KeyFileSettings: %v", err)
			}
		}
		for _, k := range ks {
			if k.Value != k.Raw || k.Unresolved != nil {
				t.Fatalf("a unit's value was expanded: %+v", k)
			}
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"$A/b", "${A}/b", "${NOPE:-/x}", "${A-$B}", "~/k", "~bob/k", "~", "$(cmd)/k", "`cmd`", "${A", "$$", "\\$A", "${A:+x}", "${${A}}",
	} {
		f.Add(s, "/var/lib/app")
	}
	f.Fuzz(func(t *testing.T, v, a string) {
		file := &File{Config: &Config{Path: "f.env", Format: FormatLines}, env: &Env{
			Vars:    map[string]string{"A": a, "B": a + a, "HOME": a},
			HomeDir: func(u string) (string, bool) { return "/home/" + u, u == "bob" },
		}}
		x := newScope(file).expand(v)
		if len(x.unresolved) > maxUnresolved {
			t.Fatalf("%d unresolved", len(x.unresolved))
		}
		if len(x.unresolved) > 0 && x.value != v {
			t.Fatalf("unresolved %q, but the value changed to %q", x.unresolved, x.value)
		}
		if len(x.unresolved) == 0 && len(x.value) > maxExpansion && x.value != v {
			t.Fatalf("expanded to %d bytes", len(x.value))
		}
		if !strings.ContainsAny(v, "$`~") && x.value != v {
			t.Fatalf("%q without references expanded to %q", v, x.value)
		}
	})
}

// memFS is an FS over names and contents, for fuzzing Load.
type memFS map[string][]byte

func (m memFS) ReadFile(name string) ([]byte, error) {
	if data, ok := m[filepath.Clean(name)]; ok {
		return data, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (m memFS) Glob(pattern string) ([]string, error) {
	var out []string
	for name := range m {
		ok, err := filepath.Match(pattern, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// FuzzLoad reads three files that include one another as the fuzzer
// writes them: Load must end, without a panic, with files or a one-line
// error.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"include b.conf\nshm_path=$X/a\x1einclude c.conf\nX=/x\x1einclude a.conf\n",
		"include *.conf\x1e!includedir /etc\x1e.include /etc/c.conf\n",
		"X=/x\ninclude b.conf\x1eSHM_KEY_FILE=${X:-/y}/k\ninclude = c.conf\x1e@include b.conf\n",
		"include nope.conf\x1e\x1e",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parts := bytes.SplitN(data, []byte{0x1e}, 3)
		m := memFS{}
		for i, p := range parts {
			m[filepath.Join("/etc", string(rune('a'+i))+".conf")] = p
		}
		files, err := (&Loader{FS: m, MaxDepth: 4}).Load("/etc/a.conf")
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") && !strings.Contains(string(data), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if len(files) > len(m) {
			t.Fatalf("%d files read from %d", len(files), len(m))
		}
		for _, file := range files {
			if len(file.Chain) >= 4 {
				t.Fatalf("chain %q past the depth", file.Chain)
			}
			if _, err := file.KeyFileSettings(nil); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("KeyFileSettings: %v", err)
				}
			}
		}
	})
}
