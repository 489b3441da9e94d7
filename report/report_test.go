package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ignore"
	"github.com/ipckeys/ipckeys/internal/reftool"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixtureResult builds one report with a finding of most kinds, from
// fixed files and the /proc fixture captured on Linux 6.18, so every format
// renders the same input.
func fixtureResult(t *testing.T) *report.Result {
	t.Helper()
	kf := func(path string, dev, ino uint64, fs string) ipcscan.KeyFile {
		return ipcscan.KeyFile{Path: path, File: ftok.File{Dev: dev, Ino: ino}, FSType: fs}
	}
	ch := func(name string, line int, proj int, f ipcscan.KeyFile, typ string, nattch *manifest.Range) audit.Entry {
		c := &manifest.Channel{Name: name, Path: f.Path, Proj: proj, Type: typ, Nattch: nattch, File: "deploy/app.manifest", Line: line}
		return audit.Entry{Channel: c, Path: f.Path, Proj: proj, HasProj: true, File: f}
	}
	// The incident: 0x1E64001 and 0x1EC4001 on sda1.
	b := kf("/etc/app/b.conf", 0x801, 0x1E64001, "ext4")
	c := kf("/etc/app/c.conf", 0x801, 0x1EC4001, "ext4")
	// A key the fixture's segment 0 holds: 0xdeadbeef.
	cache := kf("/etc/app/cache.conf", 0x8ad, 0x1beef, "ext4")
	tmp := kf("/dev/shm/k, \"odd\"", 0x1b, 5, "tmpfs")
	tmp.Unstable = "it lives in memory: the file and its inode number are new after every boot or remount, so the key changes"
	one := manifest.Range{Min: 1, Max: 1}
	entries := []audit.Entry{
		ch("orders", 2, 'l', b, "shm", nil),
		ch("audit", 3, 'l', c, "shm", nil),
		ch("cache", 4, 0xde, cache, "shm", &one),
		{Path: tmp.Path, Proj: 'x', HasProj: true, File: tmp},
		{Path: "/etc/app/gone.conf", Proj: 'x', HasProj: true, Err: os.ErrNotExist},
	}
	snap, err := ipcscan.NewFS("../testdata/proc/linux-6.18").Snapshot()
	snap.Source = ipcscan.SourceProc // the fixture was read from /proc/sysvipc
	if err != nil {
		t.Fatal(err)
	}
	findings := audit.Check(entries)
	findings = append(findings, audit.CheckLive(entries, audit.Live{Snap: snap})...)
	audit.Suggest(findings, entries, snap)
	rules, err := ignore.Parse(strings.NewReader(`removed-attached 0x6c014001 reason="the old writer drains until midnight"
unstable-filesystem "/dev/shm/k, \"odd\"" reason="rebuilt at boot" expires=2026-01-01
key-collision nothing reason="stale entry"
`), "deploy/.ipckeys-ignore")
	if err != nil {
		t.Fatal(err)
	}
	findings = ignore.Apply(findings, entries, rules, "2026-11-21")
	audit.Sort(findings)
	return &report.Result{
		Entries:  entries,
		Findings: findings,
		Live:     report.NewLiveSummary(snap, ""),
		Snap:     snap,
		FailOn:   audit.Error,
		Time:     time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC),
		Version:  report.Version{Module: "v1.2.3", Revision: "0123456789abcdef", GoVersion: "go1.26.8"},
	}
}

func render(t *testing.T, r *report.Result, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "table":
		err = report.Table(&b, r, report.Style{})
	case "text":
		err = report.Text(&b, r, report.Style{})
	case "json":
		err = report.WriteScanJSON(&b, r)
	case "sarif":
		err = report.SARIF(&b, r)
	case "github":
		err = report.GitHub(&b, r)
	case "junit":
		err = report.JUnit(&b, r)
	case "prometheus":
		err = report.Prometheus(&b, r)
	}
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return b.Bytes()
}

