package fleet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/audit"
)

var now = time.Date(2026, 11, 21, 20, 30, 0, 0, time.UTC)

// host is a report as `ipckeys scan -o json` writes one, for the tests:
// channels orders and audit with proj 'l' on ext4 8:1, each held by a
// segment with nattch 1 unless changed.
type host struct {
	label, hostname, machine, time string
	orders, audit                  uint64 // inode numbers
	nattch                         int
	findings                       string // JSON array, "" for []
	noLive                         bool
}

func (h host) json() string {
	if h.hostname == "" {
		h.hostname = "app-" + h.label
	}
	if h.machine == "" {
		h.machine = "m-" + h.label
	}
	if h.time == "" {
		h.time = "2026-11-21T20:03:37Z"
	}
	if h.nattch == 0 {
		h.nattch = 1
	}
	if h.findings == "" {
		h.findings = "[]"
	}
	live := fmt.Sprintf(`{"held":[{"facility":"shm","id":3,"owner":"app","nattch":%d,"processes":%d}]}`, h.nattch, h.nattch)
	liveTop := `{"checked":true,"source":"/proc/sysvipc","ipc_namespace":4026531839}`
	if h.noLive {
		live, liveTop = "null", `{"checked":false,"reason":"--no-live"}`
	}
	entry := func(name string, line int, ino uint64) string {
		key := 0x6c010000 | ino&0xffff
		return fmt.Sprintf(`{"name":%q,"manifest":"deploy/app.manifest","line":%d,"path":"/srv/app/%s.key","proj":108,"proj_byte":108,`+
			`"key":"0x%08x","key_decimal":%d,"dev":"8:1","dev_byte":1,"ino":%d,"ino_bits":%d,"fingerprint":"0x%06x","fs_type":"ext4","type":"shm","nattch":"1","live":%s}`,
			name, line, name, key, int32(key), ino, ino&0xffff, 0x010000|ino&0xffff, live)
	}
	return fmt.Sprintf(`{"schema":"ipckeys/scan/v1","host":{"label":%q,"hostname":%q,"machine_id":%q,"boot_id":"b","time":%q,"ipc_namespace":4026531839},`+
		`"entries":[%s,%s],"findings":%s,"live":%s,"summary":{"entries":2}}`,
		h.label, h.hostname, h.machine, h.time, entry("orders", 2, h.orders), entry("audit", 3, h.audit), h.findings, liveTop)
}

// collision is the key-collision finding of orders and audit on one
// host, with the entries as the report copies them.
func collision(key string) string {
	return fmt.Sprintf(`[{"code":"key-collision","severity":"error","key":%q,"message":"channel orders and channel audit get the same key %s",`+
		`"entries":[{"name":"orders","manifest":"deploy/app.manifest","line":2,"path":"/srv/app/orders.key","proj":108},`+
		`{"name":"audit","manifest":"deploy/app.manifest","line":3,"path":"/srv/app/audit.key","proj":108}]}]`, key, key)
}

