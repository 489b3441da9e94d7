package fleet

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStatusAndReasonCode: every way a host is or is not checked has its
// status and its reason code.
func TestStatusAndReasonCode(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "pass.json"), host{label: "pass", orders: 0x1E64001, audit: 0x1E64002}.json())
	write(t, filepath.Join(dir, "fail.json"), host{label: "fail", orders: 0x1E64001, audit: 0x1EC4001, findings: collision("0x6c010001")}.json())
	write(t, filepath.Join(dir, "scan.failed"), "ipckeys: /etc/app.manifest:1: field 3 (proj): bad\n")
	write(t, filepath.Join(dir, "down.failed"), "\nunreachable: Failed to connect to the host via ssh: Connection refused\n")
	write(t, filepath.Join(dir, "empty.json"), "")
	write(t, filepath.Join(dir, "garbage.json"), "{nope")
	write(t, filepath.Join(dir, "ls.json"), `{"schema":"ipckeys/ls/v1"}`)
	write(t, filepath.Join(dir, "bad.json"), `{"schema":"ipckeys/scan/v1","entries":5,"host":{"label":"bad"}}`)
	write(t, filepath.Join(dir, "old.json"), host{label: "old", time: "2026-11-20T00:00:00Z"}.json())
	write(t, filepath.Join(dir, "ahead.json"), host{label: "ahead", time: "9999-12-31T00:00:00Z"}.json())
	write(t, filepath.Join(dir, "twin-1.json"), host{label: "twin", machine: "m1"}.json())
	write(t, filepath.Join(dir, "twin-2.json"), host{label: "twin", machine: "m2"}.json())
	v := merge(t, Options{MaxAge: 24 * time.Hour, Expected: []string{"missing"}}, dir)
	want := map[string][2]string{
		"pass":    {StatusPass, ""},
		"fail":    {StatusFail, ""},
		"scan":    {StatusUnchecked, ReasonScanFailed},
		"down":    {StatusUnchecked, ReasonUnreachable},
		"empty":   {StatusUnchecked, ReasonEmpty},
		"garbage": {StatusUnchecked, ReasonMalformed},
		"ls":      {StatusUnchecked, ReasonNotAReport},
		"bad":     {StatusUnchecked, ReasonMalformed},
		"old":     {StatusUnchecked, ReasonStale},
		"ahead":   {StatusUnchecked, ReasonFutureDated},
		"twin":    {StatusUnchecked, ReasonDuplicate},
		"missing": {StatusUnchecked, ReasonNoReport},
	}
	if len(v.Hosts) != len(want) {
		t.Errorf("%d hosts, want %d", len(v.Hosts), len(want))
	}
	for _, h := range v.Hosts {
		w, ok := want[h.Name]
		if !ok {
			t.Errorf("unexpected host %s", h.Name)
			continue
		}
		if h.Status != w[0] || h.ReasonCode != w[1] {
			t.Errorf("%s: status %q, reason code %q (%s); want %q, %q", h.Name, h.Status, h.ReasonCode, h.Reason, w[0], w[1])
		}
	}
	for _, h := range v.Hosts {
		if h.Name == "down" && h.Reason != "unreachable: Failed to connect to the host via ssh: Connection refused" {
			t.Errorf("down: reason %q", h.Reason)
		}
	}
}

// TestNotesWhole: a note names every host it concerns, in text and in
// the list, however many.
func TestNotesWhole(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := 1; i <= 12; i++ {
		name := fmt.Sprintf("clone%02d", i)
		names = append(names, name)
		write(t, filepath.Join(dir, name+".json"), host{label: name, machine: "cloned"}.json())
	}
	v := merge(t, Options{}, dir)
	want := strings.Join(names, ", ") + " report the same machine id cloned: one machine under several names, or machines cloned without a new /etc/machine-id"
	if len(v.Notes) != 1 || v.Notes[0] != want {
		t.Errorf("notes %q, want %q", v.Notes, want)
	}
	if len(v.NoteList) != 1 || v.NoteList[0].Code != "shared-machine-id" || !slices.Equal(v.NoteList[0].Hosts, names) || v.NoteList[0].Text != want {
		t.Errorf("note list %+v", v.NoteList)
	}
}
