package appconfig

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// MaxTOMLKeys is the most keys a TOML configuration may hold, counting each
// part of a dotted key or table header and each item of an array. The
// TOML library checks every key against the keys before it, one by one,
// so its time grows with the square of their number: 10,000 keys take it
// some 0.1 s, 124,000 keys (1 MiB of "kN = N" lines) took 22 s. A
// document with more is refused before the library sees it.
const MaxTOMLKeys = 10000

// parseTOML reads a TOML document three times: its keys are counted
// against MaxTOMLKeys, the decoder checks it whole (duplicate keys, tables
// defined twice) and reports errors with their line, and the library's
// expression parser gives each value's position, which the decoder's result
// does not keep.
func parseTOML(file string, data []byte) ([]Setting, error) {
	if offset, over := countTOMLKeys(data); over {
		return nil, newError(file, newLineIndex(data).line(offset), "more than %d TOML keys: split the file, or write it as JSON (the TOML parser slows down with the square of the key count)", MaxTOMLKeys)
	}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		line := 0
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ = de.Position()
		}
		return nil, newError(file, line, "invalid TOML: %s: fix the TOML syntax", strings.TrimPrefix(err.Error(), "toml: "))
	}
	t := tomlWalker{
		col:    newCollector(file, len(data)),
		idx:    newLineIndex(data),
		tables: map[tableKey]int{},
		arrays: map[int]int{},
	}
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			if err := t.header(e); err != nil {
				return nil, err
			}
		case unstable.KeyValue:
			if err := t.topKeyValue(e); err != nil {
				return nil, err
			}
		}
	}
	if err := p.Error(); err != nil { // the decoder accepted the document: not expected
		return nil, newError(file, 0, "invalid TOML: %v: fix the TOML syntax", err)
	}
	return t.col.out, nil
}

// tableKey names one table of the document by its parent and its own name,
// so that a header costs its own length, not its depth times its length.
type tableKey struct {
	parent int
	name   string
}

type tomlWalker struct {
	col   *collector
	idx   lineIndex
	table []string // the current [table]'s path, list indexes resolved
	// tables numbers the tables seen, from 1 (0 is the root).
	tables map[tableKey]int
	ids    int
	// arrays counts the elements of each array of tables, by its number.
	arrays map[int]int
}

// header resolves a [table] or [[array]] header to the path its keys get:
// "a.b" for [a.b], "a.2" for the third [[a]], "a.2.b" for [a.b] after it.
func (t *tomlWalker) header(e *unstable.Node) error {
	var parts []string
	line := 0
	it := e.Key()
	for it.Next() {
		if line == 0 {
			line = t.idx.line(int(it.Node().Raw.Offset))
		}
		parts = append(parts, string(it.Node().Data))
	}
	if len(parts) > maxDepth {
		return newError(t.col.file, line, "table nested deeper than %d levels: flatten the file", maxDepth)
	}
	t.table = t.table[:0]
	id := 0
	for i, name := range parts {
		t.table = append(t.table, name)
		id = t.intern(id, name)
		n, isArray := t.arrays[id]
		if e.Kind == unstable.ArrayTable && i == len(parts)-1 {
			t.arrays[id] = n + 1
			n, isArray = n+1, true
		}
		if isArray {
			index := strconv.Itoa(n - 1)
			t.table = append(t.table, index)
			id = t.intern(id, index)
		}
	}
	if len(t.table) >= maxDepth {
		return newError(t.col.file, line, "table nested deeper than %d levels: flatten the file", maxDepth)
	}
	return nil
}

func (t *tomlWalker) intern(parent int, name string) int {
	k := tableKey{parent, name}
	if id, ok := t.tables[k]; ok {
		return id
	}
	t.ids++
	t.tables[k] = t.ids
	return t.ids
}

// topKeyValue records a top-level "key = value" under the current table.
func (t *tomlWalker) topKeyValue(e *unstable.Node) error {
	defer func() { t.col.path = t.col.path[:0] }()
	for _, name := range t.table {
		if err := t.col.push(name, 0); err != nil {
			return err
		}
	}
	return t.keyValue(e)
}

// keyValue records "key = value" under the collector's current path.
func (t *tomlWalker) keyValue(e *unstable.Node) error {
	depth := len(t.col.path)
	defer func() { t.col.path = t.col.path[:depth] }()
	it := e.Key()
	for it.Next() {
		if err := t.col.push(string(it.Node().Data), t.idx.line(int(it.Node().Raw.Offset))); err != nil {
			return err
		}
	}
	return t.value(e.Value())
}

// value records a value at the collector's current path: scalars as
// settings, arrays and inline tables item by item.
func (t *tomlWalker) value(v *unstable.Node) error {
	line := t.idx.line(int(v.Raw.Offset))
	if err := t.col.visit(line); err != nil {
		return err
	}
	switch v.Kind {
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); i++ {
			if err := t.col.push(strconv.Itoa(i), line); err != nil {
				return err
			}
			err := t.value(it.Node())
			t.col.pop()
			if err != nil {
				return err
			}
		}
		return nil
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				if err := t.keyValue(kv); err != nil {
					return err
				}
			}
		}
		return nil
	case unstable.String:
		return t.col.add(Setting{Value: string(v.Data), Line: line, Set: true, Quoted: true})
	default: // integers, floats, booleans, dates: as written
		return t.col.add(Setting{Value: string(v.Data), Line: line, Set: true})
	}
}

// countTOMLKeys counts the keys of a TOML document, without following the
// library's checks, and reports whether they are more than MaxTOMLKeys, with
// the offset of the expression that went past. A syntax error ends the
// count: the decoder then reports it, having checked no more keys than
// were counted.
func countTOMLKeys(data []byte) (offset int, over bool) {
	n := 0
	var p unstable.Parser
	p.Reset(data)
	var stack []unstable.Iterator
	for p.NextExpression() {
		e := p.Expression()
		it := e.Key()
		for it.Next() {
			n++
		}
		if e.Kind == unstable.KeyValue {
			stack = append(stack[:0], e.Value().Children())
			for len(stack) > 0 {
				top := &stack[len(stack)-1]
				if !top.Next() {
					stack = stack[:len(stack)-1]
					continue
				}
				c := top.Node()
				n++
				switch c.Kind {
				case unstable.KeyValue:
					k := c.Key()
					for k.Next() {
						n++
					}
					stack = append(stack, c.Value().Children())
				case unstable.Array, unstable.InlineTable:
					stack = append(stack, c.Children())
				}
			}
		}
		if n > MaxTOMLKeys {
			return int(e.Raw.Offset), true
		}
	}
	return 0, false
}