// eleven writes the incident's fleet into dir: eleven hosts, host07 with
// the collision (inodes 0x1E64001 and 0x1EC4001) and both segments
// attached twice, host03 whose scan failed.
func eleven(t *testing.T, dir string) {
	t.Helper()
	for i := 1; i <= 11; i++ {
		name := fmt.Sprintf("host%02d", i)
		h := host{label: name, orders: 0x1E64001, audit: 0x1E64002}
		switch i {
		case 3:
			write(t, filepath.Join(dir, name+".failed"), "ipckeys: deploy/app.manifest:3: field 3 (proj): proj id \"lx\" is not a proj id\n")
			continue
		case 7:
			h.audit, h.nattch, h.findings = 0x1EC4001, 2, collision("0x6c014001")
		}
		write(t, filepath.Join(dir, name+".json"), h.json())
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func merge(t *testing.T, o Options, args ...string) *View {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	if o.FailOn == 0 {
		o.FailOn = audit.Error
	}
	return Merge(mustLoad(t, args, strings.NewReader("")), o)
}

func TestIncident(t *testing.T) {
	dir := t.TempDir()
	eleven(t, dir)
	write(t, filepath.Join(dir, "notes.txt"), "not a report")
	v := merge(t, Options{}, dir)

	want := Summary{Hosts: 11, Checked: 10, Unchecked: 1, Failing: 1, Passing: 9, Findings: 1, Errors: 1, Channels: 2,
		FailOn: "error", Failed: true, ExitStatus: 2}
	if v.Summary != want {
		t.Errorf("summary\n got %+v\nwant %+v", v.Summary, want)
	}
	if got := v.HostNames(func(h *Host) bool { return !h.Checked }); !reflect.DeepEqual(got, []string{"host03"}) {
		t.Errorf("unchecked %v", got)
	}
	h3 := v.Hosts[2]
	if h3.Name != "host03" || h3.Reason != `scan failed: ipckeys: deploy/app.manifest:3: field 3 (proj): proj id "lx" is not a proj id` ||
		h3.Source != filepath.Join(dir, "host03.failed") {
		t.Errorf("host03: %+v", h3)
	}
	if len(v.Findings) != 1 {
		t.Fatalf("findings: %+v", v.Findings)
	}
	f := v.Findings[0]
	if f.Code != "key-collision" || f.Severity != "error" || !reflect.DeepEqual(f.Hosts, []string{"host07"}) || f.Of != 10 ||
		!reflect.DeepEqual(f.Concerns, []string{"channel orders", "channel audit"}) ||
		!reflect.DeepEqual(f.Channels, []string{"channel:orders", "channel:audit"}) || f.File != "deploy/app.manifest" || f.Line != 2 {
		t.Errorf("finding %+v", f)
	}
	if got := f.HostsPhrase(len(v.Hosts), 0); got != "on 1 of 10 checked hosts: host07" {
		t.Errorf("phrase %q", got)
	}
	if len(f.PerHost) != 1 || f.PerHost[0].Key != "0x6c014001" || f.PerHost[0].Host != "host07" {
		t.Errorf("per host %+v", f.PerHost)
	}
	// orders has the same key everywhere; on host07 only its live state
	// differs (nattch 2). audit's key differs on host07.
	if len(v.Channels) != 2 {
		t.Fatalf("channels %+v", v.Channels)
	}
	orders, auditCh := v.Channels[0], v.Channels[1]
	if orders.ID != "channel:orders" || orders.Kind != "manifest" || orders.File != "deploy/app.manifest" || orders.Line != 2 || len(v.Cells(orders)) != 10 {
		t.Fatalf("orders %+v", orders)
	}
	wantMajority := map[string]string{"present": "true", "key": "0x6c014001", "dev": "8:1", "fs_type": "ext4", "live": "shm nattch 1, 1 process", "error": ""}
	if !reflect.DeepEqual(orders.Majority, wantMajority) {
		t.Errorf("orders majority %v", orders.Majority)
	}
	if !reflect.DeepEqual(orders.Differing, []string{"host07"}) || orders.Worst != "error" {
		t.Errorf("orders differing %v worst %q", orders.Differing, orders.Worst)
	}
	for _, cl := range v.Cells(orders) {
		wantDiffers := []string(nil)
		wantWorst := ""
		if cl.Host == "host07" {
			wantDiffers, wantWorst = []string{"live"}, "error"
			if cl.Live != "shm nattch 2, 2 processes" || cl.LiveDetail != "shm id 3, owner app" || !reflect.DeepEqual(cl.Findings, []string{f.ID}) {
				t.Errorf("host07 orders %+v", cl)
			}
		}
		if !reflect.DeepEqual(cl.Differs, wantDiffers) || cl.Worst != wantWorst || !cl.Present || cl.Key != "0x6c014001" {
			t.Errorf("%s orders: %+v", cl.Host, cl)
		}
	}
	a7 := v.Cells(auditCh)[5]
	if a7.Host != "host07" || a7.Key != "0x6c014001" || *a7.Ino != 0x1EC4001 || !reflect.DeepEqual(a7.Differs, []string{"key", "live"}) {
		t.Errorf("host07 audit %+v", a7)
	}
	if auditCh.Majority["key"] != "0x6c014002" {
		t.Errorf("audit majority key %q", auditCh.Majority["key"])
	}
	if len(v.Notes) != 0 {
		t.Errorf("notes %q", v.Notes)
	}
}

// TestExitStatus: 2 for an unchecked host unless allowed, then 1 for a
// finding at or above --fail-on, else 0.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	eleven(t, dir)
	clean := t.TempDir()
	write(t, filepath.Join(clean, "a.json"), host{label: "a", orders: 1, audit: 2}.json())
	warn := t.TempDir()
	write(t, filepath.Join(warn, "a.json"), host{label: "a", orders: 1, audit: 2,
		findings: `[{"code":"proj-zero","severity":"warning","message":"m","entries":[{"name":"orders","path":"/srv/app/orders.key","proj":0}]}]`}.json())
	tests := []struct {
		dir    string
		o      Options
		status int
	}{
		{dir, Options{}, 2},
		{dir, Options{AllowUnchecked: true}, 1},
		{dir, Options{AllowUnchecked: true, FailOn: audit.Never}, 0},
		{dir, Options{FailOn: audit.Never}, 2},
		{clean, Options{}, 0},
		{clean, Options{Expected: []string{"a", "b"}}, 2},
		{warn, Options{}, 0},
		{warn, Options{FailOn: audit.Warning}, 1},
		{warn, Options{FailOn: audit.Info}, 1},
	}
	for i, tc := range tests {
		if got := merge(t, tc.o, tc.dir).Summary.ExitStatus; got != tc.status {
			t.Errorf("case %d: exit status %d, want %d", i, got, tc.status)
		}
	}
}

func TestLoadFailures(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"empty.json":    "",
		"garbage.json":  "ipckeys: cannot read manifest\n",
		"ls.json":       `{"schema":"ipckeys/ls/v1","source":"/proc/sysvipc"}`,
		"v2.json":       `{"schema":"ipckeys/scan/v2"}`,
		"other.json":    `{"schema":"https://example.org/x"}`,
		"noschema.json": `{"entries":[]}`,
		"array.json":    `[1]`,
		"none.json":     `[]`,
		"bad.json":      `{"schema":"ipckeys/scan/v1","entries":5}`,
		"trail.json":    host{label: "trail"}.json() + "\n}",
		"quiet.failed":  "\n\n",
	}
	for name, content := range files {
		write(t, filepath.Join(dir, name), content)
	}
	var args []string
	for name := range files {
		args = append(args, filepath.Join(dir, name))
	}
	args = append(args, fifo, filepath.Join(dir, "missing.json"))
	got := map[string]string{}
	for _, l := range mustLoad(t, args, nil) {
		got[l.Name] = l.Failed
		if l.Report != nil && l.Name != "trail" {
			t.Errorf("%s: loaded as a report", l.Name)
		}
	}
	want := map[string]string{
		"empty":    "empty report: a scan that fails writes no JSON (exit 2): see its error",
		"garbage":  "not a JSON report: invalid character 'i' looking for beginning of value",
		"ls":       "not a scan report (schema ipckeys/ls/v1): give the output of ipckeys scan -o json",
		"v2":       "report schema ipckeys/scan/v2, this ipckeys reads ipckeys/scan/v1: use an ipckeys release that reads it",
		"other":    `not an ipckeys scan report: schema "https://example.org/x"`,
		"noschema": "not an ipckeys scan report: no schema field",
		"array":    "not an ipckeys scan report: not a JSON object",
		"none":     "empty report: an empty array",
		"bad":      "malformed ipckeys/scan/v1 report: json: cannot unmarshal number into Go struct field Report.entries of type []fleet.Entry",
		"trail":    "not a JSON report: invalid character '}' looking for beginning of value",
		"quiet":    "scan failed: no message",
		"fifo":     "no report: is a FIFO (named pipe), not a regular file",
		"missing":  "no report: no such file or directory",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %q\nwant %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("loaded %v", got)
	}
}

