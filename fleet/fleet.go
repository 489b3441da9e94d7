// Package fleet merges the scan reports of many hosts into one view.
//
// Inode numbers are per host, so a key collision can exist on one host of
// eleven identical deployments: the check runs on every host (`ipckeys
// scan -o json`, distributed by Ansible, pssh or any other tool) and the
// answer people need is a fleet-wide one. Merge takes the reports (Load
// reads them; a host whose scan failed leaves a failure marker HOST.failed
// instead) and builds a View:
//
//   - Hosts: every host, checked or not. A host is not checked when its
//     report is missing, unreadable, empty, not JSON, of another schema, or
//     when a marker says its scan failed (exit 2 writes no JSON), or its
//     report is older than MaxAge. With Options.Expected (the inventory)
//     a host with no input at all is listed too.
//   - Channels: each configured channel (manifest name, FILE:SETTING of a
//     config) or path (with its proj id) across the hosts, with its key,
//     device, inode, file system and live state per host. For each of
//     these a value held by more than half of the hosts is the majority,
//     and hosts with another value are marked: keys normally differ
//     between hosts (inodes do), so only a strict majority marks anyone.
//   - Findings: one per finding code and set of channels, paths or live
//     objects, whatever its key on each host, listing the hosts it is on.
//
// The gate is scan's: exit 1 when a host has a finding at or above the
// threshold, 2 when a host could not be checked (unless that is allowed).
// Merge is pure; rendering is package report's.
//
// A fleet of 10,000 hosts of 1,000 entries has ten million cells. Reports
// are decoded an entry at a time (on every CPU), and what the hosts share
// is interned once: a cell is held in 24 bytes, and made a Cell only when
// a renderer asks for it (View.Cells, View.Cell). A live state that was
// not checked is unknown: it neither counts for a majority nor differs.
package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
)

// Schema names the version of the fleet JSON document. Within a version
// fields are only added, never renamed or removed.
const Schema = "ipckeys/fleet/v1"

// Options are what Merge is told besides the reports.
type Options struct {
	// Expected are the hosts that should have a report (the inventory);
	// those without one are not checked. Empty: the hosts of the inputs.
	Expected []string
	// MaxAge makes a report older than this (by its host.time) a host not
	// checked; 0 accepts any age.
	MaxAge time.Duration
	Now    time.Time
	// MaxSkew is how far a report's time may be ahead of Now, the clocks
	// of two machines differing: a report dated later is not checked, and
	// is never taken over another report of its host.
	MaxSkew time.Duration
	// FailOn is the gate's threshold, as scan's --fail-on.
	FailOn audit.Severity
	// AllowUnchecked keeps hosts that could not be checked from failing
	// the gate (exit 2).
	AllowUnchecked bool
	// Version is the merging ipckeys' version, for View.Tool.
	Version string
}

// Tool names what made a view.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// View is the fleet: what every fleet format renders.
type View struct {
	Schema   string     `json:"schema"`
	Time     string     `json:"time"` // when the view was made, RFC 3339
	Tool     Tool       `json:"tool"`
	Summary  Summary    `json:"summary"`
	Hosts    []*Host    `json:"hosts"`
	Channels []*Channel `json:"channels"`
	Findings []*Finding `json:"findings"`
	// Notes say what else the merge noticed: duplicate reports, hosts
	// outside the inventory, a machine id under two names.
	Notes []string `json:"notes,omitempty"`
	// NoteList holds the same notes for programs: a code and the hosts
	// and inputs each concerns, never shortened.
	NoteList []Note `json:"note_list,omitempty"`

	marks map[cellKey]*cellMark // the cells findings concern
}

// cellKey names a cell: the index of its host in View.Hosts and of its
// channel in View.Channels.
type cellKey struct{ host, channel int }

// cellMark is what the findings say of a cell.
type cellMark struct {
	findings []string
	worst    audit.Severity
}

// Note is one note of the merge.
type Note struct {
	// Code is skipped (an input that is no host's report), not-expected (a
	// host outside the inventory), several-reports (the newest is used) or
	// shared-machine-id.
	Code    string   `json:"code"`
	Hosts   []string `json:"hosts,omitempty"`
	Sources []string `json:"sources,omitempty"`
	Text    string   `json:"text"` // the note as Notes has it
}

