// Package report turns checked entries and findings into what people and
// programs read: the versioned JSON report and tables.
//
// The JSON report is a stable interface. Its top-level object carries a
// schema string ("ipckeys/scan/v1"); fields are only ever added within a
// version, never renamed or removed.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/hostinfo"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// Schema names the JSON report's version.
const Schema = "ipckeys/scan/v1"

// Entry is one key entry as JSON shows it.
type Entry struct {
	Name     string `json:"name,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	Config   string `json:"config,omitempty"`  // the config file a setting channel came from
	Setting  string `json:"setting,omitempty"` // its setting's dotted name
	Line     int    `json:"line,omitempty"`
	Pattern  string `json:"pattern,omitempty"`
	// Path is the path as given. When it is not valid UTF-8 it is written
	// Go-quoted ("\xff") and PathQuoted is true.
	Path        string  `json:"path"`
	PathQuoted  bool    `json:"path_quoted,omitempty"`
	Proj        *int    `json:"proj"`                  // null when scanned without -p
	ProjByte    *int    `json:"proj_byte,omitempty"`   // the low byte ftok keeps
	Key         *string `json:"key"`                   // "0x%08x", as ipcs prints it; null without proj
	KeyDecimal  *int32  `json:"key_decimal"`           // signed, as /proc/sysvipc prints it
	Dev         string  `json:"dev,omitempty"`         // "major:minor"
	DevByte     *int    `json:"dev_byte,omitempty"`    // st_dev & 0xff
	Ino         *uint64 `json:"ino,omitempty"`         // full inode number
	InoBits     *int    `json:"ino_bits,omitempty"`    // st_ino & 0xffff
	Fingerprint string  `json:"fingerprint,omitempty"` // "0x%06x": device byte and inode bits
	FSType      string  `json:"fs_type,omitempty"`
	Type        string  `json:"type,omitempty"`
	Nattch      string  `json:"nattch,omitempty"`
	Owner       string  `json:"owner,omitempty"`
	Error       string  `json:"error,omitempty"` // why stat failed: ftok returns -1
	// Live is what the live tables held for the key in the namespace
	// checked; absent when the live checks did not run.
	Live *EntryLive `json:"live,omitempty"`
}

// EntryLive is what the live tables held for an entry's key: nothing
// (Held is []), or one object per facility. Reports from many hosts are
// compared on it (ipckeys fleet).
type EntryLive struct {
	Held []Held `json:"held"`
}

// Held is a live object holding an entry's key.
type Held struct {
	Facility string `json:"facility"` // shm, sem or msg
	ID       int    `json:"id"`
	Owner    string `json:"owner"`
	// Segments: Nattch counts mappings, as the kernel does; Processes the
	// distinct attached processes, when the attachments were read.
	Nattch    *int `json:"nattch,omitempty"`
	Processes *int `json:"processes,omitempty"`
	Removed   bool `json:"removed,omitempty"` // removed while attached; found by its original key
}

// Finding is one finding as JSON shows it, with copies of its entries so
// each finding reads on its own.
type Finding struct {
	Code     string     `json:"code"`
	Severity string     `json:"severity"`
	Key      string     `json:"key,omitempty"`
	Message  string     `json:"message"`
	Entries  []Entry    `json:"entries"`
	Object   *ObjectRef `json:"object,omitempty"` // the live object, for live findings
	// Suppressed is set when an ignore file entry covers the finding.
	Suppressed *SuppressedBy `json:"suppressed,omitempty"`
	// File and Line place findings about ignore file entries.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Suggestions are fixes that give a channel a key of its own.
	Suggestions []SuggestionJSON `json:"suggestions,omitempty"`
	// Socket is the socket (or Process the process) a descriptor
	// finding is about.
	Socket  *SocketJSON  `json:"socket,omitempty"`
	Process *ProcessJSON `json:"process,omitempty"`
}

// SocketJSON names a socket in a finding, with every holder.
type SocketJSON struct {
	Proto   string     `json:"proto"`
	Local   string     `json:"local"`
	State   string     `json:"state"`
	Inode   uint64     `json:"inode"`
	Queue   int        `json:"queue"`
	Holders []HolderFD `json:"holders"`
}

// HolderFD is one descriptor holding a socket.
type HolderFD struct {
	PID     int    `json:"pid"`
	FD      int    `json:"fd"`
	Comm    string `json:"comm"`
	Exe     string `json:"exe"`
	Cloexec bool   `json:"cloexec"`
}

// ProcessJSON names a process in a finding.
type ProcessJSON struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	Exe  string `json:"exe"`
}

// SuggestionJSON is one suggested fix for one channel or path: "rekey"
// (re-create its key file: Command says how) or "proj" (a proj id and the
// key it gives).
type SuggestionJSON struct {
	Kind    string `json:"kind"`
	Channel string `json:"channel,omitempty"`
	Path    string `json:"path"`
	Command string `json:"command,omitempty"`
	Proj    *int   `json:"proj,omitempty"`
	Key     string `json:"key,omitempty"`
}

// SuppressedBy is the ignore file entry behind a suppressed finding.
type SuppressedBy struct {
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
	File    string `json:"file"`
	Line    int    `json:"line"`
}

// ObjectRef names a live object in a finding.
type ObjectRef struct {
	Facility string `json:"facility"`
	ID       int    `json:"id"`
	Key      string `json:"key"`
}

// LiveSummary says whether the live checks ran and what they could see.
type LiveSummary struct {
	Checked     bool          `json:"checked"`
	Reason      string        `json:"reason,omitempty"` // why not
	Source      string        `json:"source,omitempty"`
	Namespace   uint64        `json:"ipc_namespace,omitempty"`
	Namespaces  int           `json:"ipc_namespaces,omitempty"` // with --all-namespaces
	Attachments *Completeness `json:"attachments,omitempty"`
	Notes       []string      `json:"notes,omitempty"` // what else could not be seen
	// Sockets says what the descriptor checks could see, when they ran.
	Sockets *SocketsSummary `json:"sockets,omitempty"`
}

// SocketsSummary says how complete the descriptor checks' picture was.
type SocketsSummary struct {
	Processes  int      `json:"processes"`
	Sockets    int      `json:"sockets"`
	Unreadable int      `json:"unreadable"` // processes whose descriptors could not be read
	Vanished   int      `json:"vanished"`
	Notes      []string `json:"notes,omitempty"`
	// UnreadableProcesses names every process counted in Unreadable.
	UnreadableProcesses []UnreadableProcess `json:"unreadable_processes,omitempty"`
}

// Summary counts what a scan found and says whether the gate failed.
type Summary struct {
	Entries    int    `json:"entries"`
	Findings   int    `json:"findings"` // not counting suppressed ones
	Errors     int    `json:"errors"`
	Warnings   int    `json:"warnings"`
	Info       int    `json:"info"`
	Suppressed int    `json:"suppressed"`
	FailOn     string `json:"fail_on"`
	Failed     bool   `json:"failed"`
}

// Scan is the versioned JSON report of `ipckeys scan`.
type Scan struct {
	Schema   string         `json:"schema"`
	Host     *hostinfo.Host `json:"host,omitempty"`   // the machine and time of the scan
	Static   bool           `json:"static,omitempty"` // --static: key files not looked at
	Inputs   []Input        `json:"inputs,omitempty"`
	Entries  []Entry        `json:"entries"`
	Findings []Finding      `json:"findings"`
	Live     LiveSummary    `json:"live"`
	Summary  Summary        `json:"summary"`
}

// Input is one file named on the command line and what it was taken as:
// an application's configuration file naming key files, or a key file.
type Input struct {
	Path     string         `json:"path"`
	TakenAs  string         `json:"taken_as"`         // "config" or "key file"
	Format   string         `json:"format,omitempty"` // of a config: lines, yaml, json, toml
	Why      string         `json:"why,omitempty"`    // of a key file: why it is not a config
	Settings []InputSetting `json:"settings,omitempty"`
}

// InputSetting is one key-file setting of a config.
type InputSetting struct {
	Name  string `json:"name"`
	Line  int    `json:"line"`
	Value string `json:"value"`
	Proj  *int   `json:"proj,omitempty"` // from a sibling setting
}

// Summary says in one line what the input was taken as.
func (in Input) Summary() string {
	if in.TakenAs != "config" {
		return fmt.Sprintf("%s: key file (%s)", display.Quote(in.Path), display.Quote(in.Why))
	}
	var names []string
	for _, s := range in.Settings {
		names = append(names, fmt.Sprintf("%s (line %d)", display.Quote(s.Name), s.Line))
	}
	n := len(in.Settings)
	if n == 0 && in.Why != "" {
		return fmt.Sprintf("%s: config (%s): %s", display.Quote(in.Path), display.Quote(in.Format), display.Quote(in.Why))
	}
	word := "key-file settings"
	if n == 1 {
		word = "key-file setting"
	}
	return fmt.Sprintf("%s: config (%s), %d %s: %s", display.Quote(in.Path), display.Quote(in.Format), n, word, strings.Join(names, ", "))
}

// Result is everything one scan produced: what every output format
// renders.
type Result struct {
	Host     *hostinfo.Host // where and when the scan ran
	Static   bool           // --static
	Inputs   []Input        // what each positional file was taken as
	Entries  []audit.Entry
	Findings []audit.Finding // sorted; suppressed ones included, marked
	Live     LiveSummary
	Snap     *ipcscan.Snapshot // nil when the live checks did not run
	FailOn   audit.Severity
	Time     time.Time // when the scan ran
	Version  Version
	Err      error // set when the scan could not run: only metrics are written
}

// Version is the build that produced a result.
type Version struct {
	Module    string // module version, "(devel)" for a local build
	Revision  string // VCS revision, "" when not stamped
	GoVersion string
}

// Summary counts the result's findings and applies its threshold.
func (r *Result) Summary() Summary { return Summarize(len(r.Entries), r.Findings, r.FailOn) }

// Scan returns the JSON report of the result.
func (r *Result) Scan() Scan {
	s := NewScan(r.Entries, r.Findings, r.Live, r.FailOn)
	s.Static, s.Inputs, s.Host = r.Static, r.Inputs, r.Host
	if r.Snap != nil {
		held := heldByKey(r.Snap)
		for i := range r.Entries {
			if k, ok := r.Entries[i].Key(); ok && r.Entries[i].OK() {
				s.Entries[i].Live = &EntryLive{Held: append([]Held{}, held[k]...)}
			}
		}
	}
	return s
}

// heldByKey indexes the snapshot's objects by key, a removed segment by
// the key its holders still map.
func heldByKey(s *ipcscan.Snapshot) map[int32][]Held {
	out := map[int32][]Held{}
	for _, sg := range s.Shm {
		key, known := s.OriginalKey(sg)
		if key == 0 || !known {
			continue
		}
		nattch := sg.Nattch
		h := Held{Facility: "shm", ID: sg.ID, Owner: ipcscan.UserName(sg.UID), Nattch: &nattch, Removed: sg.Removed()}
		if s.Attach != nil {
			if hs := s.Holders(sg.ID); ipcscan.Mappings(hs) == sg.Nattch {
				n := len(hs)
				h.Processes = &n
			}
		}
		out[key] = append(out[key], h)
	}
	for _, st := range s.Sem {
		if st.Key != 0 {
			out[st.Key] = append(out[st.Key], Held{Facility: "sem", ID: st.ID, Owner: ipcscan.UserName(st.UID)})
		}
	}
	for _, q := range s.Msg {
		if q.Key != 0 {
			out[q.Key] = append(out[q.Key], Held{Facility: "msg", ID: q.ID, Owner: ipcscan.UserName(q.UID)})
		}
	}
	return out
}

// Location is where a finding points people: a manifest line, a path, an
// ignore file line, or a live object.
type Location struct {
	File string // "" for a live object without entries
	Line int    // 0 when there is no line
	Text string // for people: "app.manifest:3", "/etc/a.conf", "shm id 5"
}

// Locate returns where finding f points. Its Text is safe to print (file
// names and paths quoted by the display rule); File is as given.
func (r *Result) Locate(f *audit.Finding) Location {
	switch {
	case f.Where != nil:
		return Location{f.Where.File, f.Where.Line, fmt.Sprintf("%s:%d", display.Quote(f.Where.File), f.Where.Line)}
	case len(f.Entries) > 0:
		e := &r.Entries[f.Entries[0]]
		if c := e.Channel; c != nil {
			return Location{c.File, c.Line, fmt.Sprintf("%s:%d", display.Quote(c.File), c.Line)}
		}
		return Location{e.Path, 0, display.Quote(e.Path)}
	case f.Object != nil:
		return Location{Text: fmt.Sprintf("%s id %d", display.Quote(f.Object.Facility), f.Object.ID)}
	case f.Socket != nil:
		return Location{Text: display.Quote(f.Socket.Text())}
	}
	return Location{Text: "-"}
}

// Locations returns every place a finding is about: Locate's first, then
// the places of its other entries (the other config lines of a
// collision), each once.
func (r *Result) Locations(f *audit.Finding) []Location {
	first := r.Locate(f)
	out := []Location{first}
	if f.Where != nil {
		return out
	}
	type place struct {
		file string
		line int
	}
	seen := map[place]bool{{first.File, first.Line}: true}
	for _, i := range f.Entries {
		e := &r.Entries[i]
		loc := Location{e.Path, 0, display.Quote(e.Path)}
		if c := e.Channel; c != nil {
			loc = Location{c.File, c.Line, fmt.Sprintf("%s:%d", display.Quote(c.File), c.Line)}
		}
		if loc.File == "" || seen[place{loc.File, loc.Line}] {
			continue
		}
		seen[place{loc.File, loc.Line}] = true
		out = append(out, loc)
	}
	return out
}

// NewLiveSummary describes a snapshot the live checks used; nil means they
// did not run, for the reason given.
func NewLiveSummary(s *ipcscan.Snapshot, reason string) LiveSummary {
	if s == nil {
		return LiveSummary{Reason: reason}
	}
	c := AttachCompleteness(s.Attach)
	return LiveSummary{Checked: true, Source: s.Source, Namespace: s.NS, Attachments: &c}
}

// NewEntry converts an audit entry.
func NewEntry(e *audit.Entry) Entry {
	out := Entry{Path: e.Path, Pattern: e.Pattern}
	if !utf8.ValidString(e.Path) {
		out.Path, out.PathQuoted = strconv.Quote(e.Path), true
	}
	if c := e.Channel; c != nil {
		out.Name, out.Manifest, out.Line = c.Name, c.File, c.Line
		if c.FromConfig() {
			out.Manifest, out.Config, out.Setting = "", c.File, c.Setting
		}
		out.Type, out.Owner = c.Type, c.Owner
		if c.Nattch != nil {
			out.Nattch = c.Nattch.String()
		}
	}
	if e.HasProj {
		proj, b := e.Proj, e.Proj&0xff
		out.Proj, out.ProjByte = &proj, &b
	}
	if k, ok := e.Key(); ok {
		hex := ftok.Hex(k)
		out.Key, out.KeyDecimal = &hex, &k
	}
	if !e.OK() {
		out.Error = e.Err.Error()
		return out
	}
	if e.Static {
		return out // --static: the file was not looked at
	}
	f := e.File
	ino, db, bits := f.Ino, int(f.Dev&0xff), int(f.Ino&0xffff)
	out.Dev = fmt.Sprintf("%d:%d", f.Major(), f.Minor())
	out.DevByte, out.Ino, out.InoBits = &db, &ino, &bits
	out.Fingerprint = f.Fingerprint().String()
	out.FSType = f.FSType
	return out
}

// NewScan builds the JSON report; failOn is the gate's threshold.
func NewScan(entries []audit.Entry, findings []audit.Finding, live LiveSummary, failOn audit.Severity) Scan {
	s := Scan{Schema: Schema, Entries: make([]Entry, len(entries)), Findings: make([]Finding, 0, len(findings)), Live: live}
	for i := range entries {
		s.Entries[i] = NewEntry(&entries[i])
	}
	s.Summary = Summarize(len(entries), findings, failOn)
	for _, f := range findings {
		jf := Finding{Code: f.Code, Severity: f.Severity.String(), Message: f.Message, Entries: make([]Entry, len(f.Entries))}
		if f.Key != nil {
			jf.Key = ftok.Hex(*f.Key)
		}
		for n, i := range f.Entries {
			jf.Entries[n] = s.Entries[i]
		}
		if o := f.Object; o != nil {
			jf.Object = &ObjectRef{Facility: o.Facility, ID: o.ID, Key: ftok.Hex(o.Key)}
		}
		if sp := f.Suppressed; sp != nil {
			jf.Suppressed = &SuppressedBy{Reason: sp.Reason, Expires: sp.Expires, File: sp.File, Line: sp.Line}
		}
		if w := f.Where; w != nil {
			jf.File, jf.Line = w.File, w.Line
		}
		if sk := f.Socket; sk != nil && sk.Proto != "" {
			js := &SocketJSON{Proto: sk.Proto, Local: sk.Local, State: sk.State, Inode: sk.Inode, Queue: sk.Queue, Holders: []HolderFD{}}
			for _, h := range sk.Holders {
				js.Holders = append(js.Holders, HolderFD{PID: h.PID, FD: h.FD, Comm: h.Comm, Exe: h.Exe, Cloexec: h.CloseOnExec})
			}
			jf.Socket = js
		} else if sk != nil {
			jf.Process = &ProcessJSON{PID: sk.PID, Comm: sk.Comm, Exe: sk.Exe}
		}
		for _, sg := range f.Suggestions {
			e := &entries[sg.Entry]
			if sg.Kind == audit.FixRekey {
				jf.Suggestions = append(jf.Suggestions, SuggestionJSON{Kind: sg.Kind.String(), Channel: e.Name(), Path: e.Path, Command: audit.RekeyCommand(e)})
				continue
			}
			jf.Suggestions = append(jf.Suggestions, SuggestionJSON{Kind: sg.Kind.String(), Channel: e.Name(), Path: e.Path, Proj: &sg.Proj, Key: ftok.Hex(sg.Key)})
		}
		s.Findings = append(s.Findings, jf)
	}
	return s
}

// Summarize counts findings by severity and applies the threshold.
func Summarize(entries int, findings []audit.Finding, failOn audit.Severity) Summary {
	s := Summary{Entries: entries, FailOn: ThresholdName(failOn)}
	for _, f := range findings {
		if f.Suppressed != nil {
			s.Suppressed++
			continue
		}
		s.Findings++
		switch f.Severity {
		case audit.Error:
			s.Errors++
		case audit.Warning:
			s.Warnings++
		case audit.Info:
			s.Info++
		}
		if f.Severity >= failOn {
			s.Failed = true
		}
	}
	return s
}

// ThresholdName writes a --fail-on value back.
func ThresholdName(s audit.Severity) string {
	if s == audit.Never {
		return "never"
	}
	return s.String()
}

// WriteJSON writes v indented, with a final newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