// TestStream reads several reports from one stream: objects one after
// another and arrays of them; a report naming no host cannot be placed.
func TestStream(t *testing.T) {
	noHost := `{"schema":"ipckeys/scan/v1","entries":[],"findings":[]}`
	fleetDoc := `{"schema":"ipckeys/fleet/v1","hosts":[]}`
	in := host{label: "a"}.json() + "\n" + "[" + host{label: "b"}.json() + "," + host{label: "c"}.json() + "]" + noHost + fleetDoc
	ls := mustLoad(t, []string{"-"}, strings.NewReader(in))
	var got []string
	for _, l := range ls {
		got = append(got, fmt.Sprintf("%s|%s|%v|%s|%s", l.Name, l.Source, l.Report != nil, l.Failed, l.Skipped))
	}
	want := []string{
		"a|<stdin> document 1|true||",
		"b|<stdin> document 2[0]|true||",
		"c|<stdin> document 2[1]|true||",
		"<stdin> document 3|<stdin> document 3|false|the report names no host (ipckeys releases before host was added to ipckeys/scan/v1): give each report its own file, HOST.json, or upgrade ipckeys on the host|",
		"<stdin> document 4|<stdin> document 4|false||a fleet report, not a host's",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stream:\n got %q\nwant %q", got, want)
	}
	// The same report in a file takes the file's name.
	dir := t.TempDir()
	write(t, filepath.Join(dir, "host05.json"), noHost)
	if l := mustLoad(t, []string{filepath.Join(dir, "host05.json")}, nil); len(l) != 1 || l[0].Name != "host05" || l[0].Report == nil {
		t.Errorf("file without host: %+v", l)
	}
	v := Merge(ls, Options{Now: now, FailOn: audit.Error})
	if !reflect.DeepEqual(v.Notes, []string{"<stdin> document 4: skipped: a fleet report, not a host's"}) || v.Summary.Hosts != 4 || v.Summary.Unchecked != 1 {
		t.Errorf("notes %q, summary %+v", v.Notes, v.Summary)
	}
}

