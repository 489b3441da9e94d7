package report

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/ftok"
)

//go:embed fleethtml/page.html fleethtml/page.css fleethtml/page.js
var fleetHTMLFiles embed.FS

var (
	fleetPage   = template.Must(template.ParseFS(fleetHTMLFiles, "fleethtml/page.html"))
	fleetStyle  = mustRead("fleethtml/page.css")
	fleetScript = mustRead("fleethtml/page.js")
	// fleetCSP lets the page run its own inline style and script (by
	// hash) and nothing else: no fetch, image, font or frame, so the page
	// works offline and shows nothing from anywhere else.
	fleetCSP = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src 'none'; base-uri 'none'; form-action 'none'",
		cspHash(fleetStyle), cspHash(fleetScript))
)

func mustRead(name string) string {
	b, err := fleetHTMLFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// otherColumn is the matrix column of findings that concern no channel:
// live objects (stale segments) and ignore file lines.
const otherColumn = "other"

type (
	htmlPage struct {
		CSP         string
		Style       template.CSS
		Script      template.JS
		Verdict     string
		Failed      bool
		Time        string
		Summary     fleet.Summary
		SummaryLine string
		Findings    []htmlFinding
		Columns     []htmlColumn
		Rows        []htmlRow
		Unchecked   []*fleet.Host
		Notes       []string
		Details     []htmlDetail
	}
	htmlFinding struct {
		Severity, Code, Concerns, Where, HostList, Location, Fix string
	}
	htmlColumn struct{ ID, Name, Title string }
	htmlRow    struct {
		Host, Title, Status string
		Failing             bool
		Cells               []htmlCell
	}
	htmlCell struct {
		ID, DetailID, Host, Channel, Worst, Text, Differs, Title string
	}
	htmlDetail struct {
		ID, Host, Channel string
		Fields            []htmlField
		Differs           string
		Findings          []htmlCellFinding
	}
	htmlField       struct{ Name, Value string }
	htmlCellFinding struct {
		Severity, Code, Key, Message, Suppressed string
	}
)

// FleetHTML writes the fleet as one self-contained page: a matrix of the
// checked hosts and the channels, each cell coloured by its worst finding
// and marked where it differs from most hosts; a click on a cell shows its
// entry and findings; the hosts not checked are listed apart. Style and
// script are inline, allowed by hash in the page's Content-Security-Policy,
// which forbids every fetch.
func FleetHTML(w io.Writer, v *fleet.View) error {
	p := htmlPage{
		CSP: fleetCSP, Style: template.CSS(fleetStyle), Script: template.JS(fleetScript),
		Verdict: "pass", Failed: v.Summary.Failed, Time: v.Time, Summary: v.Summary,
		SummaryLine: FleetSummaryLine(v), Unchecked: v.Unchecked(), Notes: v.Notes,
	}
	if p.Failed {
		p.Verdict = "FAIL"
	}
	findings := map[string]*fleet.Finding{}
	for _, f := range v.Findings {
		findings[f.ID] = f
		if len(f.Hosts) == 0 {
			continue
		}
		loc := location(f)
		if loc == "-" {
			loc = ""
		}
		p.Findings = append(p.Findings, htmlFinding{Severity: f.Severity, Code: f.Code, Concerns: strings.Join(f.Concerns, ", "),
			Where: f.HostsPhrase(len(v.Hosts), 20), HostList: strings.Join(f.Hosts, " "), Location: loc, Fix: f.Fix})
	}
	other := false
	for _, f := range v.Findings {
		other = other || len(f.Channels) == 0
	}
	for _, c := range v.Channels {
		title := c.Path
		if c.Proj != nil {
			title += ", proj " + ftok.ProjString(*c.Proj)
		}
		if c.File != "" {
			title += fmt.Sprintf(" (%s:%d)", c.File, c.Line)
		}
		p.Columns = append(p.Columns, htmlColumn{ID: c.ID, Name: c.Name, Title: title})
	}
	if other {
		p.Columns = append(p.Columns, htmlColumn{ID: otherColumn, Name: "other findings", Title: "findings about live objects or ignore files, not about a channel"})
	}
	row := 0
	for _, h := range v.Hosts {
		if !h.Checked {
			continue
		}
		row++
		r := htmlRow{Host: h.Name, Failing: h.Failing, Status: "pass", Title: hostTitle(h)}
		if h.Failing {
			r.Status = "FAIL"
		}
		for col, c := range v.Channels {
			var cl *fleet.Cell
			for _, x := range c.Cells {
				if x.Host == h.Name {
					cl = x
				}
			}
			id := fmt.Sprintf("c%d-%d", row, col+1)
			cell := htmlCell{ID: id, DetailID: "d" + id, Host: h.Name, Channel: c.ID, Worst: "clean", Text: dashed(cl.Key), Differs: strings.Join(cl.Differs, " ")}
			switch {
			case !cl.Present:
				cell.Worst, cell.Text = "absent", "—"
			case cl.Worst != "":
				cell.Worst = cl.Worst
			}
			if cl.Error != "" {
				cell.Text = "unusable"
			}
			cell.Title = fmt.Sprintf("%s on %s: %s", c.Name, h.Name, cell.Worst)
			r.Cells = append(r.Cells, cell)
			p.Details = append(p.Details, cellDetail(v, c, cl, cell, findings))
		}
		if other {
			id := fmt.Sprintf("c%d-%d", row, len(v.Channels)+1)
			cell := htmlCell{ID: id, DetailID: "d" + id, Host: h.Name, Channel: otherColumn, Worst: "clean", Text: "-"}
			d := htmlDetail{ID: cell.DetailID, Host: h.Name, Channel: "other findings"}
			worst := 0
			for _, f := range v.Findings {
				if len(f.Channels) > 0 {
					continue
				}
				for _, on := range f.PerHost {
					if on.Host != h.Name {
						continue
					}
					d.Findings = append(d.Findings, cellFinding(f, on))
					if s := int(fleet.Severity(on.Severity)); on.Suppressed == nil && s > worst {
						worst, cell.Worst = s, on.Severity
					}
				}
			}
			if n := len(d.Findings); n > 0 {
				cell.Text = fmt.Sprintf("%d %s", n, plural(n, "finding", "findings"))
			}
			cell.Title = fmt.Sprintf("other findings on %s: %s", h.Name, cell.Worst)
			r.Cells = append(r.Cells, cell)
			p.Details = append(p.Details, d)
		}
		p.Rows = append(p.Rows, r)
	}
	return fleetPage.Execute(w, p)
}

func hostTitle(h *fleet.Host) string {
	var parts []string
	if h.Hostname != "" {
		parts = append(parts, "hostname "+h.Hostname)
	}
	if h.ReportTime != "" {
		parts = append(parts, "scanned "+h.ReportTime)
	}
	if h.MachineID != "" {
		parts = append(parts, "machine id "+h.MachineID)
	}
	parts = append(parts, "findings: "+hostCounts(h))
	if !h.LiveChecked {
		parts = append(parts, "live: not checked")
	}
	return strings.Join(parts, "; ")
}

func cellDetail(v *fleet.View, c *fleet.Channel, cl *fleet.Cell, cell htmlCell, findings map[string]*fleet.Finding) htmlDetail {
	d := htmlDetail{ID: cell.DetailID, Host: cl.Host, Channel: channelLabel(c)}
	if len(cl.Differs) > 0 {
		d.Differs = differences(v, c, cl)
	}
	if !cl.Present {
		d.Fields = []htmlField{{"entry", "not in this host's report (another manifest or config on this host?)"}}
		return d
	}
	add := func(name, value string) {
		if value != "" {
			d.Fields = append(d.Fields, htmlField{name, value})
		}
	}
	add("path", c.Path)
	if c.Proj != nil {
		add("proj", ftok.ProjString(*c.Proj))
	}
	if c.File != "" {
		add("from", fmt.Sprintf("%s:%d", c.File, c.Line))
	}
	add("key", cl.Key)
	add("dev", cl.Dev)
	if cl.Ino != nil {
		add("inode", fmt.Sprintf("%d = 0x%x", *cl.Ino, *cl.Ino))
	}
	add("fingerprint", cl.Fingerprint)
	add("file system", cl.FSType)
	add("unusable", cl.Error)
	live := cl.Live
	if cl.LiveDetail != "" {
		live += " (" + cl.LiveDetail + ")"
	}
	add("live", live)
	for _, id := range cl.Findings {
		f := findings[id]
		for _, on := range f.PerHost {
			if on.Host == cl.Host {
				d.Findings = append(d.Findings, cellFinding(f, on))
			}
		}
	}
	return d
}

func cellFinding(f *fleet.Finding, on fleet.OnHost) htmlCellFinding {
	cf := htmlCellFinding{Severity: on.Severity, Code: f.Code, Key: on.Key, Message: on.Message}
	if s := on.Suppressed; s != nil {
		cf.Suppressed = s.Reason + " (" + s.File + ":" + strconv.Itoa(s.Line) + ")"
	}
	return cf
}
