package watch

import (
	"fmt"
	"os"
)

// HookMode is how Start observes the IPC system calls.
//
// The per-call tracepoints (syscalls:sys_exit_shmget and the eleven
// others) run the watch's program for those twelve calls only. The raw
// tracepoint sys_exit runs it on the exit of every system call on the
// host, where it checks the call's number: about 30 ns more on each.
// Attaching the per-call tracepoints needs their ids, which only tracefs
// publishes: it takes mounting a tracefs that no mount table shows
// (fsopen and fsmount: CAP_SYS_ADMIN, and a seccomp profile that allows
// them), a kernel with CONFIG_FTRACE_SYSCALLS, and Linux 5.15 (BPF links
// to perf events, bpf_task_pt_regs).
type HookMode string

const (
	// HookAuto uses the per-call tracepoints, and the raw tracepoint
	// when they cannot be used.
	HookAuto HookMode = ""
	// HookPerCall uses the per-call tracepoints, or fails.
	HookPerCall HookMode = "per-call"
	// HookRaw uses the raw tracepoint sys_exit.
	HookRaw HookMode = "raw"
)

// HooksEnv names the environment variable that, set to per-call or raw,
// chooses the hook when Options.Hooks is HookAuto: for benchmarks, and
// for a kernel whose per-call tracepoints misbehave.
const HooksEnv = "IPCKEYS_WATCH_HOOKS"

// chooseHooks returns the hook Options ask for, or the environment, and
// what chose it ("" when nothing forced a hook).
func chooseHooks(opt HookMode) (mode HookMode, chosenBy string, err error) {
	if opt != HookAuto {
		if opt != HookPerCall && opt != HookRaw {
			return "", "", fmt.Errorf("watch hooks %q: give %q or %q", opt, HookPerCall, HookRaw)
		}
		return opt, "chosen by the caller", nil
	}
	env := os.Getenv(HooksEnv)
	switch HookMode(env) {
	case HookAuto:
		return HookAuto, "", nil
	case HookPerCall, HookRaw:
		return HookMode(env), "chosen with " + HooksEnv + "=" + env, nil
	}
	return "", "", fmt.Errorf("%s=%s: give %s or %s", HooksEnv, env, HookPerCall, HookRaw)
}

// The descriptions Watcher.Hooks returns.
const (
	perCallNote = "per-call tracepoints syscalls:sys_exit_shmget ... sys_exit_msgctl: other system calls pay only the kernel's check for traced calls, about 10 ns"
	rawNote     = "raw tracepoint sys_exit (%s): adds about 30 ns to every system call on the host"
)
