package report_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/hostinfo"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
)

var fleetNow = time.Date(2026, 11, 21, 20, 30, 0, 0, time.UTC)

// fleetHost is one host of the fixture fleet, scanned the way scan does
// it (audit, live checks, report.Result) and written as scan -o json.
type fleetHost struct {
	name          string
	orders, audit uint64 // inode numbers on 8:1
	cache         ipcscan.KeyFile
	nattch        int // of the segment holding orders' key
}

// fixtureFleet is six hosts: host03 has the incident's collision (inodes
// 0x1E64001 and 0x1EC4001) and two processes on the segment, host05 keeps
// cache's key file on tmpfs, host06's scan failed; the reports go through
// the real writer (report.Result.Scan) and the fleet reader.
func fixtureFleet(t *testing.T) *fleet.View {
	t.Helper()
	ext4 := func(path string, ino uint64) ipcscan.KeyFile {
		return ipcscan.KeyFile{Path: path, File: ftok.File{Dev: 0x801, Ino: ino}, FSType: "ext4"}
	}
	cache := ext4("/srv/app/cache.key", 0x2beef)
	tmpfs := ipcscan.KeyFile{Path: "/srv/app/cache.key", File: ftok.File{Dev: 0x1b, Ino: 7}, FSType: "tmpfs",
		Unstable: "it lives in memory: the file and its inode number are new after every boot or remount, so the key changes"}
	hosts := []fleetHost{
		{"host01", 0x1E64001, 0x1E64002, cache, 1},
		{"host02", 0x1E64001, 0x1E64002, cache, 1},
		{"host03", 0x1E64001, 0x1EC4001, cache, 2},
		{"host04", 0x1E64001, 0x1E64002, cache, 1},
		{"host05", 0x1E64001, 0x1E64002, tmpfs, 1},
	}
	var loaded []fleet.Loaded
	for i, h := range hosts {
		one := manifest.Range{Min: 1, Max: 1}
		ch := func(name string, line int, f ipcscan.KeyFile, nattch *manifest.Range) audit.Entry {
			c := &manifest.Channel{Name: name, Path: f.Path, Proj: 'l', Type: "shm", Nattch: nattch, Owner: "root", File: "deploy/app.manifest", Line: line}
			return audit.Entry{Channel: c, Path: f.Path, Proj: 'l', HasProj: true, File: f}
		}
		entries := []audit.Entry{
			ch("orders", 2, ext4("/srv/app/orders.key", h.orders), &one),
			ch("audit", 3, ext4("/srv/app/audit.key", h.audit), nil),
			ch("cache", 4, h.cache, nil),
		}
		key, _ := entries[0].Key()
		snap := &ipcscan.Snapshot{Source: ipcscan.SourceProc, NS: 4026531839, Procs: map[int]ipcscan.Proc{},
			Shm: []ipcscan.Segment{{Perm: ipcscan.Perm{Key: key, ID: 3, Mode: 0o600}, Size: 4096, Nattch: h.nattch}}}
		findings := audit.Check(entries)
		findings = append(findings, audit.CheckLive(entries, audit.Live{Snap: snap, OwnerUIDs: map[string]uint32{"root": 0}})...)
		audit.Sort(findings)
		for i := range findings {
			// The rekey suggestion scan's Suggest makes for the collision,
			// without the message it adds: audit.key is the one to change.
			if findings[i].Code == "key-collision" {
				findings[i].Suggestions = []audit.Suggestion{{Kind: audit.FixRekey, Entry: 1}}
			}
		}
		r := &report.Result{
			Host:    &hostinfo.Host{Label: h.name, Hostname: "app-" + strings.TrimPrefix(h.name, "host"), MachineID: fmt.Sprintf("%032x", i+1), BootID: "b", Time: "2026-11-21T20:03:37Z", IPCNamespace: snap.NS},
			Entries: entries, Findings: findings, Live: report.NewLiveSummary(snap, ""), Snap: snap, FailOn: audit.Error,
		}
		var b bytes.Buffer
		if err := report.WriteJSON(&b, r.Scan()); err != nil {
			t.Fatal(err)
		}
		loaded = append(loaded, fleet.Parse(&b, "reports/"+h.name+".json", h.name)...)
	}
	loaded = append(loaded, fleet.ParseMarker(strings.NewReader("ipckeys: deploy/app.manifest:4: field 3 (proj): proj id \"lx\" is not a proj id: write a character (l), a quoted character ('1'), decimal (108) or hex (0x6c)\n"), "reports/host06.failed", "host06"))
	return fleet.Merge(loaded, fleet.Options{Now: fleetNow, FailOn: audit.Error, Expected: []string{"host01", "host02", "host03", "host04", "host05", "host06", "host07"}})
}

