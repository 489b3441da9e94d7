package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/reftool"
)

// Real programs that share listeners on purpose (supervisord's
// [fcgi-program], a shell wrapper in a restart loop) and the incidents
// they are told apart from (two python3 daemons in the inherited-listener
// pattern, a stopped FastCGI worker with connections queued), each in
// private network, pid and mount namespaces, loopback only. The holders
// scan and explain name are held against ss and lsof.

const python = "/usr/bin/python3"

func socketScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "sockets", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// explainJSON returns what explain -o json says of a socket query.
func explainJSON(t *testing.T, query string) []struct {
	Holders []struct {
		PID  int    `json:"pid"`
		FD   int    `json:"fd"`
		Comm string `json:"comm"`
	} `json:"holders"`
	State string   `json:"state"`
	Story []string `json:"story"`
} {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if c := run([]string{"explain", "-o", "json", query}, nil, &stdout, &stderr); c != exitClean {
		t.Fatalf("explain -o json %s: exit %d %s", query, c, stderr.String())
	}
	var out []struct {
		Holders []struct {
			PID  int    `json:"pid"`
			FD   int    `json:"fd"`
			Comm string `json:"comm"`
		} `json:"holders"`
		State string   `json:"state"`
		Story []string `json:"story"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("explain -o json %s: %v\n%s", query, err, stdout.String())
	}
	return out
}

func explainText(t *testing.T, query string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if c := run([]string{"explain", query}, nil, &stdout, &stderr); c != exitClean {
		t.Fatalf("explain %s: exit %d %s%s", query, c, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// checkHolders holds the holders explain names for the TCP listener on
// 127.0.0.1:port against ss (comm/pid/fd) and lsof (pid/fd), and returns
// them as comm/pid/fd.
func checkHolders(t *testing.T, port int) []string {
	t.Helper()
	local := fmt.Sprintf("127.0.0.1:%d", port)
	var got, pidfd []string
	for _, x := range explainJSON(t, "tcp:"+local) {
		if x.State != "LISTEN" {
			continue
		}
		for _, h := range x.Holders {
			got = append(got, fmt.Sprintf("%s/%d/%d", h.Comm, h.PID, h.FD))
			pidfd = append(pidfd, fmt.Sprintf("%d/%d", h.PID, h.FD))
		}
	}
	slices.Sort(got)
	slices.Sort(pidfd)
	if ss := sorted(nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), local)); !equal(got, ss) {
		t.Errorf("explain names holders %v of %s, ss says %v", got, local, ss)
	}
	if lsof := reftool.Lookup(t, "lsof", "lsof"); lsof != "" {
		out := nstest.Output(t, lsof, "-nP", "-a", fmt.Sprintf("-iTCP@%s", local), "-sTCP:LISTEN", "-F", "pf")
		var want []string
		pid := ""
		for _, line := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(line, "p"):
				pid = line[1:]
			case strings.HasPrefix(line, "f"):
				want = append(want, pid+"/"+line[1:])
			}
		}
		slices.Sort(want)
		if !equal(pidfd, want) {
			t.Errorf("explain names holders %v (pid/fd) of %s, lsof says %v", pidfd, local, want)
		}
	}
	return got
}

// waitHolders waits until ss lists exactly n holders of the listener on
// 127.0.0.1:port, cond holding of them.
func waitHolders(t *testing.T, port, n int, cond func(users []string) bool) {
	t.Helper()
	local := fmt.Sprintf("127.0.0.1:%d", port)
	nstest.Eventually(t, fmt.Sprintf("%d holders of %s", n, local), func() bool {
		users := nstest.SSUsers(nstest.Output(t, "ss", "-tlnp"), local)
		return len(users) == n && (cond == nil || cond(users))
	})
}

// dial connects n times to 127.0.0.1:port; the connections close when
// the test ends.
func dial(t *testing.T, port, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// answered reports whether a connection to 127.0.0.1:port is answered
// with line.
func answered(port int, line string) bool {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	defer c.Close()
	buf := make([]byte, 16)
	n, _ := c.Read(buf)
	return string(buf[:n]) == line
}

func noFindings(t *testing.T, what string) string {
	t.Helper()
	code, rep, out := scanJSON(t, "--live")
	if code != exitClean || len(rep.Findings) != 0 {
		t.Errorf("%s: scan --live: exit %d, findings %v\n%s", what, code, codes(rep), out)
	}
	return out
}

// startSupervisord runs supervisord with an [fcgi-program] of n workers
// listening on 127.0.0.1:port.
func startSupervisord(t *testing.T, port, n int) *nstest.Proc {
	t.Helper()
	supervisord := reftool.Need(t, "supervisord", "supervisor")
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[supervisord]
nodaemon=true
silent=true
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s

[fcgi-program:app]
socket=tcp://127.0.0.1:%[2]d
command=%[3]s %[4]s
process_name=%%(program_name)s_%%(process_num)s
numprocs=%[5]d
stdout_logfile=%[1]s/app.log
redirect_stderr=true
`, dir, port, python, socketScript(t, "fcgi_worker.py"), n)), 0o644); err != nil {
		t.Fatal(err)
	}
	return nstest.StartProc(t, nil, nil, nil, supervisord, "-n", "-c", conf)
}

