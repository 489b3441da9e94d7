package appconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// MaxSize is the largest configuration file ipckeys reads: 64 MiB. A
// longer file that would be read as a configuration is an error naming it,
// never skipped, since the key files it names would go unchecked; one that
// could not be a configuration (binary data, an extension that names no
// format) is a key file as any other.
const MaxSize = 64 << 20

// headSize is how much of a file longer than MaxSize is looked at to tell a
// configuration file from a key file of another kind.
const headSize = 64 << 10

// maxDepth bounds the nesting of maps and lists in the structured formats:
// configuration files nest a handful of levels, and a bound keeps both the
// recursion and the dotted names small.
const maxDepth = 100

// Formats, as Config.Format names them.
const (
	FormatLines = "ini"
	FormatYAML  = "yaml"
	FormatJSON  = "json"
	FormatTOML  = "toml"
)

// ErrNotConfig is wrapped by the error Parse returns for a file that is not
// recognisably a configuration file: binary data, an extension that names no
// configuration format. Such a file is a key file like any other.
var ErrNotConfig = errors.New("not a configuration file")

// Setting is one scalar value of a configuration file.
type Setting struct {
	// Name is the dotted path to the value: "section.key" in the line
	// format, "outer.inner.key" for nested maps, "list.0.key" for lists.
	Name string
	// Value is the value as the application reads it: unquoted and
	// unescaped strings, numbers and booleans as written.
	Value string
	// Line is the line the value is on (the key's line when the value is
	// missing), from 1.
	Line int
	// Set is false when the key has no value: a YAML or JSON null (an empty
	// YAML value included), or a line-format key with nothing after its
	// separator ("key =", "key:"). An explicitly quoted empty string is Set
	// with Value "".
	Set bool
	// Quoted is true when the value was written as a quoted string: "1"
	// rather than 1.
	Quoted bool
	// Malformed says why a line-format value could not be read (an
	// unterminated quote, say); Value then holds the raw text. Parse does not
	// fail on it: KeyFileSettings does, when the setting names a key file.
	Malformed string
}

// Config is the settings of one configuration file, in file order.
type Config struct {
	Path     string
	Format   string // FormatLines, FormatYAML, FormatJSON or FormatTOML
	Settings []Setting
}