// note adds a note in both forms.
func (v *View) note(code string, hosts, sources []string, text string) {
	v.Notes = append(v.Notes, text)
	v.NoteList = append(v.NoteList, Note{Code: code, Hosts: hosts, Sources: sources, Text: text})
}

// Summary counts hosts and findings and says how the gate ended.
type Summary struct {
	Hosts     int `json:"hosts"`
	Checked   int `json:"checked"`
	Unchecked int `json:"unchecked"`
	// Failing hosts have a finding at or above FailOn; Passing the other
	// checked hosts.
	Failing int `json:"failing"`
	Passing int `json:"passing"`
	// Findings are the merged findings not suppressed on every host,
	// counted by their worst severity.
	Findings       int    `json:"findings"`
	Errors         int    `json:"errors"`
	Warnings       int    `json:"warnings"`
	Info           int    `json:"info"`
	Channels       int    `json:"channels"`
	FailOn         string `json:"fail_on"`
	AllowUnchecked bool   `json:"allow_unchecked"`
	Failed         bool   `json:"failed"`      // a host is failing, or one is unchecked and that is not allowed
	ExitStatus     int    `json:"exit_status"` // 0, 1 or 2, as the command exits
}

// The statuses of a host (Host.Status).
const (
	StatusPass      = "pass"
	StatusFail      = "fail"
	StatusUnchecked = "unchecked"
)

// Host is one host of the fleet.
type Host struct {
	Name    string `json:"name"`
	Checked bool   `json:"checked"`
	// Status is the host's verdict: StatusPass, StatusFail (a finding at
	// or above FailOn) or StatusUnchecked.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"` // why it was not checked
	// ReasonCode is Reason as a stable word (ReasonNoReport, …).
	ReasonCode string `json:"reason_code,omitempty"`
	Source     string `json:"source,omitempty"` // the report or marker it came from
	// From the report's host object.
	Label        string `json:"label,omitempty"`
	Hostname     string `json:"hostname,omitempty"`
	MachineID    string `json:"machine_id,omitempty"`
	BootID       string `json:"boot_id,omitempty"`
	ReportTime   string `json:"time,omitempty"`
	IPCNamespace uint64 `json:"ipc_namespace,omitempty"`
	Static       bool   `json:"static,omitempty"`
	LiveChecked  bool   `json:"live_checked"`
	LiveReason   string `json:"live_reason,omitempty"`
	// Findings on this host, not counting suppressed ones.
	Errors     int    `json:"errors"`
	Warnings   int    `json:"warnings"`
	Info       int    `json:"info"`
	Suppressed int    `json:"suppressed"`
	Worst      string `json:"worst,omitempty"` // severity of its worst finding
	Failing    bool   `json:"failing"`         // a finding at or above FailOn

	report *Report
	cells  *hostCells // a checked host's entries
	index  int        // in View.Hosts
}

// Channel is one channel or path across the hosts.
type Channel struct {
	ID      string `json:"id"`   // "channel:NAME", or "path:PATH" with " proj N"
	Name    string `json:"name"` // for people
	Kind    string `json:"kind"` // "manifest", "config" or "path"
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Setting string `json:"setting,omitempty"`
	Path    string `json:"path"`
	Proj    *int   `json:"proj"`
	// Majority holds, per compared field (present, key, dev, fs_type,
	// live, error), the value more than half of the hosts have, where
	// one has such a value.
	Majority map[string]string `json:"majority"`
	// Differing are the hosts with a value other than the majority's.
	Differing []string `json:"differing"`
	Worst     string   `json:"worst,omitempty"`
	// Cells are the channel on each checked host, in the hosts' order. A
	// View holds them compactly: View.Cells makes them, and FleetJSON
	// writes them, one channel at a time.
	Cells []*Cell `json:"hosts"`

	index int // in View.Channels
	// agree and compared count, per field of Majority, the hosts with the
	// majority's value and the hosts compared.
	agree, compared map[string]int
}

// MajorityOf says how many hosts have the majority's value of a field,
// of how many compared.
func (c *Channel) MajorityOf(name string) (n, of int) { return c.agree[name], c.compared[name] }