// TestDuplicatesAndInventory: several reports of one host, one machine
// under two names, hosts the inventory expects or does not know, reports
// too old.
func TestDuplicatesAndInventory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a-old.json"), host{label: "a", machine: "m1", time: "2026-11-21T19:00:00Z", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "a-new.json"), host{label: "a", machine: "m1", time: "2026-11-21T20:00:00Z", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "b1.json"), host{label: "b", machine: "m2", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "b2.json"), host{label: "b", machine: "m3", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "c.json"), host{label: "c", machine: "m4", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "d.json"), host{label: "d", machine: "m4", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "e.json"), host{label: "e", time: "2026-11-21T18:30:00Z", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "f.json"), host{label: "f", time: "yesterday", orders: 1, audit: 2}.json())
	v := merge(t, Options{Expected: []string{"a", "b", "c", "d", "e", "f", "g"}, MaxAge: time.Hour}, dir)
	reasons := map[string]string{}
	for _, h := range v.Hosts {
		reasons[h.Name] = h.Reason
	}
	want := map[string]string{
		"a": "",
		"b": "2 reports name this host, from different machines (machine ids m2, m3): give each host its own scan --label",
		"c": "",
		"d": "",
		"e": "the report is from 2026-11-21T18:30:00Z, 2h0m0s old: older than --max-age 1h0m0s",
		"f": `the report has no valid time ("yesterday"), so its age is unknown (--max-age 1h0m0s)`,
		"g": "no report: the host's scan did not run or its report was not collected",
	}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("reasons:\n got %q\nwant %q", reasons, want)
	}
	if v.Hosts[0].Name != "a" || v.Hosts[0].ReportTime != "2026-11-21T20:00:00Z" {
		t.Errorf("a: %+v", v.Hosts[0])
	}
	wantNotes := []string{
		"a: 2 reports; the newest (" + filepath.Join(dir, "a-new.json") + ") is used, not " + filepath.Join(dir, "a-old.json"),
		"c, d report the same machine id m4: one machine under several names, or machines cloned without a new /etc/machine-id",
	}
	if !reflect.DeepEqual(v.Notes, wantNotes) {
		t.Errorf("notes:\n got %q\nwant %q", v.Notes, wantNotes)
	}
	// A host outside the inventory is kept, and named.
	v = merge(t, Options{Expected: []string{"a"}}, filepath.Join(dir, "c.json"), filepath.Join(dir, "a-new.json"))
	if v.Summary.Hosts != 2 || v.Summary.Unchecked != 0 ||
		!reflect.DeepEqual(v.Notes, []string{"c (" + filepath.Join(dir, "c.json") + ") is not among the expected hosts: a label that is not the inventory's name?"}) {
		t.Errorf("outside the inventory: %+v %q", v.Summary, v.Notes)
	}
	// A failure marker beside a report: the host was not checked.
	write(t, filepath.Join(dir, "c.failed"), "ipckeys: boom")
	v = merge(t, Options{}, filepath.Join(dir, "c.json"), filepath.Join(dir, "c.failed"))
	if v.Hosts[0].Checked || v.Hosts[0].Reason != "scan failed: ipckeys: boom (2 inputs name this host; this one says it could not be checked)" {
		t.Errorf("marker and report: %+v", v.Hosts[0])
	}
}

