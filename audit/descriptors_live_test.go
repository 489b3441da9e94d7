package audit_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/internal/nstest"
)

// Real programs in private network, pid and mount namespaces (loopback
// only): what the descriptor checks say of them, from the namespace the
// test runs in and from inside the nested pid namespaces it makes.

const python = "/usr/bin/python3"

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "sockets", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// listenerHolders returns the holders of the listener on local.
func listenerHolders(snap *fdscan.Snapshot, local string) []fdscan.Holder {
	for ino, s := range snap.Sockets {
		if s.Listening() && s.Local == local {
			return snap.Holders[ino]
		}
	}
	return nil
}

func findingLines(fs []audit.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s: %s\n", f.Code, f.Message)
	}
	return b.String()
}

// childOf returns the pid of the first child of ppid in the snapshot.
func childOf(snap *fdscan.Snapshot, ppid int) int {
	for pid, p := range snap.Processes {
		if p.PPID == ppid {
			return pid
		}
	}
	return 0
}

// TestSocketActivationInPidNamespace: socket activation inside a
// container, seen from the host and from inside. A container's init keeps
// a listener and hands it to a service with LISTEN_FDS and LISTEN_PID (the
// service's pid in its own namespace, as systemd sets it); and
// systemd-socket-activate execs a service the same way. Neither is a
// finding from either side.
func TestSocketActivationInPidNamespace(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	service := script(t, "service.py")
	c1 := nstest.StartProc(t, nil, nil, nil, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
		python, script(t, "init.py"), "7100", service)
	if got := c1.Expect(t, "ready"); got[0] != 1 || got[1] != 2 {
		t.Fatalf("init and service are pids %v in their namespace, want 1 and 2", got)
	}
	c2 := nstest.StartProc(t, nil, nil, nil, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
		"systemd-socket-activate", "-l", "127.0.0.1:7101", python, service)
	// systemd-socket-activate execs the service at the first connection.
	nstest.Eventually(t, "systemd-socket-activate listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:7101")
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	var outer *fdscan.Snapshot
	nstest.Eventually(t, "both services holding their listeners", func() bool {
		var err error
		if outer, err = fdscan.NewFS("").Snapshot(); err != nil {
			t.Fatal(err)
		}
		a, b := listenerHolders(outer, "127.0.0.1:7100"), listenerHolders(outer, "127.0.0.1:7101")
		return len(a) == 2 && len(b) == 1 && outer.Processes[b[0].PID] != nil && strings.HasPrefix(outer.Processes[b[0].PID].Comm, "python")
	})
	for _, local := range []string{"127.0.0.1:7100", "127.0.0.1:7101"} {
		hs := listenerHolders(outer, local)
		svc := outer.Processes[hs[len(hs)-1].PID]
		if svc.NSPID == svc.PID || !svc.ListenFDs {
			t.Errorf("%s: service pid %d (%d in its namespace): ListenFDs %v, want true", local, svc.PID, svc.NSPID, svc.ListenFDs)
		}
	}
	if got := audit.CheckDescriptors(audit.Descriptors{Snap: outer}); len(got) != 0 {
		t.Errorf("from outside the containers:\n%s", findingLines(got))
	}
	for _, launcher := range []int{c1.Cmd.Process.Pid, c2.Cmd.Process.Pid} {
		init := childOf(outer, launcher)
		inner, err := fdscan.NewFS(fmt.Sprintf("/proc/%d/root/proc", init)).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if len(inner.Processes) > 3 {
			t.Fatalf("the namespace of %d has %d processes: not the container's procfs", init, len(inner.Processes))
		}
		activated := 0
		for _, p := range inner.Processes {
			if p.ListenFDs {
				activated++
			}
		}
		if activated != 1 {
			t.Errorf("inside %d: %d processes activated, want the service", init, activated)
		}
		if got := audit.CheckDescriptors(audit.Descriptors{Snap: inner}); len(got) != 0 {
			t.Errorf("from inside the container of %d:\n%s", init, findingLines(got))
		}
	}
}