// TestGolden compares every format with its golden file; -update rewrites
// them. The golden files are reviewed output; the validators below hold
// the machine formats against their outside definitions.
func TestGolden(t *testing.T) {
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_ALL", "C.UTF-8")
	r := fixtureResult(t)
	for _, format := range []string{"table", "text", "json", "sarif", "github", "junit", "prometheus"} {
		got := render(t, r, format)
		path := filepath.Join("..", "testdata", "golden", "report."+format)
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

// TestFixtureFindings pins what the fixture report holds, so the golden
// files cover every state a format must show.
func TestFixtureFindings(t *testing.T) {
	r := fixtureResult(t)
	var got []string
	for _, f := range r.Findings {
		s := f.Code + "/" + f.Severity.String()
		if f.Suppressed != nil {
			s += "/suppressed"
		}
		got = append(got, s)
	}
	want := "key-collision/error nattch-mismatch/error path-unusable/error " +
		"removed-attached/warning/suppressed suppression-expired/warning suppression-unused/warning unstable-filesystem/warning " +
		"key-in-use/info"
	if strings.Join(got, " ") != want {
		t.Errorf("fixture findings:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if s := r.Summary(); !s.Failed || s.Suppressed != 1 || s.Errors != 3 {
		t.Errorf("summary %+v", s)
	}
}

// TestSARIFSchema validates the SARIF output against the official SARIF
// 2.1.0 schema.
// sarifSchema compiles the official OASIS schema, kept in testdata.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "schemas", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

// TestConfigLocations: a collision between two services' config settings
// points SARIF (valid against the schema), GitHub annotations and text at
// the config line that names the key file.
func TestConfigLocations(t *testing.T) {
	b := &manifest.Channel{Name: "app/B.conf:chnl_shm_path", Path: "/data/path_B", Proj: 'l', File: "app/B.conf", Line: 3, Setting: "chnl_shm_path"}
	c := &manifest.Channel{Name: "app/C.conf:chnl_shm_path", Path: "/data/path_C", Proj: 'l', File: "app/C.conf", Line: 7, Setting: "chnl_shm_path"}
	file := func(ino uint64) ipcscan.KeyFile {
		return ipcscan.KeyFile{File: ftok.File{Dev: 0xfe00, Ino: ino}, FSType: "ext4"}
	}
	entries := []audit.Entry{
		{Channel: b, Path: b.Path, Proj: 'l', HasProj: true, File: file(0x1E64001)},
		{Channel: c, Path: c.Path, Proj: 'l', HasProj: true, File: file(0x1EC4001)},
	}
	r := &report.Result{Entries: entries, Findings: audit.Check(entries), FailOn: audit.Error, Version: report.Version{Module: "v1.2.3"}}
	if len(r.Findings) != 1 || r.Findings[0].Code != audit.KeyCollision {
		t.Fatalf("findings: %+v", r.Findings)
	}
	out := render(t, r, "sarif")
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate: %v", err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatal(err)
	}
	loc := log.Runs[0].Results[0].Locations[0].PhysicalLocation
	if loc.ArtifactLocation.URI != "app/B.conf" || loc.Region.StartLine != 3 {
		t.Errorf("SARIF location %s:%d, want app/B.conf:3", loc.ArtifactLocation.URI, loc.Region.StartLine)
	}
	if gh := string(render(t, r, "github")); !strings.HasPrefix(gh, "::error file=app/B.conf,line=3,title=ipckeys key-collision::") {
		t.Errorf("GitHub annotation: %s", gh)
	}
	if txt := string(render(t, r, "text")); !strings.HasPrefix(txt, "app/B.conf:3: error: key-collision 0x6c004001: app/B.conf:chnl_shm_path (line 3: /data/path_B,") {
		t.Errorf("text: %s", txt)
	}
}

func TestSARIFSchema(t *testing.T) {
	schema := sarifSchema(t)
	out := render(t, fixtureResult(t), "sarif")
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate: %v", err)
	}
	// The validator does reject what the schema forbids.
	bad, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bytes.Replace(out, []byte(`"level": "error"`), []byte(`"level": "fatal"`), 1)))
	if schema.Validate(bad) == nil {
		t.Fatal("the schema accepted level \"fatal\": the validation proves nothing")
	}
	// And what code scanning relies on.
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID              string            `json:"ruleId"`
				Level               string            `json:"level"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Suppressions        []struct {
					Kind          string `json:"kind"`
					Justification string `json:"justification"`
				} `json:"suppressions"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           *struct{ StartLine int }
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(audit.Rules) {
		t.Errorf("%d rules, want one per code (%d)", len(run.Tool.Driver.Rules), len(audit.Rules))
	}
	res := run.Results[0]
	if res.RuleID != "key-collision" || res.Level != "error" || len(res.PartialFingerprints["ipckeysFinding/v1"]) != 32 {
		t.Errorf("first result %+v", res)
	}
	if l := res.Locations[0].PhysicalLocation; l.ArtifactLocation.URI != "deploy/app.manifest" || l.Region == nil || l.Region.StartLine != 2 {
		t.Errorf("collision location %+v, want deploy/app.manifest line 2", l)
	}
	suppressed := 0
	for _, r := range run.Results {
		if len(r.Suppressions) == 1 && r.Suppressions[0].Justification == "the old writer drains until midnight" {
			suppressed++
		}
	}
	if suppressed != 1 {
		t.Errorf("%d suppressed results with the reason, want 1", suppressed)
	}
}