func renderFleet(t *testing.T, v *fleet.View, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "table":
		err = report.FleetTable(&b, v, report.Style{})
	case "text":
		err = report.FleetText(&b, v, report.Style{})
	case "json":
		err = report.FleetJSON(&b, v)
	case "sarif":
		err = report.FleetSARIF(&b, v, report.Version{Module: "v1.2.3"}, "")
	case "github":
		err = report.FleetGitHub(&b, v)
	case "junit":
		err = report.FleetJUnit(&b, v)
	case "html":
		err = report.FleetHTML(&b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return b.Bytes()
}

var fleetFormats = []string{"table", "text", "json", "sarif", "github", "junit", "html"}

// TestFleetGolden compares every fleet format with its golden file;
// -update rewrites them.
func TestFleetGolden(t *testing.T) {
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_ALL", "C.UTF-8")
	v := fixtureFleet(t)
	for _, format := range fleetFormats {
		got := renderFleet(t, v, format)
		path := filepath.Join("..", "testdata", "golden", "fleet."+format)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./report -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (run go test ./report -update after checking the change):\n%s", format, path, got)
		}
	}
}

// TestFleetFixture pins what the fixture fleet holds, against the C
// library's arithmetic: host03's orders and audit both get 0x6c014001.
func TestFleetFixture(t *testing.T) {
	v := fixtureFleet(t)
	want := fleet.Summary{Hosts: 7, Checked: 5, Unchecked: 2, Failing: 1, Passing: 4, Findings: 3, Errors: 2, Warnings: 1, Channels: 3,
		FailOn: "error", Failed: true, ExitStatus: 2}
	if v.Summary != want {
		t.Errorf("summary\n got %+v\nwant %+v", v.Summary, want)
	}
	var got []string
	for _, f := range v.Findings {
		got = append(got, f.Code+": "+strings.Join(f.Concerns, ", ")+": "+f.HostsPhrase(len(v.Hosts), 0))
	}
	wantF := []string{
		"key-collision: channel orders, channel audit: on 1 of 5 checked hosts: host03",
		"nattch-mismatch: channel orders: on 1 of 5 checked hosts: host03",
		"unstable-filesystem: channel cache: on 1 of 5 checked hosts: host05",
	}
	if !reflect.DeepEqual(got, wantF) {
		t.Errorf("findings:\n got %q\nwant %q", got, wantF)
	}
	// ftok('l', dev 0x801, ino 0x1EC4001) = 0x6c000000 | 0x01<<16 | 0x4001.
	audit := v.Channels[1]
	if c := v.Cells(audit)[2]; c.Host != "host03" || c.Key != "0x6c014001" || c.Dev != "8:1" || *c.Ino != 0x1EC4001 ||
		!reflect.DeepEqual(c.Differs, []string{"key", "live"}) || c.Live != "shm nattch 2" || c.Worst != "error" {
		t.Errorf("host03 audit %+v", c)
	}
	cache := v.Channels[2]
	if c := v.Cells(cache)[4]; c.Host != "host05" || c.FSType != "tmpfs" || c.Dev != "0:27" || !reflect.DeepEqual(c.Differs, []string{"key", "dev", "fs_type"}) {
		t.Errorf("host05 cache %+v", c)
	}
	orders := v.Channels[0]
	if c := v.Cells(orders)[2]; c.Live != "shm nattch 2" || c.LiveDetail != "shm id 3, owner root" || !reflect.DeepEqual(c.Differs, []string{"live"}) {
		t.Errorf("host03 orders %+v", c)
	}
	var reasons []string
	for _, h := range v.Unchecked() {
		reasons = append(reasons, h.Name+": "+h.Reason)
	}
	wantR := []string{
		`host06: scan failed: ipckeys: deploy/app.manifest:4: field 3 (proj): proj id "lx" is not a proj id: write a character (l), a quoted character ('1'), decimal (108) or hex (0x6c)`,
		"host07: no report: the host's scan did not run or its report was not collected",
	}
	if !reflect.DeepEqual(reasons, wantR) {
		t.Errorf("unchecked:\n got %q\nwant %q", reasons, wantR)
	}
}

