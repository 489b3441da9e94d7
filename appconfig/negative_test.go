package appconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// readConfig reads a file the way the command does: Open, then Read.
func readConfig(path string) (*Config, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Read(path, f, st.Size())
}

// System configuration files must not read as channel configs: with the
// default rule none of them names a key file, and none fails to parse.
func TestEtcConfigsNameNoKeyFiles(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"/etc/*.conf", "/etc/*/*.conf"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	seen := 0
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		c, err := readConfig(p)
		if errors.Is(err, fs.ErrPermission) {
			continue
		}
		seen++
		if errors.Is(err, ErrNotConfig) {
			t.Logf("%s: %v", p, err)
			continue
		}
		if err != nil {
			t.Errorf("Parse: %v", err)
			continue
		}
		ks, err := KeyFileSettings(c, nil)
		if err != nil {
			t.Errorf("KeyFileSettings: %v", err)
		}
		for _, k := range ks {
			t.Errorf("%s:%d: %s = %q read as a key-file setting (empty: %v)", p, k.Line, k.Name, k.Value, k.Empty)
		}
		t.Logf("%s: %s, %d settings, none names a key file", p, c.Format, len(c.Settings))
	}
	if seen == 0 {
		t.Skip("no readable /etc/*.conf or /etc/*/*.conf files here")
	}
	t.Logf("%d files read", seen)
}

// Fixtures shaped like real system and service files, each with settings that
// mention shared memory, IPC or keys without naming System V key files.
func TestNegativeFixtures(t *testing.T) {
	tests := []struct {
		file     string
		format   string
		settings int // how many settings the file has, so that it was read at all
	}{
		{"sysctl.conf", FormatLines, 11},
		{"sshd_config", FormatLines, 20},
		{"postgresql.conf", FormatLines, 21},
		{"nginx.conf", FormatLines, 21},
		{"ld.so.conf", FormatLines, 0},
		{"my.cnf", FormatLines, 9},
		{"tls-service.yaml", FormatYAML, 13},
		{"docker-compose.yml", FormatYAML, 10},
		{"pod.json", FormatJSON, 14},
		{"app.toml", FormatTOML, 9},
		{"empty.conf", FormatLines, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "negative", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(path, data)
			if err != nil {
				t.Fatal(err)
			}
			if c.Format != tt.format || len(c.Settings) != tt.settings {
				t.Errorf("read as %s with %d settings, want %s with %d", c.Format, len(c.Settings), tt.format, tt.settings)
				for _, s := range c.Settings {
					t.Logf("  %d: %s = %q", s.Line, s.Name, s.Value)
				}
			}
			ks, err := KeyFileSettings(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				t.Errorf("line %d: %s = %q read as a key-file setting", k.Line, k.Name, k.Value)
			}
		})
	}
}