// Cell is one channel on one host.
type Cell struct {
	Host        string  `json:"host"`
	Present     bool    `json:"present"` // the host's report has the channel
	Key         string  `json:"key,omitempty"`
	Dev         string  `json:"dev,omitempty"`
	Ino         *uint64 `json:"ino,omitempty"`
	Fingerprint string  `json:"fingerprint,omitempty"`
	FSType      string  `json:"fs_type,omitempty"`
	Error       string  `json:"error,omitempty"`
	// Live is the live state compared across hosts ("shm nattch 2, 2
	// processes", "none", "not checked"); LiveDetail adds ids and owners.
	Live       string   `json:"live,omitempty"`
	LiveDetail string   `json:"live_detail,omitempty"`
	Worst      string   `json:"worst,omitempty"`
	Findings   []string `json:"findings,omitempty"` // ids of the findings concerning it here
	Differs    []string `json:"differs,omitempty"`  // fields where it is not the majority
}

// Finding is one finding merged across the hosts it is on.
type Finding struct {
	// ID identifies the finding across hosts and runs: a hash of its code
	// and what it concerns, not of its key (keys differ between hosts).
	ID       string   `json:"id"`
	Code     string   `json:"code"`
	Severity string   `json:"severity"` // the worst of its hosts'
	Concerns []string `json:"concerns"` // channels, paths, objects, ignore file lines, for people
	Channels []string `json:"channels"` // ids of the channels concerned
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	// Hosts it is on and not suppressed, of Of checked hosts.
	Hosts []string `json:"hosts"`
	Of    int      `json:"of"`
	// SuppressedOn are the hosts where an ignore file entry covers it.
	SuppressedOn []string `json:"suppressed_on,omitempty"`
	PerHost      []OnHost `json:"per_host"`
	Fix          string   `json:"fix,omitempty"`
	rank         audit.Severity
}

// OnHost is a finding as one host's report has it.
type OnHost struct {
	Host       string      `json:"host"`
	Severity   string      `json:"severity"`
	Key        string      `json:"key,omitempty"`
	Message    string      `json:"message"`
	Suppressed *Suppressed `json:"suppressed,omitempty"`
	// Fixes are the commands the host's report gives to fix the finding
	// there ("ipckeys rekey /srv/app/audit.key"), at most MaxFixes.
	Fixes []string `json:"fixes,omitempty"`
}

// Rank returns the finding's worst severity.
func (f *Finding) Rank() audit.Severity { return f.rank }

// HostsPhrase says where a finding is: "on 1 of 10 checked hosts: host07".
func (f *Finding) HostsPhrase(total int, limit int) string {
	of := fmt.Sprintf("%d hosts", f.Of)
	if f.Of == 1 {
		of = "1 host"
	}
	if f.Of < total {
		of = fmt.Sprintf("%d checked hosts", f.Of)
		if f.Of == 1 {
			of = "1 checked host"
		}
	}
	if len(f.Hosts) == 0 {
		return fmt.Sprintf("suppressed on %s", Names(f.SuppressedOn, limit))
	}
	if len(f.Hosts) == f.Of && f.Of > 1 {
		return fmt.Sprintf("on all %s", of)
	}
	return fmt.Sprintf("on %d of %s: %s", len(f.Hosts), of, Names(f.Hosts, limit))
}

// Names lists host names, at most limit of them (0: all), saying how many
// more there are.
func Names(names []string, limit int) string {
	if limit <= 0 || len(names) <= limit {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:limit], ", "), len(names)-limit)
}

// Severity reads a severity word of a report; one this release does not
// know counts as an error, so a newer report cannot pass by it.
func Severity(s string) audit.Severity {
	switch s {
	case "info":
		return audit.Info
	case "warning":
		return audit.Warning
	}
	return audit.Error
}

func sevName(s audit.Severity) string {
	if s == 0 {
		return ""
	}
	return s.String()
}

