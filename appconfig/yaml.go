package appconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v4"
)

// yamlLineRE takes the line out of a YAML error that is not a *LoadError.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads every document of a YAML stream into settings, each named
// as if its document were alone. Aliases and merge keys ("<<: *base") are
// followed, the values keeping the lines of the anchored text; the budget
// stops alias bombs, and maxDepth aliases that contain themselves.
func parseYAML(file string, data []byte) ([]Setting, error) {
	loader, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil { // only options can fail, and there are none
		return nil, newError(file, 0, "cannot read YAML: %v: report this as a bug", err)
	}
	lines := bytes.Count(data, []byte("\n"))
	if !bytes.HasSuffix(data, []byte("\n")) {
		lines++
	}
	w := yamlWalker{col: newCollector(file, len(data)), lines: lines}
	for {
		var doc yaml.Node
		err := loadYAML(loader, &doc)
		if err == io.EOF {
			return w.col.out, nil
		}
		if err != nil {
			line, msg := yamlErrorLine(err, lines)
			return nil, newError(file, line, "invalid YAML: %s: fix the YAML syntax", msg)
		}
		if err := w.walk(&doc); err != nil {
			return nil, err
		}
	}
}

// loadYAML loads one document, turning a panic in the library into an
// error: a file that upsets the parser is not worth a crash.
func loadYAML(l *yaml.Loader, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return l.Load(doc)
}

// yamlErrorLine returns the line of a YAML error, 0 if unknown, and its
// message without the position. At the end of the input (lines long) the
// library points past it: the line where the unclosed construct began says
// more.
func yamlErrorLine(err error, lines int) (int, string) {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		line := le.Mark.Line
		if line > lines {
			line = lines
			if c := le.ContextMark.Line; c > 0 && c <= lines {
				line = c
			}
		}
		return line, le.Message
	}
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, msg
}

type yamlWalker struct {
	col   *collector
	lines int
}

// line is a node's line, kept inside the file: an empty value at the end
// of the input is placed past it.
func (w yamlWalker) line(n *yaml.Node) int {
	return max(1, min(n.Line, w.lines))
}

// walk records the scalars under n at the collector's current path.
func (w yamlWalker) walk(n *yaml.Node) error {
	if err := w.col.visit(w.line(n)); err != nil {
		return err
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := w.walk(c); err != nil {
				return err
			}
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			return w.walk(n.Alias)
		}
	case yaml.ScalarNode:
		s := Setting{Line: w.line(n)}
		if n.ShortTag() != "!!null" {
			s.Value, s.Set = n.Value, true
			s.Quoted = n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
		}
		return w.col.add(s)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := w.child(strconv.Itoa(i), c); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		return w.mapping(n)
	}
	return nil
}

// child walks a map value or list item under name.
func (w yamlWalker) child(name string, n *yaml.Node) error {
	if err := w.col.push(name, w.line(n)); err != nil {
		return err
	}
	defer w.col.pop()
	return w.walk(n)
}

// mapping walks a map's own keys, then the keys its merge keys bring in that
// it does not set itself, as YAML's merge rule says.
func (w yamlWalker) mapping(n *yaml.Node) error {
	seen := map[string]int{} // key -> line
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, ok := yamlKey(k)
		if !ok {
			continue // a list or map as a key names nothing
		}
		if prev, dup := seen[key]; dup {
			return newError(w.col.file, w.line(k), "invalid YAML: key %q is already defined on line %d: remove one of them", key, prev)
		}
		seen[key] = w.line(k)
		if err := w.child(key, v); err != nil {
			return err
		}
	}
	for _, m := range merges {
		if err := w.merge(m, seen, 0); err != nil {
			return err
		}
	}
	return nil
}

// merge walks the keys of a merged map (or list of maps) that are not in seen,
// adding them to seen.
func (w yamlWalker) merge(m *yaml.Node, seen map[string]int, depth int) error {
	if err := w.col.visit(w.line(m)); err != nil {
		return err
	}
	if depth > maxDepth {
		return newError(w.col.file, w.line(m), "merge keys nested deeper than %d levels: flatten the file", maxDepth)
	}
	switch m.Kind {
	case yaml.AliasNode:
		if m.Alias != nil {
			return w.merge(m.Alias, seen, depth+1)
		}
	case yaml.SequenceNode:
		for _, c := range m.Content {
			if err := w.merge(c, seen, depth+1); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		var inner []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				inner = append(inner, v)
				continue
			}
			key, ok := yamlKey(k)
			if !ok {
				continue
			}
			if _, set := seen[key]; set {
				continue
			}
			seen[key] = w.line(k)
			if err := w.child(key, v); err != nil {
				return err
			}
		}
		for _, c := range inner {
			if err := w.merge(c, seen, depth+1); err != nil {
				return err
			}
		}
	default:
		return newError(w.col.file, w.line(m), "invalid YAML: a merge key (<<) takes a map or a list of maps: fix the merge")
	}
	return nil
}

// yamlKey is the name a map key gives its value: scalars only, aliases
// followed.
func yamlKey(k *yaml.Node) (string, bool) {
	for range 8 {
		switch {
		case k == nil:
			return "", false
		case k.Kind == yaml.AliasNode:
			k = k.Alias
		case k.Kind == yaml.ScalarNode:
			return k.Value, true
		default:
			return "", false
		}
	}
	return "", false
}
