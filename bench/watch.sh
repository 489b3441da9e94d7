#!/usr/bin/env bash
# What `ipckeys watch` costs the programs it watches (needs root), with each
# way it can observe the system calls. A C loop of ftok + shmget + semop
# (three traced calls an iteration) runs in a private IPC namespace, in
# rounds, without and with a watch attached; the median difference per
# iteration, divided by three, is the time the watch adds to one traced
# call (goal: under 5 µs). A loop of getppid, a system call the watch does
# not record, shows the effect on untraced calls (goal: none): with the
# uprobes at the C library's system call sites (the default, libc) it
# never meets a hook; with the per-call tracepoints (per-call) each still
# passes the kernel's check for traced calls; with the raw tracepoint
# sys_exit (raw) the watch's program runs on its exit and checks its
# number. Last, one watch with the default hooks runs for LONG seconds
# while the ftok loop runs without pause, and its peak memory (VmHWM) is
# printed.
#
# usage: bench/watch.sh [ROUNDS] [LONG]   (default 5 rounds, LONG 10 seconds)
#        ITERS=N (default 100000) and CALLS=N (default 1000000) set the
#        loop lengths; MODES="libc per-call raw" (the default) the hooks
#        measured, as IPCKEYS_WATCH_HOOKS names them.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."
rounds=${1:-5}
long=${2:-10}
iters=${ITERS:-100000}
calls=${CALLS:-1000000}
modes=${MODES:-libc per-call raw}

[ "$(id -u)" = 0 ] || { echo "bench/watch.sh: needs root (eBPF and a private IPC namespace)" >&2; exit 2; }
tmp=$(mktemp -d)
watcher=
hooks_shown=
cleanup() {
	if [ -n "$watcher" ]; then kill -INT "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/ipckeys" ./cmd/ipckeys
cat >"$tmp/loop.c" <<'EOF'
/* loop ipc N: N times ftok + shmget + semop; loop getppid N: N getppid;
 * loop ipc-for S: ftok + shmget + semop for S seconds. Prints the
 * nanoseconds an iteration took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: loop ipc|getppid|ipc-for N KEYFILE\n");
		return 2;
	}
	long n = atol(argv[2]);
	int sem = semget(IPC_PRIVATE, 1, 0600);
	struct sembuf ops[2] = {{0, 1, 0}, {0, -1, 0}};
	double end = now() + n * 1e9, start = now();
	long i = 0;
	if (strcmp(argv[1], "getppid") == 0) {
		for (; i < n; i++)
			syscall(SYS_getppid);
	} else {
		for (; strcmp(argv[1], "ipc") == 0 ? i < n : now() < end; i++) {
			key_t key = ftok(argv[3], 'l');
			if (shmget(key, 4096, IPC_CREAT | 0600) < 0 || semop(sem, ops, 2) < 0) {
				perror("loop");
				return 1;
			}
		}
	}
	printf("%.1f\n", (now() - start) / i);
	return 0;
}
EOF
gcc -O2 -o "$tmp/loop" "$tmp/loop.c"
: >"$tmp/key"

# loop ARGS runs the loop in a private IPC namespace; prints ns/iteration.
loop() { unshare --ipc "$tmp/loop" "$@" "$tmp/key"; }

# links PID prints the BPF links of process PID as the kernel describes
# them in fdinfo: "tracepoint NAME", "raw_tracepoint NAME", "uprobe FILE
# COOKIE" or "uretprobe FILE COOKIE" (perf events; ftok's have cookie 0,
# a system call site's the call's number), "uprobe_multi FILE COUNT".
links() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = anon_inode:bpf_link ] || continue
		awk -F'\t' '/^(link|event)_type:/ { t = $2 } /^(tp_)?name:|^path:/ { n = $2 }
			/^cookie:/ { c = $2 } /^uprobe_cnt:/ { c = $2 } END { print t, n, c }' \
			"/proc/$1/fdinfo/${fd##*/}" 2>/dev/null || true
	done
}