// Merge builds the fleet view of the loaded reports. It takes the entries
// of the reports it uses (they are not copied): merge a Loaded once.
func Merge(loaded []Loaded, o Options) *View {
	v := &View{Schema: Schema, Time: o.Now.UTC().Format(time.RFC3339), Tool: Tool{Name: "ipckeys", Version: o.Version}}
	loaded = slices.Clone(loaded)
	for i := range loaded {
		l := &loaded[i]
		l.Name, l.Source, l.Failed, l.Skipped = Clean(l.Name), Clean(l.Source), Clean(l.Failed), Clean(l.Skipped)
	}
	v.Hosts = hosts(v, loaded, o)
	checked := 0
	for _, h := range v.Hosts {
		if h.Checked {
			checked++
		}
	}
	v.Channels = channels(v.Hosts)
	v.Findings = findings(v, checked)
	for _, c := range v.Channels {
		v.compare(c)
	}
	v.Summary = summarize(v, o)
	sanitize(reflect.ValueOf(v).Elem())
	return v
}

// sanitize applies the display rule to every string of a view, the last
// step of Merge: whatever a renderer prints of a View, and however a
// string of it was built (a source file name, a reason quoting a JSON
// error, a note), is safe to print. The strings are quoted where they are
// read already; quoting a quoted string changes nothing.
func sanitize(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(Clean(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			sanitize(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				sanitize(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			sanitize(v.Index(i))
		}
	case reflect.Map:
		if v.Type() == reflect.TypeFor[map[string]string]() && !v.IsNil() {
			clean := map[string]string{}
			for k, x := range v.Interface().(map[string]string) {
				clean[Clean(k)] = Clean(x)
			}
			v.Set(reflect.ValueOf(clean))
		}
	}
}

// hosts turns the inputs into hosts: one per name, in natural name order.
func hosts(v *View, loaded []Loaded, o Options) []*Host {
	byName := map[string][]Loaded{}
	var order []string
	for _, l := range loaded {
		if l.Skipped != "" {
			v.note("skipped", nil, []string{l.Source}, fmt.Sprintf("%s: skipped: %s", l.Source, l.Skipped))
			continue
		}
		if _, ok := byName[l.Name]; !ok {
			order = append(order, l.Name)
		}
		byName[l.Name] = append(byName[l.Name], l)
	}
	expected := map[string]bool{}
	for _, name := range o.Expected {
		name = Clean(name)
		expected[name] = true
		if _, ok := byName[name]; !ok {
			order = append(order, name)
			byName[name] = nil
		}
	}
	var out []*Host
	machines := map[string][]string{}
	for _, name := range order {
		h := pick(v, name, byName[name], o)
		if len(o.Expected) > 0 && !expected[name] {
			v.note("not-expected", []string{name}, []string{h.Source}, fmt.Sprintf("%s (%s) is not among the expected hosts: a label that is not the inventory's name?", name, h.Source))
		}
		if h.report != nil {
			fill(h, o)
			if h.report != nil {
				h.cells = h.report.take()
			}
			if h.MachineID != "" {
				machines[h.MachineID] = append(machines[h.MachineID], name)
			}
		}
		out = append(out, h)
	}
	sort.SliceStable(out, func(i, j int) bool { return naturalLess(out[i].Name, out[j].Name) })
	for i, h := range out {
		h.index = i
	}
	var ids []string
	for id := range machines {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if names := machines[id]; len(names) > 1 {
			sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
			v.note("shared-machine-id", names, nil, fmt.Sprintf("%s report the same machine id %s: one machine under several names, or machines cloned without a new /etc/machine-id", strings.Join(names, ", "), id))
		}
	}
	return out
}

// pick makes a host of the inputs that name it: a failure marker wins (a
// report beside it is stale), the newest of several reports from one
// machine is taken (one dated in the future only when all are), reports
// from different machines under one name make the host unchecked.
func pick(v *View, name string, ls []Loaded, o Options) *Host {
	h := &Host{Name: name}
	if len(ls) == 0 {
		h.ReasonCode, h.Reason = ReasonNoReport, "no report: the host's scan did not run or its report was not collected"
		return h
	}
	var reports []Loaded
	for _, l := range ls {
		if l.Report == nil {
			h.Source, h.Reason, h.ReasonCode = l.Source, l.Failed, l.Code
			if len(ls) > 1 {
				h.Reason += fmt.Sprintf(" (%d inputs name this host; this one says it could not be checked)", len(ls))
			}
			return h
		}
		reports = append(reports, l)
	}
	if len(reports) > 1 {
		ids := map[string]bool{}
		for _, r := range reports {
			if r.Report.Host != nil {
				ids[r.Report.Host.MachineID] = true
			}
		}
		delete(ids, "")
		if len(ids) > 1 {
			var list []string
			for id := range ids {
				list = append(list, id)
			}
			sort.Strings(list)
			h.Source = reports[0].Source
			h.ReasonCode, h.Reason = ReasonDuplicate, fmt.Sprintf("%d reports name this host, from different machines (machine ids %s): give each host its own scan --label", len(reports), strings.Join(list, ", "))
			return h
		}
		sort.SliceStable(reports, func(i, j int) bool { return o.newer(reports[i], reports[j]) })
		var older []string
		sources := []string{reports[0].Source}
		for _, r := range reports[1:] {
			older = append(older, r.Source+o.aside(r))
			sources = append(sources, r.Source)
		}
		v.note("several-reports", []string{name}, sources, fmt.Sprintf("%s: %d reports; the newest (%s) is used, not %s", name, len(reports), reports[0].Source, strings.Join(older, ", ")))
	}
	h.Checked, h.Source, h.report = true, reports[0].Source, reports[0].Report
	return h
}

func reportTime(l Loaded) time.Time {
	if l.Report == nil || l.Report.Host == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, l.Report.Host.Time)
	return t
}

// fill copies what the report says of its host and counts its findings.
func fill(h *Host, o Options) {
	r := h.report
	if hi := r.Host; hi != nil {
		h.Label, h.Hostname, h.MachineID, h.BootID = Clean(hi.Label), Clean(hi.Hostname), Clean(hi.MachineID), Clean(hi.BootID)
		h.ReportTime, h.IPCNamespace = Clean(hi.Time), hi.IPCNamespace
	}
	h.Static, h.LiveChecked, h.LiveReason = r.Static, r.Live.Checked, Clean(r.Live.Reason)
	if reason := o.dated(r); reason != "" {
		h.Checked, h.Reason, h.ReasonCode, h.report = false, reason, ReasonFutureDated, nil
		return
	}
	if o.MaxAge > 0 {
		t, err := time.Parse(time.RFC3339, h.ReportTime)
		switch {
		case err != nil:
			h.Checked, h.ReasonCode, h.report = false, ReasonStale, nil
			h.Reason = fmt.Sprintf("the report has no valid time (%q), so its age is unknown (--max-age %s)", h.ReportTime, o.MaxAge)
			return
		case o.Now.Sub(t) > o.MaxAge:
			h.Checked, h.ReasonCode, h.report = false, ReasonStale, nil
			h.Reason = fmt.Sprintf("the report is from %s, %s old: older than --max-age %s", h.ReportTime, o.Now.Sub(t).Round(time.Second), o.MaxAge)
			return
		}
	}
	worst := audit.Severity(0)
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			h.Suppressed++
			continue
		}
		s := Severity(f.Severity)
		switch s {
		case audit.Error:
			h.Errors++
		case audit.Warning:
			h.Warnings++
		case audit.Info:
			h.Info++
		}
		worst = max(worst, s)
	}
	h.Worst = sevName(worst)
	h.Failing = worst != 0 && worst >= o.FailOn
}

