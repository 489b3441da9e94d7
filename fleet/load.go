package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/hostinfo"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// ScanSchema is the only report schema a fleet is built from.
const ScanSchema = "ipckeys/scan/v1"

// Report is one host's `ipckeys scan -o json` report, as far as the fleet
// view reads it. It is decoded from the v1 wire format rather than shared
// with the writer's types: during a rollout the hosts run older and newer
// ipckeys releases, and within v1 fields are only added, so fields this
// release does not know are ignored and fields an older one did not write
// are left empty.
//
// Entries holds a report's entries only when it is decoded whole (with
// encoding/json); Load and Parse decode them one at a time into a compact
// form shared by all the reports of a merge, and leave Entries empty.
type Report struct {
	Schema   string          `json:"schema"`
	Host     *hostinfo.Host  `json:"host"`
	Static   bool            `json:"static"`
	Entries  []Entry         `json:"entries"`
	Findings []ReportFinding `json:"findings"`
	Live     ReportLive      `json:"live"`

	recs    []cellRec // the entries, interned in tab
	tab     *table
	hasRecs bool // recs were decoded (Entries is not the entries)
}

// Entry is one key entry of a host report.
type Entry struct {
	Name        string     `json:"name"`
	Manifest    string     `json:"manifest"`
	Config      string     `json:"config"`
	Setting     string     `json:"setting"`
	Line        int        `json:"line"`
	Path        string     `json:"path"`
	PathQuoted  bool       `json:"path_quoted"`
	Proj        *int       `json:"proj"`
	Key         *string    `json:"key"`
	Dev         string     `json:"dev"`
	Ino         *uint64    `json:"ino"`
	Fingerprint string     `json:"fingerprint"`
	FSType      string     `json:"fs_type"`
	Error       string     `json:"error"`
	Live        *EntryLive `json:"live"`
}

// EntryLive is what the host's live tables held for an entry's key.
type EntryLive struct {
	Held []Held `json:"held"`
}

// Held is a live object holding an entry's key on a host.
type Held struct {
	Facility  string `json:"facility"`
	ID        int    `json:"id"`
	Owner     string `json:"owner"`
	Nattch    *int   `json:"nattch"`
	Processes *int   `json:"processes"`
	Removed   bool   `json:"removed"`
}

// ReportFinding is one finding of a host report.
type ReportFinding struct {
	Code       string      `json:"code"`
	Severity   string      `json:"severity"`
	Key        string      `json:"key"`
	Message    string      `json:"message"`
	Entries    []Entry     `json:"entries"`
	Object     *Object     `json:"object"`
	Suppressed *Suppressed `json:"suppressed"`
	File       string      `json:"file"`
	Line       int         `json:"line"`
	Fixes      Fixes       `json:"suggestions"`
}

// MaxFixes is the most fix commands kept per finding of a host report.
const MaxFixes = 8

// RekeyPrefix begins the command of a rekey suggestion.
const RekeyPrefix = "ipckeys rekey "

// Fixes are the commands of a finding's rekey suggestions, as the host
// wrote them, at most MaxFixes: the suggestions are read one at a time,
// and the rest, the proj suggestions and any command that is not an
// ipckeys rekey command, are read past and not kept.
type Fixes []string

// Suggestion is the part of a finding's suggestion that Fixes reads.
type Suggestion struct {
	Kind    string `json:"kind"`
	Command string `json:"command"`
}

// UnmarshalJSON decodes a finding's suggestions as encoding/json would
// decode a []Suggestion (null empties them; anything but an array is an
// *json.UnmarshalTypeError), keeping only the rekey commands.
func (fx *Fixes) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	null, err := openArray[Suggestion](dec)
	if err != nil || null {
		if null {
			*fx = nil
		}
		return err
	}
	kept := Fixes{}
	for dec.More() {
		var s Suggestion
		if err := dec.Decode(&s); err != nil {
			return err
		}
		if s.Kind == "rekey" && strings.HasPrefix(s.Command, RekeyPrefix) && len(kept) < MaxFixes {
			kept = append(kept, s.Command)
		}
	}
	*fx = kept
	return nil
}

