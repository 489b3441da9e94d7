package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// parseScanner is how Parse read a manifest before it read it whole:
// bufio.Scanner with a buffer of at most maxLine bytes. It is the
// reference for the line splitting, the long-line error and the order of
// errors.
func parseScanner(r io.Reader, file string) ([]Channel, error) {
	var chans []Channel
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		c, l, ok, err := parseLine(sc.Text(), file, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		name := c.Name
		if l != nil {
			name = l.Name
		}
		if prev, dup := seen[name]; dup {
			return nil, &Error{file, n, "name", fmt.Sprintf("channel %q is already defined on line %d: give each channel its own name", name, prev)}
		}
		seen[name] = n
		if l == nil {
			chans = append(chans, c)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &Error{file, n + 1, "", fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return chans, nil
}

// TestParseLinesAsScanner holds Parse against the Scanner-based reading on
// random manifests: carriage returns, blank and comment lines, exe= fields
// (and one out of place), a last line with and without a newline, lines of
// 65,534 to 65,537 bytes, duplicate names, bad fields, and a reader that
// fails part way.
func TestParseLinesAsScanner(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	pieces := []func() string{
		func() string { return fmt.Sprintf("c%d /k/%d l shm 1 app", r.IntN(30), r.IntN(5)) },
		func() string { return "" },
		func() string { return "# comment" },
		func() string { return "   " },
		func() string { return fmt.Sprintf("c%d /k l bad", r.IntN(30)) },
		func() string { return fmt.Sprintf("c%d /k\\040x 0x41", r.IntN(30)) },
		func() string { return fmt.Sprintf("c%d /k l shm 1 app exe=/usr/bin/w exe=/opt/a\\040b", r.IntN(30)) },
		func() string { return fmt.Sprintf("c%d /k l exe=/usr/bin/w shm", r.IntN(30)) },
		func() string {
			line := fmt.Sprintf("c%d /k l # ", r.IntN(30))
			return line + strings.Repeat("x", maxLine-2+r.IntN(4)-len(line))
		},
	}
	for round := range 3000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))]())
			if r.IntN(4) == 0 {
				b.WriteString("\r")
			}
			if r.IntN(6) != 0 {
				b.WriteString("\n")
			} else {
				b.WriteString("\r\n")
			}
		}
		text := b.String()
		if r.IntN(3) == 0 {
			text = strings.TrimSuffix(text, "\n")
		}
		readers := map[string]func() io.Reader{
			"whole":  func() io.Reader { return strings.NewReader(text) },
			"halves": func() io.Reader { return iotest.HalfReader(strings.NewReader(text)) },
			"failing": func() io.Reader {
				return io.MultiReader(strings.NewReader(text[:len(text)/2]), iotest.ErrReader(errors.New("disk error")))
			},
		}
		for name, reader := range readers {
			want, wantErr := parseScanner(reader(), "m")
			got, err := Parse(reader(), "m")
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %s reader, %q:\n got %+v, %v\nwant %+v, %v", round, name, text, got, err, want, wantErr)
			}
		}
	}
}
