// Package manifest reads the channel manifest: the named System V IPC
// channels a deployment expects, one per line, in an fstab-like layout.
//
//	# name     path                 proj  type  nattch  owner
//	orders     /etc/app/orders.conf l     shm   2       app
//	audit-q    /etc/app/audit.conf  0x41  msg   -       -
//	locks      /etc/app/locks.conf  '1'
//
// Fields are separated by white space; '#' starts a comment (at the start of
// a field); '-' leaves an optional field unset. name, path and proj are
// required; type (shm, sem or msg), nattch (N, N-M, N+), owner (a user
// name or a numeric uid) and flags (config: the key file is a configuration
// file that deploys rewrite) are optional. After them, any number of
// exe=PATH fields name the executables that may use the channel, each an
// absolute path as /proc/PID/exe shows it:
//
//	orders     /etc/app/orders.conf l     shm   2       app   exe=/usr/bin/w exe=/usr/bin/r
//	locks      /etc/app/locks.conf  '1'   exe=/usr/bin/w
//
// Every field from the fourth on that starts with "exe=" is one; the
// positional fields cannot follow it. As in fstab, a path holding a space,
// tab, newline or backslash writes it as an octal escape: \040, \011, \012,
// \134 (in exe= fields too). A relative path is taken relative to the
// manifest's directory.
//
// Parse errors name the file, the line and the field. A manifest holds at
// most MaxSize bytes, and a line at most 64 KiB.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/ipckeys/ipckeys/endpoint"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// Channel is one named IPC channel the deployment expects.
type Channel struct {
	Name   string
	Path   string // as written, unescaped; see Resolved
	Proj   int
	Type   string // "shm", "sem", "msg" or "" (unset)
	Nattch *Range // nil when unset
	Owner  string // user name or numeric uid; "" when unset
	// Config marks the key file as a configuration file that editors and
	// configuration management rewrite (flag "config").
	Config bool
	// Exes are the executables that may use the channel, as
	// /proc/PID/exe shows them, in the order written; nil when the
	// manifest names none (any executable may).
	Exes []string

	File string // the manifest it came from
	Line int    // its line number there, from 1

	// Setting is set for a channel read from an application's
	// configuration file (File) rather than a manifest: the dotted name
	// of the setting that names the key file. Such channels are the
	// services that read that setting; several naming one key file and
	// proj id share one channel.
	Setting string
	// Base is the directory a relative Path is taken from (where the
	// service runs, --base); "" means the directory of File.
	Base string
}

// FromConfig reports whether the channel was read from an application's
// configuration file.
func (c Channel) FromConfig() bool { return c.Setting != "" }

// Resolved returns the channel's path, made absolute against Base, or the
// manifest's (or config's) directory, when it was written relative.
func (c Channel) Resolved() string {
	switch {
	case filepath.IsAbs(c.Path) || c.Path == "":
		return c.Path
	case c.Base != "":
		return filepath.Join(c.Base, c.Path)
	case c.File == "":
		return c.Path
	}
	return filepath.Join(filepath.Dir(c.File), c.Path)
}

// Range is an expected attach count: Min..Max inclusive, Max < 0 for "N+".
type Range struct {
	Min int
	Max int
}

// Contains reports whether n is within the range.
func (r Range) Contains(n int) bool {
	return n >= r.Min && (r.Max < 0 || n <= r.Max)
}

// String writes the range as the manifest does: N, N-M or N+.
func (r Range) String() string {
	switch {
	case r.Max < 0:
		return fmt.Sprintf("%d+", r.Min)
	case r.Min == r.Max:
		return strconv.Itoa(r.Min)
	default:
		return fmt.Sprintf("%d-%d", r.Min, r.Max)
	}
}