// TestSupervisordFastCGI: supervisord's [fcgi-program] keeps the listener
// and hands it to each worker as fd 0, as the FastCGI convention says.
// Not a finding; explain says why and that the workers serve it.
func TestSupervisordFastCGI(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	sv := startSupervisord(t, 7200, 2)
	spawner := sv.Cmd.Process.Pid
	waitHolders(t, 7200, 3, func(users []string) bool {
		fd0 := 0
		for _, u := range users {
			if strings.HasPrefix(u, "python3/") && strings.HasSuffix(u, "/0") {
				fd0++
			}
		}
		return fd0 == 2
	})
	nstest.Eventually(t, "a worker answers", func() bool { return answered(7200, "ok\n") })
	// Both workers back in accept, as explain sees them.
	var text string
	nstest.Eventually(t, "both workers serving", func() bool {
		text = explainText(t, "tcp:127.0.0.1:7200")
		return strings.Count(text, "serves it: blocked in accept on fd 0") == 2
	})
	holders := checkHolders(t, 7200)
	var workers []int
	for _, h := range holders {
		if f := strings.Split(h, "/"); f[2] == "0" {
			pid, _ := strconv.Atoi(f[1])
			workers = append(workers, pid)
		}
	}
	if len(workers) != 2 {
		t.Fatalf("holders %v: want supervisord and two workers on fd 0", holders)
	}
	for _, w := range workers {
		want := fmt.Sprintf("FastCGI: supervisord (%d) keeps it and hands it to its worker python3 (%d) as fd 0", spawner, w)
		if !strings.Contains(text, want) {
			t.Errorf("explain lacks %q:\n%s", want, text)
		}
	}
	noFindings(t, "supervisord with two FastCGI workers")
}

