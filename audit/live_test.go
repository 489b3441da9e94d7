package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
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

// channelOn makes a manifest channel whose key file has the given
// fingerprint.
func channelOn(name string, proj int, fp ftok.Fingerprint, typ, nattch string) audit.Entry {
	r, err := manifest.ParseRange(nattch)
	if err != nil {
		panic(err)
	}
	f := ipcscan.KeyFile{Path: "/etc/app/" + name + ".key", File: ftok.File{Dev: uint64(fp.DevByte()), Ino: uint64(fp.InoBits())}, FSType: "ext4"}
	c := &manifest.Channel{Name: name, Path: f.Path, Proj: proj, Type: typ, Nattch: &r}
	return audit.Entry{Channel: c, Path: f.Path, Proj: proj, HasProj: true, File: f}
}

// TestNattchMismatchDirection: the message says what more, fewer and no
// processes attached mean, not always that another service computed the
// same key.
func TestNattchMismatchDirection(t *testing.T) {
	snap := restart(t, newGeneration.Add(time.Minute))
	const head = "channel web (/etc/app/web.key, proj 108 'l', dev 0:1, ino 16385 = 0x4001) expects "
	tests := []struct {
		entry audit.Entry
		want  string
	}{
		{channelOn("web", 'l', 0x014001, "shm", "20"), head + "20 processes attached; segment id 11 has nattch 26 and 26 distinct processes (attached: 3100 (nginx), 3101 (nginx), 3102 (nginx), 3103 (nginx), 3104 (nginx), 3105 (nginx), 3106 (nginx), 3107 (nginx), 3108 (nginx), 3109 (nginx), 3110 (nginx), 3111 (nginx), 3112 (nginx), 3113 (nginx), 3114 (nginx), 3115 (nginx), 3116 (nginx), 3117 (nginx), 3118 (nginx), 3119 (nginx), 3120 (nginx), 3121 (nginx), 3122 (nginx), 3123 (nginx), 3124 (nginx), 3125 (nginx)), compared: attached processes; if another service is attached it computed the same key: give one of them another key"},
		{channelOn("web", 'l', 0x014001, "shm", "30+"), head + "30+ processes attached; segment id 11 has nattch 26 and 26 distinct processes (attached: 3100 (nginx), 3101 (nginx), 3102 (nginx), 3103 (nginx), 3104 (nginx), 3105 (nginx), 3106 (nginx), 3107 (nginx), 3108 (nginx), 3109 (nginx), 3110 (nginx), 3111 (nginx), 3112 (nginx), 3113 (nginx), 3114 (nginx), 3115 (nginx), 3116 (nginx), 3117 (nginx), 3118 (nginx), 3119 (nginx), 3120 (nginx), 3121 (nginx), 3122 (nginx), 3123 (nginx), 3124 (nginx), 3125 (nginx)), compared: attached processes; fewer than expected: processes of the channel exited or were killed (a parent killed without its workers, a worker not restarted); find out why and restart them"},
		{channelOn("cache", 0, 0xabcdef, "shm", "1"), "channel cache (/etc/app/cache.key, proj 0, dev 0:171, ino 52719 = 0xcdef) expects 1 process attached; segment id 13 has nattch 0 and 0 distinct processes (no process is attached), compared: attached processes; nothing is attached: the service is down or has not attached yet; the segment stays until it is removed, and its creator pid 3900 is gone too (see stale-object)"},
	}
	for _, tc := range tests {
		got := findingsOf(audit.CheckLive([]audit.Entry{tc.entry}, audit.Live{Snap: snap}), audit.NattchMismatch)
		if len(got) != 1 || got[0].Message != tc.want || got[0].Severity != audit.Error {
			t.Errorf("nattch %s:\n got %+v\nwant %s", tc.entry.Channel.Nattch, got, tc.want)
		}
	}
}

// TestMissingObjectOtherProj: when no object has the channel's key but
// live objects have its key file's device byte and inode bits under
// another proj byte, missing-object names them and the proj they use.
func TestMissingObjectOtherProj(t *testing.T) {
	snap := restart(t, newGeneration.Add(time.Minute))
	e := channelOn("web", 'A', 0x014001, "shm", "1+")
	got := findingsOf(audit.CheckLive([]audit.Entry{e}, audit.Live{Snap: snap}), audit.MissingObject)
	want := "channel web (/etc/app/web.key, proj 65 'A', dev 0:1, ino 16385 = 0x4001) expects 1+ processes attached, but no shared-memory segment has key 0x41014001: the service is down, or its programs compute another key (was the key file replaced?); shared-memory segment id 10 (key 0x6c014001) and shared-memory segment id 11 (key 0x6c014001) have this key file's device byte 0x01 and inode bits 0x4001 under another proj byte: if they are this channel's, its programs pass proj 108 'l', not 65 'A'; make the manifest and the programs agree"
	if len(got) != 1 || got[0].Message != want {
		t.Fatalf("missing-object:\n got %+v\nwant %s", got, want)
	}
	// Nothing under another proj byte: the message is as it was.
	e = channelOn("other", 'A', 0x014002, "shm", "1")
	got = findingsOf(audit.CheckLive([]audit.Entry{e}, audit.Live{Snap: snap}), audit.MissingObject)
	if len(got) != 1 || !strings.HasSuffix(got[0].Message, "(was the key file replaced?)") {
		t.Errorf("missing-object without a match under another proj: %+v", got)
	}
}
