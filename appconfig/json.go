package appconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// parseJSON reads a JSON document with the token API, so that each value's
// line can be taken from the decoder's offset.
func parseJSON(file string, data []byte) ([]Setting, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	idx := newLineIndex(data)
	// Unmarshal checks the whole input first and reports errors at their
	// offset in it; the Decoder's offsets are relative to its buffer.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		line := 0
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = idx.line(max(int(se.Offset)-1, 0))
		}
		return nil, newError(file, line, "invalid JSON: %v: fix the JSON syntax", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	col := newCollector(file, len(data))
	type frame struct {
		object  bool
		wantKey bool // in an object, the next token is a key
		key     string
		n       int // in a list, the index of the next item
	}
	var stack []frame
	done := false // the top-level value is complete
	// name is the name of the value about to be read.
	name := func() string {
		f := &stack[len(stack)-1]
		if f.object {
			return f.key
		}
		return strconv.Itoa(f.n)
	}
	// valueDone moves the enclosing container past the value just read.
	valueDone := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		f := &stack[len(stack)-1]
		if f.object {
			f.wantKey = true
		} else {
			f.n++
		}
	}
	for {
		tok, err := dec.Token()
		line := idx.line(max(int(dec.InputOffset())-1, 0))
		if err == io.EOF && len(stack) == 0 {
			return col.out, nil
		}
		// Unmarshal accepted the input: neither case is expected.
		if err != nil {
			return nil, newError(file, line, "invalid JSON: %v: fix the JSON syntax", err)
		}
		if done {
			return nil, newError(file, line, "invalid JSON: data after the top-level value: keep one value per file")
		}
		if err := col.visit(line); err != nil {
			return nil, err
		}
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					col.pop()
				}
				valueDone()
				continue
			}
			key, ok := tok.(string)
			if !ok { // the decoder does not let this happen
				return nil, newError(file, line, "invalid JSON: object key %v is not a string: fix the JSON syntax", tok)
			}
			stack[len(stack)-1].key = key
			stack[len(stack)-1].wantKey = false
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) > 0 {
					if err := col.push(name(), line); err != nil {
						return nil, err
					}
				}
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
			case ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					col.pop()
				}
				valueDone()
			}
			continue
		case nil:
			err = addScalar(col, len(stack) > 0, name, Setting{Line: line})
		case string:
			err = addScalar(col, len(stack) > 0, name, Setting{Value: t, Line: line, Set: true, Quoted: true})
		case bool:
			err = addScalar(col, len(stack) > 0, name, Setting{Value: strconv.FormatBool(t), Line: line, Set: true})
		case json.Number:
			err = addScalar(col, len(stack) > 0, name, Setting{Value: t.String(), Line: line, Set: true})
		default:
			err = newError(file, line, "invalid JSON: unexpected token %v: fix the JSON syntax", fmt.Sprint(t))
		}
		if err != nil {
			return nil, err
		}
		valueDone()
	}
}

// addScalar records a scalar value inside a container; a top-level scalar is
// no setting.
func addScalar(col *collector, inside bool, name func() string, s Setting) error {
	if !inside {
		return nil
	}
	if err := col.push(name(), s.Line); err != nil {
		return err
	}
	defer col.pop()
	return col.add(s)
}