// TestWrapperRestartLoop: a shell runs its server on the listener it was
// given as fd 3, and runs it again when it dies. Not a finding before or
// after a restart, and nothing says the shell made the socket.
func TestWrapperRestartLoop(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:7250")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	wrap := nstest.StartProc(t, nil, []*os.File{f}, nil, "/bin/sh", "-c",
		"while :; do "+python+" "+socketScript(t, "fd3_server.py")+"; done")
	f.Close()
	sh := wrap.Cmd.Process.Pid
	for round := 0; round < 2; round++ {
		server := wrap.Expect(t, "serving")[0]
		waitHolders(t, 7250, 2, nil)
		var text string
		nstest.Eventually(t, "the server in accept", func() bool {
			text = explainText(t, "tcp:127.0.0.1:7250")
			return strings.Contains(text, fmt.Sprintf("python3 (%d) serves it: blocked in accept on fd 3", server))
		})
		if got, want := checkHolders(t, 7250), sorted([]string{fmt.Sprintf("sh/%d/3", sh), fmt.Sprintf("python3/%d/3", server)}); !equal(got, want) {
			t.Errorf("round %d: holders %v, want %v", round, got, want)
		}
		want := fmt.Sprintf("shared on purpose: a wrapper: sh (%d) runs python3 (%d) on the descriptor it was given", sh, server)
		if !strings.Contains(text, want) {
			t.Errorf("round %d: explain lacks %q:\n%s", round, want, text)
		}
		out := noFindings(t, fmt.Sprintf("round %d", round))
		for _, bad := range []string{"made by sh", "never uses it", "taken for its maker", "restart fails"} {
			if strings.Contains(out+text, bad) {
				t.Errorf("round %d: %q said:\n%s\n%s", round, bad, out, text)
			}
		}
		if !answered(7250, "ok\n") {
			t.Fatalf("round %d: the server does not answer", round)
		}
		// The server dies; the wrapper starts it again.
		if err := syscall.Kill(server, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoPythonDaemons: daemon A listens without close-on-exec and
// system()s daemon B; both run python3. B holds A's listener: an
// inherited listener, named as B. Once A is dead, B keeps the port while
// blocked in accept on its own, and 5 connections wait that nobody takes.
func TestTwoPythonDaemons(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	pidfile := filepath.Join(t.TempDir(), "b.pid")
	a := nstest.StartProc(t, nil, nil, []string{"DAEMON_B_PIDFILE=" + pidfile}, python,
		socketScript(t, "daemon_a.py"), "7300", socketScript(t, "daemon_b.py"), "7301")
	ready := a.Expect(t, "ready")
	pa, fd := ready[0], ready[1]
	var pb int
	nstest.Eventually(t, "daemon B started", func() bool {
		b, err := os.ReadFile(pidfile)
		pb, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pb > 0
	})
	t.Cleanup(func() { syscall.Kill(pb, syscall.SIGKILL) })
	// The shell system() ran has exited: A and B hold it.
	waitHolders(t, 7300, 2, nil)
	nstest.Eventually(t, "B serving its own port", func() bool { return answered(7301, "b\n") })
	if got, want := checkHolders(t, 7300), sorted([]string{fmt.Sprintf("python3/%d/%d", pa, fd), fmt.Sprintf("python3/%d/%d", pb, fd)}); !equal(got, want) {
		t.Fatalf("holders %v, want %v", got, want)
	}
	a311, b311 := "/usr/bin/python3.11 "+socketScript(t, "daemon_a.py"), "/usr/bin/python3.11 "+socketScript(t, "daemon_b.py")
	var msg string
	nstest.Eventually(t, "A and B each in accept", func() bool {
		code, rep, out := scanJSON(t, "--live")
		if code != exitFindings || len(rep.Findings) != 1 || rep.Findings[0].Code != "inherited-listener" {
			t.Fatalf("A and B alive: exit %d %v\n%s", code, codes(rep), out)
		}
		msg = rep.Findings[0].Message
		return strings.Contains(msg, "it does not accept on it: blocked in accept on fd") && strings.Contains(msg, "(it accepts on it: blocked in accept on fd")
	})
	for _, want := range []string{
		fmt.Sprintf("listener tcp 127.0.0.1:7300 is held by python3 (%d), running %s (it accepts on it: blocked in accept on fd %d), and also by processes that run other programs: ", pa, a311, fd),
		fmt.Sprintf("python3 (%d), running %s, holds it as fd %d without close-on-exec (not a descendant of it); it does not accept on it: blocked in accept on fd ", pb, b311, fd),
		fmt.Sprintf("while they hold it the port stays taken, and a restart of python3 (%d) fails with \"address already in use\"", pa),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("inherited-listener lacks %q:\n%s", want, msg)
		}
	}

	// A dies. B keeps the port; connections queue.
	if err := syscall.Kill(pa, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Cmd.Wait()
	waitHolders(t, 7300, 1, nil)
	dial(t, 7300, 5)
	nstest.Eventually(t, "5 connections queued", func() bool {
		return strings.Contains(nstest.Output(t, "ss", "-tln", "sport", "= :7300"), "LISTEN 5 ")
	})
	code, rep, out := scanJSON(t, "--live")
	if code != exitFindings || len(rep.Findings) != 1 || rep.Findings[0].Code != "listener-not-accepting" {
		t.Fatalf("A dead: exit %d %v\n%s", code, codes(rep), out)
	}
	if got, want := holdersOf(t, rep, "listener-not-accepting", "127.0.0.1:7300"), checkHolders(t, 7300); !equal(got, want) {
		t.Errorf("holders %v, want %v", got, want)
	}
	want := fmt.Sprintf("listener tcp 127.0.0.1:7300 has 5 connection(s) waiting in its accept queue, and no holder accepts them: python3 (%d), running %s, fd %d: blocked in accept on fd ", pb, b311, fd)
	if msg := rep.Findings[0].Message; !strings.Contains(msg, want) || rep.Findings[0].Socket.Queue != 5 {
		t.Errorf("listener-not-accepting (queue %d) lacks %q:\n%s", rep.Findings[0].Socket.Queue, want, msg)
	}
	text := explainText(t, "tcp:127.0.0.1:7300")
	for _, want := range []string{
		"accept queue: 5 waiting of 16",
		fmt.Sprintf("python3 (%d) does not accept on it: blocked in accept on fd ", pb),
		"5 connection(s) wait in the accept queue, and no holder accepts them",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "taken for its maker") {
		t.Errorf("explain:\n%s", text)
	}
}

// TestStoppedFastCGIWorker: a spawner hands its listener to a worker as
// fd 0 and waits for it. Healthy, no finding; with the worker stopped
// (SIGSTOP) and 3 connections queued, listener-not-accepting names it as
// stopped.
func TestStoppedFastCGIWorker(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	p := nstest.StartProc(t, nil, nil, nil, python, socketScript(t, "fcgi_spawner.py"), "7400", socketScript(t, "fcgi_worker.py"))
	ready := p.Expect(t, "ready")
	spawner, worker := ready[0], ready[1]
	waitHolders(t, 7400, 2, func(users []string) bool { return slices.Contains(users, fmt.Sprintf("python3/%d/0", worker)) })
	nstest.Eventually(t, "the worker answers", func() bool { return answered(7400, "ok\n") })
	nstest.Eventually(t, "the worker back in accept", func() bool {
		return strings.Contains(explainText(t, "tcp:127.0.0.1:7400"), fmt.Sprintf("python3 (%d) serves it: blocked in accept on fd 0", worker))
	})
	noFindings(t, "spawner and worker")

	if err := syscall.Kill(worker, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(worker, syscall.SIGCONT) })
	nstest.Eventually(t, "the worker stopped", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", worker))
		return strings.Contains(string(b), ") T ")
	})
	dial(t, 7400, 3)
	nstest.Eventually(t, "3 connections queued", func() bool {
		return strings.Contains(nstest.Output(t, "ss", "-tln", "sport", "= :7400"), "LISTEN 3 ")
	})
	code, rep, out := scanJSON(t, "--live")
	if code != exitFindings || len(rep.Findings) != 1 || rep.Findings[0].Code != "listener-not-accepting" {
		t.Fatalf("worker stopped: exit %d %v\n%s", code, codes(rep), out)
	}
	if got, want := holdersOf(t, rep, "listener-not-accepting", "127.0.0.1:7400"), checkHolders(t, 7400); !equal(got, want) {
		t.Errorf("holders %v, want %v", got, want)
	}
	msg := rep.Findings[0].Message
	for _, want := range []string{
		"listener tcp 127.0.0.1:7400 has 3 connection(s) waiting in its accept queue, and no holder accepts them: ",
		fmt.Sprintf("python3 (%d), running /usr/bin/python3.11 %s, fd 3: blocked in wait4, not on this socket", spawner, socketScript(t, "fcgi_spawner.py")),
		fmt.Sprintf("python3 (%d), running /usr/bin/python3.11 %s, fd 0: stopped (state T): it accepts nothing until continued", worker, socketScript(t, "fcgi_worker.py")),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("listener-not-accepting lacks %q:\n%s", want, msg)
		}
	}
}

