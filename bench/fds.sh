#!/usr/bin/env bash
# Side-by-side benchmark of the descriptor scan against ss and lsof, in one
# run, inside private network, pid and mount namespaces (needs root): 1,000
# processes holding 20 descriptors each, 2,000 of them TCP sockets (100
# processes with a listener and connected pairs on loopback, 900 with
# /dev/null open).
#
#   ipckeys ls --sockets --all -o json   every socket and every holder
#   ss -tanp                             every TCP socket and its holders
#   lsof -nP -i                          every internet socket and its holders
#
# usage: bench/fds.sh [RUNS]   (default 15; medians, ratios, peak memory)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
runs=${1:-15}

if [ -z "${IPCKEYS_BENCH_INSIDE:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/fds.sh: needs root for private namespaces (unshare)" >&2; exit 2; }
	command -v lsof >/dev/null || { echo "bench/fds.sh: lsof is needed (apt-get install lsof)" >&2; exit 2; }
	export IPCKEYS_BENCH_BIN
	IPCKEYS_BENCH_BIN=$(mktemp -d)
	trap 'rm -rf "$IPCKEYS_BENCH_BIN"' EXIT
	go build -o "$IPCKEYS_BENCH_BIN/ipckeys" ./cmd/ipckeys
	gcc -O2 -o "$IPCKEYS_BENCH_BIN/fdholder" testdata/fdholder/fdholder.c
	IPCKEYS_BENCH_INSIDE=1 unshare --net --pid --mount --fork --propagation private "$BASH" "$self" "$runs"
	exit 0
fi

mount -t proc proc /proc
ip link set lo up
bin=$IPCKEYS_BENCH_BIN
tmp=$(mktemp -d)
pids=()
cleanup() {
	exec 8>&- 9>&- 2>/dev/null || true
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# hold N NFD KIND starts fdholder's "many" on a FIFO stdin (fd $4) and
# waits until every child holds its descriptors.
hold() {
	mkfifo "$tmp/in.$3.$4"
	"$bin/fdholder" many "$1" "$2" "$3" <"$tmp/in.$3.$4" >"$tmp/out.$3.$4" &
	pids+=($!)
	eval "exec $4>\"$tmp/in.$3.$4\""
	until grep -q ready "$tmp/out.$3.$4" 2>/dev/null; do sleep 0.1; done
}
hold 100 20 tcp 8
hold 900 20 file 9

median_ms() {
	local i s e
	for ((i = 0; i < runs; i++)); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		echo $(((e - s) / 1000))
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1000 }'
}
peak_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

procs=$(ls -d /proc/[0-9]* | wc -l)
socks=$(ss -tan | tail -n +2 | wc -l)
echo "$("$bin/ipckeys" version), $(ss -V), $(lsof -v 2>&1 | awk '/revision/ {print "lsof " $2; exit}'), $(nproc) cores, $runs runs each, medians"
echo "== $procs processes, $socks TCP sockets"
t_ip=$(median_ms "$bin/ipckeys" ls --sockets --all -o json)
t_ss=$(median_ms ss -tanp)
t_lsof=$(median_ms lsof -nP -i)
printf '%-40s %9s ms  peak %6s KB\n' "ipckeys ls --sockets --all -o json" "$t_ip" "$(peak_kb "$bin/ipckeys" ls --sockets --all -o json)" \
	"ss -tanp" "$t_ss" "$(peak_kb ss -tanp)" "lsof -nP -i" "$t_lsof" "$(peak_kb lsof -nP -i)"
echo "ratio ipckeys / ss -tanp: $(ratio "$t_ip" "$t_ss") (target: at most 1.00)"
echo "ratio lsof / ipckeys: $(ratio "$t_lsof" "$t_ip") (target: at least 10)"

# Memory stays flat in the number of descriptors: 10 times as many files
# per process (not sockets) must not grow the peak much.
exec 9>&-
wait "${pids[1]}" 2>/dev/null || true
hold 900 200 file 7
echo "== the same with 200 descriptors per file-holding process"
printf '%-40s %9s ms  peak %6s KB\n' "ipckeys ls --sockets --all -o json" "$(median_ms "$bin/ipckeys" ls --sockets --all -o json)" "$(peak_kb "$bin/ipckeys" ls --sockets --all -o json)"