// Object is the live object of a live finding.
type Object struct {
	Facility string `json:"facility"`
	ID       int    `json:"id"`
	Key      string `json:"key"`
}

// Suppressed is the ignore file entry that covers a finding on a host.
type Suppressed struct {
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
	File    string `json:"file"`
	Line    int    `json:"line"`
}

// ReportLive says whether a host's live checks ran.
type ReportLive struct {
	Checked   bool   `json:"checked"`
	Reason    string `json:"reason"`
	Source    string `json:"source"`
	Namespace uint64 `json:"ipc_namespace"`
}

// Loaded is one input of the fleet: a host's report, or a host that
// could not be checked and why.
type Loaded struct {
	// Name is the host: the report's label, else its hostname, else the
	// name of the file it came from (HOST.json, HOST.failed).
	Name   string
	Source string  // the file, or "<stdin> document 3"
	Report *Report // nil when the host could not be checked
	Failed string  // why not, when Report is nil
	Code   string  // Failed's reason code (see Host.ReasonCode)
	// Skipped is set for a document that is not a host's at all (a fleet
	// report found among the host reports): it is left out, with a note.
	Skipped string
}

// The reason codes of a host not checked (Host.ReasonCode): stable words
// for programs, where Host.Reason is the sentence for people.
const (
	ReasonNoReport    = "no-report"    // the inventory names it, no input does
	ReasonUnreachable = "unreachable"  // its marker says it could not be reached
	ReasonScanFailed  = "scan-failed"  // its marker holds the scan's error
	ReasonUnreadable  = "unreadable"   // its report or marker could not be read
	ReasonEmpty       = "empty"        // an empty report
	ReasonMalformed   = "malformed"    // not JSON, or a scan report that does not decode
	ReasonNotAReport  = "not-a-report" // JSON of another schema or version
	ReasonNoHost      = "no-host"      // a report on standard input that names no host
	ReasonDuplicate   = "duplicate"    // reports from several machines under its name
	ReasonStale       = "stale"        // older than --max-age, or of no valid time with it
	ReasonFutureDated = "future-dated" // dated after the merge by more than --max-skew
)

// UnreachablePrefix starts the first line of a failure marker written for
// a host that could not be reached at all (the playbook writes Ansible's
// reason after it): such a host is ReasonUnreachable, not a failed scan.
const UnreachablePrefix = "unreachable:"

// Marker is the suffix of a failure marker: a file HOST.failed, written
// beside the reports when the scan on HOST could not run (exit 2, which
// writes no JSON), holding its error message.
const Marker = ".failed"

// StdinName names standard input as a source.
const StdinName = "<stdin>"

// The inputs of a fleet are capped, so that no report, stream or
// directory makes the merge use memory out of proportion to a fleet; an
// input over its cap is an error (a *LimitError), not a host that could
// not be checked. ipckeys scan -o json writes about 460 bytes per entry
// and about 10 kB per key collision it finds: 100,000 paths with 8,192
// collisions make a report of 130 MB.
const (
	// MaxReportBytes is the most a report file may hold, and one report
	// document on standard input.
	MaxReportBytes = 256 << 20
	// MaxStdinBytes is the most standard input may hold in all.
	MaxStdinBytes = 1 << 30
	// MaxDirReports is the most reports and failure markers (*.json and
	// *.failed files) one directory may hold.
	MaxDirReports = 100_000
)

// LimitError says an input of the fleet is over its cap.
type LimitError struct {
	Source string // the file, directory, "<stdin>" or "<stdin> document 3"
	Limit  string // "larger than the 256 MiB a report file may have"
	Fix    string // what to do
}

