#!/usr/bin/env bash
# Side-by-side benchmarks of ipckeys against the reference tools, in one run
# on one machine, inside a private IPC namespace (needs root):
#
#   1. `ipckeys ls -o json` against `lsipc -J` once per facility, on 4,000
#      segments + 4,000 semaphore sets + 4,000 queues;
#   2. the attachment scan (`ipckeys ls --shm -o json`, which also reads the
#      tables) against `grep SYSV /proc/[0-9]*/maps`, with 1,000 processes
#      attached to 10 segments each.
#
# usage: bench/run.sh [RUNS]   (default 15; medians are printed, and ratios)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
runs=${1:-15}

# Each scenario runs in a fresh IPC namespace of its own: objects outlive
# the process that made them, so one scenario's would weigh on the next.
if [ -z "${IPCKEYS_BENCH_SCENARIO:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root for a private IPC namespace (unshare --ipc)" >&2; exit 2; }
	export IPCKEYS_BENCH_BIN
	IPCKEYS_BENCH_BIN=$(mktemp -d)
	trap 'rm -rf "$IPCKEYS_BENCH_BIN"' EXIT
	go build -o "$IPCKEYS_BENCH_BIN/ipckeys" ./cmd/ipckeys
	gcc -O2 -o "$IPCKEYS_BENCH_BIN/mkobjects" bench/mkobjects.c
	echo "$("$IPCKEYS_BENCH_BIN/ipckeys" version), $(lsipc --version), $(nproc) cores, $runs runs each, medians"
	for scenario in tables attachments; do
		IPCKEYS_BENCH_SCENARIO=$scenario unshare --ipc "$BASH" "$self" "$runs"
	done
	IPCKEYS_BENCH_SCENARIO=search "$BASH" "$self" "$runs"
	exit 0
fi

bin=$IPCKEYS_BENCH_BIN
tmp=$(mktemp -d)
holder=
cleanup() {
	[ -n "$holder" ] && { exec 9>&-; wait "$holder" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT

# hold starts mkobjects with its stdin on fd 9 and waits until it is ready.
hold() {
	[ -n "$holder" ] && { exec 9>&-; wait "$holder" 2>/dev/null || true; }
	mkfifo "$tmp/in.$$" 2>/dev/null || true
	"$bin/mkobjects" "$@" <"$tmp/in.$$" >"$tmp/out" &
	holder=$!
	exec 9>"$tmp/in.$$"
	until grep -q ready "$tmp/out" 2>/dev/null; do sleep 0.05; done
	rm -f "$tmp/in.$$"
}

# median_ms CMD... runs CMD $runs times and prints the median wall time in ms.
median_ms() {
	local i s e
	for ((i = 0; i < runs; i++)); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		echo $(((e - s) / 1000))
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1000 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

if [ "$IPCKEYS_BENCH_SCENARIO" = tables ]; then
	hold 4000 4000 4000 0 0
	echo
	echo "== 4,000 segments + 4,000 semaphore sets + 4,000 queues"
	lsipc3() { lsipc -m -J; lsipc -s -J; lsipc -q -J; }
	t_ls=$(median_ms "$bin/ipckeys" ls -o json)
	t_m=$(median_ms lsipc -m -J)
	t_s=$(median_ms lsipc -s -J)
	t_q=$(median_ms lsipc -q -J)
	t_3=$(median_ms lsipc3)
	printf '%-36s %8s ms\n' "ipckeys ls -o json (all three)" "$t_ls" "lsipc -m -J" "$t_m" "lsipc -s -J" "$t_s" "lsipc -q -J" "$t_q" "lsipc -m, -s, -q -J in a row" "$t_3"
	echo "ratio ipckeys / lsipc x3: $(ratio "$t_ls" "$t_3") (target: at most 1.00)"
	exit 0
fi

if [ "$IPCKEYS_BENCH_SCENARIO" = search ]; then
	# explain --search reads inode numbers from directory entries, as
	# find -inum does; both stay on the root filesystem.
	target=/etc/passwd
	ino=$(stat -c %i "$target")
	key=$("$bin/ipckeys" key -o json -p l "$target" | sed -n 's/.*"key": "\(0x[0-9a-f]*\)".*/\1/p')
	files=$(find / -xdev 2>/dev/null | wc -l)
	echo
	echo "== explain $key --search / against find / -xdev -inum $ino ($files files on /)"
	findinum() { find / -xdev -inum "$ino"; }
	t_explain=$(median_ms "$bin/ipckeys" explain "$key" --search /)
	t_find=$(median_ms findinum)
	printf '%-36s %8s ms\n' "ipckeys explain KEY --search /" "$t_explain" "find / -xdev -inum N" "$t_find"
	echo "ratio ipckeys / find: $(ratio "$t_explain" "$t_find") (target: at most 1.00)"
	rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
	echo "peak memory: --search /usr/share $(rss "$bin/ipckeys" explain "$key" --search /usr/share) KB, --search / $(rss "$bin/ipckeys" explain "$key" --search /) KB"
	exit 0
fi

hold 10 0 0 1000 10
echo
echo "== attachments: 1,000 processes attached to 10 segments each"
grepmaps() { grep SYSV /proc/[0-9]*/maps; }
t_att=$(median_ms "$bin/ipckeys" ls --shm -o json)
t_grep=$(median_ms grepmaps)
printf '%-36s %8s ms\n' "ipckeys ls --shm -o json" "$t_att" "grep SYSV /proc/[0-9]*/maps" "$t_grep"
echo "ratio ipckeys / grep: $(ratio "$t_att" "$t_grep") (target: at most 1.50)"
