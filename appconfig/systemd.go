package appconfig

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
)

// FormatSystemd is Config.Format for systemd unit files and drop-ins.
const FormatSystemd = "systemd"

// unitExts are the extensions of systemd unit files read for settings.
var unitExts = map[string]bool{".service": true, ".socket": true, ".timer": true, ".mount": true}

// unitSections are section headers that make a .conf file under a "*.d"
// directory a unit drop-in.
var unitSections = []string{"[Unit]", "[Service]", "[Socket]", "[Timer]", "[Mount]", "[Install]"}

// isUnit reports whether the file at path is a systemd unit or drop-in: by
// its extension, or a .conf file under a "*.d" directory with a unit
// section.
func isUnit(path string, data []byte) bool {
	ext := filepath.Ext(path)
	if unitExts[ext] {
		return true
	}
	if ext != ".conf" || !strings.HasSuffix(filepath.Base(filepath.Dir(path)), ".d") {
		return false
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		for _, s := range unitSections {
			if string(line) == s {
				return true
			}
		}
	}
	return false
}

// parseUnitFile reads a systemd unit file or drop-in: "Key=Value" lines
// under "[Section]" headers, with '#' and ';' comments and lines continued
// by a trailing backslash. A setting's name is "Section.Key", except that
// each assignment of an Environment= line is a setting of its own, named
// by its variable (Environment="A=1" "B=2 3" gives A and B), and that
// EnvironmentFile= is an include of an environment file ("-" before the
// path: it may be missing). An empty Environment= clears the assignments
// before it, as systemd does. systemd does not expand variables in
// Environment= values, so neither does KeyFileSettings.
func parseUnitFile(path string, data []byte) (*File, error) {
	if len(data) > MaxSize {
		// Named as a configuration, it is one: too large is an error, not
		// a key file.
		return nil, newError(path, 0, "larger than %d bytes: keep configuration files under that size", MaxSize)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, notConfig(path, "binary data")
	}
	settings, includes, err := parseUnit(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err != nil {
		return nil, notConfig(path, err.Error())
	}
	literal := make([]bool, len(settings))
	for i := range literal {
		literal[i] = true
	}
	c := &Config{Path: path, Format: FormatSystemd, Settings: settings}
	return &File{Config: c, Includes: includes, literal: literal, env: &Env{}}, nil
}

func parseUnit(data []byte) ([]Setting, []Include, error) {
	var out []Setting
	var includes []Include
	b := newBudget(len(data))
	section := ""
	envFrom := -1 // index in out of the first Environment= setting since the last reset
	var logical strings.Builder
	start := 0
	for n := 1; len(data) > 0; n++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		s := strings.TrimSpace(strings.TrimSuffix(string(raw), "\r"))
		if logical.Len() == 0 {
			start = n
			if s == "" || s[0] == '#' || s[0] == ';' {
				continue
			}
		} else if s != "" && (s[0] == '#' || s[0] == ';') {
			continue // a comment inside a continued line
		}
		if cont, ok := strings.CutSuffix(s, `\`); ok && len(data) > 0 {
			logical.WriteString(cont)
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(s)
		s = logical.String()
		logical.Reset()
		if s == "" {
			continue
		}
		if s[0] == '[' {
			if strings.HasSuffix(s, "]") {
				section = s[1 : len(s)-1]
			}
			continue
		}
		key, value, ok := strings.Cut(s, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || section == "" || key == "" || len(key) > maxKey || len(section) > maxKey {
			continue
		}
		switch key {
		case "Environment":
			if value == "" {
				if envFrom >= 0 {
					out = out[:envFrom]
					envFrom = -1
				}
				continue
			}
			words, ok := unitWords(value)
			if !ok {
				continue // systemd ignores the line
			}
			for _, w := range words {
				name, v, ok := strings.Cut(w.text, "=")
				if !ok || !isVarName(name) {
					continue
				}
				if envFrom < 0 {
					envFrom = len(out)
				}
				if !b.spend(len(name) + len(v)) {
					return nil, nil, errors.New(errBudget)
				}
				out = append(out, Setting{Name: name, Value: v, Line: start, Set: v != "" || w.quoted, Quoted: w.quoted})
			}
		case "EnvironmentFile":
			p, optional := strings.CutPrefix(value, "-")
			if p == "" {
				continue
			}
			if !b.spend(len(p)) {
				return nil, nil, errors.New(errBudget)
			}
			includes = append(includes, Include{Pattern: p, Line: start, Optional: optional, Env: true})
		default:
			name := section + "." + key
			if !b.spend(len(name) + len(value)) {
				return nil, nil, errors.New(errBudget)
			}
			out = append(out, Setting{Name: name, Value: value, Line: start, Set: value != ""})
		}
	}
	return out, includes, nil
}

// unitWord is one word of a systemd value list.
type unitWord struct {
	text   string
	quoted bool
}

// unitWords splits a systemd value into words as Environment= does:
// separated by white space, with double and single quotes (which may start
// within a word) and C-style backslash escapes. It reports false for an
// unterminated quote.
func unitWords(v string) ([]unitWord, bool) {
	var words []unitWord
	var sb strings.Builder
	in := false // inside a word
	quoted := false
	var q byte // the open quote, or 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			switch e := v[i]; e {
			case 'n':
				sb.WriteByte('\n')
			case 't':
				sb.WriteByte('\t')
			default:
				sb.WriteByte(e)
			}
			in = true
		case q != 0:
			if c == q {
				q = 0
			} else {
				sb.WriteByte(c)
			}
		case c == '"' || c == '\'':
			q, in, quoted = c, true, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, unitWord{sb.String(), quoted})
				sb.Reset()
				in, quoted = false, false
			}
		default:
			sb.WriteByte(c)
			in = true
		}
	}
	if q != 0 {
		return nil, false
	}
	if in {
		words = append(words, unitWord{sb.String(), quoted})
	}
	return words, true
}