// TestFleetReadsScanFields holds the fleet reader's field names against
// the scan report's: every field fleet reads is one scan writes.
func TestFleetReadsScanFields(t *testing.T) {
	pairs := []struct{ reader, writer any }{
		{fleet.Entry{}, report.Entry{}},
		{fleet.ReportFinding{}, report.Finding{}},
		{fleet.Held{}, report.Held{}},
		{fleet.EntryLive{}, report.EntryLive{}},
		{fleet.ReportLive{}, report.LiveSummary{}},
		{fleet.Report{}, report.Scan{}},
		{fleet.Object{}, report.ObjectRef{}},
		{fleet.Suppressed{}, report.SuppressedBy{}},
	}
	tags := func(v any) map[string]bool {
		out := map[string]bool{}
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			if !rt.Field(i).IsExported() {
				continue
			}
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			out[name] = true
		}
		return out
	}
	for _, p := range pairs {
		written := tags(p.writer)
		for name := range tags(p.reader) {
			if !written[name] {
				t.Errorf("%T reads %q, which %T does not write", p.reader, name, p.writer)
			}
		}
	}
}

func TestFleetSARIF(t *testing.T) {
	v := fixtureFleet(t)
	out := renderFleet(t, v, "sarif")
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(inst); err != nil {
		t.Fatalf("fleet SARIF does not validate: %v", err)
	}
	var log struct {
		Runs []struct {
			AutomationDetails struct{ ID string } `json:"automationDetails"`
			Invocations       []struct {
				ExecutionSuccessful        bool `json:"executionSuccessful"`
				ToolExecutionNotifications []struct {
					Level   string
					Message struct{ Text string }
				} `json:"toolExecutionNotifications"`
			}
			Results []struct {
				RuleID     string `json:"ruleId"`
				Level      string
				Message    struct{ Text string }
				Properties struct {
					Hosts        []string
					CheckedHosts int `json:"checkedHosts"`
					Keys         map[string]string
				}
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			}
		}
	}
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs, want 1 whatever the fleet's size", len(log.Runs))
	}
	run := log.Runs[0]
	if run.AutomationDetails.ID != "ipckeys-fleet/2026-11-21T20:30:00Z" || len(run.Invocations) != 1 || run.Invocations[0].ExecutionSuccessful ||
		len(run.Invocations[0].ToolExecutionNotifications) != 2 || !strings.HasPrefix(run.Invocations[0].ToolExecutionNotifications[0].Message.Text, "host06: not checked: scan failed: ") {
		t.Errorf("run %+v", run)
	}
	r := run.Results[0]
	if r.RuleID != "key-collision" || r.Level != "error" || !reflect.DeepEqual(r.Properties.Hosts, []string{"host03"}) || r.Properties.CheckedHosts != 5 ||
		r.Properties.Keys["host03"] != "0x6c014001" || r.PartialFingerprints["ipckeysFleetFinding/v1"] != v.Findings[0].ID ||
		!strings.HasPrefix(r.Message.Text, "channel orders, channel audit: on 1 of 5 checked hosts: host03. host03: channel orders") {
		t.Errorf("result %+v", r)
	}
}

