package audit_test

import (
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fdscan"
)

// TestUnixListenerOrphaned: a unix listener whose path names another
// file or nothing is unix-listener-orphaned and nothing else, even when
// an inheritor holds it with connections queued; one whose path still
// names it is judged as any listener.
func TestUnixListenerOrphaned(t *testing.T) {
	for _, tc := range []struct {
		path  fdscan.PathState
		codes []string
		msg   string
	}{
		{fdscan.PathReplaced, []string{audit.UnixListenerOrphaned},
			"unix listener socket:[7], bound to /run/x.sock, is orphaned: /run/x.sock now names another file (a socket bound there since, as by a restarted copy of the server), so no new connection reaches it; it is held by svc (100), running /usr/sbin/svc, fd 3; sleep (101), running /usr/bin/sleep, fd 3; 2 connection(s) made before that wait in its accept queue; it blocks nothing, but its holders keep running and holding descriptors and memory: stop them if they are left over from a restart"},
		{fdscan.PathMissing, []string{audit.UnixListenerOrphaned},
			"unix listener socket:[7], bound to /run/x.sock, is orphaned: nothing is at /run/x.sock (it was unlinked), so no new connection reaches it; it is held by svc (100), running /usr/sbin/svc, fd 3; sleep (101), running /usr/bin/sleep, fd 3; 2 connection(s) made before that wait in its accept queue; it blocks nothing, but its holders keep running and holding descriptors and memory: stop them if they are left over from a restart"},
		{fdscan.PathNamesIt, []string{audit.InheritedListener}, ""},
		{fdscan.PathUnknown, []string{audit.InheritedListener}, ""},
	} {
		snap := &fdscan.Snapshot{
			Processes: map[int]*fdscan.Process{
				100: {PID: 100, PPID: 1, Start: 10, Comm: "svc", Exe: "/usr/sbin/svc", FDs: 10, FDLimit: 1024},
				101: {PID: 101, PPID: 100, Start: 11, Comm: "sleep", Exe: "/usr/bin/sleep", FDs: 4, FDLimit: 1024},
			},
			Sockets: map[uint64]*fdscan.Socket{
				7: {Inode: 7, Proto: "unix", Type: "stream", State: "LISTEN", Local: "/run/x.sock", Queue: 2, Backlog: 16, BoundIno: 99, BoundDev: 1, Path: tc.path},
			},
			Holders: map[uint64][]fdscan.Holder{7: {{PID: 100, FD: 3}, {PID: 101, FD: 3}}},
		}
		got := audit.CheckDescriptors(audit.Descriptors{Snap: snap})
		var codes []string
		for _, f := range got {
			codes = append(codes, f.Code)
		}
		if len(codes) != len(tc.codes) || codes[0] != tc.codes[0] {
			t.Errorf("path %q: %v, want %v:\n%s", tc.path, codes, tc.codes, findingLines(got))
			continue
		}
		if tc.msg != "" && (got[0].Message != tc.msg || got[0].Severity != audit.Warning) {
			t.Errorf("path %q: %s %q\nwant %q", tc.path, got[0].Severity, got[0].Message, tc.msg)
		}
	}
}
