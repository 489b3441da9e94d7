package report

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"io"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/ftok"
)

//go:embed fleethtml/page.html fleethtml/page.css fleethtml/page.js
var fleetHTMLFiles embed.FS

// fleetAssets is the page's template, style, script and the
// Content-Security-Policy that lets the page run its own inline style and
// script (by hash) and nothing else: no fetch, image, font or frame, so
// the page works offline and shows nothing from anywhere else. They are
// made on first use: a run that writes no page pays nothing for them at
// start-up.
var fleetAssets = sync.OnceValue(func() *htmlAssets {
	a := &htmlAssets{
		page:   template.Must(template.ParseFS(fleetHTMLFiles, "fleethtml/page.html")),
		style:  mustRead("fleethtml/page.css"),
		script: mustRead("fleethtml/page.js"),
	}
	a.csp = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src 'none'; base-uri 'none'; form-action 'none'",
		cspHash(a.style), cspHash(a.script))
	return a
})

type htmlAssets struct {
	page               *template.Template
	style, script, csp string
}

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
		// Rows, Passing and Details are written as the page is, a host
		// at a time: the page is never held whole.
		HasRows bool
		Rows    iter.Seq[template.HTML]
		Passing []htmlPassing
		Details iter.Seq[template.HTML]
		Notes   []string
	}
	htmlFinding struct {
		Severity, Code, Concerns, Where, HostList, Location, Fix string
	}
	htmlColumn  struct{ ID, Name, Title string }
	htmlPassing struct{ Name, Anchor string }
)

// The states of a row (data-state), as the page's filter names them.
const (
	rowFail      = "fail"
	rowUnchecked = "unchecked"
	rowDiffers   = "differs" // passing, with a finding below the gate or a cell unlike most hosts'
)

// symbols show a cell's state besides its colour.
var symbols = map[string]string{"error": "✖", "warning": "▲", "info": "●", "clean": "✓", "absent": "∅"}

// anchor makes a fragment id of names: stable between runs (made of the
// host's and the channel's names, not of positions) and without white
// space, each name escaped so that "/" only separates.
func anchor(kind string, names ...string) string {
	parts := []string{kind}
	for _, n := range names {
		parts = append(parts, url.PathEscape(n))
	}
	return strings.Join(parts, "/")
}