func TestFleetJUnit(t *testing.T) {
	out := renderFleet(t, fixtureFleet(t), "junit")
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string `xml:"name,attr"`
				Failures []struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
				Errors []struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	// Five checked hosts with three channels each, two hosts not checked.
	if doc.Tests != 17 || doc.Failures != 2 || doc.Errors != 2 || len(doc.Suites) != 7 {
		t.Fatalf("tests %d failures %d errors %d suites %d", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	h3 := doc.Suites[2]
	if h3.Name != "host03" || h3.Cases[0].Name != "channel orders" || len(h3.Cases[0].Failures) != 2 ||
		h3.Cases[0].Failures[0].Type != "key-collision" || h3.Cases[0].Failures[1].Type != "nattch-mismatch" || len(h3.Cases[1].Failures) != 1 {
		t.Errorf("host03 %+v", h3)
	}
	if h5 := doc.Suites[4]; !strings.HasPrefix(h5.Cases[2].Out, "warning: unstable-filesystem: ") {
		t.Errorf("host05 cache output %q", h5.Cases[2].Out)
	}
	if h6 := doc.Suites[5]; h6.Name != "host06" || len(h6.Cases) != 1 || len(h6.Cases[0].Errors) != 1 || !strings.HasPrefix(h6.Cases[0].Errors[0].Message, "scan failed: ") {
		t.Errorf("host06 %+v", h6)
	}
}

// TestFleetHTMLSelfContained: the page loads nothing from anywhere: no
// http(s) or protocol-relative src or href, no CSS url() or @import, and
// its Content-Security-Policy allows exactly its own style and script.
func TestFleetHTMLSelfContained(t *testing.T) {
	page := string(renderFleet(t, fixtureFleet(t), "html"))
	for _, re := range []string{`(?i)(src|href|action)\s*=\s*["']?\s*(https?:)?//`, `(?i)url\(`, `(?i)@import`, `(?i)https?://`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page has %q (matched %s)", m, re)
		}
	}
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`).FindStringSubmatch(page)
	if csp == nil || !strings.HasPrefix(html.UnescapeString(csp[1]), "default-src 'none'; ") {
		t.Fatalf("no Content-Security-Policy that forbids fetches")
	}
	policy := html.UnescapeString(csp[1])
	for _, tag := range []string{"style", "script"} {
		blocks := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(page, -1)
		if len(blocks) != 1 {
			t.Fatalf("%d <%s> blocks, want 1", len(blocks), tag)
		}
		if !strings.Contains(policy, tag+"-src '"+cspHashOf(blocks[0][1])+"'") {
			t.Errorf("the CSP does not allow the page's own %s (hash %s): %s", tag, cspHashOf(blocks[0][1]), policy)
		}
	}
	if strings.Contains(page, " style=") || strings.Contains(page, " onclick=") {
		t.Error("inline style or event attributes: the CSP would block them")
	}
}

func cspHashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestFleetJSONStreamed: FleetJSON, which writes a channel's cells at a
// time, writes the bytes of encoding/json's encoder on the whole view.
func TestFleetJSONStreamed(t *testing.T) {
	for _, v := range []*fleet.View{fixtureFleet(t), largeFleet(t, 300), fleet.Merge(nil, fleet.Options{Now: fleetNow})} {
		var got bytes.Buffer
		if err := report.FleetJSON(&got, v); err != nil {
			t.Fatal(err)
		}
		whole := *v
		whole.Channels = nil
		for _, c := range v.Channels {
			one := *c
			one.Cells = v.Cells(c)
			whole.Channels = append(whole.Channels, &one)
		}
		var want bytes.Buffer
		if err := report.WriteJSON(&want, &whole); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%d hosts: FleetJSON differs from the whole view's encoding:\n got %.2000s\nwant %.2000s", len(v.Hosts), got.String(), want.String())
		}
	}
}
