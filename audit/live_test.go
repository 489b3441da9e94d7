package audit_test

import (
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// restart reads the fixture of a graceful restart (testdata/proc/restart:
// segment 10 removed with two old workers on it, segment 11 its
// replacement with 26 workers, made at 1795276000; segment 12 removed long
// ago with a worker stuck on it; segment 13 leaked) as if read at the
// given time.
func restart(t *testing.T, at time.Time) *ipcscan.Snapshot {
	t.Helper()
	s, err := ipcscan.NewFS("../testdata/proc/restart").Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	s.Time = at
	return s
}

// newGeneration is when segment 11, the replacement, was made.
var newGeneration = time.Unix(1795276000, 0)

func findingsOf(fs []audit.Finding, code string) []audit.Finding {
	var out []audit.Finding
	for _, f := range fs {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

// TestRemovedAttachedDraining: old workers on a removed segment whose
// replacement was made minutes ago are draining (info); the same workers
// two hours later are stuck (warning, saying how long the replacement has
// been up); a removed segment without a replacement is stuck whenever.
func TestRemovedAttachedDraining(t *testing.T) {
	const stuck = "segment id 12 (original key 0x6c0140ff, 4096 bytes) was removed while attached and lives on with key 0 until its last holder detaches; held by 3003 (stuck); nattch 1: new processes cannot find it, so these holders no longer share with them: restart them"
	tests := []struct {
		name string
		at   time.Time
		sev  audit.Severity
		msg  string
	}{
		{"ten minutes after the new generation", newGeneration.Add(10 * time.Minute), audit.Info,
			"segment id 10 (original key 0x6c014001, 65536 bytes) was removed while attached and lives on with key 0 until its last holder detaches; held by 3002 (nginx), 3004 (nginx); nattch 2. Segment id 11 with the same key was made 10 minutes ago and is attached (nattch 26): a graceful restart, whose old holders are still draining; nothing to do, unless they are still attached 30 minutes after the new segment was made (then restart them)"},
		{"two hours after", newGeneration.Add(2 * time.Hour), audit.Warning,
			"segment id 10 (original key 0x6c014001, 65536 bytes) was removed while attached and lives on with key 0 until its last holder detaches; held by 3002 (nginx), 3004 (nginx); nattch 2: new processes cannot find it, so these holders no longer share with them: restart them. Segment id 11 with the same key has been up and attached for 2 hours: these holders should have let go of the old one long ago"},
		{"time of the snapshot unknown", time.Time{}, audit.Warning,
			"segment id 10 (original key 0x6c014001, 65536 bytes) was removed while attached and lives on with key 0 until its last holder detaches; held by 3002 (nginx), 3004 (nginx); nattch 2: new processes cannot find it, so these holders no longer share with them: restart them"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findingsOf(audit.CheckLive(nil, audit.Live{Snap: restart(t, tc.at)}), audit.RemovedAttached)
			if len(got) != 2 {
				t.Fatalf("%d removed-attached findings, want 2 (segments 10 and 12): %+v", len(got), got)
			}
			if f := got[0]; f.Object.ID != 10 || f.Severity != tc.sev || f.Message != tc.msg || f.Key == nil || *f.Key != 0x6c014001 {
				t.Errorf("segment 10: %s %v\n%s\nwant %s\n%s", f.Severity, f.Object, f.Message, tc.sev, tc.msg)
			}
			if f := got[1]; f.Object.ID != 12 || f.Severity != audit.Warning || f.Message != stuck {
				t.Errorf("segment 12: %s %v\n%s\nwant warning\n%s", f.Severity, f.Object, f.Message, stuck)
			}
		})
	}
}