// Error is a problem at one place in a manifest.
type Error struct {
	File  string
	Line  int
	Field string // "" when the problem is the line as a whole
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

var fieldNames = []string{"name", "path", "proj", "type", "nattch", "owner", "flags"}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*$`)
	ownerRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)
)

// maxLine bounds one manifest line; a longer one is an error, not a hang.
const maxLine = 64 * 1024

// Load reads and parses the manifest at path: its channels.
func Load(path string) ([]Channel, error) {
	m, err := LoadManifest(path)
	if err != nil {
		return nil, err
	}
	return m.Channels, nil
}

// MaxSize is the largest manifest ipckeys reads, from a file or from
// standard input: 128 MiB, five times a manifest of a million channels. A
// longer one is an error, before it is read when its size says so.
const MaxSize = 128 << 20

// tooLarge is the error for a manifest over MaxSize.
func tooLarge(file string) inputfile.TooLargeError {
	return inputfile.TooLargeError{File: file, Limit: MaxSize, What: "a manifest", Fix: "split it into several, each given with -m"}
}

// LoadManifest reads and parses the manifest at path, listeners included.
func LoadManifest(path string) (*Manifest, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := inputfile.TooLarge(f, tooLarge(path)); err != nil {
		return nil, err
	}
	size := 0
	if st, err := f.Stat(); err == nil && st.Size() > 0 && st.Size() <= MaxSize {
		size = int(st.Size())
	}
	return parse(f, path, size)
}

// Listener is a listening socket the deployment expects, and the program
// that must hold it:
//
//	web   tcp:127.0.0.1:5555   exe=/usr/sbin/a
//	fcgi  unix:/run/app.sock   unit=app-fcgi.service
//
// A pre-restart check fails when anything else holds it.
type Listener struct {
	Name     string
	Endpoint endpoint.Endpoint
	Exe      string // the executable that must hold it, or ""
	Unit     string // the systemd unit whose processes must hold it, or ""
	File     string
	Line     int
}

// Manifest is everything a manifest file declares.
type Manifest struct {
	Channels  []Channel
	Listeners []Listener
}

// listenerPrefixes start the second field of a listener line.
var listenerPrefixes = []string{"tcp:", "tcp6:", "udp:", "udp6:", "unix:"}

func isListenerLine(fields []string) bool {
	if len(fields) < 2 {
		return false
	}
	for _, p := range listenerPrefixes {
		if strings.HasPrefix(fields[1], p) {
			return true
		}
	}
	return false
}

// Parse reads a manifest's channels from r; file names it in errors and
// channels. Listener lines are checked and left out (ParseManifest keeps
// them). It stops at the first error.
func Parse(r io.Reader, file string) ([]Channel, error) {
	m, err := parse(r, file, 0)
	if err != nil {
		return nil, err
	}
	return m.Channels, nil
}

// ParseManifest reads a manifest from r: channels and listeners.
func ParseManifest(r io.Reader, file string) (*Manifest, error) {
	return parse(r, file, 0)
}

// parse reads r, up to MaxSize bytes (size is what it is expected to hold,
// 0 if not known), and parses it line by line as bufio.ScanLines splits
// lines: a final line needs no newline, and one carriage return before a
// newline is dropped. The text is kept as one string, of which the
// channels' names and paths are parts, and the channels are counted before
// they are made: a manifest of a million channels then costs what it holds,
// not the growing and copying of a slice.
func parse(r io.Reader, file string, size int) (*Manifest, error) {
	text, readErr := readText(inputfile.Limited(r, tooLarge(file)), size)
	var tl *inputfile.TooLargeError
	if errors.As(readErr, &tl) {
		return nil, readErr
	}
	lines := countEntries(text)
	m := &Manifest{Channels: make([]Channel, 0, lines)}
	seen := make(map[string]int, lines)
	n := 0
	for rest := text; rest != ""; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if len(line) >= maxLine {
			// bufio.Scanner with a buffer of maxLine bytes stops here.
			return nil, &Error{file, n + 1, "", fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		line = strings.TrimSuffix(line, "\r")
		n++
		c, l, ok, err := parseLine(line, file, n)
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
		if l != nil {
			m.Listeners = append(m.Listeners, *l)
		} else {
			m.Channels = append(m.Channels, c)
		}
	}
	if readErr != nil {
		return nil, fmt.Errorf("%s: %w", file, readErr)
	}
	if len(m.Channels) == 0 {
		m.Channels = nil
	}
	return m, nil
}

// countEntries counts the lines of text that are neither blank nor
// comments: at most the channels and listeners it declares, so that blank
// lines cost nothing.
func countEntries(text string) int {
	n := 0
	for rest := text; rest != ""; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		line = strings.TrimLeftFunc(line, unicode.IsSpace) // as strings.Fields

		if line != "" && line[0] != '#' {
			n++
		}
	}
	return n
}

// readText reads r to its end, or up to a line of maxLine bytes or more,
// which parse then refuses: an input without line breaks (/dev/zero) costs
// maxLine bytes, not MaxSize. size, when known, is read into one buffer of
// that size; an input of unknown size is read in chunks and copied once,
// rather than into a buffer grown again and again, so that MaxSize bytes
// from standard input cost twice MaxSize at their peak, not four times.
// The text is the buffer it was read into, not a copy of it: nothing
// writes to the buffer afterwards.
func readText(r io.Reader, size int) (string, error) {
	const chunk = 1 << 20
	var full [][]byte // chunks read before buf
	total := 0
	buf := make([]byte, 0, max(size, chunk-bytes.MinRead)+bytes.MinRead)
	lineStart := 0 // where the last, unfinished line starts, counted over all chunks
	for {
		if len(buf) == cap(buf) {
			full, total = append(full, buf), total+len(buf)
			buf = make([]byte, 0, chunk)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if i := bytes.LastIndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			lineStart = total + len(buf) + i + 1
		}
		buf = buf[:len(buf)+n]
		if total+len(buf)-lineStart >= maxLine || err != nil {
			if err == io.EOF {
				err = nil
			}
			if len(full) > 0 {
				whole := make([]byte, 0, total+len(buf))
				for _, c := range full {
					whole = append(whole, c...)
				}
				buf, full = append(whole, buf...), nil
			}
			return unsafe.String(unsafe.SliceData(buf), len(buf)), err
		}
	}
}

// parseLine parses one line, a channel or (l not nil) a listener; ok is
// false for blank and comment lines.
func parseLine(line, file string, n int) (c Channel, l *Listener, ok bool, err error) {
	failAt := func(name string, format string, args ...any) (Channel, *Listener, bool, error) {
		return Channel{}, nil, false, &Error{file, n, name, fmt.Sprintf(format, args...)}
	}
	fail := func(field int, format string, args ...any) (Channel, *Listener, bool, error) {
		name := ""
		if field >= 0 {
			name = fmt.Sprintf("field %d (%s)", field+1, fieldNames[field])
		}
		return failAt(name, format, args...)
	}
	if !utf8.ValidString(line) {
		// Paths with other bytes are written with octal escapes.
		return fail(-1, "not valid UTF-8: write such bytes in a path as octal escapes (\\377)")
	}
	fields := strings.Fields(line)
	for i, f := range fields {
		if strings.HasPrefix(f, "#") {
			fields = fields[:i]
			break
		}
	}
	if len(fields) == 0 {
		return Channel{}, nil, false, nil
	}
	if isListenerLine(fields) {
		l, err := parseListener(fields, file, n)
		if err != nil {
			return Channel{}, nil, false, err
		}
		return Channel{}, l, true, nil
	}
	if len(fields) < 3 {
		return fail(-1, "want at least name, path and proj, got %d field(s): %s", len(fields), channelFields)
	}
	// The exe= fields come last: the positional fields end at the first.
	positional := len(fields)
	for i := 3; i < len(fields); i++ {
		if strings.HasPrefix(fields[i], "exe=") {
			positional = i
			break
		}
	}
	if positional > len(fieldNames) {
		return fail(-1, "%d fields, at most %d before the exe= fields: %s (write spaces in a path as \\040)", positional, len(fieldNames), channelFields)
	}
	exes := fields[positional:]
	fields = fields[:positional]
	c = Channel{File: file, Line: n}

	c.Name = fields[0]
	if !nameRE.MatchString(c.Name) {
		return fail(0, "%q is not a channel name: use letters, digits and _ . : @ / + -", c.Name)
	}

	path, err := unescape(fields[1])
	if err != nil {
		return fail(1, "%v", err)
	}
	if path == "-" || path == "" {
		return fail(1, "a channel needs the path its programs pass to ftok")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return fail(1, "a path cannot hold a NUL byte")
	}
	c.Path = path

	if fields[2] == "-" {
		return fail(2, "a channel needs the proj id its programs pass to ftok")
	}
	if c.Proj, err = ftok.ParseProj(fields[2]); err != nil {
		return fail(2, "%v", err)
	}

	if len(fields) > 3 && fields[3] != "-" {
		switch fields[3] {
		case "shm", "sem", "msg":
			c.Type = fields[3]
		default:
			return fail(3, "%q is not an IPC type: use shm, sem, msg or -", fields[3])
		}
	}
	if len(fields) > 4 && fields[4] != "-" {
		r, err := ParseRange(fields[4])
		if err != nil {
			return fail(4, "%v", err)
		}
		c.Nattch = &r
	}
	if len(fields) > 5 && fields[5] != "-" {
		o := fields[5]
		if _, err := strconv.ParseUint(o, 10, 32); err != nil && !ownerRE.MatchString(o) {
			return fail(5, "%q is neither a user name nor a numeric uid", o)
		}
		c.Owner = o
	}
	if len(fields) > 6 && fields[6] != "-" {
		for _, flag := range strings.Split(fields[6], ",") {
			switch flag {
			case "config":
				c.Config = true
			default:
				return fail(6, "unknown flag %q: the only flag is config (the key file is a config file that deploys rewrite)", flag)
			}
		}
	}
	for i, f := range exes {
		field := fmt.Sprintf("field %d", positional+i+1)
		written, ok := strings.CutPrefix(f, "exe=")
		if !ok {
			return failAt(field, "%q after an exe= field: write type, nattch, owner and flags before the exe= fields", f)
		}
		field += " (exe)"
		exe, err := unescape(written)
		switch {
		case err != nil:
			return failAt(field, "%v", err)
		case !filepath.IsAbs(exe):
			return failAt(field, "exe=%s: give the executable's absolute path, as /proc/PID/exe shows it", written)
		case strings.IndexByte(exe, 0) >= 0:
			return failAt(field, "an executable's path cannot hold a NUL byte")
		}
		c.Exes = append(c.Exes, exe)
	}
	return c, nil, true, nil
}

// channelFields is a channel line's layout, for messages.
const channelFields = "name path proj [type] [nattch] [owner] [flags] [exe=PATH]..."

// parseListener reads a listener line: name, endpoint, exe=PATH, unit=NAME.
func parseListener(fields []string, file string, n int) (*Listener, error) {
	fail := func(field string, format string, args ...any) (*Listener, error) {
		return nil, &Error{file, n, field, fmt.Sprintf(format, args...)}
	}
	l := &Listener{Name: fields[0], File: file, Line: n}
	if !nameRE.MatchString(l.Name) {
		return fail("field 1 (name)", "%q is not a listener name: use letters, digits and _ . : @ / + -", l.Name)
	}
	e, err := endpoint.Parse(fields[1])
	if err != nil {
		return fail("field 2 (listener)", "%v", err)
	}
	l.Endpoint = e
	for i, f := range fields[2:] {
		field := fmt.Sprintf("field %d", i+3)
		key, value, ok := strings.Cut(f, "=")
		switch {
		case !ok || value == "":
			return fail(field, "%q is not exe=PATH or unit=NAME: a listener line is name endpoint exe=PATH [unit=NAME]", f)
		case key == "exe" && !filepath.IsAbs(value):
			return fail(field, "exe=%s: give the executable's absolute path, as /proc/PID/exe shows it", value)
		case key == "exe":
			l.Exe = value
		case key == "unit":
			l.Unit = value
		default:
			return fail(field, "unknown option %q: a listener takes exe=PATH and unit=NAME", key)
		}
	}
	if l.Exe == "" && l.Unit == "" {
		return fail("", "listener %s names no holder: add exe=PATH (the program that must hold it) or unit=NAME", l.Name)
	}
	return l, nil
}

// ParseRange reads an attach-count expectation: N, N-M or N+.
func ParseRange(s string) (Range, error) {
	bad := fmt.Errorf("%q is not an attach count: use N, N-M or N+ (2, 1-3, 1+)", s)
	num := func(t string) (int, bool) {
		if t == "" || t[0] < '0' || t[0] > '9' {
			return 0, false
		}
		v, err := strconv.ParseUint(t, 10, 31)
		return int(v), err == nil && v <= math.MaxInt32
	}
	if t, ok := strings.CutSuffix(s, "+"); ok {
		v, ok := num(t)
		if !ok {
			return Range{}, bad
		}
		return Range{Min: v, Max: -1}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, ok1 := num(lo)
		b, ok2 := num(hi)
		if !ok1 || !ok2 {
			return Range{}, bad
		}
		if a > b {
			return Range{}, fmt.Errorf("attach count range %q runs backwards: write %d-%d", s, b, a)
		}
		return Range{Min: a, Max: b}, nil
	}
	v, ok := num(s)
	if !ok {
		return Range{}, bad
	}
	return Range{Min: v, Max: v}, nil
}

// unescape decodes fstab-style octal escapes (\040 is a space).
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("incomplete escape %q: write a byte as a backslash and three octal digits (\\040 is a space)", s[i:])
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q: write a byte as a backslash and three octal digits (\\040 is a space)", s[i:i+4])
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}

// Escape writes a path the way the manifest needs it: spaces, tabs,
// newlines, backslashes, '#' and bytes that are not printable ASCII as octal
// escapes.
func Escape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			fmt.Fprintf(&b, `\%03o`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
