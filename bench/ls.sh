#!/usr/bin/env bash
# ipckeys ls beside lsipc -m; lsipc -s; lsipc -q on a host with many idle
# processes and no segment attached, in a private pid and IPC namespace
# (needs root): 500 sleep processes, 20 segments + 20 semaphore sets + 20
# queues, nattch 0 everywhere. The two run side by side, alternately; the
# median ratios of CPU time (user + system) and of peak memory (the largest
# resident set of any process of the run) are printed. Each sample is 20
# runs in a row, since one run takes about a millisecond.
#
# usage: bench/ls.sh [RUNS] [PROCESSES]   (default 21 runs, 500 processes)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
runs=${1:-21}
procs=${2:-500}

if [ -z "${IPCKEYS_BENCH_INSIDE:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/ls.sh: needs root for private pid and IPC namespaces (unshare)" >&2; exit 2; }
	command -v lsipc >/dev/null || { echo "bench/ls.sh: lsipc is missing: apt-get install util-linux" >&2; exit 2; }
	[ -x /usr/bin/time ] || { echo "bench/ls.sh: /usr/bin/time is missing: apt-get install time" >&2; exit 2; }
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	# IPCKEYS_BENCH_IPCKEYS=PATH measures another build (an older one).
	if [ -n "${IPCKEYS_BENCH_IPCKEYS:-}" ]; then
		cp "$IPCKEYS_BENCH_IPCKEYS" "$bin/ipckeys"
	else
		# As the package and the release binaries are built: static, with
		# no C library to load at start (CGO_ENABLED=0).
		CGO_ENABLED=0 go build -o "$bin/ipckeys" ./cmd/ipckeys
	fi
	gcc -O2 -o "$bin/mkobjects" bench/mkobjects.c
	echo "$("$bin/ipckeys" version), $(lsipc --version), $(nproc) cores, $runs runs, medians"
	IPCKEYS_BENCH_INSIDE=1 IPCKEYS_BENCH_BIN=$bin unshare --ipc --pid --fork --mount-proc "$BASH" "$self" "$runs" "$procs"
	exit 0
fi

bin=$IPCKEYS_BENCH_BIN
tmp=$(mktemp -d)
sleepers=()
holder=
cleanup() {
	[ ${#sleepers[@]} -gt 0 ] && kill "${sleepers[@]}" 2>/dev/null
	[ -n "$holder" ] && { exec 9>&-; wait "$holder" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT

# The objects: made by mkobjects, which holds them open (nattch 0: it does
# not attach) until its stdin closes.
mkfifo "$tmp/in"
"$bin/mkobjects" 20 20 20 0 0 <"$tmp/in" >"$tmp/out" &
holder=$!
exec 9>"$tmp/in"
until grep -q ready "$tmp/out" 2>/dev/null; do sleep 0.05; done
for ((i = 0; i < procs; i++)); do
	sleep 3600 &
	sleepers+=($!)
done

# measure SCRIPT prints "CPU_SECONDS PEAK_KB" of $loops runs of the shell
# script in a row: /usr/bin/time counts CPU in hundredths of a second, too
# coarse for one run of either; its peak is the largest resident set of any
# process of the loop.
loops=20
measure() {
	/usr/bin/time -f '%U %S %M' -o "$tmp/t" sh -c "for i in \$(seq $loops); do $1; done" >/dev/null 2>&1 || true
	awk '{ printf "%.4f %d\n", $1 + $2, $3 }' "$tmp/t"
}

n=$(ls -d /proc/[0-9]* | wc -l)
echo "== ipckeys ls against lsipc -m; lsipc -s; lsipc -q: $n processes, 20 segments (nattch 0), 20 semaphore sets, 20 queues"
: >"$tmp/rows"
for ((r = 0; r < runs; r++)); do
	a=$(measure "$bin/ipckeys ls")
	b=$(measure "lsipc -m; lsipc -s; lsipc -q")
	echo "$a $b" >>"$tmp/rows"
done
# Columns: ipckeys CPU, ipckeys peak KB, lsipc CPU, lsipc peak KB.
awk -v loops="$loops" '
function median(v, n,   i, j, t) {
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j > 0 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ n++; ic[n] = $1; im[n] = $2; lc[n] = $3; lm[n] = $4; cr[n] = ($3 > 0 ? $1 / $3 : ($1 > 0 ? 99 : 1)); mr[n] = $2 / $4 }
END {
	printf "%-32s %14s %10s\n", "", "CPU ms per run", "peak KB"
	printf "%-32s %14.2f %10d\n", "ipckeys ls", median(ic, n) * 1000 / loops, median(im, n)
	printf "%-32s %14.2f %10d\n", "lsipc -m; lsipc -s; lsipc -q", median(lc, n) * 1000 / loops, median(lm, n)
	printf "median ratio ipckeys / lsipc: CPU %.2fx, peak memory %.2fx (goal: at most 1.00x)\n", median(cr, n), median(mr, n)
}' "$tmp/rows"