// TestUnixListenerOrphaned: a service bound to /run/x.sock (a tmpfs of
// the test's own mount namespace) is started again while the first copy
// lives; the second unlinks the path and binds it anew. The first copy's
// listener is orphaned: a warning naming it, nothing about a blocked
// restart. It stays orphaned with the path gone.
func TestUnixListenerOrphaned(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on /run in the test's mount namespace: %v", err)
	}
	const path = "/run/x.sock"
	service := socketScript(t, "unix_service.py")
	first := nstest.StartProc(t, nil, nil, nil, python, service, path)
	ready := first.Expect(t, "ready")
	old, fd := ready[0], ready[1]
	if _, rep, out := scanJSON(t, "--live"); len(rep.Findings) != 0 {
		t.Fatalf("one copy: %v\n%s", codes(rep), out)
	}
	second := nstest.StartProc(t, nil, nil, nil, python, service, path)
	current := second.Expect(t, "ready")[0]
	reply := func() string {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b := make([]byte, 16)
		n, _ := c.Read(b)
		return strings.TrimSpace(string(b[:n]))
	}
	if got := reply(); got != strconv.Itoa(current) {
		t.Fatalf("%s answered by %s, want the second copy %d", path, got, current)
	}
	if users := sorted(nstest.SSUsers(nstest.Output(t, "ss", "-xlp"), path)); !equal(users, sorted([]string{fmt.Sprintf("python3/%d/%d", old, fd), fmt.Sprintf("python3/%d/%d", current, fd)})) {
		t.Fatalf("ss lists the holders of %s as %v", path, users)
	}
	check := func(now string) {
		t.Helper()
		code, rep, out := scanJSON(t, "--live")
		if code != exitClean || len(rep.Findings) != 1 || rep.Findings[0].Code != "unix-listener-orphaned" {
			t.Fatalf("%s: exit %d %v\n%s", now, code, codes(rep), out)
		}
		if got := holdersOf(t, rep, "unix-listener-orphaned", path); !equal(got, []string{fmt.Sprintf("python3/%d/%d", old, fd)}) {
			t.Errorf("%s: holders %v, want the first copy", now, got)
		}
		msg := rep.Findings[0].Message
		want := fmt.Sprintf("bound to %s, is orphaned: %s, so no new connection reaches it; it is held by python3 (%d), running /usr/bin/python3.11 %s, fd %d (it accepts on it: blocked in accept on fd %d); it blocks nothing", path, now, old, service, fd, fd)
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
		for _, bad := range []string{"address already in use", "port", "restart fails"} {
			if strings.Contains(msg, bad) {
				t.Errorf("message says %q:\n%s", bad, msg)
			}
		}
	}
	check(path + " now names another file (a socket bound there since, as by a restarted copy of the server)")
	text := explainText(t, path)
	if !strings.Contains(text, "story:        orphaned: "+path+" now names another file") || strings.Contains(text, "address already in use") {
		t.Errorf("explain %s:\n%s", path, text)
	}
	// The second copy gone and the path removed: the first copy is
	// orphaned still, with nothing at its path.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	second.Cmd.Process.Kill()
	second.Cmd.Wait()
	check("nothing is at " + path + " (it was unlinked)")
}