// TestSuppressedAndOther: a finding suppressed on one host counts only
// where it is not; a finding about a live object has no channel.
func TestSuppressedAndOther(t *testing.T) {
	dir := t.TempDir()
	stale := `{"code":"stale-object","severity":"warning","key":"0x00001234","message":"segment 4 is stale","entries":[],"object":{"facility":"shm","id":4,"key":"0x00001234"}}`
	supp := `{"code":"key-in-use","severity":"info","message":"held","entries":[{"name":"orders","path":"/srv/app/orders.key","proj":108}],"suppressed":{"reason":"old pool","file":"deploy/.ipckeys-ignore","line":2}}`
	held := `{"code":"key-in-use","severity":"info","message":"held","entries":[{"name":"orders","path":"/srv/app/orders.key","proj":108}]}`
	write(t, filepath.Join(dir, "a.json"), host{label: "a", orders: 1, audit: 2, findings: "[" + stale + "," + supp + "]"}.json())
	write(t, filepath.Join(dir, "b.json"), host{label: "b", orders: 1, audit: 2, findings: "[" + stale + "," + held + "]"}.json())
	write(t, filepath.Join(dir, "c.json"), host{label: "c", orders: 1, audit: 2, noLive: true}.json())
	v := merge(t, Options{FailOn: audit.Info}, dir)
	if len(v.Findings) != 2 {
		t.Fatalf("findings %+v", v.Findings)
	}
	s, k := v.Findings[0], v.Findings[1]
	if s.Code != "stale-object" || !reflect.DeepEqual(s.Concerns, []string{"shm 0x00001234"}) || len(s.Channels) != 0 ||
		s.HostsPhrase(3, 0) != "on 2 of 3 hosts: a, b" {
		t.Errorf("stale %+v %q", s, s.HostsPhrase(3, 0))
	}
	if k.Code != "key-in-use" || !reflect.DeepEqual(k.Hosts, []string{"b"}) || !reflect.DeepEqual(k.SuppressedOn, []string{"a"}) || len(k.PerHost) != 2 {
		t.Errorf("key-in-use %+v", k)
	}
	if a, b := v.Hosts[0], v.Hosts[1]; a.Suppressed != 1 || a.Info != 0 || a.Worst != "warning" || b.Info != 1 || !b.Failing {
		t.Errorf("hosts %+v %+v", a, b)
	}
	orders := v.Channels[0]
	if v.Cells(orders)[0].Worst != "" || !reflect.DeepEqual(v.Cells(orders)[0].Findings, []string{k.ID}) || v.Cells(orders)[1].Worst != "info" {
		t.Errorf("orders cells %+v %+v", v.Cells(orders)[0], v.Cells(orders)[1])
	}
	// Live state not checked is not known: it does not differ.
	if c := v.Cells(orders)[2]; c.Live != "not checked" || len(c.Differs) != 0 || slices.Contains(orders.Differing, "c") {
		t.Errorf("c without live checks: %+v, differing %q", c, orders.Differing)
	}
	if n, of := orders.MajorityOf("live"); orders.Majority["live"] != "shm nattch 1, 1 process" || n != 2 || of != 2 {
		t.Errorf("live majority %q: %d of %d", orders.Majority["live"], n, of)
	}
	if v.Summary.Findings != 2 || v.Summary.Warnings != 1 || v.Summary.Info != 1 || v.Summary.Failing != 2 {
		t.Errorf("summary %+v", v.Summary)
	}
}