func (e *LimitError) Error() string { return e.Source + ": " + e.Limit + "; " + e.Fix }

// caps are the caps Load applies: the constants, but for tests.
var caps = struct{ report, stdin, dir int64 }{MaxReportBytes, MaxStdinBytes, MaxDirReports}

// size words a cap in bytes: "256 MiB".
func size(n int64) string {
	for _, u := range []struct {
		n    int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d %s", n/u.n, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// count words a cap in files: "100,000".
func count(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Load reads every input: report files, failure markers (*.failed),
// directories holding both (their *.json and *.failed files, not their
// subdirectories), and "-" for a stream of reports on standard input.
// Inputs are opened without blocking and must be regular files; an input
// that cannot be read is a host that could not be checked, not an error.
// An input over its cap (MaxReportBytes, MaxStdinBytes, MaxDirReports) is
// the error, a *LimitError.
func Load(args []string, stdin io.Reader) ([]Loaded, error) {
	var out []Loaded
	tab := newTable()
	for _, a := range args {
		var ls []Loaded
		var err error
		switch {
		case a == "-":
			c := &cappedReader{r: stdin, total: caps.stdin, doc: caps.report,
				over: &LimitError{Source: StdinName, Limit: "larger than the " + size(caps.stdin) + " standard input may have", Fix: "give the reports as files or directories"}}
			ls, err = parse(c, StdinName, "", c, tab)
		case isDir(a):
			ls, err = loadDir(a, tab)
		default:
			ls, err = loadFile(a, tab)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// loadDir reads a directory's reports and markers, in name order.
func loadDir(dir string, tab *table) ([]Loaded, error) {
	unreadable := func(err error) []Loaded {
		return []Loaded{{Name: filepath.Base(dir), Source: dir, Code: ReasonUnreadable, Failed: "no reports: " + ioReason(err)}}
	}
	// O_DIRECTORY: what is no longer a directory is refused, not opened.
	d, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return unreadable(err), nil
	}
	defer d.Close()
	var names []string
	for {
		// In batches: a directory of millions of files is refused at the
		// cap, not listed whole first.
		ents, err := d.ReadDir(1024)
		for _, e := range ents {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), Marker)) {
				if int64(len(names)) == caps.dir {
					return nil, &LimitError{Source: dir, Limit: "more than the " + count(caps.dir) + " reports and failure markers a directory may hold",
						Fix: "give the reports in several directories"}
				}
				names = append(names, e.Name())
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return unreadable(err), nil
		}
	}
	sort.Strings(names)
	// The reports are decoded on every CPU, each worker interning into a
	// table of its own; they are taken in name order, and the first error
	// in that order is the one returned.
	results := make([][]Loaded, len(names))
	errs := make([]error, len(names))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range min(runtime.GOMAXPROCS(0), len(names)) {
		own := tab
		if w > 0 {
			own = newTable()
		}
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				if results[i], errs[i] = loadFile(filepath.Join(dir, names[i]), own); errs[i] != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	var out []Loaded
	for i := range names {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, results[i]...)
		results[i] = nil
	}
	return out, nil
}

// loadFile reads one report file or failure marker.
func loadFile(path string, tab *table) ([]Loaded, error) {
	base := filepath.Base(path)
	marker := strings.HasSuffix(base, Marker)
	name := strings.TrimSuffix(strings.TrimSuffix(base, Marker), ".json")
	f, err := inputfile.Open(path)
	if err != nil {
		what := "no report"
		if marker {
			what = "failure marker unreadable"
		}
		return []Loaded{{Name: name, Source: path, Code: ReasonUnreadable, Failed: what + ": " + ioReason(err)}}, nil
	}
	defer f.Close()
	if marker {
		return []Loaded{ParseMarker(f, path, name)}, nil
	}
	over := &LimitError{Source: path, Limit: "larger than the " + size(caps.report) + " a report file may have", Fix: tooLargeReport}
	// The size says at once what a sparse or huge file is; the capped
	// reader holds for a file that grows while it is read.
	if st, err := f.Stat(); err == nil && st.Size() > caps.report {
		return nil, over
	}
	return parse(&cappedReader{r: f, total: caps.report, over: over}, path, name, nil, tab)
}

// ioReason words an open or read error without repeating the path.
func ioReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// maxMarker is how much of a failure marker is read: its first line is
// the scan's one-line error.
const maxMarker = 4096

// ParseMarker reads a failure marker: the host name comes from its file
// name, the reason from its first non-empty line (the scan's error).
func ParseMarker(r io.Reader, source, name string) Loaded {
	b, err := io.ReadAll(io.LimitReader(r, maxMarker))
	l := Loaded{Name: Clean(name), Source: source}
	if err != nil {
		l.Code, l.Failed = ReasonUnreadable, "failure marker unreadable: "+ioReason(err)
		return l
	}
	msg := ""
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			msg = line
			break
		}
	}
	if msg == "" {
		msg = "no message"
	}
	// What collected the reports says a host it could not reach so: the
	// host's scan did not fail, it never ran.
	if rest, ok := strings.CutPrefix(msg, UnreachablePrefix); ok {
		l.Code, l.Failed = ReasonUnreachable, "unreachable: "+Clean(strings.TrimSpace(rest))
		return l
	}
	l.Code, l.Failed = ReasonScanFailed, "scan failed: "+Clean(msg)
	return l
}

// Parse reads the reports in r: one JSON document or several one after
// another (a stream), each a report or an array of reports. name is the
// file's host name (HOST.json), used for a report that names no host; ""
// for a stream. The reports are decoded as they are read, an entry or a
// finding at a time: what is held is what is kept, not the document.
func Parse(r io.Reader, source, name string) []Loaded {
	out, _ := parse(r, source, name, nil, newTable()) // only a cappedReader has a cap to pass
	return out
}

// parse is Parse, interning the entries in tab; with c, the reader r, a
// document or r over its cap is the error.
func parse(r io.Reader, source, name string, c *cappedReader, tab *table) ([]Loaded, error) {
	dec := json.NewDecoder(r)
	var out []Loaded
	n := 0
	where := func() string {
		if name != "" && n == 1 {
			return source
		}
		return fmt.Sprintf("%s document %d", source, n)
	}
	for {
		if c != nil {
			c.startDocument(dec.InputOffset())
		}
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		n++
		var doc []Loaded
		if err == nil {
			switch tok {
			case json.Delim('['):
				for i := 0; dec.More(); i++ {
					var l Loaded
					if l, err = parseValue(dec, fmt.Sprintf("%s[%d]", where(), i), name, tab); err != nil {
						break
					}
					doc = append(doc, l)
				}
				if err == nil {
					_, err = dec.Token() // ]
				}
				if err == nil && len(doc) == 0 {
					doc = []Loaded{{Name: fallback(name, where()), Source: where(), Code: ReasonEmpty, Failed: "empty report: an empty array"}}
				}
			default:
				var l Loaded
				l, err = parseDocument(dec, tok, where(), name, tab)
				doc = []Loaded{l}
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // within a document
			}
			if errors.Is(err, errOverCap) {
				return nil, c.limitError(where())
			}
			// Not JSON: what the document gave so far does not count.
			return append(out, Loaded{Name: fallback(name, where()), Source: where(), Code: ReasonMalformed, Failed: "not a JSON report: " + err.Error()}), nil
		}
		out = append(out, doc...)
	}
	if n == 0 {
		return []Loaded{{Name: fallback(name, source), Source: source, Code: ReasonEmpty, Failed: "empty report: a scan that fails writes no JSON (exit 2): see its error"}}, nil
	}
	return out, nil
}

func fallback(name, source string) string {
	if name != "" {
		return Clean(name)
	}
	return Clean(source)
}

// parseValue reads the next value of the stream as one document.
func parseValue(dec *json.Decoder, source, name string, tab *table) (Loaded, error) {
	tok, err := dec.Token()
	if err != nil {
		return Loaded{}, err
	}
	return parseDocument(dec, tok, source, name, tab)
}

// parseDocument reads one JSON document that should be a scan report,
// of which tok, its first token, is read. The fields of Report are matched
// as encoding/json matches them (case-insensitively, the last of a
// repeated key winning); other fields are skipped without being held.
// The result is what decoding the document whole would give: the schema
// decides first, then the first field that does not decode.
func parseDocument(dec *json.Decoder, tok json.Token, source, name string, tab *table) (Loaded, error) {
	fail := func(code, reason string) (Loaded, error) {
		return Loaded{Name: fallback(name, source), Source: source, Code: code, Failed: reason}, nil
	}
	switch tok {
	case nil:
		return fail(ReasonNotAReport, "not an ipckeys scan report: no schema field")
	case json.Delim('{'):
	case json.Delim('['):
		if err := skip(dec, 1); err != nil {
			return Loaded{}, err
		}
		return fail(ReasonNotAReport, "not an ipckeys scan report: not a JSON object")
	default:
		return fail(ReasonNotAReport, "not an ipckeys scan report: not a JSON object")
	}
	rep := Report{tab: tab, hasRecs: true}
	var schema *string
	schemaBad := false // a schema that is not a string
	var bad error      // the first field that does not decode
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Loaded{}, err
		}
		key, _ := t.(string)
		field := reportField(key)
		var verr error
		switch {
		case field == "schema":
			var s *string
			if verr = dec.Decode(&s); verr == nil {
				schema = s
			} else if isValueError(verr) {
				schemaBad, verr = true, nil
			}
		case field == "" || bad != nil:
			verr = skip(dec, 0)
		case field == "entries":
			verr = decodeEntries(dec, &rep)
		case field == "findings":
			verr = decodeList(dec, &rep.Findings)
		case field == "host":
			verr = dec.Decode(&rep.Host)
		case field == "static":
			verr = dec.Decode(&rep.Static)
		case field == "live":
			verr = dec.Decode(&rep.Live)
		}
		if verr != nil {
			if !isValueError(verr) {
				return Loaded{}, verr
			}
			bad = inField(verr, field)
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return Loaded{}, err
	}
	switch {
	case schemaBad:
		return fail(ReasonNotAReport, "not an ipckeys scan report: not a JSON object")
	case schema == nil:
		return fail(ReasonNotAReport, "not an ipckeys scan report: no schema field")
	case *schema == Schema:
		return Loaded{Name: fallback(name, source), Source: source, Skipped: "a fleet report, not a host's"}, nil
	case strings.HasPrefix(*schema, "ipckeys/scan/"):
		if *schema != ScanSchema {
			return fail(ReasonNotAReport, fmt.Sprintf("report schema %s, this ipckeys reads %s: use an ipckeys release that reads it", Clean(*schema), ScanSchema))
		}
	case strings.HasPrefix(*schema, "ipckeys/"):
		return fail(ReasonNotAReport, fmt.Sprintf("not a scan report (schema %s): give the output of ipckeys scan -o json", Clean(*schema)))
	default:
		return fail(ReasonNotAReport, fmt.Sprintf("not an ipckeys scan report: schema %q", Clean(*schema)))
	}
	if bad != nil {
		return fail(ReasonMalformed, "malformed "+ScanSchema+" report: "+bad.Error())
	}
	rep.Schema = *schema
	l := Loaded{Source: source, Report: &rep}
	if rep.Host != nil {
		l.Name = Clean(rep.Host.Name())
	}
	if l.Name == "" {
		if name == "" {
			return Loaded{Name: Clean(source), Source: source, Report: nil, Code: ReasonNoHost,
				Failed: "the report names no host (ipckeys releases before host was added to " + ScanSchema + "): give each report its own file, HOST.json, or upgrade ipckeys on the host"}, nil
		}
		l.Name = Clean(name)
	}
	return l, nil
}

