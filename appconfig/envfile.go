package appconfig

import "bytes"

// ParseEnv reads an environment file (NAME=value lines, "export NAME=value",
// quoted values, '#' comments), as systemd's EnvironmentFile= and the
// shell's "set -a; . FILE" read it, into its variables; a name set twice
// keeps its last value. Values are taken as written: references in them
// are not expanded.
func ParseEnv(path string, data []byte) (map[string]string, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, newError(path, 0, "binary data: give an environment file of NAME=value lines")
	}
	settings, err := parseLines(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err != nil {
		return nil, newError(path, 0, "%v", err)
	}
	vars := map[string]string{}
	for _, s := range settings {
		if s.Malformed != "" {
			return nil, newError(path, s.Line, "%s: %s", s.Name, s.Malformed)
		}
		if isVarName(s.Name) {
			vars[s.Name] = s.Value
		}
	}
	return vars, nil
}