// Error is a problem at one line of a configuration file. Msg says what is
// wrong and what to do, on one line.
type Error struct {
	File string
	Line int // from 1; 0 when the problem is the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// newError builds an Error whose message is kept to one line whatever a
// parser library put in it.
func newError(file string, line int, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	msg = strings.Join(strings.Fields(msg), " ")
	return &Error{File: file, Line: line, Msg: msg}
}

// notConfig is the error for a file Parse does not read as a configuration.
func notConfig(path, why string) error {
	return fmt.Errorf("%s: %w: %s", path, ErrNotConfig, why)
}

// lineExts are the extensions of files read in the line format.
var lineExts = map[string]bool{
	"": true, ".ini": true, ".conf": true, ".cfg": true, ".cnf": true,
	".config": true, ".env": true, ".properties": true,
}

// Parse reads the settings of the configuration file at path, whose content
// is data; it reads no file itself.
//
// The format comes from the extension: .json, .yaml and .yml, and .toml are
// parsed strictly, and a syntax error is an *Error naming the line. .ini,
// .conf, .cfg, .cnf, .config, .env, .properties and files without an
// extension are read in the lenient line format, unless their content is JSON
// (a leading '{' or '[') or YAML (a leading "---") that parses as such. A
// file with another extension is a configuration file only when its content
// is JSON or YAML. Data holding NUL bytes, and files of other extensions,
// give an error wrapping ErrNotConfig. The line format is read as bytes
// (Latin-1 comments and values of legacy applications are kept as
// written); JSON, YAML and TOML must be UTF-8, and a byte that is not is
// an *Error naming its line. Data over MaxSize
// bytes is an *inputfile.TooLargeError, unless its first bytes already say
// it is not a configuration file. Empty files are configurations without
// settings.
func Parse(path string, data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, overSize(path, data[:headSize])
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, notConfig(path, "binary data")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	ext := strings.ToLower(filepath.Ext(path))
	c := &Config{Path: path}
	var err error
	if ext == ".json" || ext == ".yaml" || ext == ".yml" || ext == ".toml" {
		// These formats are UTF-8 by definition; the line format is read
		// as bytes, as legacy applications write it.
		if err := checkUTF8(path, data); err != nil {
			return nil, err
		}
	}
	switch {
	case ext == ".json":
		c.Format = FormatJSON
		c.Settings, err = parseJSON(path, data)
	case ext == ".yaml" || ext == ".yml":
		c.Format = FormatYAML
		c.Settings, err = parseYAML(path, data)
	case ext == ".toml":
		c.Format = FormatTOML
		c.Settings, err = parseTOML(path, data)
	default:
		if sniffed := sniff(path, data); sniffed != nil {
			return sniffed, nil
		}
		if !lineExts[ext] {
			return nil, notConfig(path, fmt.Sprintf("extension %q names no configuration format", ext))
		}
		c.Format = FormatLines
		c.Settings, err = parseLines(data)
		if err != nil {
			return nil, notConfig(path, err.Error())
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Read reads the configuration file path from r, at most MaxSize bytes, and
// parses it as Parse does. size is the file's size (0 when not known): it
// sizes the buffer, so that a small file costs a small one, and a file
// over MaxSize by its size is judged by its first bytes and never read
// whole.
func Read(path string, r io.Reader, size int64) (*Config, error) {
	if size > MaxSize {
		head, err := io.ReadAll(io.LimitReader(r, headSize))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, overSize(path, head)
	}
	data, err := inputfile.ReadAll(r, size, tooLarge(path))
	var tl *inputfile.TooLargeError
	switch {
	case errors.As(err, &tl):
		return nil, overSize(path, data[:headSize])
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, data)
}

// tooLarge is the error for a configuration file over MaxSize.
func tooLarge(path string) inputfile.TooLargeError {
	return inputfile.TooLargeError{File: path, Limit: MaxSize, What: "a configuration file",
		Fix: "shorten it, or give it as a key file in a manifest (-m)"}
}

// overSize is the error for a file over MaxSize whose first bytes are head:
// ErrNotConfig when they show it is no configuration file, else too large.
func overSize(path string, head []byte) error {
	if bytes.IndexByte(head, 0) >= 0 {
		return notConfig(path, "binary data")
	}
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case ext == ".json" || ext == ".yaml" || ext == ".yml" || ext == ".toml" || lineExts[ext]:
		limit := tooLarge(path)
		return &limit
	}
	// Only content that parses whole makes a configuration of such a
	// file, and it is too long to be read whole.
	return notConfig(path, fmt.Sprintf("extension %q names no configuration format, and it is larger than %s", ext, inputfile.Size(MaxSize)))
}

// sniff reads data as JSON or YAML when its first bytes say so and it parses
// as such; it returns nil otherwise. An INI file's "[section]" starts like
// JSON, so a parse failure here is never an error.
func sniff(path string, data []byte) *Config {
	if !utf8.Valid(data) {
		return nil // JSON and YAML are UTF-8: this is the line format
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '['):
		if s, err := parseJSON(path, data); err == nil {
			return &Config{Path: path, Format: FormatJSON, Settings: s}
		}
	case bytes.HasPrefix(data, []byte("---")) && (len(data) == 3 || strings.ContainsRune(" \t\r\n", rune(data[3]))):
		if s, err := parseYAML(path, data); err == nil {
			return &Config{Path: path, Format: FormatYAML, Settings: s}
		}
	}
	return nil
}

// budget bounds the bytes of names and values a parse may produce, so that
// long keys repeated in nested names, or YAML aliases expanded many times,
// cost memory in proportion to the input and no more.
type budget struct{ left int }

func newBudget(input int) *budget { return &budget{left: 8*input + 1<<20} }

// spend reports whether n more bytes fit.
func (b *budget) spend(n int) bool {
	b.left -= n
	return b.left >= 0
}

// errBudget is the message when the budget runs out.
const errBudget = "its settings expand to more than 8 times the file's size (deeply repeated keys or aliases): simplify the file"

// lineIndex maps byte offsets to line numbers.
type lineIndex []int // offsets of the starts of lines 2, 3, ...

func newLineIndex(data []byte) lineIndex {
	var idx lineIndex
	for i, b := range data {
		if b == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

// line returns the line, from 1, of the byte at offset.
func (idx lineIndex) line(offset int) int {
	lo, hi := 0, len(idx)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if idx[m] <= offset {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo + 1
}

// checkUTF8 is an *Error at the line of data's first byte that is not
// UTF-8, or nil.
func checkUTF8(path string, data []byte) error {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return newError(path, newLineIndex(data).line(i), "byte 0x%02x is not UTF-8: write the file in UTF-8", data[i])
		}
		i += n
	}
	return nil
}

// ConfigName reports whether a file's name says it is a configuration
// file: its extension names a configuration format (.conf, .ini, .yaml,
// .json, .toml, …) or a systemd unit. A name without an extension says
// nothing: key files are often named so.
func ConfigName(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case ext == "":
		return false
	case lineExts[ext], unitExts[ext]:
		return true
	}
	return ext == ".json" || ext == ".yaml" || ext == ".yml" || ext == ".toml"
}