// reportFields are the JSON names of Report's fields.
var reportFields = []string{"schema", "host", "static", "entries", "findings", "live"}

// reportField returns the field of Report a key of a report sets, or "".
// encoding/json matches keys to fields without regard to case; for these
// names its folding and strings.EqualFold agree.
func reportField(key string) string {
	for _, f := range reportFields {
		if key == f {
			return f
		}
	}
	for _, f := range reportFields {
		if strings.EqualFold(key, f) {
			return f
		}
	}
	return ""
}

// openArray reads the first token of a value decoded into a []T, as
// encoding/json would take it: null (null true), the start of an array
// (the caller reads its elements), or anything else, an
// *json.UnmarshalTypeError once the value is read past. Only an error of
// the stream leaves the stream where it failed.
func openArray[T any](dec *json.Decoder) (null bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	switch tok {
	case nil:
		return true, nil
	case json.Delim('['):
		return false, nil
	case json.Delim('{'):
		if err := skip(dec, 1); err != nil {
			return false, err
		}
		return false, &json.UnmarshalTypeError{Value: "object", Type: reflect.TypeFor[[]T]()}
	}
	value := "number"
	switch tok.(type) {
	case string:
		value = "string"
	case bool:
		value = "bool"
	}
	return false, &json.UnmarshalTypeError{Value: value, Type: reflect.TypeFor[[]T]()}
}

