package ignore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ignore"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

func TestParse(t *testing.T) {
	src := `# suppressions
key-in-use   orders      reason="blue/green: the old instance holds it"  expires=2026-12-31
stale-object 0x00ABCDEF  reason="kept for the crash dump"   # why not
unstable-filesystem "/dev/shm/my key" reason="rebuilt at \"boot\""
`
	rules, err := ignore.Parse(strings.NewReader(src), "x.ignore")
	if err != nil {
		t.Fatal(err)
	}
	k := int32(0x00abcdef)
	want := []ignore.Rule{
		{Code: "key-in-use", Target: "orders", Reason: "blue/green: the old instance holds it", Expires: "2026-12-31", File: "x.ignore", Line: 2},
		{Code: "stale-object", Target: "0x00ABCDEF", Key: &k, Reason: "kept for the crash dump", File: "x.ignore", Line: 3},
		{Code: "unstable-filesystem", Target: "/dev/shm/my key", Reason: `rebuilt at "boot"`, File: "x.ignore", Line: 4},
	}
	if fmt.Sprintf("%+v", deref(rules)) != fmt.Sprintf("%+v", deref(want)) {
		t.Errorf("Parse:\n got %+v\nwant %+v", deref(rules), deref(want))
	}
}

// deref prints keys by value so rules compare by content.
func deref(rs []ignore.Rule) []string {
	var out []string
	for _, r := range rs {
		k := "-"
		if r.Key != nil {
			k = ftok.Hex(*r.Key)
		}
		r.Key = nil
		out = append(out, fmt.Sprintf("%+v key=%s", r, k))
	}
	return out
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"key-in-use orders", `f:1: 2 field(s): write CODE TARGET reason="why" [expires=YYYY-MM-DD]`},
		{"key-in-use orders expires=2027-01-01", `f:1: a suppression needs a reason: write CODE TARGET reason="why" [expires=YYYY-MM-DD]`},
		{`key-in-use orders reason=""`, `f:1: a suppression needs a reason: write CODE TARGET reason="why" [expires=YYYY-MM-DD]`},
		{`key-colision orders reason="x"`, `f:1: unknown finding code "key-colision": see the list in 'ipckeys help scan' or the README`},
		{`key-in-use orders reason="x" expires=31.12.2026`, `f:1: expires="31.12.2026" is not a date: write YYYY-MM-DD`},
		{`key-in-use orders reason="x" until=2026-01-01`, `f:1: unknown field "until": write CODE TARGET reason="why" [expires=YYYY-MM-DD]`},
		{`key-in-use orders reason="x`, `f:1: unterminated quote: close the reason with "`},
		{`key-in-use 0xzz reason="x"`, `f:1: target key "0xzz" is neither 0x hex nor a decimal number (write it as ipcs prints it, 0x6c01abcd, or as /proc/sysvipc does, -559038737)`},
		{`key-in-use orders because`, `f:1: "because" is not name=value: write CODE TARGET reason="why" [expires=YYYY-MM-DD]`},
	}
	for _, tc := range tests {
		_, err := ignore.Parse(strings.NewReader("# c\n"[:0]+tc.line+"\n"), "f")
		var ie *ignore.Error
		if err == nil || err.Error() != tc.want || !errors.As(err, &ie) {
			t.Errorf("Parse(%q):\n got %v\nwant %s", tc.line, err, tc.want)
		}
	}
}