// TestFingerprintStable: the fingerprint follows the channels and the key,
// not the inode numbers or the wording.
func TestFingerprintStable(t *testing.T) {
	a := fixtureResult(t)
	b := fixtureResult(t)
	b.Entries[0].File.Ino += 0x10000 // a new inode with the same low bits
	b.Findings[0].Message = "reworded"
	if fa, fb := a.Fingerprint(&a.Findings[0]), b.Fingerprint(&b.Findings[0]); fa != fb {
		t.Errorf("fingerprint changed with the inode or message: %s vs %s", fa, fb)
	}
	if a.Fingerprint(&a.Findings[0]) == a.Fingerprint(&a.Findings[1]) {
		t.Error("two different findings share a fingerprint")
	}
}

// TestPrometheusParses reads the metrics back with the exposition format's
// own parser, and with promtool when it is installed.
func TestPrometheusParses(t *testing.T) {
	r := fixtureResult(t)
	out := render(t, r, "prometheus")
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, out)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		fam := families[name]
		if fam == nil {
			t.Fatalf("no %s", name)
		}
	next:
		for _, m := range fam.Metric {
			for _, lp := range m.Label {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			if m.TimestampMs != nil {
				t.Errorf("%s has a timestamp: the textfile collector forbids them", name)
			}
			return m.Gauge.GetValue()
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ipckeys_findings", map[string]string{"code": "key-collision", "severity": "error"}, 1},
		{"ipckeys_findings", map[string]string{"code": "key-private", "severity": "error"}, 0},
		{"ipckeys_findings", map[string]string{"code": "key-in-use", "severity": "info"}, 1},
		{"ipckeys_findings_suppressed", map[string]string{"code": "removed-attached"}, 1},
		{"ipckeys_live_objects", map[string]string{"facility": "shm", "state": "removed"}, 1},
		{"ipckeys_live_objects", map[string]string{"facility": "shm", "state": "attached"}, 1},
		{"ipckeys_live_objects", map[string]string{"facility": "shm", "state": "unattached"}, 3},
		{"ipckeys_live_objects", map[string]string{"facility": "sem", "state": "present"}, 2},
		{"ipckeys_stale_segment_bytes", nil, 0},
		{"ipckeys_last_run_success", nil, 1},
		{"ipckeys_last_run_timestamp_seconds", nil, float64(r.Time.Unix())},
		{"ipckeys_gate_failed", nil, 1},
		{"ipckeys_entries", nil, 5},
		{"ipckeys_build_info", map[string]string{"version": "v1.2.3"}, 1},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for name, fam := range families {
		if !strings.HasPrefix(name, "ipckeys_") || fam.GetType().String() != "GAUGE" {
			t.Errorf("%s: %s, want an ipckeys_ gauge", name, fam.GetType())
		}
	}
	if promtool := reftool.Lookup(t, "promtool", "prometheus"); promtool != "" {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, msg)
		}
	}
	// A run that could not happen says so.
	r.Err = os.ErrNotExist
	if _, err := p.TextToMetricFamilies(bytes.NewReader(render(t, r, "prometheus"))); err != nil {
		t.Fatal(err)
	}
}