// identity returns a channel's id and its name for people.
func identity(e *Entry) (id, name string) {
	if e.Name != "" {
		return "channel:" + Clean(e.Name), Clean(e.Name)
	}
	path := pathName(e)
	if e.Proj == nil {
		return "path:" + path, pathName(e)
	}
	return "path:" + path + " proj " + strconv.Itoa(*e.Proj), pathName(e) + " (proj " + ftok.ProjString(*e.Proj) + ")"
}

// pathName is an entry's path as it is shown. path_quoted says the writer
// Go-quoted a path that is not UTF-8: such a path is decoded first, but
// what is shown is always quoted by the one rule, whatever the report
// claims, and a path that does not decode is shown as it came.
func pathName(e *Entry) string {
	if e.PathQuoted {
		if p, err := strconv.Unquote(e.Path); err == nil {
			return Clean(p)
		}
	}
	return Clean(e.Path)
}

// channels collects every channel and path of the checked hosts, in the
// order the hosts' reports list them, and orders each host's entries by
// channel.
func channels(hosts []*Host) []*Channel {
	byID := map[string]*Channel{}
	var out []*Channel
	for _, h := range hosts {
		if h.cells == nil {
			continue
		}
		tab := h.cells.tab
		for len(tab.channel) < len(tab.attrs) {
			tab.channel = append(tab.channel, math.MaxUint32) // not yet seen
		}
		for _, r := range h.cells.recs {
			if tab.channel[r.attr] != math.MaxUint32 {
				continue
			}
			m := &tab.metas[tab.attrs[r.attr].meta]
			c := byID[m.id]
			if c == nil {
				c = &Channel{ID: m.id, Name: m.name, Kind: m.kind, File: m.file, Line: m.line, Setting: m.setting, Path: m.path, index: len(out)}
				if m.hasProj {
					proj := m.proj
					c.Proj = &proj
				}
				byID[m.id] = c
				out = append(out, c)
			}
			tab.channel[r.attr] = uint32(c.index)
		}
	}
	for _, h := range hosts {
		if h.cells != nil {
			h.cells.order()
		}
	}
	return out
}

