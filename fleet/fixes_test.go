package fleet

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// collisionWith is collision's finding with the given suggestions (a JSON
// array).
func collisionWith(suggestions string) string {
	c := collision("0x6c014001")
	return strings.TrimSuffix(c, "}]") + `,"suggestions":` + suggestions + "}]"
}

// TestFixes: the rekey commands a host's report suggests are its per-host
// fixes, cleaned, at most MaxFixes; proj suggestions and commands that
// are not ipckeys rekey are not kept; a host without suggestions has none.
func TestFixes(t *testing.T) {
	dir := t.TempDir()
	a := host{label: "a", orders: 0x1E64001, audit: 0x1EC4001, findings: collisionWith(`[` +
		`{"kind":"rekey","channel":"audit","path":"/srv/app/audit.key","command":"ipckeys rekey /srv/app/audit.key"},` +
		`{"kind":"proj","channel":"audit","path":"/srv/app/audit.key","proj":107,"key":"0x6b014001"},` +
		`{"kind":"rekey","path":"/srv/app/x\u001b[2J.key","command":"ipckeys rekey /srv/app/x\u001b[2J.key"},` +
		`{"kind":"rekey","path":"/srv/app/y.key","command":"rm -rf /srv/app"}]`)}
	b := host{label: "b", orders: 0x1E64001, audit: 0x1EC4001, findings: collision("0x6c014001")}
	write(t, filepath.Join(dir, "a.json"), a.json())
	write(t, filepath.Join(dir, "b.json"), b.json())
	v := merge(t, Options{}, dir)
	if len(v.Findings) != 1 {
		t.Fatalf("findings %+v", v.Findings)
	}
	var got []string
	for _, on := range v.Findings[0].PerHost {
		got = append(got, fmt.Sprintf("%s %q", on.Host, on.Fixes))
	}
	want := []string{
		`a ["ipckeys rekey /srv/app/audit.key" "\"ipckeys rekey /srv/app/x\\x1b[2J.key\""]`,
		`b []`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per host fixes:\n got %q\nwant %q", got, want)
	}
}

// TestFixesCapped: of many rekey suggestions, the first MaxFixes are kept.
func TestFixesCapped(t *testing.T) {
	var s []string
	var want []string
	for i := range MaxFixes + 3 {
		cmd := fmt.Sprintf("ipckeys rekey /srv/app/k%02d.key", i)
		s = append(s, fmt.Sprintf(`{"kind":"rekey","path":"/srv/app/k%02d.key","command":%q}`, i, cmd))
		if i < MaxFixes {
			want = append(want, cmd)
		}
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), host{label: "a", orders: 0x1E64001, audit: 0x1EC4001, findings: collisionWith("[" + strings.Join(s, ",") + "]")}.json())
	v := merge(t, Options{}, dir)
	if len(v.Findings) != 1 || len(v.Findings[0].PerHost) != 1 || !reflect.DeepEqual(v.Findings[0].PerHost[0].Fixes, want) {
		t.Errorf("findings %+v, want fixes %q", v.Findings, want)
	}
}

// TestFixesMalformed: suggestions that are not a list of objects make the
// report malformed, as any field of the wrong type does.
func TestFixesMalformed(t *testing.T) {
	for _, sg := range []string{`"ipckeys rekey /x"`, `{}`, `[{"kind":1}]`, `[1]`} {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "a.json"), host{label: "a", orders: 0x1E64001, audit: 0x1EC4001, findings: collisionWith(sg)}.json())
		ls := mustLoad(t, []string{dir}, nil)
		if len(ls) != 1 || ls[0].Report != nil || ls[0].Code != ReasonMalformed {
			t.Errorf("suggestions %s: %+v", sg, ls)
		}
	}
	// null is no suggestions.
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), host{label: "a", orders: 0x1E64001, audit: 0x1EC4001, findings: collisionWith("null")}.json())
	v := merge(t, Options{}, dir)
	if len(v.Findings) != 1 || v.Findings[0].PerHost[0].Fixes != nil {
		t.Errorf("null suggestions: %+v", v.Findings)
	}
}
