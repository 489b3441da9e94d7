package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
)

// The descriptor incidents, made for real in private network, pid, mount
// and IPC namespaces (loopback only), and what scan, explain and ls say of
// them, held against ss and the kernel itself (bind and connect).

type scanReport struct {
	Findings []struct {
		Code     string `json:"code"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Socket   *struct {
			Local   string `json:"local"`
			Queue   int    `json:"queue"`
			Holders []struct {
				PID     int    `json:"pid"`
				FD      int    `json:"fd"`
				Comm    string `json:"comm"`
				Cloexec bool   `json:"cloexec"`
			} `json:"holders"`
		} `json:"socket"`
		Process *struct {
			PID int `json:"pid"`
		} `json:"process"`
	} `json:"findings"`
}

func scanJSON(t *testing.T, args ...string) (int, scanReport, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"scan", "-o", "json"}, args...), nil, &stdout, &stderr)
	var rep scanReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("scan %v: exit %d, %v\n%s%s", args, code, err, stdout.String(), stderr.String())
	}
	return code, rep, stdout.String()
}

// holdersOf lists a finding's holders as ss names them: comm/pid/fd.
func holdersOf(t *testing.T, rep scanReport, code, local string) []string {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Code != code || f.Socket == nil || f.Socket.Local != local {
			continue
		}
		var out []string
		for _, h := range f.Socket.Holders {
			out = append(out, fmt.Sprintf("%s/%d/%d", h.Comm, h.PID, h.FD))
		}
		sort.Strings(out)
		return out
	}
	t.Fatalf("no %s finding for %s in %+v", code, local, rep.Findings)
	return nil
}

func codes(rep scanReport) map[string]int {
	m := map[string]int{}
	for _, f := range rep.Findings {
		m[f.Code]++
	}
	return m
}

func fdholder(t *testing.T) string {
	t.Helper()
	return nstest.BuildC(t, "fdholder/fdholder.c")
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

// TestInheritedListener: a server listens without close-on-exec and
// system()s a shell that starts a long-running program. Both inherit the
// listener; scan names them with their ancestry and descriptors, as ss
// lists them. With the server killed, the port stays taken (bind fails
// with EADDRINUSE) and connections queue where nobody accepts them.
func TestInheritedListener(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	bin := fdholder(t)
	h := nstest.StartProc(t, nil, nil, nil, bin, "inherit", "127.0.0.1", "5555", "sleep 600 & echo child $!; wait")
	ready := h.Expect(t, "ready")
	server, fd := ready[0], ready[1]
	child := h.Expect(t, "child")[0]
	var ss []string
	nstest.Eventually(t, "sleep started, holding the listener", func() bool {
		ss = nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), "127.0.0.1:5555")
		return len(ss) == 3 && strings.Contains(strings.Join(ss, " "), fmt.Sprintf("sleep/%d/", child))
	})

	code, rep, out := scanJSON(t, "--live")
	if code != exitFindings || codes(rep)["inherited-listener"] != 1 {
		t.Fatalf("scan --live: exit %d, %v\n%s", code, codes(rep), out)
	}
	if got := holdersOf(t, rep, "inherited-listener", "127.0.0.1:5555"); !equal(got, sorted(ss)) {
		t.Errorf("holders %v, ss says %v", got, ss)
	}
	sh := 0
	for _, u := range ss {
		if pid, _ := strconv.Atoi(strings.Split(u, "/")[1]); pid != server && pid != child {
			sh = pid
		}
	}
	msg := rep.Findings[0].Message
	for _, want := range []string{
		fmt.Sprintf("is held by fdholder (%d), running %s (it does not accept on it: blocked in wait4, not on this socket), and also by processes that got it from it and run other programs", server, bin),
		fmt.Sprintf("sleep (%d), running ", child),
		fmt.Sprintf("holds it as fd %d without close-on-exec (through fdholder (%d) → sh (%d) → sleep (%d))", fd, server, sh, child),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if codes(rep)["listener-cloexec-missing"] != 0 {
		t.Errorf("listener-cloexec-missing beside inherited-listener: %v", codes(rep))
	}

	// explain: every holder with its descriptor and close-on-exec bit,
	// and the line of descent.
	var stdout, stderr bytes.Buffer
	if c := run([]string{"explain", "tcp:5555"}, nil, &stdout, &stderr); c != 0 {
		t.Fatalf("explain tcp:5555: exit %d %s", c, stderr.String())
	}
	for _, want := range []string{
		fmt.Sprintf("holder:       pid %d (fdholder, %s) fd %d, no close-on-exec, parent 1", server, bin, fd),
		fmt.Sprintf("ancestry:     fdholder (%d) → sh (%d) → sleep (%d)", server, sh, child),
		fmt.Sprintf("while it runs the port stays taken and a restart of fdholder (%d) fails with \"address already in use\"", server),
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, stdout.String())
		}
	}
	// A manifest that says who must hold the port.
	m := filepath.Join(t.TempDir(), "app.manifest")
	if err := os.WriteFile(m, []byte("web tcp:127.0.0.1:5555 exe="+bin+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep, out = scanJSON(t, "--live", "-m", m)
	if codes(rep)["listener-wrong-holder"] != 1 || !strings.Contains(out, fmt.Sprintf("sh (%d), running ", sh)) {
		t.Errorf("with the listener declared: %v\n%s", codes(rep), out)
	}

	// The server dies; sh and sleep keep the port.
	if err := syscall.Kill(server, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.Cmd.Wait() // reaped: no longer a holder, not even a zombie
	l, err := net.Listen("tcp", "127.0.0.1:5555")
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("bind 127.0.0.1:5555 after the server died: %v, want EADDRINUSE", err)
	}
	_ = l
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:5555")
		if err != nil {
			t.Fatalf("connect to the dead server's port: %v", err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ssOut := nstest.Output(t, "ss", "-tlnp")
	_, rep, out = scanJSON(t, "--live")
	if codes(rep)["listener-not-accepting"] != 1 || codes(rep)["inherited-listener"] != 1 {
		t.Fatalf("after the server died: %v\n%s", codes(rep), out)
	}
	for _, f := range rep.Findings {
		if f.Code == "listener-not-accepting" && (f.Socket.Queue != 2 || !strings.Contains(ssOut, "LISTEN 2 ")) {
			t.Errorf("queue %d; ss says:\n%s", f.Socket.Queue, ssOut)
		}
	}
	if got, want := holdersOf(t, rep, "listener-not-accepting", "127.0.0.1:5555"), sorted(nstest.SSUsers(ssOut, "127.0.0.1:5555")); !equal(got, want) {
		t.Errorf("holders %v, ss says %v", got, want)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// TestDeadUnixListener: a spawner hands a listening unix socket as fd 0
// to a program that system()s sleep; the program is killed. connect()
// still succeeds, nobody accepts, and scan says so.
func TestDeadUnixListener(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	bin := fdholder(t)
	path := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	h := nstest.StartProc(t, f, nil, nil, bin, "system", "sleep 600; true")
	program := h.Expect(t, "ready")[0]
	f.Close()
	nstest.Eventually(t, "sleep started", func() bool {
		return len(nstest.SSUsers(nstest.Output(t, "ss", "-xlp"), path)) == 3
	})
	if err := syscall.Kill(program, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.Cmd.Wait()
	nstest.Eventually(t, "the program gone", func() bool { return len(nstest.SSUsers(nstest.Output(t, "ss", "-xlp"), path)) == 2 })
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("connect to the dead program's socket: %v", err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ssOut := nstest.Output(t, "ss", "-xlp")
	code, rep, out := scanJSON(t, "--live")
	if code != exitFindings || codes(rep)["listener-not-accepting"] != 1 {
		t.Fatalf("scan --live: exit %d %v\n%s", code, codes(rep), out)
	}
	got := holdersOf(t, rep, "listener-not-accepting", path)
	if want := sorted(nstest.SSUsers(ssOut, path)); !equal(got, want) || !strings.Contains(got[0]+got[1], "/0") {
		t.Errorf("holders %v, ss says %v (both as fd 0)", got, want)
	}
	for _, f := range rep.Findings {
		if f.Code == "listener-not-accepting" && f.Socket.Queue != 3 {
			t.Errorf("queue %d, want the 3 connections made\n%s", f.Socket.Queue, ssOut)
		}
	}
	var stdout, stderr bytes.Buffer
	run([]string{"explain", path}, nil, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "accept queue: 3 waiting") || !strings.Contains(stdout.String(), "and no holder accepts them: connect() still succeeds") {
		t.Errorf("explain %s:\n%s%s", path, stdout.String(), stderr.String())
	}
}

// TestCloseWaitLeak: a server accepts and never closes; 20 clients
// connect and close. Exactly 20 CLOSE_WAIT sockets, as ss counts them.
func TestCloseWaitLeak(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	bin := fdholder(t)
	h := nstest.StartProc(t, nil, nil, nil, bin, "hoard", "127.0.0.1", "6000")
	server := h.Expect(t, "ready")[0]
	for i := 1; i <= 20; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:6000")
		if err != nil {
			t.Fatal(err)
		}
		h.Expect(t, "accepted")
		c.Close()
	}
	ssCount := func() int {
		return len(nstest.SSUsers(nstest.Output(t, "ss", "-tanp", "state", "close-wait"), "127.0.0.1:6000"))
	}
	nstest.Eventually(t, "20 sockets in CLOSE_WAIT", func() bool { return ssCount() == 20 })
	code, rep, out := scanJSON(t, "--live")
	if code != exitClean || codes(rep)["close-wait-leak"] != 1 {
		t.Fatalf("scan --live: exit %d (a warning passes) %v\n%s", code, codes(rep), out)
	}
	want := fmt.Sprintf("fdholder (%d), running %s, holds 20 TCP sockets in CLOSE_WAIT (20 on 127.0.0.1:6000)", server, bin)
	if !strings.Contains(out, want) {
		t.Errorf("lacks %q:\n%s", want, out)
	}
	if _, rep, _ := scanJSON(t, "--live", "--close-wait", "21"); codes(rep)["close-wait-leak"] != 0 {
		t.Errorf("--close-wait 21 with 20: %v", codes(rep))
	}
	// ls --sockets counts them per process.
	var stdout, stderr bytes.Buffer
	run([]string{"ls", "--sockets", "-o", "json"}, nil, &stdout, &stderr)
	var doc struct {
		Processes []struct {
			PID       int `json:"pid"`
			CloseWait int `json:"close_wait"`
		} `json:"processes"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.Processes {
		if p.PID == server {
			found = p.CloseWait == 20
		}
	}
	if !found {
		t.Errorf("ls --sockets: %s", stdout.String())
	}
}

// TestDescriptorsNoFalseAlarms: a pre-fork server (workers of one
// executable share the listener), a socket handed over the systemd way
// (PID 1 keeps it, the service gets it with LISTEN_FDS) and a plain client
// are not findings.
func TestDescriptorsNoFalseAlarms(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	bin := fdholder(t)
	pre := nstest.StartProc(t, nil, nil, nil, bin, "prefork", "127.0.0.1", "7000", "3")
	pre.Expect(t, "ready")
	// This test is PID 1 of its namespace, as systemd is of a host.
	ln, err := net.Listen("tcp", "127.0.0.1:7001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	svc := nstest.StartProc(t, nil, []*os.File{lf}, nil, "sh", "-c", `echo ready $$; LISTEN_PID=$$ LISTEN_FDS=1 exec sleep 600`)
	svc.Expect(t, "ready")
	nstest.Eventually(t, "the service holds the listener", func() bool {
		for _, u := range nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), "127.0.0.1:7001") {
			if strings.HasPrefix(u, "sleep/") {
				return true
			}
		}
		return false
	})
	client, err := net.Dial("tcp", "127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if n := len(nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), "127.0.0.1:7000")); n != 4 {
		t.Fatalf("ss: %d holders of the pre-fork listener, want the master and 3 workers", n)
	}
	code, rep, out := scanJSON(t, "--live")
	if code != exitClean || len(rep.Findings) != 0 {
		t.Errorf("scan --live: exit %d, findings %v\n%s", code, codes(rep), out)
	}
}
