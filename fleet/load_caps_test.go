package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/audit"
)

func mustLoad(t *testing.T, args []string, stdin io.Reader) []Loaded {
	t.Helper()
	ls, err := Load(args, stdin)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// sparse makes a file of size bytes that takes no disk.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// lowCaps sets small caps for one test: the same code, at a cost a unit
// test can pay (cmd/ipckeys tests the binary at the real caps).
func lowCaps(t *testing.T, report, stdin, dir int64) {
	old := caps
	caps.report, caps.stdin, caps.dir = report, stdin, dir
	t.Cleanup(func() { caps = old })
}

// TestReportFileCap: a report file over its cap is an error naming it,
// whether its size says so (a sparse 2 GiB file) or only reading does (a
// file that grows, here one whose size is not looked at).
func TestReportFileCap(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "h07.json")
	sparse(t, big, 2<<30)
	want := big + ": larger than the 256 MiB a report file may have; check what wrote it (a scan report of 100,000 paths is about 130 MB)"
	for _, arg := range []string{big, dir} {
		ls, err := Load([]string{arg}, nil)
		var le *LimitError
		if !errors.As(err, &le) || err.Error() != want || ls != nil {
			t.Errorf("Load(%s): %v, %v\nwant %s", arg, ls, err, want)
		}
	}
	// At the cap exactly: read (zeros: not JSON at the first byte).
	sparse(t, big, MaxReportBytes)
	ls, err := Load([]string{big}, nil)
	if err != nil || len(ls) != 1 || ls[0].Failed != `not a JSON report: invalid character '\x00' looking for beginning of value` {
		t.Errorf("at the cap: %+v, %v", ls, err)
	}
	// Reading alone: a byte past the cap is the error, the cap is not.
	over := &LimitError{Source: big, Limit: "over", Fix: "fix"}
	doc := []byte(`{"schema":"ipckeys/scan/v1","x":[""]}`)
	for size, want := range map[int64]error{int64(len(doc)): nil, int64(len(doc)) - 1: over} {
		c := &cappedReader{r: bytes.NewReader(doc), total: size, over: over}
		if ls, err := parse(c, big, "h07", c, newTable()); err != want || (err == nil && (len(ls) != 1 || ls[0].Report == nil)) {
			t.Errorf("cap %d: %+v, %v", size, ls, err)
		}
	}
	lowCaps(t, 1<<20, 4<<20, 10)
	c := &cappedReader{r: &endless{head: []byte(`{"schema":"ipckeys/scan/v1","x":[`), unit: unit}, total: 1 << 20, over: over}
	if _, err := parse(c, big, "h07", c, newTable()); err != over || c.read != 1<<20 {
		t.Errorf("endless: %v after %d bytes", err, c.read)
	}
}

// endless is a report that never ends: valid JSON as far as it goes,
// unit after unit, in a field a report does not have (skipped, not
// kept, so that the test holds little memory).
type endless struct {
	head, unit []byte
	at         int // in unit
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	if len(e.head) > 0 {
		n = copy(p, e.head)
		e.head = e.head[n:]
	}
	for n < len(p) {
		m := copy(p[n:], e.unit[e.at:])
		n += m
		e.at = (e.at + m) % len(e.unit)
	}
	return n, nil
}

// unit is a string of 4 KiB and a comma.
var unit = []byte(`"` + strings.Repeat("a", 4<<10) + `",`)