// Cells makes the cells of a channel: one per checked host, in the hosts'
// order, a host whose report lacks the channel having a cell not Present.
func (v *View) Cells(c *Channel) []*Cell {
	var out []*Cell
	for _, h := range v.Hosts {
		if cl := v.Cell(h, c); cl != nil {
			out = append(out, cl)
		}
	}
	return out
}

// Cell makes the cell of a channel on a host; nil for a host not checked.
func (v *View) Cell(h *Host, c *Channel) *Cell {
	if h.cells == nil {
		return nil
	}
	cl := &Cell{Host: h.Name}
	if r := h.cells.find(c.index); r != nil {
		cl = h.cells.tab.cell(h, r)
	}
	if m := v.marks[cellKey{h.index, c.index}]; m != nil {
		cl.Findings, cl.Worst = m.findings, sevName(m.worst)
	}
	for _, name := range Compared {
		if major, ok := c.Majority[name]; ok && (name == "present" || cl.Present) && Field(cl, name) != major && !Unknown(name, Field(cl, name)) {
			cl.Differs = append(cl.Differs, name)
		}
	}
	return cl
}

// liveState words the objects holding a key: the part compared across
// hosts, and the detail with ids and owners that differ anyway.
func liveState(held []Held) (state, detail string) {
	if len(held) == 0 {
		return "none", ""
	}
	var states, details []string
	for _, o := range held {
		s := Clean(o.Facility)
		if o.Removed {
			s += " removed"
		}
		if o.Nattch != nil {
			s += fmt.Sprintf(" nattch %d", *o.Nattch)
		}
		if o.Processes != nil {
			s += fmt.Sprintf(", %d %s", *o.Processes, plural(*o.Processes, "process", "processes"))
		}
		states = append(states, s)
		details = append(details, fmt.Sprintf("%s id %d, owner %s", Clean(o.Facility), o.ID, Clean(o.Owner)))
	}
	return strings.Join(states, "; "), strings.Join(details, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// concern is what a finding is about, for its identity and for people.
type concern struct{ id, name, channel string }

func concerns(f *ReportFinding) []concern {
	var out []concern
	for i := range f.Entries {
		id, name := identity(&f.Entries[i])
		label := name
		if strings.HasPrefix(id, "channel:") {
			label = "channel " + name
		}
		out = append(out, concern{id: id, name: label, channel: id})
	}
	if f.Object != nil && len(f.Entries) == 0 {
		o := Clean(f.Object.Facility) + " " + Clean(f.Object.Key)
		out = append(out, concern{id: "object:" + o, name: o})
	}
	if f.File != "" {
		p := fmt.Sprintf("%s:%d", Clean(f.File), f.Line)
		out = append(out, concern{id: "place:" + p, name: p})
	}
	return out
}

// findingID hashes a finding's code and what it concerns.
func findingID(code string, cs []concern) string {
	ids := []string{code}
	for _, c := range cs {
		ids = append(ids, c.id)
	}
	sort.Strings(ids[1:])
	sum := sha256.Sum256([]byte(strings.Join(ids, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// findings merges the hosts' findings: one per code and set of concerns.
// It also marks each cell with its findings and worst severity.
func findings(v *View, checked int) []*Finding {
	byID := map[string]*Finding{}
	var out []*Finding
	chans := map[string]int{}
	for _, c := range v.Channels {
		chans[c.ID] = c.index
	}
	v.marks = map[cellKey]*cellMark{}
	fixes := map[string]string{}
	for _, r := range audit.Rules {
		fixes[r.Code] = r.Fix
	}
	for hi, h := range v.Hosts {
		if !h.Checked {
			continue
		}
		for i := range h.report.Findings {
			rf := &h.report.Findings[i]
			cs := concerns(rf)
			code := Clean(rf.Code)
			id := findingID(code, cs)
			f := byID[id]
			if f == nil {
				f = &Finding{ID: id, Code: code, Of: checked, Fix: fixes[code], Hosts: []string{}, Channels: []string{}}
				for _, c := range cs {
					f.Concerns = append(f.Concerns, c.name)
					if c.channel != "" {
						f.Channels = append(f.Channels, c.channel)
					}
				}
				f.File, f.Line = place(rf)
				byID[id] = f
				out = append(out, f)
			}
			sev := Severity(rf.Severity)
			on := OnHost{Host: h.Name, Severity: sev.String(), Key: Clean(rf.Key), Message: Clean(rf.Message)}
			for _, c := range rf.Fixes {
				on.Fixes = append(on.Fixes, Clean(c))
			}
			if sp := rf.Suppressed; sp != nil {
				on.Suppressed = &Suppressed{Reason: Clean(sp.Reason), Expires: Clean(sp.Expires), File: Clean(sp.File), Line: sp.Line}
				if n := len(f.SuppressedOn); n == 0 || f.SuppressedOn[n-1] != h.Name {
					f.SuppressedOn = append(f.SuppressedOn, h.Name)
				}
			} else {
				f.rank = max(f.rank, sev)
				if n := len(f.Hosts); n == 0 || f.Hosts[n-1] != h.Name {
					f.Hosts = append(f.Hosts, h.Name)
				}
			}
			f.PerHost = append(f.PerHost, on)
			for _, ch := range f.Channels {
				ci, ok := chans[ch]
				if !ok {
					continue // a channel no checked host's entries have
				}
				k := cellKey{hi, ci}
				m := v.marks[k]
				if m == nil {
					m = &cellMark{}
					v.marks[k] = m
				}
				if len(m.findings) == 0 || m.findings[len(m.findings)-1] != id {
					m.findings = append(m.findings, id)
				}
				if on.Suppressed == nil {
					m.worst = max(m.worst, sev)
				}
			}
		}
	}
	for _, f := range out {
		if f.rank == 0 {
			// Suppressed everywhere: ranked by what the hosts said.
			for _, on := range f.PerHost {
				f.rank = max(f.rank, Severity(on.Severity))
			}
		}
		f.Severity = f.rank.String()
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (len(a.Hosts) == 0) != (len(b.Hosts) == 0) {
			return len(a.Hosts) > 0 // suppressed everywhere: last
		}
		if a.rank != b.rank {
			return a.rank > b.rank
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return strings.Join(a.Concerns, "\x00") < strings.Join(b.Concerns, "\x00")
	})
	worst := make([]audit.Severity, len(v.Channels))
	for k, m := range v.marks {
		worst[k.channel] = max(worst[k.channel], m.worst)
	}
	for _, c := range v.Channels {
		c.Worst = sevName(worst[c.index])
	}
	return out
}

// Severity0 reads a severity word, "" being none.
func Severity0(s string) audit.Severity {
	if s == "" {
		return 0
	}
	return Severity(s)
}

// place is where a finding points people: its first entry's manifest or
// config line, its path, or its ignore file line.
func place(f *ReportFinding) (string, int) {
	if f.File != "" {
		return Clean(f.File), f.Line
	}
	if len(f.Entries) > 0 {
		e := &f.Entries[0]
		switch {
		case e.Config != "":
			return Clean(e.Config), e.Line
		case e.Manifest != "":
			return Clean(e.Manifest), e.Line
		case !e.PathQuoted && Clean(e.Path) == e.Path:
			return e.Path, 0
		}
	}
	return "", 0
}

// Compared are the fields of a cell compared across hosts.
var Compared = []string{"present", "key", "dev", "fs_type", "live", "error"}

// Field is the value of one of the Compared fields of a cell, as text.
func Field(c *Cell, name string) string {
	switch name {
	case "present":
		return strconv.FormatBool(c.Present)
	case "key":
		return c.Key
	case "dev":
		return c.Dev
	case "fs_type":
		return c.FSType
	case "live":
		return c.Live
	case "error":
		return c.Error
	}
	return ""
}

// Unknown says whether a compared value is not known, and so neither
// counts for a majority nor differs from one: the live state of a host
// whose live checks did not run.
func Unknown(field, value string) bool {
	return field == "live" && strings.HasPrefix(value, "not checked")
}

// compare finds, per field, the value more than half of the hosts have;
// the cells with another are marked as View.Cells makes them. Presence is
// compared over every checked host, the other fields over the hosts that
// have the channel.
func (v *View) compare(c *Channel) {
	c.Majority = map[string]string{}
	c.Differing = []string{}
	type at struct {
		h *Host
		r *cellRec
	}
	var have []at
	checked := 0
	for _, h := range v.Hosts {
		if h.cells == nil {
			continue
		}
		checked++
		if r := h.cells.find(c.index); r != nil {
			have = append(have, at{h, r})
		}
	}
	c.agree, c.compared = map[string]int{}, map[string]int{}
	count := map[string]int{}
	if 2*len(have) > checked {
		c.Majority["present"], c.agree["present"], c.compared["present"] = "true", len(have), checked
	} else if 2*(checked-len(have)) > checked {
		c.Majority["present"], c.agree["present"], c.compared["present"] = "false", checked-len(have), checked
	}
	for _, name := range Compared[1:] {
		clear(count)
		known := 0
		for _, x := range have {
			if val := x.h.cells.tab.field(x.h, x.r, name); !Unknown(name, val) {
				count[val]++
				known++
			}
		}
		for val, n := range count {
			if 2*n > known {
				c.Majority[name], c.agree[name], c.compared[name] = val, n, known
			}
		}
	}
	for _, h := range v.Hosts {
		if h.cells == nil {
			continue
		}
		r := h.cells.find(c.index)
		present := strconv.FormatBool(r != nil)
		differs := c.Majority["present"] != present && c.Majority["present"] != ""
		for _, name := range Compared[1:] {
			if major, ok := c.Majority[name]; ok && r != nil {
				if val := h.cells.tab.field(h, r, name); val != major && !Unknown(name, val) {
					differs = true
				}
			}
		}
		if differs {
			c.Differing = append(c.Differing, h.Name)
		}
	}
}

// summarize counts the view and applies the gate.
func summarize(v *View, o Options) Summary {
	s := Summary{Hosts: len(v.Hosts), Channels: len(v.Channels), FailOn: thresholdName(o.FailOn), AllowUnchecked: o.AllowUnchecked}
	for _, h := range v.Hosts {
		switch {
		case !h.Checked:
			h.Status = StatusUnchecked
			s.Unchecked++
		case h.Failing:
			h.Status = StatusFail
			s.Checked++
			s.Failing++
		default:
			h.Status = StatusPass
			s.Checked++
			s.Passing++
		}
	}
	for _, f := range v.Findings {
		if len(f.Hosts) == 0 {
			continue
		}
		s.Findings++
		switch f.rank {
		case audit.Error:
			s.Errors++
		case audit.Warning:
			s.Warnings++
		case audit.Info:
			s.Info++
		}
	}
	switch {
	case s.Unchecked > 0 && !o.AllowUnchecked:
		s.ExitStatus = 2
	case s.Failing > 0:
		s.ExitStatus = 1
	}
	s.Failed = s.ExitStatus != 0
	return s
}

func thresholdName(s audit.Severity) string {
	if s == audit.Never {
		return "never"
	}
	return s.String()
}

// Unchecked returns the hosts that could not be checked.
func (v *View) Unchecked() []*Host {
	var out []*Host
	for _, h := range v.Hosts {
		if !h.Checked {
			out = append(out, h)
		}
	}
	return out
}

// HostNames returns the names of the hosts for which keep is true.
func (v *View) HostNames(keep func(*Host) bool) []string {
	var out []string
	for _, h := range v.Hosts {
		if keep(h) {
			out = append(out, h.Name)
		}
	}
	return out
}

// Finding returns the merged finding with the id, or nil.
func (v *View) Finding(id string) *Finding {
	for _, f := range v.Findings {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// naturalLess orders names with numbers by value: host2 before host10.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db {
				return da < db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
