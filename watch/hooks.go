package watch

import (
	"fmt"
	"os"

	"github.com/cilium/ebpf/features"
)

// HookMode is how Start observes the IPC system calls.
//
// By default (HookLibc) it puts a uprobe on the instruction right after
// each syscall instruction of the IPC functions (shmget ... msgctl) of
// every C library it finds (see FindSyscallSites): the kernel runs the
// watch's program for those calls only, and no other system call on the
// host pays anything. A uprobe sees the calls made through a C library it
// probes, and only those: a statically linked program, a Go program, a
// raw syscall(2), or a function that makes its call in a helper shared
// with other calls (musl's msgsnd and msgrcv) is not seen. Watcher.Gaps
// names the functions, Watcher.Uncovered the processes.
//
// The system call hooks see every call whatever made it. The per-call
// tracepoints (syscalls:sys_exit_shmget and the eleven others) run the
// watch's program for those twelve calls only, but turn on the kernel's
// syscall tracing, which every system call of every task then passes
// through: some 6 to 11 ns each. The raw tracepoint sys_exit runs it on
// the exit of every system call on the host, where it checks the call's
// number: about 30 ns more on each. Attaching the per-call tracepoints
// needs their ids, which only tracefs publishes: it takes mounting a
// tracefs that no mount table shows (fsopen and fsmount: CAP_SYS_ADMIN,
// and a seccomp profile that allows them), a kernel with
// CONFIG_FTRACE_SYSCALLS, and Linux 5.15 (BPF links to perf events,
// bpf_task_pt_regs), as the uprobes' attach cookies do.
type HookMode string

const (
	// HookAuto is HookLibc.
	HookAuto HookMode = ""
	// HookLibc puts uprobes at the system call sites of the C
	// libraries' IPC functions; when no C library can be probed, it
	// falls back to HookSyscalls and Hooks says why.
	HookLibc HookMode = "libc"
	// HookSyscalls uses the per-call tracepoints, and the raw
	// tracepoint when they cannot be used.
	HookSyscalls HookMode = "syscalls"
	// HookPerCall uses the per-call tracepoints, or fails.
	HookPerCall HookMode = "per-call"
	// HookRaw uses the raw tracepoint sys_exit.
	HookRaw HookMode = "raw"
)

// HooksEnv names the environment variable that, set to libc, syscalls,
// per-call or raw, chooses the hook when Options.Hooks is HookAuto: for
// benchmarks, and for a host whose uprobes or tracepoints misbehave.
const HooksEnv = "IPCKEYS_WATCH_HOOKS"

// chooseHooks returns the hook Options ask for, or the environment, and
// what chose it ("" when nothing forced a hook).
func chooseHooks(opt HookMode) (mode HookMode, chosenBy string, err error) {
	if opt != HookAuto {
		if !opt.valid() {
			return "", "", fmt.Errorf("watch hooks %q: give %q, %q, %q or %q", opt, HookLibc, HookSyscalls, HookPerCall, HookRaw)
		}
		return opt, "chosen by the caller", nil
	}
	env := HookMode(os.Getenv(HooksEnv))
	switch {
	case env == HookAuto:
		return HookLibc, "", nil
	case env.valid():
		return env, "chosen with " + HooksEnv + "=" + string(env), nil
	}
	return "", "", fmt.Errorf("%s=%s: give %s, %s, %s or %s", HooksEnv, env, HookLibc, HookSyscalls, HookPerCall, HookRaw)
}

// ParseHookMode reads a hook mode as --hooks names it: libc or syscalls
// (and per-call or raw, which force one of the tracepoints); "" is
// HookAuto.
func ParseHookMode(s string) (HookMode, error) {
	if m := HookMode(s); m == HookAuto || m.valid() {
		return m, nil
	}
	return "", fmt.Errorf("%q: give libc (the default) or syscalls", s)
}

func (m HookMode) valid() bool {
	return m == HookLibc || m == HookSyscalls || m == HookPerCall || m == HookRaw
}

// The descriptions Watcher.Hooks returns.
const (
	libcNote    = "uprobes after the system call in the C libraries' IPC functions (%d sites in %d %s): other system calls pay nothing; programs that use no probed C library are not seen (--hooks syscalls sees them)"
	perCallNote = "per-call tracepoints syscalls:sys_exit_shmget ... sys_exit_msgctl%s: other system calls pay only the kernel's check for traced calls, about 10 ns"
	rawNote     = "raw tracepoint sys_exit (%s): adds about 30 ns to every system call on the host"
)

// uprobeMulti reports whether the kernel has uprobe_multi links (Linux
// 6.6), which attach a library's sites in one link; tests replace it to
// attach them the other way, a uprobe each.
var uprobeMulti = func() bool { return features.HaveBPFLinkUprobeMulti() == nil }