// TestStdinCaps: standard input has a cap per document and one in all;
// /dev/zero is not JSON at its first byte.
func TestStdinCaps(t *testing.T) {
	lowCaps(t, 1<<20, 4<<20, 10)
	ls, err := Load([]string{"-"}, &endless{head: []byte(host{label: "a"}.json() + `{"schema":"ipckeys/scan/v1","x":[`), unit: unit})
	want := "<stdin> document 2: larger than the 1 MiB a report may have; check what wrote it (a scan report of 100,000 paths is about 130 MB)"
	if err == nil || err.Error() != want || ls != nil {
		t.Errorf("endless document: %v, %v\nwant %s", ls, err, want)
	}
	// Documents of 900 KiB one after another: the fifth passes 4 MiB.
	stream := func(docs int) io.Reader {
		var rs []io.Reader
		for range docs {
			units := io.LimitReader(&endless{unit: unit}, int64(900<<10/len(unit)*len(unit)))
			rs = append(rs, strings.NewReader(`{"schema":"ipckeys/scan/v1","x":[`), units, strings.NewReader(`""]}`))
		}
		return io.MultiReader(rs...)
	}
	ls, err = Load([]string{"-"}, stream(6))
	want = "<stdin>: larger than the 4 MiB standard input may have; give the reports as files or directories"
	if err == nil || err.Error() != want || ls != nil {
		t.Errorf("endless stream: %d loaded, %v\nwant %s", len(ls), err, want)
	}
	ls, err = Load([]string{"-"}, stream(4))
	if err != nil || len(ls) != 4 {
		t.Errorf("four documents: %d loaded, %v", len(ls), err)
	}
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	ls, err = Load([]string{"-"}, zero)
	if err != nil || len(ls) != 1 || ls[0].Failed != `not a JSON report: invalid character '\x00' looking for beginning of value` {
		t.Errorf("/dev/zero: %+v, %v", ls, err)
	}
}

// TestDirCap: a directory has a cap on its reports and markers; other
// files do not count.
func TestDirCap(t *testing.T) {
	lowCaps(t, 1<<20, 4<<20, 1000)
	dir := t.TempDir()
	for i := range 1000 {
		name := fmt.Sprintf("h%06d.json", i)
		if i%2 == 1 {
			name = fmt.Sprintf("h%06d.failed", i)
		}
		write(t, filepath.Join(dir, name), "")
		write(t, filepath.Join(dir, fmt.Sprintf("notes%d.txt", i)), "")
	}
	ls, err := Load([]string{dir}, nil)
	if err != nil || len(ls) != 1000 {
		t.Fatalf("at the cap: %d loaded, %v", len(ls), err)
	}
	write(t, filepath.Join(dir, "one-more.failed"), "")
	ls, err = Load([]string{dir}, nil)
	want := dir + ": more than the 1,000 reports and failure markers a directory may hold; give the reports in several directories"
	if err == nil || err.Error() != want || ls != nil {
		t.Errorf("over the cap: %d loaded, %v", len(ls), err)
	}
	if got := count(MaxDirReports); got != "100,000" {
		t.Errorf("count: %s", got)
	}
	if got := size(MaxStdinBytes) + ", " + size(MaxReportBytes) + ", " + size(1000); got != "1 GiB, 256 MiB, 1000 bytes" {
		t.Errorf("size: %s", got)
	}
}

// TestDecodeAsWhole: a report read a piece at a time gives what decoding
// it whole gives, report or error, with the same words.
func TestDecodeAsWhole(t *testing.T) {
	docs := []string{
		host{label: "a", findings: collision("0x6c010001")}.json(),
		`{"schema":"ipckeys/scan/v1","entries":5}`,
		`{"schema":"ipckeys/scan/v1","entries":{"a":[1]}}`,
		`{"schema":"ipckeys/scan/v1","entries":"x","host":{"label":"a"}}`,
		`{"schema":"ipckeys/scan/v1","entries":[{"line":"2"}],"host":{"label":"a"}}`,
		`{"schema":"ipckeys/scan/v1","entries":[7],"host":{"label":"a"}}`,
		`{"schema":"ipckeys/scan/v1","findings":[{"entries":[true]}],"host":{"label":"a"}}`,
		`{"schema":"ipckeys/scan/v1","host":[],"live":{"checked":1}}`,
		`{"schema":"ipckeys/scan/v1","host":{"label":"a","time":5}}`,
		`{"schema":"ipckeys/scan/v1","static":"yes","host":{"label":"a"}}`,
		`{"SCHEMA":"ipckeys/scan/v1","Host":{"label":"a"},"ENTRIES":[{"name":"x"}],"ſtatic":true}`,
		`{"schema":"ipckeys/scan/v1","host":{"label":"a"},"entries":[{"name":"x"}],"entries":null}`,
		`{"schema":"ipckeys/scan/v1","host":{"label":"a"},"entries":[{"name":"x"}],"entries":[]}`,
		`{"schema":"ipckeys/scan/v1","host":{"label":"a"},"host":null}`,
		`{"entries":[1],"schema":"ipckeys/fleet/v1"}`,
		`{"schema":5,"schema":"ipckeys/scan/v1"}`,
		`{"schema":"ipckeys/ls/v1","schema":null}`,
		`{"schema":"ipckeys/scan/v1","host":{"label":"a"},"summary":{"x":[[{}]]},"entries":[]}`,
		`null`, `5`, `"x"`, `[[1]]`, `[null, {"schema":"ipckeys/scan/v1","host":{"label":"b"}}]`,
	}
	for _, d := range docs {
		got := entriesOf(Parse(strings.NewReader(d), "r", ""))
		want := entriesOf(parseWhole(t, d))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", d, show(got), show(want))
		}
	}
}