func TestApply(t *testing.T) {
	f := ipcscan.KeyFile{Path: "/etc/app/b.conf", File: ftok.File{Dev: 0x801, Ino: 0x1E64001}}
	entries := []audit.Entry{{Channel: &manifest.Channel{Name: "orders"}, Path: f.Path, Proj: 'l', HasProj: true, File: f}}
	k := int32(0x6c014001)
	stale := int32(0x00abcdef)
	findings := []audit.Finding{
		{Code: audit.KeyInUse, Severity: audit.Error, Key: &k, Entries: []int{0}},
		{Code: audit.StaleObject, Severity: audit.Warning, Key: &stale, Object: &audit.ObjectRef{Facility: "shm", ID: 3, Key: stale}},
		{Code: audit.NattchMismatch, Severity: audit.Error, Key: &k, Entries: []int{0}},
	}
	rules, err := ignore.Parse(strings.NewReader(`key-in-use orders reason="old instance" expires=2026-12-31
stale-object 0x00abcdef reason="crash dump"
nattch-mismatch /etc/app/b.conf reason="expired" expires=2026-11-20
key-collision nothing reason="stale entry"
`), "i")
	if err != nil {
		t.Fatal(err)
	}
	got := ignore.Apply(findings, entries, rules, "2026-11-21")
	var lines []string
	for _, f := range got {
		s := "-"
		if f.Suppressed != nil {
			s = fmt.Sprintf("%s:%d %q", f.Suppressed.File, f.Suppressed.Line, f.Suppressed.Reason)
		}
		lines = append(lines, f.Code+" "+s)
	}
	want := []string{
		`key-in-use i:1 "old instance"`,
		`stale-object i:2 "crash dump"`,
		`nattch-mismatch -`, // its suppression expired yesterday
		`suppression-expired -`,
		`suppression-unused -`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Apply:\n got %q\nwant %q", lines, want)
	}
	if w := got[3].Where; w == nil || w.File != "i" || w.Line != 3 {
		t.Errorf("expired finding's place = %+v, want i:3", w)
	}
	// The last day of an entry still counts.
	again := ignore.Apply(append([]audit.Finding(nil), findings[0]), entries, rules[:1], "2026-12-31")
	if again[0].Suppressed == nil || len(again) != 1 {
		t.Errorf("on its expiry date the entry should still suppress: %+v", again)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`key-in-use orders reason="old instance" expires=2026-12-31`)
	f.Add(`stale-object 0x00abcdef reason="a \"quoted\" word" # c`)
	f.Add(`"" "" reason=`)
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ignore.Parse(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		for _, r := range rules {
			if r.Reason == "" || audit.RuleFor(r.Code).Summary == "" || r.Line < 1 {
				t.Fatalf("accepted a bad rule %+v", r)
			}
		}
	})
}

// TestApplySockets: descriptor findings are suppressed by their endpoint or
// by a program involved, never by pid or inode.
func TestApplySockets(t *testing.T) {
	listener := audit.Finding{Code: audit.InheritedListener, Severity: audit.Error, Socket: &audit.SocketRef{
		Proto: "tcp", Local: "127.0.0.1:5555", Inode: 77,
		Holders: []audit.SocketHolder{{PID: 100, FD: 3, Exe: "/usr/sbin/a"}, {PID: 230, FD: 3, Exe: "/usr/sbin/b (deleted)"}}}}
	leak := audit.Finding{Code: audit.CloseWaitLeak, Severity: audit.Warning, Socket: &audit.SocketRef{PID: 300, Comm: "srv", Exe: "/usr/sbin/srv"}}
	for target, want := range map[string][2]bool{
		"tcp:5555":           {true, false},
		"tcp:127.0.0.1:5555": {true, false},
		"udp:5555":           {false, false},
		"/usr/sbin/b":        {true, false},
		"/usr/sbin/srv":      {false, true},
		"socket:[77]":        {false, false},
	} {
		code := audit.InheritedListener
		for i, f := range []audit.Finding{listener, leak} {
			if i == 1 {
				code = audit.CloseWaitLeak
			}
			rules, err := ignore.Parse(strings.NewReader(code+" "+target+` reason="known"`+"\n"), "f")
			if err != nil {
				t.Fatal(err)
			}
			out := ignore.Apply([]audit.Finding{f}, nil, rules, "2026-01-01")
			if got := out[0].Suppressed != nil; got != want[i] {
				t.Errorf("%s %s: suppressed %v, want %v", code, target, got, want[i])
			}
		}
	}
}
