package appconfig

import (
	"bytes"
	"errors"
	"strings"
)

// maxKey bounds the key and the section name of a line-format setting: longer
// ones are not configuration keys, and the bound keeps names short.
const maxKey = 256

// lineFile is what the line format holds besides the settings.
type lineFile struct {
	settings []Setting
	// literal is, per setting, whether its value is taken as written
	// rather than expanded: single-quoted, as in the shell, or
	// double-quoted with an escaped '$' or '`'.
	literal  []bool
	includes []Include
}

// parseLines reads the settings of the line format (see parseLineFile).
func parseLines(data []byte) ([]Setting, error) {
	f, err := parseLineFile(data)
	if err != nil {
		return nil, err
	}
	return f.settings, nil
}

// parseLineFile reads the line format: "key = value", "key: value" and
// "key value" lines, "[section]" headers (a setting's name is then
// "section.key"), shell-style "export NAME=value", '#', ';' and "//" comment
// lines, values in single or double quotes, and include directives (see
// includeDirective), which are not settings. A line that fits none of these
// is skipped, so files with syntaxes of their own read as a few harmless
// settings or none. The bytes need not be UTF-8: names and values keep them
// as they are. It fails only when the settings would be out of proportion to
// the input.
func parseLineFile(data []byte) (lineFile, error) {
	var out lineFile
	b := newBudget(len(data))
	section := ""
	skip := false // under a section header too long to name
	for n := 1; len(data) > 0; n++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		s := strings.TrimLeft(strings.TrimSuffix(string(raw), "\r"), " \t")
		if in, ok := includeDirective(s, section == ""); ok {
			in.Line = n
			if !b.spend(len(in.Pattern)) {
				return lineFile{}, errors.New(errBudget)
			}
			out.includes = append(out.includes, in)
			continue
		}
		if s == "" || s[0] == '#' || s[0] == ';' || strings.HasPrefix(s, "//") {
			continue
		}
		if s[0] == '[' {
			if name, ok := sectionName(s); ok {
				section, skip = name, len(name) > maxKey
			}
			continue
		}
		if skip {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			s = strings.TrimLeft(rest, " \t")
		}
		key, value, ok := splitSetting(s)
		if !ok {
			continue
		}
		name := key
		if section != "" {
			name = section + "." + key
		}
		st := Setting{Name: name, Line: n}
		st.Value, st.Quoted, st.Malformed = lineValue(value)
		st.Set = st.Value != "" || st.Quoted || st.Malformed != ""
		if !b.spend(len(st.Name) + len(st.Value)) {
			return lineFile{}, errors.New(errBudget)
		}
		out.settings = append(out.settings, st)
		out.literal = append(out.literal, isLiteral(value, st.Quoted))
	}
	return out, nil
}

// splitSetting splits a "key = value", "key: value", "key := value" or
// "key value" line into its key and the raw text of its value. It reports
// false for a line that is no setting: a lone word, "key(", "key{".
func splitSetting(s string) (key, value string, ok bool) {
	key = s[:keyLen(s)]
	if key == "" || len(key) > maxKey || !isKeyStart(key[0]) {
		return "", "", false
	}
	rest := s[len(key):]
	after := strings.TrimLeft(rest, " \t")
	switch {
	case after == "":
		return "", "", false // a lone word: a flag, a block's end
	case strings.HasPrefix(after, ":="):
		return key, after[2:], true
	case after[0] == '=' || after[0] == ':':
		return key, after[1:], true
	case len(after) < len(rest) && after[0] != '{' && after[0] != '(':
		return key, after, true // "key value"
	}
	return "", "", false // "key(", "key{", "key[": not a setting
}

// isLiteral reports whether a raw line-format value is taken as written,
// without expanding $VAR or ~: single-quoted, or double-quoted with an
// escaped '$' or '`' (which the shell would not expand).
func isLiteral(raw string, quoted bool) bool {
	raw = strings.TrimSpace(raw)
	if !quoted || raw == "" {
		return false
	}
	return raw[0] == '\'' || strings.Contains(raw, "\\$") || strings.Contains(raw, "\\`")
}

// sectionName reads a "[section]" header: `[remote "origin"]` is
// "remote.origin". It reports false for a line that is not a header. A name
// longer than maxKey is returned as is, for the caller to skip its keys.
func sectionName(s string) (string, bool) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return "", false
	}
	if tail := strings.TrimSpace(s[end+1:]); tail != "" && tail[0] != '#' && tail[0] != ';' {
		return "", false
	}
	inner := strings.TrimSpace(s[1:end])
	if len(inner) > maxKey {
		return inner, true
	}
	parts := strings.Fields(inner)
	for i, p := range parts {
		if len(p) >= 2 && (p[0] == '"' || p[0] == '\'') && p[len(p)-1] == p[0] {
			parts[i] = p[1 : len(p)-1]
		}
	}
	return strings.Join(parts, "."), true
}

func isKeyStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// keyLen is the length of the key at the start of s: letters, digits, '_',
// '.' and '-'.
func keyLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isKeyStart(c) || ('0' <= c && c <= '9') || c == '.' || c == '-') {
			return i
		}
	}
	return len(s)
}

// lineValue reads the value part of a line: a quoted string (double quotes
// take backslash escapes, single quotes none), which a comment ('#', ';' or
// "//") may follow, or bare text up to a comment (a '#' or ';' after white
// space). A trailing ';', as in C-style
// "key = value;" files, is dropped. It returns the value, whether it was
// quoted, and why it could not be read, if so: then value is the raw text.
func lineValue(v string) (value string, quoted bool, malformed string) {
	v = strings.TrimSpace(v)
	if v == "" || v[0] == '#' || v[0] == ';' {
		return "", false, ""
	}
	if q := v[0]; q == '"' || q == '\'' {
		var sb strings.Builder
		i := 1
		for ; i < len(v) && v[i] != q; i++ {
			c := v[i]
			if c == '\\' && q == '"' && i+1 < len(v) {
				i++
				switch e := v[i]; e {
				case 'n':
					sb.WriteByte('\n')
				case 't':
					sb.WriteByte('\t')
				case '"', '\\', '$', '`':
					sb.WriteByte(e)
				default:
					sb.WriteByte('\\')
					sb.WriteByte(e)
				}
				continue
			}
			sb.WriteByte(c)
		}
		if i >= len(v) {
			if q == '"' {
				return v, false, "unterminated double quote: close the quote"
			}
			return v, false, "unterminated single quote: close the quote"
		}
		// After the quote: nothing, a C-style ';', or a comment ('#', ';'
		// or "//"), with or without white space before it.
		tail := strings.TrimSpace(v[i+1:])
		if tail != "" && tail[0] != '#' && tail[0] != ';' && !strings.HasPrefix(tail, "//") {
			return v, false, "text after the closing quote: quote the whole value"
		}
		return sb.String(), true, ""
	}
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = strings.TrimRight(v[:i], " \t")
			break
		}
	}
	return strings.TrimSuffix(v, ";"), false, ""
}
