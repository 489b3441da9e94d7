package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ipckeys/ipckeys/hostinfo"
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
type Report struct {
	Schema   string          `json:"schema"`
	Host     *hostinfo.Host  `json:"host"`
	Static   bool            `json:"static"`
	Entries  []Entry         `json:"entries"`
	Findings []ReportFinding `json:"findings"`
	Live     ReportLive      `json:"live"`
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
	// Skipped is set for a document that is not a host's at all (a fleet
	// report found among the host reports): it is left out, with a note.
	Skipped string
}

// Marker is the suffix of a failure marker: a file HOST.failed, written
// beside the reports when the scan on HOST could not run (exit 2, which
// writes no JSON), holding its error message.
const Marker = ".failed"

// StdinName names standard input as a source.
const StdinName = "<stdin>"

// Load reads every input: report files, failure markers (*.failed),
// directories holding both (their *.json and *.failed files, not their
// subdirectories), and "-" for a stream of reports on standard input.
// Inputs are opened without blocking and must be regular files; an input
// that cannot be read is a host that could not be checked, not an error.
func Load(args []string, stdin io.Reader) []Loaded {
	var out []Loaded
	for _, a := range args {
		switch {
		case a == "-":
			out = append(out, Parse(stdin, StdinName, "")...)
		case isDir(a):
			out = append(out, loadDir(a)...)
		default:
			out = append(out, loadFile(a)...)
		}
	}
	return out
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// loadDir reads a directory's reports and markers, in name order.
func loadDir(dir string) []Loaded {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []Loaded{{Name: filepath.Base(dir), Source: dir, Failed: "no reports: " + ioReason(err)}}
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), Marker)) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []Loaded
	for _, n := range names {
		out = append(out, loadFile(filepath.Join(dir, n))...)
	}
	return out
}

// loadFile reads one report file or failure marker.
func loadFile(path string) []Loaded {
	base := filepath.Base(path)
	marker := strings.HasSuffix(base, Marker)
	name := strings.TrimSuffix(strings.TrimSuffix(base, Marker), ".json")
	f, err := inputfile.Open(path)
	if err != nil {
		what := "no report"
		if marker {
			what = "failure marker unreadable"
		}
		return []Loaded{{Name: name, Source: path, Failed: what + ": " + ioReason(err)}}
	}
	defer f.Close()
	if marker {
		return []Loaded{ParseMarker(f, path, name)}
	}
	return Parse(f, path, name)
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
		l.Failed = "failure marker unreadable: " + ioReason(err)
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
	l.Failed = "scan failed: " + CleanText(msg)
	return l
}

// Parse reads the reports in r: one JSON document or several one after
// another (a stream), each a report or an array of reports. name is the
// file's host name (HOST.json), used for a report that names no host; ""
// for a stream.
func Parse(r io.Reader, source, name string) []Loaded {
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
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		n++
		if err != nil {
			out = append(out, Loaded{Name: fallback(name, where()), Source: where(), Failed: "not a JSON report: " + err.Error()})
			return out
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var docs []json.RawMessage
			if err := json.Unmarshal(raw, &docs); err != nil {
				out = append(out, Loaded{Name: fallback(name, where()), Source: where(), Failed: "not a JSON report: " + err.Error()})
				continue
			}
			if len(docs) == 0 {
				out = append(out, Loaded{Name: fallback(name, where()), Source: where(), Failed: "empty report: an empty array"})
			}
			for i, d := range docs {
				out = append(out, parseDoc(d, fmt.Sprintf("%s[%d]", where(), i), name))
			}
			continue
		}
		out = append(out, parseDoc(raw, where(), name))
	}
	if n == 0 {
		return []Loaded{{Name: fallback(name, source), Source: source, Failed: "empty report: a scan that fails writes no JSON (exit 2): see its error"}}
	}
	return out
}

func fallback(name, source string) string {
	if name != "" {
		return Clean(name)
	}
	return Clean(source)
}

// parseDoc reads one JSON document that should be a scan report.
func parseDoc(raw json.RawMessage, source, name string) Loaded {
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Loaded{Name: fallback(name, source), Source: source, Failed: "not an ipckeys scan report: not a JSON object"}
	}
	switch {
	case head.Schema == nil:
		return Loaded{Name: fallback(name, source), Source: source, Failed: "not an ipckeys scan report: no schema field"}
	case *head.Schema == Schema:
		return Loaded{Name: fallback(name, source), Source: source, Skipped: "a fleet report, not a host's"}
	case strings.HasPrefix(*head.Schema, "ipckeys/scan/"):
		if *head.Schema != ScanSchema {
			return Loaded{Name: fallback(name, source), Source: source,
				Failed: fmt.Sprintf("report schema %s, this ipckeys reads %s: use an ipckeys release that reads it", CleanText(*head.Schema), ScanSchema)}
		}
	case strings.HasPrefix(*head.Schema, "ipckeys/"):
		return Loaded{Name: fallback(name, source), Source: source,
			Failed: fmt.Sprintf("not a scan report (schema %s): give the output of ipckeys scan -o json", CleanText(*head.Schema))}
	default:
		return Loaded{Name: fallback(name, source), Source: source,
			Failed: fmt.Sprintf("not an ipckeys scan report: schema %q", CleanText(*head.Schema))}
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return Loaded{Name: fallback(name, source), Source: source, Failed: "malformed " + ScanSchema + " report: " + err.Error()}
	}
	l := Loaded{Source: source, Report: &rep}
	if rep.Host != nil {
		l.Name = Clean(rep.Host.Name())
	}
	if l.Name == "" {
		if name == "" {
			return Loaded{Name: Clean(source), Source: source, Report: nil,
				Failed: "the report names no host (ipckeys releases before host was added to " + ScanSchema + "): give each report its own file, HOST.json, or upgrade ipckeys on the host"}
		}
		l.Name = Clean(name)
	}
	return l
}

// Clean makes a name from a report safe to print on one line: one with
// control characters, or invalid UTF-8, is written Go-quoted.
func Clean(s string) string {
	for _, r := range s {
		if r == '\uFFFD' || r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// CleanText makes a message from a report safe to print on one line:
// control characters (a terminal's escape sequences, line breaks) become
// spaces.
func CleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