// decodeList decodes the array of a report's field into list one element
// at a time, as encoding/json would decode it whole: null empties the
// list, an array replaces its elements (decoding into the ones it had),
// anything else is an *json.UnmarshalTypeError. Only an error of the
// stream (not JSON, unreadable, over its cap) leaves the stream where it
// failed.
func decodeList[T any](dec *json.Decoder, list *[]T) error {
	null, err := openArray[T](dec)
	if err != nil || null {
		if null {
			*list = nil
		}
		return err
	}
	s := (*list)[:0]
	for dec.More() {
		if len(s) < cap(s) {
			s = s[:len(s)+1]
		} else {
			var zero T
			s = append(s, zero)
		}
		if err := dec.Decode(&s[len(s)-1]); err != nil {
			if !isValueError(err) {
				return err
			}
			if serr := skip(dec, 1); serr != nil {
				return serr
			}
			return err
		}
	}
	if len(s) == 0 {
		s = []T{}
	}
	*list = s
	_, err = dec.Token() // ]
	return err
}

// decodeEntries decodes a report's entries as decodeList would, an entry
// at a time, keeping each as a cellRec.
func decodeEntries(dec *json.Decoder, rep *Report) error {
	null, err := openArray[Entry](dec)
	if err != nil || null {
		if null {
			rep.recs = nil
		}
		return err
	}
	// Decoded into the table's scratch and copied at its size: a slice
	// grown by append would keep a quarter more than it holds.
	recs := rep.tab.scratch[:0]
	defer func() {
		rep.recs = slices.Clone(recs)
		rep.tab.scratch = recs[:0]
	}()
	for dec.More() {
		var e Entry
		if err := dec.Decode(&e); err != nil {
			if !isValueError(err) {
				return err
			}
			if serr := skip(dec, 1); serr != nil {
				return serr
			}
			return err
		}
		recs = append(recs, rep.tab.add(&e))
	}
	_, err = dec.Token() // ]
	return err
}