// FleetHTML writes the fleet as one self-contained page for the operator
// looking for the broken host: the failing hosts first, then the hosts
// not checked with their reasons, then the passing hosts that differ from
// most, each a row of the matrix of hosts and channels (a cell is coloured
// and marked by its worst finding, ≠ where it differs from most hosts);
// the other passing hosts are collapsed, with their count. Every cell that
// has a finding or differs has its details in the document (shown over
// the matrix on a click when scripts run, listed below it when not, and
// printed). Rows and cells have stable anchors (#host/NAME,
// #c/HOST/CHANNEL). Style and script are inline, allowed by hash in the
// page's Content-Security-Policy, which forbids every fetch.
//
// The page is written as it is made: its size and the time it takes grow
// with the hosts that need looking at times the channels, and with the
// number of hosts.
func FleetHTML(w io.Writer, v *fleet.View) error {
	assets := fleetAssets()
	p := htmlPage{
		CSP: assets.csp, Style: template.CSS(assets.style), Script: template.JS(assets.script),
		Verdict: "pass", Failed: v.Summary.Failed, Time: v.Time, Summary: v.Summary,
		SummaryLine: FleetSummaryLine(v), Notes: v.Notes,
	}
	if p.Failed {
		p.Verdict = "FAIL"
	}
	findings := map[string]*fleet.Finding{}
	withFinding := map[string]bool{} // hosts with a finding, suppressed or not
	other := false
	for _, f := range v.Findings {
		findings[f.ID] = f
		other = other || len(f.Channels) == 0
		for _, on := range f.PerHost {
			withFinding[on.Host] = true
		}
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
	differing := map[string]bool{}
	for _, c := range v.Channels {
		for _, h := range c.Differing {
			differing[h] = true
		}
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
	// The rows, in the order the operator needs them.
	var rows []*fleet.Host
	for _, state := range []string{rowFail, rowUnchecked, rowDiffers} {
		for _, h := range v.Hosts {
			if hostState(h, withFinding, differing) == state {
				rows = append(rows, h)
			}
		}
	}
	for _, h := range v.Hosts {
		if hostState(h, withFinding, differing) == "pass" {
			p.Passing = append(p.Passing, htmlPassing{Name: h.Name, Anchor: anchor("host", h.Name)})
		}
	}
	p.HasRows = len(rows) > 0
	r := &htmlRows{v: v, findings: findings, other: other, columns: len(p.Columns)}
	p.Rows = func(yield func(template.HTML) bool) {
		for _, h := range rows {
			if !yield(template.HTML(r.row(h, hostState(h, withFinding, differing)))) {
				return
			}
		}
	}
	p.Details = func(yield func(template.HTML) bool) {
		for _, h := range rows {
			if d := r.details(h); d != "" && !yield(template.HTML(d)) {
				return
			}
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := assets.page.Execute(bw, p); err != nil {
		return err
	}
	return bw.Flush()
}

// hostState is a host's row state, or "pass" for a passing host like most.
func hostState(h *fleet.Host, withFinding, differing map[string]bool) string {
	switch {
	case !h.Checked:
		return rowUnchecked
	case h.Failing:
		return rowFail
	case withFinding[h.Name] || differing[h.Name]:
		return rowDiffers
	}
	return "pass"
}

// htmlRows writes rows and details by hand: html/template takes ten times
// as long, and every value is escaped here by html.EscapeString.
type htmlRows struct {
	v        *fleet.View
	findings map[string]*fleet.Finding
	other    bool
	columns  int
	b        strings.Builder
}

func esc(s string) string { return html.EscapeString(s) }

// hasDetails says whether a cell has details of its own: a finding, a
// difference, or no entry.
func hasDetails(cl *fleet.Cell) bool {
	return len(cl.Findings) > 0 || len(cl.Differs) > 0 || !cl.Present || cl.Error != ""
}

// row is a host's row of the matrix.
func (r *htmlRows) row(h *fleet.Host, state string) string {
	b := &r.b
	b.Reset()
	worst := h.Worst
	if worst == "" {
		worst = "clean"
	}
	status := map[string]string{rowFail: "✖ FAIL", rowUnchecked: "? not checked", rowDiffers: "✓ pass"}[state]
	fmt.Fprintf(b, `<tr id="%s" data-host="%s" data-state="%s" data-worst="%s"><th class="st-%s" title="%s">%s<span class="status">%s</span></th>`,
		esc(anchor("host", h.Name)), esc(h.Name), state, worst, state, esc(hostTitle(h)), esc(h.Name), status)
	if !h.Checked {
		reason := h.Reason
		if h.Source != "" {
			reason += " (" + h.Source + ")"
		}
		fmt.Fprintf(b, `<td class="reason" colspan="%d"><code>%s</code> %s</td></tr>`+"\n", max(r.columns, 1), esc(h.ReasonCode), esc(reason))
		return b.String()
	}
	for _, c := range r.v.Channels {
		cl := r.v.Cell(h, c)
		worst, text := "clean", dashed(cl.Key)
		switch {
		case !cl.Present:
			worst, text = "absent", "—"
		case cl.Worst != "":
			worst = cl.Worst
		}
		if cl.Error != "" {
			text = "unusable"
		}
		mark := ""
		if len(cl.Differs) > 0 {
			mark = `<span class="mark" title="differs from most hosts: ` + esc(strings.Join(cl.Differs, " ")) + `">≠</span>`
		}
		title := esc(c.Name + " on " + h.Name + ": " + worst)
		if !hasDetails(cl) {
			fmt.Fprintf(b, `<td class="cell w-%s" title="%s">%s %s</td>`, worst, title, symbols[worst], esc(text))
			continue
		}
		id := anchor("c", h.Name, c.ID)
		fmt.Fprintf(b, `<td class="cell w-%s" id="%s" data-channel="%s" data-worst="%s" data-differs="%s" title="%s"><a href="#%s">%s %s%s</a></td>`,
			worst, esc(id), esc(c.ID), worst, esc(strings.Join(cl.Differs, " ")), title, esc(anchor("d", h.Name, c.ID)), symbols[worst], esc(text), mark)
	}
	if r.other {
		worst, n := r.otherFindings(h, nil)
		text := "-"
		if n > 0 {
			text = fmt.Sprintf("%d %s", n, plural(n, "finding", "findings"))
			fmt.Fprintf(b, `<td class="cell w-%s" id="%s" data-channel="%s" data-worst="%s" data-differs="" title="%s"><a href="#%s">%s %s</a></td>`,
				worst, esc(anchor("c", h.Name, otherColumn)), otherColumn, worst, esc("other findings on "+h.Name+": "+worst), esc(anchor("d", h.Name, otherColumn)), symbols[worst], text)
		} else {
			fmt.Fprintf(b, `<td class="cell w-clean" title="%s">%s %s</td>`, esc("other findings on "+h.Name+": clean"), symbols["clean"], text)
		}
	}
	b.WriteString("</tr>\n")
	return b.String()
}

// otherFindings are a host's findings that concern no channel: their
// worst severity (not counting suppressed ones), their number, and with
// add each of them.
func (r *htmlRows) otherFindings(h *fleet.Host, add func(*fleet.Finding, fleet.OnHost)) (string, int) {
	worst, n := "clean", 0
	rank := 0
	for _, f := range r.v.Findings {
		if len(f.Channels) > 0 {
			continue
		}
		for _, on := range f.PerHost {
			if on.Host != h.Name {
				continue
			}
			n++
			if add != nil {
				add(f, on)
			}
			if s := int(fleet.Severity(on.Severity)); on.Suppressed == nil && s > rank {
				rank, worst = s, on.Severity
			}
		}
	}
	return worst, n
}

// details are the details of a host's cells that have any.
func (r *htmlRows) details(h *fleet.Host) string {
	if !h.Checked {
		return ""
	}
	b := &r.b
	b.Reset()
	for _, c := range r.v.Channels {
		cl := r.v.Cell(h, c)
		if !hasDetails(cl) {
			continue
		}
		r.article(h, channelLabel(c), c.ID, cl.Worst, func() {
			if len(cl.Differs) > 0 {
				fmt.Fprintf(b, `<p class="differs">Differs from most hosts: %s</p>`, esc(differences(r.v, c, cl)))
			}
			if !cl.Present {
				b.WriteString(`<dl><dt>entry</dt><dd>not in this host's report (another manifest or config on this host?)</dd></dl>`)
				return
			}
			b.WriteString("<dl>")
			add := func(name, value string) {
				if value != "" {
					fmt.Fprintf(b, "<dt>%s</dt><dd>%s</dd>", name, esc(value))
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
			b.WriteString("</dl>")
			var list []htmlCellFinding
			for _, id := range cl.Findings {
				f := r.findings[id]
				for _, on := range f.PerHost {
					if on.Host == h.Name {
						list = append(list, cellFinding(f, on))
					}
				}
			}
			r.findingList(list)
		})
	}
	if r.other {
		var list []htmlCellFinding
		worst, n := r.otherFindings(h, func(f *fleet.Finding, on fleet.OnHost) { list = append(list, cellFinding(f, on)) })
		if n > 0 {
			if worst == "clean" {
				worst = ""
			}
			r.article(h, "other findings", otherColumn, worst, func() { r.findingList(list) })
		}
	}
	return b.String()
}

// article writes the details of a cell.
func (r *htmlRows) article(h *fleet.Host, label, channel, worst string, body func()) {
	b := &r.b
	if worst == "" {
		worst = "clean"
	}
	fmt.Fprintf(b, `<article class="detail w-%s" id="%s" data-host="%s" data-channel="%s"><h3><a href="#%s">%s %s · %s</a></h3>`,
		worst, esc(anchor("d", h.Name, channel)), esc(h.Name), esc(channel), esc(anchor("c", h.Name, channel)), symbols[worst], esc(h.Name), esc(label))
	body()
	b.WriteString("</article>\n")
}

func (r *htmlRows) findingList(list []htmlCellFinding) {
	b := &r.b
	if len(list) == 0 {
		b.WriteString(`<p class="muted">No findings here.</p>`)
		return
	}
	b.WriteString(`<ul class="findings">`)
	for _, f := range list {
		fmt.Fprintf(b, `<li class="sev-%s"><span class="sevword">%s %s</span><code>%s</code>`, esc(f.Severity), symbols[f.Severity], esc(f.Severity), esc(f.Code))
		if f.Key != "" {
			fmt.Fprintf(b, ` <code>%s</code>`, esc(f.Key))
		}
		fmt.Fprintf(b, `: %s`, esc(f.Message))
		if f.Suppressed != "" {
			fmt.Fprintf(b, ` <span class="muted">(suppressed: %s)</span>`, esc(f.Suppressed))
		}
		for _, c := range f.Fixes {
			fmt.Fprintf(b, `<div class="fix">fix: <code>%s</code></div>`, esc(c))
		}
		b.WriteString("</li>")
	}
	b.WriteString("</ul>")
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
	if !h.Checked {
		return strings.Join(append(parts, "not checked: "+h.Reason), "; ")
	}
	parts = append(parts, "findings: "+hostCounts(h))
	if !h.LiveChecked {
		parts = append(parts, "live: not checked")
	}
	return strings.Join(parts, "; ")
}

type htmlCellFinding struct {
	Severity, Code, Key, Message, Suppressed string
	Fixes                                    []string // the host's fix commands
}

func cellFinding(f *fleet.Finding, on fleet.OnHost) htmlCellFinding {
	cf := htmlCellFinding{Severity: on.Severity, Code: f.Code, Key: on.Key, Message: on.Message, Fixes: on.Fixes}
	if s := on.Suppressed; s != nil {
		cf.Suppressed = s.Reason + " (" + s.File + ":" + strconv.Itoa(s.Line) + ")"
	}
	return cf
}