// TestPathsAndAbsence: path entries are told apart by proj id; a channel
// one host lacks is marked there; names with control characters are
// quoted.
func TestPathsAndAbsence(t *testing.T) {
	rep := func(label string, entries string) string {
		label = strings.ReplaceAll(label, "\x1b", `\u001b`)
		return fmt.Sprintf(`{"schema":"ipckeys/scan/v1","host":{"label":"%s","hostname":"h","time":"2026-11-21T20:00:00Z"},"entries":[%s],"findings":[],"live":{"checked":false}}`, label, entries)
	}
	p := func(path string, proj string) string {
		return fmt.Sprintf(`{"path":%q,"proj":%s,"key":null,"fs_type":"ext4"}`, path, proj)
	}
	in := rep("a", p("/k", "108")+","+p("/k", "109")+","+p("/x", "null")) + rep("b", p("/k", "108")+","+p("/k", "109")) +
		rep("c", p("/k", "108")+","+p("/k", "109")) + rep("evil\x1b[31m", p("/k\n2", "1"))
	v := Merge(mustLoad(t, []string{"-"}, strings.NewReader(in)), Options{Now: now, FailOn: audit.Error})
	var got []string
	for _, c := range v.Channels {
		got = append(got, c.ID+"|"+c.Name+"|"+strings.Join(c.Differing, ","))
	}
	// Channels come in the order of the hosts' reports; the quoted name
	// sorts first.
	want := []string{
		"path:\"/k\\n2\" proj 1|\"/k\\n2\" (proj 1)|\"evil\\x1b[31m\"", // ids are quoted as names are
		"path:/k proj 108|/k (proj 108 'l')|\"evil\\x1b[31m\"",
		"path:/k proj 109|/k (proj 109 'm')|\"evil\\x1b[31m\"",
		"path:/x|/x|a", // on one host of four: the others are the majority
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("channels:\n got %q\nwant %q", got, want)
	}
}

func TestNaturalLess(t *testing.T) {
	in := []string{"host10", "host2", "host02", "db1", "host1", "host", "web-3a", "web-3", "host002"}
	want := []string{"db1", "host", "host1", "host2", "host02", "host002", "host10", "web-3", "web-3a"}
	got := append([]string{}, in...)
	for i := range got {
		for j := i + 1; j < len(got); j++ {
			if naturalLess(got[j], got[i]) {
				got[i], got[j] = got[j], got[i]
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzLoad feeds arbitrary bytes to the report reader and merges what it
// gets: no panic, every input is a report, a reason or a skip, and names
// and messages print on one line.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(host{label: "a", orders: 1, audit: 2, findings: collision("0x6c010001")}.json()))
	f.Add([]byte("[" + host{label: "a"}.json() + "]" + host{label: "b"}.json()))
	f.Add([]byte(`{"schema":"ipckeys/scan/v1","host":{"label":"\u001b"},"entries":[{"path":"\n","proj":-1,"live":{"held":[{}]}}],"findings":[{"entries":[{}],"object":{},"suppressed":{}}]}`))
	f.Add([]byte(`{"schema":"ipckeys/fleet/v1"}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls := Parse(strings.NewReader(string(data)), "fuzz", "h")
		if len(ls) == 0 {
			t.Fatal("no result")
		}
		for _, l := range ls {
			if (l.Report != nil) == (l.Failed != "" || l.Skipped != "") {
				t.Fatalf("%+v: a report and a reason, or neither", l)
			}
			if l.Name == "" || strings.ContainsAny(l.Name, "\n\r\x1b") || strings.ContainsAny(l.Failed, "\n\r\x1b") {
				t.Fatalf("name %q, reason %q", l.Name, l.Failed)
			}
		}
		v := Merge(ls, Options{Now: now, FailOn: audit.Warning})
		for _, f := range v.Findings {
			for _, on := range f.PerHost {
				if strings.ContainsAny(on.Message, "\n\r\x1b") {
					t.Fatalf("message %q", on.Message)
				}
			}
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		for _, c := range v.Channels {
			for _, cl := range v.Cells(c) {
				if strings.ContainsAny(cl.Key+cl.Live+cl.Error, "\n\r\x1b") {
					t.Fatalf("cell %+v", cl)
				}
			}
		}
	})
}