// isValueError tells a value of the wrong type, after which the stream
// reads on, from an error of the stream itself.
func isValueError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// inField words a value error of a report's field as decoding the whole
// report would: "Go struct field Report.entries.line".
func inField(err error, field string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			te.Struct, te.Field = "Report", field
		} else {
			te.Field = field + "." + te.Field
		}
	}
	return err
}

// skip reads past the rest of a value of which depth arrays or objects
// are open (0: the whole next value), a token at a time, holding none.
func skip(dec *json.Decoder, depth int) error {
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// tooLargeReport is what to do about a report over its cap.
const tooLargeReport = "check what wrote it (a scan report of 100,000 paths is about 130 MB)"

// errOverCap is what a cappedReader returns past its cap.
var errOverCap = errors.New("over the cap")

// cappedReader reads at most total bytes of r, and with doc set at most
// doc bytes from where the current document starts. Past a cap it returns
// errOverCap, where io.LimitReader would return io.EOF and let a cut
// input pass for a short one. (internal/inputfile may offer this to every
// input.)
type cappedReader struct {
	r      io.Reader
	total  int64       // the most r may hold
	over   *LimitError // the error past total
	doc    int64       // the most one document may take; 0: no cap of its own
	docEnd int64       // where the current document must end, with doc
	read   int64
	passed bool // a cap is passed: every read after says so
	docCap bool // the cap passed is doc's
}

// startDocument says that a document starts at offset.
func (c *cappedReader) startDocument(offset int64) {
	if c.doc > 0 {
		c.docEnd = offset + c.doc
	}
}

func (c *cappedReader) Read(p []byte) (int, error) {
	limit, docCap := c.total, false
	if c.doc > 0 && c.docEnd < limit {
		limit, docCap = c.docEnd, true
	}
	if c.passed {
		return 0, errOverCap
	}
	if c.read >= limit {
		// At the cap: the input is over it if it has one more byte.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n == 0 {
			return 0, err
		}
		c.passed, c.docCap = true, docCap
		return 0, errOverCap
	}
	if int64(len(p)) > limit-c.read {
		p = p[:limit-c.read]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

// limitError is the error for the cap passed; doc is the document read.
func (c *cappedReader) limitError(doc string) *LimitError {
	if c.docCap {
		return &LimitError{Source: doc, Limit: "larger than the " + size(c.doc) + " a report may have", Fix: tooLargeReport}
	}
	return c.over
}

// future says whether a report is dated after the merge by more than
// the clock skew allowed.
func (o Options) future(l Loaded) bool {
	return reportTime(l).After(o.Now.Add(o.MaxSkew))
}

// newer orders the reports of one host: those not dated in the future
// first, then the newest first. A report from the future, whatever its
// clock or its writer, never hides the host's current one.
func (o Options) newer(a, b Loaded) bool {
	if fa, fb := o.future(a), o.future(b); fa != fb {
		return fb
	}
	return reportTime(a).After(reportTime(b))
}

// aside is what the note on a host's several reports says of one not
// used: that it is dated in the future, when it is.
func (o Options) aside(l Loaded) string {
	if !o.future(l) {
		return ""
	}
	return " (dated in the future, " + Clean(l.Report.Host.Time) + ")"
}

// dated says why a report is not checked for its date, or "": a report
// dated more than MaxSkew after the merge is from a machine whose clock
// is wrong, or was not written by a scan.
func (o Options) dated(r *Report) string {
	l := Loaded{Report: r}
	if !o.future(l) {
		return ""
	}
	ahead := "more than 292 years" // what a time.Duration holds
	if d := reportTime(l).Sub(o.Now); d < math.MaxInt64 {
		ahead = d.Round(time.Second).String()
	}
	return fmt.Sprintf("dated in the future (%s, %s ahead of this machine's clock, more than --max-skew %s): correct the clock of the host or of this machine",
		Clean(r.Host.Time), ahead, o.MaxSkew)
}

// Clean returns a string from a report, a file name or the inventory as
// it can be printed: by the one rule of package display, whatever the
// report claims about it (Go-quoted when it holds a control, bidi or other
// invisible character, or invalid UTF-8).
func Clean(s string) string { return display.Quote(s) }