// loadedEntries is a Loaded with its report's entries as Merge takes
// them, for comparing the two decoders.
type loadedEntries struct {
	Loaded
	Entries [][]string
}

func entriesOf(ls []Loaded) []loadedEntries {
	var out []loadedEntries
	for _, l := range ls {
		le := loadedEntries{Loaded: l}
		if l.Report != nil {
			r := *l.Report
			hc := r.take()
			for _, rec := range hc.recs {
				a := hc.tab.attrs[rec.attr]
				meta := hc.tab.metas[a.meta]
				a.meta = 0 // an index in its table: the meta itself is compared
				le.Entries = append(le.Entries, []string{fmt.Sprintf("%+v %+v", meta, a), hc.tab.keyOf(&rec), fmt.Sprint(rec.ino(), rec.bits)})
			}
			r.Entries, r.recs, r.tab, r.hasRecs = nil, nil, nil, false
			le.Report = &r
		}
		out = append(out, le)
	}
	return out
}

// TestRepeatedEntries: of an entries field given twice, the last is taken
// whole (encoding/json would decode its elements into the first's).
func TestRepeatedEntries(t *testing.T) {
	d := `{"schema":"ipckeys/scan/v1","host":{"label":"a"},"entries":[{"name":"x","path":"/p"}],"entries":[{"name":"y"}]}`
	got := entriesOf(Parse(strings.NewReader(d), "r", ""))
	want := entriesOf(Parse(strings.NewReader(`{"schema":"ipckeys/scan/v1","host":{"label":"a"},"entries":[{"name":"y"}]}`), "r", ""))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func show(ls []loadedEntries) string {
	b, _ := json.Marshal(ls)
	return string(b)
}

// parseWhole is how one JSON document is read decoding it whole (as this
// package read reports before it streamed them): the oracle of the
// streaming decoder.
func parseWhole(t *testing.T, d string) []Loaded {
	t.Helper()
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(d), &raw); err != nil {
		t.Fatalf("%s: %v", d, err)
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] != '[' {
		return []Loaded{parseWholeDoc(raw, "r document 1")}
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(raw, &docs); err != nil {
		t.Fatal(err)
	}
	var out []Loaded
	for i, doc := range docs {
		out = append(out, parseWholeDoc(doc, fmt.Sprintf("r document 1[%d]", i)))
	}
	return out
}

func parseWholeDoc(raw json.RawMessage, source string) Loaded {
	fail := func(code, reason string) Loaded {
		return Loaded{Name: Clean(source), Source: source, Code: code, Failed: reason}
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fail(ReasonNotAReport, "not an ipckeys scan report: not a JSON object")
	}
	switch {
	case head.Schema == nil:
		return fail(ReasonNotAReport, "not an ipckeys scan report: no schema field")
	case *head.Schema == Schema:
		return Loaded{Name: Clean(source), Source: source, Skipped: "a fleet report, not a host's"}
	case *head.Schema != ScanSchema:
		return fail(ReasonNotAReport, "schema "+*head.Schema)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fail(ReasonMalformed, "malformed "+ScanSchema+" report: "+err.Error())
	}
	if rep.Host == nil || rep.Host.Name() == "" {
		return fail(ReasonNoHost, "the report names no host (ipckeys releases before host was added to "+ScanSchema+"): give each report its own file, HOST.json, or upgrade ipckeys on the host")
	}
	return Loaded{Name: Clean(rep.Host.Name()), Source: source, Report: &rep}
}

// TestFutureReports: a report dated in the future is not checked, and
// never hides a current report of its host.
func TestFutureReports(t *testing.T) {
	dir := t.TempDir()
	future := filepath.Join(dir, "a-future.json")
	current := filepath.Join(dir, "a-current.json")
	write(t, future, host{label: "a", machine: "m1", time: "9999-12-31T00:00:00Z", orders: 1, audit: 2}.json())
	write(t, current, host{label: "a", machine: "m1", time: "2026-11-21T20:20:00Z", orders: 1, audit: 2, findings: collision("0x6c010001")}.json())
	write(t, filepath.Join(dir, "b.json"), host{label: "b", time: "2026-11-21T20:34:59Z", orders: 1, audit: 2}.json())
	write(t, filepath.Join(dir, "c.json"), host{label: "c", time: "2026-11-21T20:35:01Z", orders: 1, audit: 2}.json())
	v := merge(t, Options{MaxAge: 30 * time.Minute, MaxSkew: 5 * time.Minute}, dir)
	var got []string
	for _, h := range v.Hosts {
		got = append(got, fmt.Sprintf("%s|%v|%s|%s|%v", h.Name, h.Checked, h.Source, h.Reason, h.Failing))
	}
	want := []string{
		"a|true|" + current + "||true",
		"b|true|" + filepath.Join(dir, "b.json") + "||false",
		"c|false|" + filepath.Join(dir, "c.json") + "|dated in the future (2026-11-21T20:35:01Z, 5m1s ahead of this machine's clock, more than --max-skew 5m0s): correct the clock of the host or of this machine|false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hosts:\n got %q\nwant %q", got, want)
	}
	wantNotes := []string{"a: 2 reports; the newest (" + current + ") is used, not " + future + " (dated in the future, 9999-12-31T00:00:00Z)"}
	if !reflect.DeepEqual(v.Notes, wantNotes) {
		t.Errorf("notes:\n got %q\nwant %q", v.Notes, wantNotes)
	}
	if v.Summary.ExitStatus != 2 || v.Summary.Failing != 1 || v.Summary.Unchecked != 1 {
		t.Errorf("summary %+v", v.Summary)
	}
	// The future report alone: not checked, with or without --max-age.
	for _, maxAge := range []time.Duration{0, 30 * time.Minute} {
		v = merge(t, Options{MaxAge: maxAge, MaxSkew: 5 * time.Minute}, future)
		h := v.Hosts[0]
		if h.Checked || h.Reason != "dated in the future (9999-12-31T00:00:00Z, more than 292 years ahead of this machine's clock, more than --max-skew 5m0s): correct the clock of the host or of this machine" ||
			v.Summary.ExitStatus != 2 {
			t.Errorf("--max-age %s: %+v, exit %d", maxAge, h, v.Summary.ExitStatus)
		}
		v = merge(t, Options{MaxAge: maxAge, MaxSkew: 5 * time.Minute, AllowUnchecked: true}, future)
		if v.Summary.ExitStatus != 0 {
			t.Errorf("--max-age %s --allow-unchecked: exit %d", maxAge, v.Summary.ExitStatus)
		}
	}
	// Both in the future: the newest is taken, and is not checked.
	write(t, current, host{label: "a", machine: "m1", time: "2030-01-01T00:00:00Z", orders: 1, audit: 2}.json())
	v = merge(t, Options{FailOn: audit.Error}, future, current)
	if h := v.Hosts[0]; h.Checked || h.Source != future || !strings.HasPrefix(h.Reason, "dated in the future (9999-12-31T00:00:00Z, ") {
		t.Errorf("all in the future: %+v", h)
	}
}