# start_watch starts a watch with the hooks of IPCKEYS_WATCH_HOOKS that
# prints nothing as it goes, and waits until its system call hooks are
# attached (they are last) and its links stop changing. The first time in
# a mode, it prints the hooks.
start_watch() {
	"$tmp/ipckeys" watch -o none -o "json=$tmp/report.json" >/dev/null 2>"$tmp/watch.err" &
	watcher=$!
	local i now last=
	for ((i = 0; i < 300; i++)); do
		now=$(links "$watcher" | sort)
		if [ -n "$now" ] && [ "$now" = "$last" ] &&
			grep -qE '^(tracepoint|raw_tracepoint|uprobe_multi) |^uprobe .* [1-9][0-9]*$' <<<"$now"; then
			if [ "$hooks_shown" != "$IPCKEYS_WATCH_HOOKS" ]; then
				hooks_shown=$IPCKEYS_WATCH_HOOKS
				awk '$1 == "uprobe_multi" { sites += $3; multi++ } $1 == "uprobe" && $3 != 0 { sites++ }
					/^(raw_)?tracepoint / { n[$1]++ }
					END { printf "system call hooks: %d uprobes at system call sites (%d uprobe_multi links), %d per-call tracepoints, %d raw tracepoint\n",
						sites, multi, n["tracepoint"], n["raw_tracepoint"] }' <<<"$now"
			fi
			return
		fi
		last=$now
		kill -0 "$watcher" 2>/dev/null || { cat "$tmp/watch.err" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench/watch.sh: the watch did not attach within 30s" >&2
	exit 1
}
stop_watch() {
	kill -INT "$watcher"
	wait "$watcher" || true
	watcher=
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "rounds $rounds, $iters iterations of ftok+shmget+semop, $calls getppid calls"
summary=()
for mode in $modes; do
	export IPCKEYS_WATCH_HOOKS=$mode
	echo "hooks $mode:"
	: >"$tmp/ipc"; : >"$tmp/ppid"; : >"$tmp/ppid0"; : >"$tmp/ppid1"
	for ((r = 1; r <= rounds; r++)); do
		base=$(loop ipc "$iters"); pbase=$(loop getppid "$calls")
		start_watch
		watched=$(loop ipc "$iters"); pwatched=$(loop getppid "$calls")
		stop_watch
		awk -v a="$base" -v b="$watched" 'BEGIN { printf "%.1f\n", (b - a) / 3 }' >>"$tmp/ipc"
		awk -v a="$pbase" -v b="$pwatched" 'BEGIN { printf "%.1f\n", b - a }' >>"$tmp/ppid"
		echo "$pbase" >>"$tmp/ppid0"; echo "$pwatched" >>"$tmp/ppid1"
		printf '  round %d: iteration %.0f ns without, %.0f ns with the watch; getppid %.1f ns without, %.1f ns with\n' \
			"$r" "$base" "$watched" "$pbase" "$pwatched"
	done
	line=$(printf '%-8s added per traced call %.2f µs; getppid %.1f ns without, %.1f ns with the watch, %+.1f ns added' "$mode" \
		"$(median <"$tmp/ipc" | awk '{ print $1 / 1000 }')" "$(median <"$tmp/ppid0")" "$(median <"$tmp/ppid1")" "$(median <"$tmp/ppid")")
	echo "  $line"
	summary+=("$line")
done
echo "medians of $rounds rounds (goals: < 5 µs per traced call, nothing on untraced calls):"
printf '  %s\n' "${summary[@]}"

export IPCKEYS_WATCH_HOOKS=${modes%% *}
echo "a $long-second watch ($IPCKEYS_WATCH_HOOKS) while the loop runs without pause:"
start_watch
loop ipc-for "$long" >/dev/null
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$watcher/status")
stop_watch
printf 'peak memory of the watch: %d KiB\n' "$hwm"
if grep -q check-incomplete "$tmp/report.json"; then
	echo "events were lost: $(grep -o '[0-9]* events were lost' "$tmp/report.json" | head -1)"
else
	echo "no event was lost"
fi