// TestSupervisordStoppedWorker: supervisord's only FastCGI worker is
// stopped (SIGSTOP) with 3 connections queued. supervisord keeps the
// listener but polls other descriptors (its poll set is read from its
// memory): listener-not-accepting names the worker as stopped.
func TestSupervisordStoppedWorker(t *testing.T) {
	if !nstest.RunIsolated(t) {
		return
	}
	sv := startSupervisord(t, 7450, 1)
	spawner := sv.Cmd.Process.Pid
	var worker int
	waitHolders(t, 7450, 2, func(users []string) bool {
		for _, u := range users {
			if f := strings.Split(u, "/"); f[0] == "python3" && f[2] == "0" {
				worker, _ = strconv.Atoi(f[1])
			}
		}
		return worker != 0
	})
	nstest.Eventually(t, "the worker answers", func() bool { return answered(7450, "ok\n") })
	nstest.Eventually(t, "the worker back in accept", func() bool {
		return strings.Contains(explainText(t, "tcp:127.0.0.1:7450"), fmt.Sprintf("python3 (%d) serves it: blocked in accept on fd 0", worker))
	})
	noFindings(t, "supervisord and its worker")
	if err := syscall.Kill(worker, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(worker, syscall.SIGCONT) })
	nstest.Eventually(t, "the worker stopped", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", worker))
		return strings.Contains(string(b), ") T ")
	})
	dial(t, 7450, 3)
	// supervisord wakes from poll every second: the scan that sees it
	// blocked there makes the finding.
	var msg string
	nstest.Eventually(t, "listener-not-accepting", func() bool {
		code, rep, out := scanJSON(t, "--live")
		if len(rep.Findings) > 1 || len(rep.Findings) == 1 && rep.Findings[0].Code != "listener-not-accepting" {
			t.Fatalf("worker stopped: exit %d %v\n%s", code, codes(rep), out)
		}
		if len(rep.Findings) == 1 {
			msg = rep.Findings[0].Message
			if got, want := holdersOf(t, rep, "listener-not-accepting", "127.0.0.1:7450"), checkHolders(t, 7450); !equal(got, want) {
				t.Errorf("holders %v, want %v", got, want)
			}
		}
		return code == exitFindings && len(rep.Findings) == 1
	})
	for _, want := range []string{
		"listener tcp 127.0.0.1:7450 has 3 connection(s) waiting in its accept queue, and no holder accepts them: ",
		fmt.Sprintf("supervisord (%d), running /usr/bin/python3.11 /usr/bin/supervisord, fd ", spawner),
		": blocked in poll on fd",
		", not on this socket; ",
		fmt.Sprintf("python3 (%d), running /usr/bin/python3.11 %s, fd 0: stopped (state T): it accepts nothing until continued", worker, socketScript(t, "fcgi_worker.py")),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("listener-not-accepting lacks %q:\n%s", want, msg)
		}
	}
}