// TestGitHubEscaping holds the workflow commands to GitHub's escaping
// rules: % CR LF in the message; also : and , in properties.
func TestGitHubEscaping(t *testing.T) {
	r := fixtureResult(t)
	out := string(render(t, r, "github"))
	for _, want := range []string{
		"::error file=deploy/app.manifest,line=2,title=ipckeys key-collision::channel orders",
		"::warning file=/dev/shm/k%2C \"odd\",title=ipckeys unstable-filesystem::/dev/shm/k, \"odd\" is on tmpfs",
		"::warning file=deploy/.ipckeys-ignore,line=3,title=ipckeys suppression-unused::",
		"::notice file=deploy/app.manifest,line=4,title=ipckeys key-in-use::key 0xdeadbeef of channel cache",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("github output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "removed-attached") {
		t.Error("a suppressed finding was annotated")
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "::") {
			t.Errorf("not a workflow command: %q", line)
		}
	}
	msg := &r.Findings[0]
	msg.Message = "100% sure:\r\nnext, line"
	// The line break is quoted by the display rule before the runner's
	// escaping: it shows, and cannot end the command.
	if got := string(render(t, r, "github")); !strings.Contains(got, "::\"100%25 sure:\\r\\nnext, line\"\n") {
		t.Errorf("message escaping: %s", got)
	}
}

// TestJUnitParses reads the JUnit XML back: one test case per channel and
// path, a failure per error finding.
func TestJUnitParses(t *testing.T) {
	out := render(t, fixtureResult(t), "junit")
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name     string `xml:"name,attr"`
				Class    string `xml:"classname,attr"`
				Failures []struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		var types []string
		for _, f := range c.Failures {
			types = append(types, f.Type)
		}
		got[c.Class+" "+c.Name] = strings.Join(types, ",")
	}
	want := map[string]string{
		"ipckeys.channel orders":                  "key-collision",
		"ipckeys.channel audit":                   "key-collision",
		"ipckeys.channel cache":                   "nattch-mismatch",
		`ipckeys.path /dev/shm/k, "odd"`:          "",
		"ipckeys.path /etc/app/gone.conf":         "path-unusable",
		"ipckeys.ignore deploy/.ipckeys-ignore:2": "",
		"ipckeys.ignore deploy/.ipckeys-ignore:3": "",
	}
	if len(got) != len(want) {
		t.Errorf("test cases %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("test case %q: failures %q, want %q", k, got[k], v)
		}
	}
	if doc.Tests != len(want) || doc.Failures != 4 {
		t.Errorf("tests %d failures %d, want %d and 4", doc.Tests, doc.Failures, len(want))
	}
}

// TestEntryLive pins what each entry says of the live tables: the fixture's
// segment 1 was removed while two processes map it as key 0x6c014001 (the
// key of orders and audit), segment 0 holds cache's 0xdeadbeef with nattch
// 6 from 2 processes; nothing holds the /dev/shm path's key; an unusable
// path has no key and so no live state. Without a snapshot no entry has one.
func TestEntryLive(t *testing.T) {
	r := fixtureResult(t)
	s := r.Scan()
	got := map[string]string{}
	for _, e := range s.Entries {
		j, err := json.Marshal(e.Live)
		if err != nil {
			t.Fatal(err)
		}
		got[e.Path] = string(j)
	}
	want := map[string]string{
		"/etc/app/b.conf":     `{"held":[{"facility":"shm","id":1,"owner":"root","nattch":2,"processes":2,"removed":true}]}`,
		"/etc/app/c.conf":     `{"held":[{"facility":"shm","id":1,"owner":"root","nattch":2,"processes":2,"removed":true}]}`,
		"/etc/app/cache.conf": `{"held":[{"facility":"shm","id":0,"owner":"root","nattch":6,"processes":2}]}`,
		`/dev/shm/k, "odd"`:   `{"held":[]}`,
		"/etc/app/gone.conf":  `null`,
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: live %s, want %s", p, got[p], w)
		}
	}
	r.Snap = nil
	for _, e := range r.Scan().Entries {
		if e.Live != nil {
			t.Errorf("%s: live %+v without a snapshot", e.Path, e.Live)
		}
	}
}
