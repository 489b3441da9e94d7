package report_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/hostinfo"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
)

// encodingJSON is the report as encoding/json writes it from r.Scan(): the
// definition the streaming writer must meet byte for byte.
func encodingJSON(t testing.TB, r *report.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r.Scan()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func streamed(t testing.TB, r *report.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteScanJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// oddStrings are what JSON escaping must get right: quotes, backslashes,
// control bytes, invalid UTF-8, U+2028 and U+2029, HTML characters (not
// escaped here), multi-byte characters.
var oddStrings = []string{"", "/etc/app/a.conf", `q"uote`, `back\slash`, "new\nline", "tab\t\r\b\f", "\x00\x01\x1f\x7f",
	"bad\xff\xfe", "cut\xe2\x82", "sep\u2028\u2029", "<html>&amp;", "é ü 日本", "\U0001F600", "a b"}

func randomResult(r *rand.Rand, n int) *report.Result {
	pick := func() string { return oddStrings[r.IntN(len(oddStrings))] }
	entries := make([]audit.Entry, n)
	for i := range entries {
		e := audit.Entry{Path: pick(), Proj: r.IntN(600) - 100, HasProj: r.IntN(4) != 0,
			File: ipcscan.KeyFile{File: ftok.File{Dev: r.Uint64N(1 << 20), Ino: r.Uint64()}, FSType: pick()}}
		if e.Path == "" {
			e.Path = "p"
		}
		if r.IntN(5) == 0 {
			e.Pattern = pick()
		}
		if r.IntN(6) == 0 {
			e.Err = errors.New(pick())
		}
		if r.IntN(7) == 0 {
			e.Err = fs.ErrNotExist
		}
		if r.IntN(5) == 0 {
			e.Static = true
		}
		if r.IntN(3) == 0 {
			c := &manifest.Channel{Name: pick(), File: pick(), Line: r.IntN(3), Type: []string{"", "shm", "msg"}[r.IntN(3)], Owner: pick()}
			if r.IntN(3) == 0 {
				c.Setting = pick() + "x" // a config setting's channel
			}
			if r.IntN(2) == 0 {
				c.Nattch = &manifest.Range{Min: r.IntN(3), Max: r.IntN(4) - 1}
			}
			e.Channel, e.HasProj = c, true
		}
		entries[i] = e
	}
	findings := make([]audit.Finding, r.IntN(2*n+1))
	for i := range findings {
		f := audit.Finding{Code: pick(), Severity: audit.Severity(1 + r.IntN(3)), Message: pick() + pick()}
		if r.IntN(2) == 0 {
			k := int32(r.Uint32())
			f.Key = &k
		}
		for range r.IntN(4) {
			if n > 0 {
				f.Entries = append(f.Entries, r.IntN(n))
			}
		}
		if r.IntN(4) == 0 {
			f.Object = &audit.ObjectRef{Facility: "shm", ID: r.IntN(100), Key: int32(r.Uint32())}
		}
		if r.IntN(4) == 0 {
			f.Suppressed = &audit.Suppression{Reason: pick(), Expires: pick(), File: pick(), Line: r.IntN(3)}
		}
		if r.IntN(4) == 0 {
			f.Where = &audit.Place{File: pick(), Line: r.IntN(3)}
		}
		switch r.IntN(6) {
		case 0:
			f.Socket = &audit.SocketRef{Proto: "tcp", Local: pick(), State: "LISTEN", Inode: r.Uint64(), Queue: r.IntN(5) - 1}
			for range r.IntN(3) {
				f.Socket.Holders = append(f.Socket.Holders, audit.SocketHolder{PID: r.IntN(9999), FD: r.IntN(9), CloseOnExec: r.IntN(2) == 0, Comm: pick(), Exe: pick()})
			}
		case 1:
			f.Socket = &audit.SocketRef{PID: r.IntN(9999), Comm: pick(), Exe: pick()}
		}
		if n > 0 && r.IntN(3) == 0 {
			for range 1 + r.IntN(4) {
				f.Suggestions = append(f.Suggestions, audit.Suggestion{Entry: r.IntN(n), Proj: r.IntN(256), Key: int32(r.Uint32())})
			}
		}
		findings[i] = f
	}
	live := report.LiveSummary{Reason: pick()}
	if r.IntN(2) == 0 {
		live = report.LiveSummary{Checked: true, Source: pick(), Namespace: r.Uint64(),
			Attachments: &report.Completeness{Known: true, Processes: r.IntN(9), Note: pick()}}
	}
	res := &report.Result{Entries: entries, Findings: findings, Live: live, FailOn: audit.Severity(1 + r.IntN(4))}
	if r.IntN(2) == 0 {
		res.Host = &hostinfo.Host{Label: pick(), Hostname: pick(), MachineID: pick(), BootID: pick(), Time: pick(), IPCNamespace: r.Uint64()}
	}
	res.Static = r.IntN(4) == 0
	for range r.IntN(3) {
		in := report.Input{Path: pick(), TakenAs: "key file", Why: pick()}
		if r.IntN(2) == 0 {
			proj := r.IntN(256)
			in = report.Input{Path: pick(), TakenAs: "config", Format: "ini", Settings: []report.InputSetting{{Name: pick(), Line: r.IntN(9), Value: pick(), Proj: &proj}}}
		}
		res.Inputs = append(res.Inputs, in)
	}
	return res
}

// TestWriteScanJSONMatchesEncodingJSON holds the streaming writer against
// encoding/json on the fixture report and on random reports full of
// strings that need escaping, small and large (pieces encoded in
// parallel), with one CPU and with several.
func TestWriteScanJSONMatchesEncodingJSON(t *testing.T) {
	if got, want := streamed(t, fixtureResult(t)), encodingJSON(t, fixtureResult(t)); !bytes.Equal(got, want) {
		t.Fatalf("fixture report:\n got %s\nwant %s", got, want)
	}
	empty := &report.Result{FailOn: audit.Error}
	if got, want := streamed(t, empty), encodingJSON(t, empty); !bytes.Equal(got, want) {
		t.Fatalf("empty report:\n got %s\nwant %s", got, want)
	}
	r := rand.New(rand.NewPCG(5, 8))
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		for round := range 300 {
			n := r.IntN(20)
			if round%50 == 0 {
				n = 5000 // many pieces
			}
			res := randomResult(r, n)
			if got, want := streamed(t, res), encodingJSON(t, res); !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Fatalf("GOMAXPROCS %d round %d: differs at byte %d:\n got …%s\nwant …%s", procs, round, i,
					got[max(0, i-200):min(len(got), i+100)], want[max(0, i-200):min(len(want), i+100)])
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

// failingWriter fails once it has taken limit bytes.
type failingWriter struct{ n, limit int }

var errFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, errFull
	}
	w.n += len(p)
	return len(p), nil
}

// TestWriteScanJSONWriteError: a failed write ends the report with that
// error, whatever piece it hits.
func TestWriteScanJSONWriteError(t *testing.T) {
	res := randomResult(rand.New(rand.NewPCG(1, 1)), 6000)
	for _, limit := range []int{0, 10, 1 << 16, 1 << 20} {
		if err := report.WriteScanJSON(&failingWriter{limit: limit}, res); !errors.Is(err, errFull) {
			t.Errorf("limit %d: %v, want the write error", limit, err)
		}
	}
}

func FuzzWriteScanJSON(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s, s, 108)
	}
	f.Fuzz(func(t *testing.T, path, message string, proj int) {
		if path == "" {
			return
		}
		e := audit.Entry{Path: path, Pattern: message, Proj: proj, HasProj: true,
			File:    ipcscan.KeyFile{File: ftok.File{Dev: 0x801, Ino: uint64(proj)}, FSType: path},
			Channel: &manifest.Channel{Name: message, File: path, Line: 1, Owner: message}}
		k := int32(proj)
		res := &report.Result{Entries: []audit.Entry{e, {Path: message + "x", Err: errors.New(message)}},
			Findings: []audit.Finding{{Code: message, Severity: audit.Warning, Key: &k, Message: message, Entries: []int{0, 1},
				Where: &audit.Place{File: path, Line: 2}, Suggestions: []audit.Suggestion{{Entry: 0, Proj: proj, Key: k}}}},
			Live: report.LiveSummary{Reason: message}, FailOn: audit.Error}
		if got, want := streamed(t, res), encodingJSON(t, res); !bytes.Equal(got, want) {
			t.Fatalf("differs:\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkWriteScanJSON writes the report of 100,000 paths with 8,192
// collisions of 12 files each, as bench/scale.sh's scan does.
func BenchmarkWriteScanJSON(b *testing.B) {
	const n = 100_000
	entries := make([]audit.Entry, n)
	for i := range entries {
		p := fmt.Sprintf("/srv/keys/f%d", i)
		entries[i] = audit.Entry{Path: p, Proj: 'l', HasProj: true,
			File: ipcscan.KeyFile{Path: p, File: ftok.File{Dev: 0xfe00, Ino: uint64(1<<20 + i)}, FSType: "ext4"}}
	}
	var findings []audit.Finding
	for g := 0; g < 8192; g++ {
		var idx []int
		for i := g; i < n; i += 8192 {
			idx = append(idx, i)
		}
		k := entries[idx[0]].File.Key('l')
		findings = append(findings, audit.Finding{Code: audit.KeyCollision, Severity: audit.Error, Key: &k, Entries: idx,
			Message: fmt.Sprintf("%d files get the same key 0x%08x: give one of them another proj id or key file", len(idx), uint32(k))})
	}
	res := &report.Result{Entries: entries, Findings: findings, FailOn: audit.Error}
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		var w countingWriter
		if err := report.WriteScanJSON(&w, res); err != nil {
			b.Fatal(err)
		}
		size = w.n
	}
	b.SetBytes(size)
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
