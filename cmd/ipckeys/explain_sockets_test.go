package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/reftool"
)

// TestExplainNothingThere: a socket query that matches nothing is exit 1
// with one line on stderr, as a missing key file is; the other queries
// are still explained.
func TestExplainNothingThere(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"explain", "tcp:9999"}, nil, &stdout, &stderr); code != exitFindings || stdout.String() != "" ||
		stderr.String() != "ipckeys: tcp:9999: no socket matches in any network namespace ipckeys can read (nothing listens or is connected there)\n" {
		t.Errorf("explain tcp:9999: exit %d\nstdout %q\nstderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"explain", "-o", "json", "tcp:9999"}, nil, &stdout, &stderr); code != exitFindings || stdout.String() != "[]\n" ||
		strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("explain -o json tcp:9999: exit %d\nstdout %q\nstderr %q", code, stdout.String(), stderr.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:9998")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stdout.Reset()
	stderr.Reset()
	code := run([]string{"explain", "tcp:9999", "tcp:9998"}, nil, &stdout, &stderr)
	if code != exitFindings || !strings.HasPrefix(stdout.String(), "socket tcp 127.0.0.1:9998 LISTEN ") || !strings.HasPrefix(stderr.String(), "ipckeys: tcp:9999: no socket matches") {
		t.Errorf("explain tcp:9999 tcp:9998: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestExplainCloseWaitPile: a server that accepts and never closes, with
// an open-files limit of 600, and 500 clients that connect and close. The
// 500 CLOSE_WAIT sockets are one block, counted by state and holder, and
// the pile is set against the limit; ss counts the same.
func TestExplainCloseWaitPile(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	prlimit := reftool.Need(t, "prlimit", "util-linux")
	bin := fdholder(t)
	h := nstest.StartProc(t, nil, nil, nil, prlimit, "--nofile=600:600", bin, "hoard", "127.0.0.1", "6100")
	ready := h.Expect(t, "ready")
	server, lfd := ready[0], ready[1]
	const n = 500
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:6100")
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		h.Expect(t, "accepted")
		c.Close()
	}
	nstest.Eventually(t, fmt.Sprintf("%d sockets in CLOSE_WAIT", n), func() bool {
		return len(nstest.SSUsers(nstest.Output(t, "ss", "-tanp", "state", "close-wait"), "127.0.0.1:6100")) == n
	})
	var stdout, stderr bytes.Buffer
	if code := run([]string{"explain", "tcp:127.0.0.1:6100"}, nil, &stdout, &stderr); code != exitClean {
		t.Fatalf("explain: exit %d %s", code, stderr.String())
	}
	out := stdout.String()
	want := fmt.Sprintf(`sockets tcp 127.0.0.1:6100: 500 connections, summarised (-o json lists each)
  states:       500 CLOSE_WAIT
  holder:       pid %d (fdholder, %s) 500: 500 CLOSE_WAIT; 504 descriptors open of its limit 600
  story:        fdholder (%d) holds 500 sockets in CLOSE_WAIT on 127.0.0.1:6100 and has 504 descriptors open of its limit 600 (84%%): the peers closed and it never did; each connection it leaks takes one more descriptor, and at 600 accept() and open() fail with EMFILE (close-wait-leak, fd-exhaustion)
`, server, bin, server)
	blocks := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "socket ") || strings.HasPrefix(line, "sockets ") {
			blocks++
		}
	}
	if !strings.Contains(out, "\n\n"+want) || blocks != 2 {
		t.Errorf("explain lacks, after the listener's block alone,\n%s\ngot:\n%s", want, out)
	}
	if !strings.HasPrefix(out, "socket tcp 127.0.0.1:6100 LISTEN ") || !strings.Contains(out, fmt.Sprintf("holder:       pid %d (fdholder, %s) fd %d, close-on-exec, parent 1\n", server, bin, lfd)) {
		t.Errorf("explain: the listener's block:\n%s", out)
	}
	// JSON lists each socket.
	stdout.Reset()
	run([]string{"explain", "-o", "json", "tcp:127.0.0.1:6100"}, nil, &stdout, &stderr)
	var all []struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &all); err != nil || len(all) != n+1 {
		t.Errorf("explain -o json: %d sockets, %v", len(all), err)
	}
	// scan says both.
	code, rep, text := scanJSON(t, "--live")
	if code != exitClean || len(rep.Findings) != 2 || codes(rep)["close-wait-leak"] != 1 || codes(rep)["fd-exhaustion"] != 1 {
		t.Errorf("scan --live: exit %d %v\n%s", code, codes(rep), text)
	}
}
