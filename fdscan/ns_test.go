package fdscan_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

// Tests that make sockets make them only in network, mount, pid and IPC
// namespaces of their own (nstest.RunIsolated): the test re-executes as
// pid 1 of new namespaces, with /proc mounted for that pid namespace and
// only lo, brought up, for a network. When the test ends, the kernel ends
// every process left in its pid namespace.

func inPrivateNamespaces(t *testing.T) bool {
	t.Helper()
	return nstest.RunIsolated(t)
}

// holder is a running fdholder (testdata/fdholder) and what it printed.
type holder struct {
	*nstest.Proc
	cmd *exec.Cmd
}

func fdholderPath(t *testing.T) string {
	t.Helper()
	return nstest.BuildC(t, "fdholder/fdholder.c")
}

// startHolder starts argv (a launcher such as unshare, or fdholder's path
// first) with stdin a pipe the test holds, or the file given. It is
// killed when the test ends.
func startHolder(t *testing.T, stdin *os.File, argv ...string) *holder {
	t.Helper()
	p := nstest.StartProc(t, stdin, nil, nil, argv...)
	return &holder{Proc: p, cmd: p.Cmd}
}

// expect waits (bounded) for the holder's next line, which must start
// with word, and returns its numbers.
func (h *holder) expect(t *testing.T, word string) []int {
	t.Helper()
	return h.Expect(t, word)
}

// eventually retries cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	nstest.Eventually(t, what, cond)
}

// run runs an outside tool and returns its standard output.
func run(t *testing.T, argv ...string) string {
	t.Helper()
	return nstest.Output(t, argv...)
}
